"""How the client talks to Amigo: sign-in tokens, one call, one event stream.

Every call acts as an Amigo user (``as_user``): the transport signs in as that user with
the organization's API key and caches the token (see :mod:`slackbot.amigo.auth`). A 401
invalidates the token and the call is retried once with a fresh one. Nothing else is
retried here: 429 and 503 are raised as typed errors carrying ``retry_after``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Callable, Iterable
from datetime import UTC
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from slackbot.amigo.auth import Token, TokenCache
from slackbot.amigo.errors import (
    AmigoProtocolError,
    AmigoStreamCut,
    AmigoTransportError,
    error_for_response,
)
from slackbot.amigo.events import TERMINAL_EVENTS, AmigoEvent, read_ndjson, split_lines
from slackbot.amigo.models import (
    SignInResponse,
)

log = logging.getLogger("slackbot.amigo")

_M = TypeVar("_M", bound=BaseModel)
Params = list[tuple[str, str | int | float | bool | None]]
FormParts = list[tuple[str, tuple[str | None, str | bytes] | tuple[str | None, bytes, str]]]
"""Multipart parts in order, names may repeat: ``(name, (None, text))`` for a field,
``(name, (filename, content, content_type))`` for a file."""

# Errors raised before the request could have left this process.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def quote_id(value: str) -> str:
    return quote(value, safe="")


def add_many(params: Params, name: str, values: Iterable[str] | str) -> None:
    """Array query parameters are repeated keys (``name=a&name=b``)."""
    if isinstance(values, str):
        values = [values]
    params.extend((name, value) for value in values)


def transport_error(operation: str, exc: httpx.RequestError) -> AmigoTransportError:
    sent = not isinstance(exc, _NOT_SENT)
    return AmigoTransportError(
        f"no answer from Amigo to {operation}: {type(exc).__name__}",
        operation=operation,
        request_sent=sent,
    )


class AmigoTransport:
    """HTTP to one Amigo organization, acting as any of its users."""

    def __init__(
        self,
        base_url: str,
        organization_id: str,
        api_key: str,
        api_key_id: str,
        *,
        http: httpx.AsyncClient | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        stream_idle_timeout: float = 120.0,
        token_refresh_margin: float = 60.0,
        max_connections: int = 1000,
        clock: Callable[[], float] = time.time,
        on_response: Callable[[str, int, float], None] | None = None,
    ) -> None:
        self._on_response = on_response
        """Told (operation, HTTP status or 0 for no answer, seconds to the answer's start)."""
        self._base = base_url.rstrip("/")
        self._org = organization_id
        self._api_key = api_key
        self._api_key_id = api_key_id
        # httpx's read timeout applies to each read, so for a stream it is an idle timeout.
        # A stream holds its connection for the whole reply, so the pool must be
        # as large as the replies that may stream at once, and a request waits
        # for a free connection rather than failing (httpx's default is 100 and 5 s).
        pool_wait = max(read_timeout, 60.0)
        self._plain_timeout = httpx.Timeout(read_timeout, connect=connect_timeout, pool=pool_wait)
        self._stream_timeout = httpx.Timeout(
            stream_idle_timeout, connect=connect_timeout, pool=pool_wait
        )
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=100)
        self._owns_http = http is None
        self._http = (
            http
            if http is not None
            else httpx.AsyncClient(timeout=self._plain_timeout, limits=limits)
        )
        self.tokens = TokenCache(self._sign_in, refresh_margin=token_refresh_margin, clock=clock)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._base!r}, organization_id={self._org!r})"

    async def aclose(self) -> None:
        """Close the HTTP client if this client created it."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- users -------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self._base}/v1/{quote_id(self._org)}/{path}"

    def _conversation_url(self, conversation_id: str, path: str) -> str:
        return self._url(f"conversation/{quote_id(conversation_id)}/{path}")

    def _answered(self, operation: str, status: int, started: float) -> None:
        seconds = time.monotonic() - started
        log.debug("amigo %s -> %d in %.2fs", operation, status, seconds)
        if self._on_response is not None:
            self._on_response(operation, status, seconds)

    @staticmethod
    def _auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def _sign_in(self, user_id: str) -> Token:
        headers = {
            "x-api-key": self._api_key,
            "x-api-key-id": self._api_key_id,
            "x-user-id": user_id,
        }
        url = self._url("user/signin_with_api_key")
        started = time.monotonic()
        try:
            response = await self._http.post(url, headers=headers, timeout=self._plain_timeout)
        except httpx.RequestError as exc:
            self._answered("signin", 0, started)
            raise transport_error("signin", exc) from exc
        self._answered("signin", response.status_code, started)
        if not response.is_success:
            raise error_for_response(
                response.status_code, response.headers, response.text, operation="signin"
            )
        # The body holds the token: keep it out of any error.
        answer = self._parse(SignInResponse, response, "signin", keep_body=False)
        expires = answer.expires_at
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        return Token(value=answer.id_token, expires_at=expires.timestamp())

    async def _call(
        self,
        as_user: str,
        operation: str,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """One plain call; a 401 re-signs in and retries once."""
        for attempt in (1, 2):
            token = await self.tokens.get(as_user)
            started = time.monotonic()
            try:
                response = await self._http.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers=self._auth(token),
                    timeout=self._plain_timeout,
                )
            except httpx.RequestError as exc:
                self._answered(operation, 0, started)
                raise transport_error(operation, exc) from exc
            self._answered(operation, response.status_code, started)
            if response.status_code == 401 and attempt == 1:
                self._token_rejected(as_user, token, operation)
                continue
            if not response.is_success:
                raise error_for_response(
                    response.status_code, response.headers, response.text, operation=operation
                )
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _token_rejected(self, as_user: str, token: str, operation: str) -> None:
        log.info("Amigo rejected the token of user %s on %s; signing in again", as_user, operation)
        self.tokens.invalidate(as_user, token)

    async def _open_stream(
        self,
        as_user: str,
        operation: str,
        url: str,
        *,
        params: Params,
        json: Any,
        files: FormParts | None,
    ) -> httpx.Response:
        """Send a streaming request and return the response once its status is 2xx."""
        for attempt in (1, 2):
            token = await self.tokens.get(as_user)
            request = self._http.build_request(
                "POST",
                url,
                params=params,
                json=json,
                files=files,
                headers=self._auth(token),
                timeout=self._stream_timeout,
            )
            started = time.monotonic()
            try:
                response = await self._http.send(request, stream=True)
            except httpx.RequestError as exc:
                self._answered(operation, 0, started)
                raise transport_error(operation, exc) from exc
            self._answered(operation, response.status_code, started)
            if response.is_success:
                return response
            try:
                body = await response.aread()
            except httpx.RequestError:
                body = b""
            finally:
                await response.aclose()
            if response.status_code == 401 and attempt == 1:
                self._token_rejected(as_user, token, operation)
                continue
            raise error_for_response(
                response.status_code, response.headers, body, operation=operation
            )
        raise AssertionError("unreachable")  # pragma: no cover

    async def _stream(
        self,
        as_user: str,
        operation: str,
        url: str,
        *,
        params: Params,
        json: Any = None,
        files: FormParts | None = None,
    ) -> AsyncGenerator[AmigoEvent, None]:
        response = await self._open_stream(
            as_user, operation, url, params=params, json=json, files=files
        )
        finished = False  # an interaction-complete or error event arrived
        count = 0
        try:
            try:
                async for event in read_ndjson(split_lines(response.aiter_bytes())):
                    count += 1
                    if isinstance(event, TERMINAL_EVENTS):
                        finished = True
                    yield event
            except httpx.RequestError as exc:
                if not finished:
                    raise AmigoStreamCut(
                        f"Amigo {operation} stream lost after {count} events: {type(exc).__name__}",
                        operation=operation,
                    ) from exc
                # The interaction was already saved; only the trailing close failed.
                log.info("Amigo %s stream lost after its final event", operation)
        finally:
            await response.aclose()
        if not finished:
            raise AmigoStreamCut(
                f"Amigo {operation} stream ended after {count} events without completing",
                operation=operation,
            )

    @staticmethod
    def _parse(
        model: type[_M], response: httpx.Response, operation: str, *, keep_body: bool = True
    ) -> _M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise AmigoProtocolError(
                f"unexpected answer from Amigo to {operation} ({exc.error_count()} errors)",
                operation=operation,
                body=response.text if keep_body else "",
            ) from None
