"""slack_sdk's Web API client as the app uses it: one connection pool, retry handlers
that tell the budgets about a 429, every call observed for the metrics, and (for a
workspace of many) its bot token asked for when first needed and again when Slack says
it expired."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from slackbot.relay.ports import SlackRefused

TOKEN_REFUSED = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "not_allowed_token_type",
        "token_revoked",
        "token_expired",
    }
)
"""Slack errors that no retry cures: the token itself is wrong."""

RENEWED_ON = frozenset({"token_expired", "invalid_auth", "token_revoked"})
"""Slack errors after which the workspace's token is asked for again (it may have been
refreshed, or the workspace installed the app again), and the call made once more with
a new one (none new: Slack's refusal stands)."""

TokenSource = Callable[[], Awaitable[str | None]]
"""The workspace's bot token as of now (None: the app is not installed there)."""

log = logging.getLogger("slackbot.slack")


class SharedRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, which also tells the app that a method was limited.

    The stock handler only makes the one request wait; the edit budget must pause
    every reply of the workspace, so it needs to hear about each 429.
    """

    def __init__(
        self, on_rate_limited: Callable[[str, float], None] | None, max_retry_count: int = 5
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._on_rate_limited = on_rate_limited

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is not None and self._on_rate_limited is not None:
            values = {k.lower(): v for k, v in response.headers.items()}.get("retry-after")
            try:
                seconds = float(values[0]) if values else 1.0
            except ValueError:
                seconds = 1.0
            method = request.url.rstrip("/").rsplit("/", 1)[-1]
            self._on_rate_limited(method, seconds)
        await super().prepare_for_next_attempt_async(
            state=state, request=request, response=response, error=error
        )


class ObservedWebClient(AsyncWebClient):
    """slack_sdk's client, telling ``observe`` (method, "ok" or Slack's error) about every
    call: one place, since every method goes through :meth:`api_call`."""

    def __init__(
        self,
        *,
        observe: Callable[[str, str], None] | None,
        token_source: TokenSource | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._observe = observe
        self._token_source = token_source
        self._asking = asyncio.Lock()

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        # The token first: without one (the workspace is gone) no connection is opened.
        used = None
        if self._token_source is not None:
            used = self.token or await self._ask(None, api_method)
        if self.session is None or self.session.closed:
            # Without a session slack_sdk opens one for each call and closes it after: a
            # new connection to Slack every time. One kept for the client's life reuses them.
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        if used is None:
            return await self._observed(api_method, **kwargs)
        try:
            return await self._observed(api_method, **kwargs)
        except SlackApiError as exc:
            if (
                exc.response.get("error") not in RENEWED_ON
                or await self._ask(used, api_method) == used
            ):
                raise
        log.info("Slack refused the bot token (%s); calling again with a fresh one", api_method)
        return await self._observed(api_method, **kwargs)

    async def _ask(self, refused: str | None, method: str = "") -> str:
        """The token to call with: asked for once however many calls wait, and asked again
        when Slack refused the one in use (``refused``). Raises
        :class:`~slackbot.relay.ports.SlackRefused` (``not_installed``) when there is none."""
        async with self._asking:
            if self.token is None or self.token == refused:
                assert self._token_source is not None
                self.token = await self._token_source()
            if self.token is None:
                log.error("no bot token for this workspace: %s not called", method or "Slack")
                raise SlackRefused(method, "not_installed")
            return self.token

    async def _observed(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        if self._observe is None:
            return await super().api_call(api_method, **kwargs)
        try:
            response = await super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            self._observe(api_method, str(exc.response.get("error") or "error"))
            raise
        except Exception:
            self._observe(api_method, "no_answer")
            raise
        self._observe(api_method, "ok")
        return response

    async def aclose(self) -> None:
        if self.session is not None and not self.session.closed:
            await self.session.close()


def web_client(
    token: str | None,
    base_url: str,
    on_rate_limited: Callable[[str, float], None] | None = None,
    observe: Callable[[str, str], None] | None = None,
    token_source: TokenSource | None = None,
) -> AsyncWebClient:
    """``token_source``: ask it for the token (``token`` may then be None) when the first
    call needs one, and again when Slack refuses the token (:data:`RENEWED_ON`)."""
    client = ObservedWebClient(
        token=token, base_url=base_url, timeout=30, observe=observe, token_source=token_source
    )
    client.retry_handlers.extend(
        [
            SharedRateLimitHandler(on_rate_limited),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ]
    )
    # The default list already holds a connection-error handler; keep exactly one.
    if not any(isinstance(h, AsyncConnectionErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(AsyncConnectionErrorRetryHandler())
    return client
