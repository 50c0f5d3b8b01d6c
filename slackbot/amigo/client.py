"""An async client for the Amigo conversation and user API.

Every call acts as an Amigo user (``as_user``): the client signs in as that
user with the organization's API key and caches the token (see
:mod:`slackbot.amigo.auth`). A 401 invalidates the token and the call is
retried once with a fresh one. Nothing else is retried here: 429 and 503 are
raised as typed errors carrying ``retry_after`` so the caller decides.

Streaming calls (:meth:`AmigoClient.create_conversation`,
:meth:`AmigoClient.interact`) check the HTTP status before the first event and
raise :class:`AmigoStreamCut` when the stream ends, is lost or stays idle for
``stream_idle_timeout`` seconds before an ``interaction-complete`` or ``error``
event. Close them early with ``aclose()`` (or ``contextlib.aclosing``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
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
    ConversationPage,
    CreatedUser,
    MessagePage,
    RecommendedResponses,
    SignInResponse,
    UserPage,
)

log = logging.getLogger("slackbot.amigo")

_M = TypeVar("_M", bound=BaseModel)
_Params = list[tuple[str, str | int | float | bool | None]]

# Errors raised before the request could have left this process.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def _q(value: str) -> str:
    return quote(value, safe="")


def _many(params: _Params, name: str, values: Iterable[str] | str) -> None:
    """Array query parameters are repeated keys (``name=a&name=b``)."""
    if isinstance(values, str):
        values = [values]
    params.extend((name, value) for value in values)


def _transport_error(operation: str, exc: httpx.RequestError) -> AmigoTransportError:
    sent = not isinstance(exc, _NOT_SENT)
    return AmigoTransportError(
        f"no answer from Amigo to {operation}: {type(exc).__name__}",
        operation=operation,
        request_sent=sent,
    )


class AmigoClient:
    """Amigo API calls for one organization, acting as any of its users."""

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
    ) -> None:
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
        return f"AmigoClient({self._base!r}, organization_id={self._org!r})"

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

    async def create_user(
        self, as_user: str, *, first_name: str, last_name: str, email: str, role_name: str
    ) -> str:
        """Create (invite) a user; returns its id. 409 (email taken) raises AmigoConflict."""
        body = {
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "role_name": role_name,
        }
        response = await self._call(as_user, "create_user", "POST", self._url("user/"), json=body)
        return self._parse(CreatedUser, response, "create_user").user_id

    async def find_user_by_email(self, as_user: str, email: str) -> str | None:
        """The id of the user with this email (compared case-insensitively), or None."""
        params: _Params = [("email", email)]
        response = await self._call(as_user, "get_users", "GET", self._url("user/"), params=params)
        page = self._parse(UserPage, response, "get_users")
        wanted = email.casefold()
        # Only an exact match counts, even if Amigo ignored the filter.
        for user in page.users:
            if user.email.casefold() == wanted:
                return user.user_id
        return None

    # -- conversations -----------------------------------------------------

    def create_conversation(
        self,
        as_user: str,
        *,
        service_id: str,
        version_set: str = "release",
        initial_message: str | None = None,
        tags: Mapping[str, str | None] | None = None,
    ) -> AsyncGenerator[AmigoEvent, None]:
        """Create a conversation and stream its first interaction.

        Without an ``initial_message`` (None, empty or blank) the agent speaks
        first. The first event is ``conversation-created``.
        """
        body: dict[str, Any] = {
            "service_id": service_id,
            "service_version_set_name": version_set,
        }
        if initial_message and initial_message.strip():
            body["initial_message"] = initial_message
            body["initial_message_type"] = "user-message"
        if tags:
            body["tags"] = dict(tags)
        params: _Params = [("response_format", "text")]
        return self._stream(
            as_user, "create_conversation", self._url("conversation/"), params=params, json=body
        )

    def interact(
        self, as_user: str, conversation_id: str, text: str
    ) -> AsyncGenerator[AmigoEvent, None]:
        """Send a user message and stream the agent's answer.

        Raises ValueError at once for a blank message, which Amigo refuses.
        """
        if not text.strip():
            raise ValueError("an Amigo user message must not be blank")
        files = {
            "initial_message_type": (None, "user-message"),
            "recorded_message": (None, text),
        }
        params: _Params = [("request_format", "text"), ("response_format", "text")]
        url = self._conversation_url(conversation_id, "interact")
        return self._stream(as_user, "interact", url, params=params, files=files)

    async def finish_conversation(self, as_user: str, conversation_id: str) -> None:
        """Finish a conversation. 409 (already finished or busy) raises AmigoConflict."""
        url = self._conversation_url(conversation_id, "finish/")
        await self._call(as_user, "finish", "POST", url)

    async def modify_tags(
        self,
        as_user: str,
        conversation_id: str,
        *,
        updates: Mapping[str, str | None] | None = None,
        deletes: Iterable[str] = (),
    ) -> None:
        """Add or update tags (a None value is a tag without value) and delete others."""
        if isinstance(deletes, str):
            deletes = [deletes]
        body = {"updates": dict(updates or {}), "deletes": list(deletes)}
        url = self._conversation_url(conversation_id, "tags/")
        await self._call(as_user, "tags", "POST", url, json=body)

    async def recommend_responses(
        self,
        as_user: str,
        conversation_id: str,
        interaction_id: str,
        *,
        context: str | None = None,
    ) -> list[str]:
        """Suggested user replies to the latest completed interaction."""
        body = {"context": context} if context else {}
        url = self._conversation_url(
            conversation_id, f"interaction/{_q(interaction_id)}/recommend_responses"
        )
        response = await self._call(as_user, "recommend", "POST", url, json=body)
        return list(self._parse(RecommendedResponses, response, "recommend").recommended_responses)

    async def get_conversations(
        self,
        as_user: str,
        *,
        user_ids: Iterable[str] = (),
        service_ids: Iterable[str] = (),
        ids: Iterable[str] = (),
        is_finished: bool | None = None,
        limit: int | None = None,
        continuation_token: int | None = None,
        sort_by: Iterable[str] = (),
        tags: Iterable[str] = (),
    ) -> ConversationPage:
        """One page of conversations matching the filters (``tags`` as ``key:value``)."""
        params: _Params = []
        _many(params, "user_id", user_ids)
        _many(params, "service_id", service_ids)
        _many(params, "id", ids)
        if is_finished is not None:
            params.append(("is_finished", "true" if is_finished else "false"))
        if limit is not None:
            params.append(("limit", limit))
        if continuation_token is not None:
            params.append(("continuation_token", continuation_token))
        _many(params, "sort_by", sort_by)
        _many(params, "tag", tags)
        url = self._url("conversation/")
        response = await self._call(as_user, "get_conversations", "GET", url, params=params)
        return self._parse(ConversationPage, response, "get_conversations")

    async def get_messages(
        self,
        as_user: str,
        conversation_id: str,
        *,
        limit: int | None = None,
        continuation_token: int | None = None,
        message_types: Iterable[str] = (),
        sort_by: Iterable[str] = (),
    ) -> MessagePage:
        """One page of a conversation's messages."""
        params: _Params = []
        _many(params, "message_type", message_types)
        if limit is not None:
            params.append(("limit", limit))
        if continuation_token is not None:
            params.append(("continuation_token", continuation_token))
        _many(params, "sort_by", sort_by)
        url = self._conversation_url(conversation_id, "messages/")
        response = await self._call(as_user, "get_messages", "GET", url, params=params)
        return self._parse(MessagePage, response, "get_messages")

    # -- plumbing ----------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self._base}/v1/{_q(self._org)}/{path}"

    def _conversation_url(self, conversation_id: str, path: str) -> str:
        return self._url(f"conversation/{_q(conversation_id)}/{path}")

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
            raise _transport_error("signin", exc) from exc
        log.debug(
            "amigo signin as %s -> %d in %.2fs",
            user_id,
            response.status_code,
            time.monotonic() - started,
        )
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
        params: _Params | None = None,
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
                raise _transport_error(operation, exc) from exc
            log.debug(
                "amigo %s as %s -> %d in %.2fs",
                operation,
                as_user,
                response.status_code,
                time.monotonic() - started,
            )
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
        params: _Params,
        json: Any,
        files: Mapping[str, tuple[None, str]] | None,
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
            try:
                response = await self._http.send(request, stream=True)
            except httpx.RequestError as exc:
                raise _transport_error(operation, exc) from exc
            log.debug("amigo %s as %s -> %d", operation, as_user, response.status_code)
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
        params: _Params,
        json: Any = None,
        files: Mapping[str, tuple[None, str]] | None = None,
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
