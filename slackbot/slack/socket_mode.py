"""Socket Mode: Slack's events over the app's own websocket, no public URL needed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from slackbot.slack.web_client import TOKEN_REFUSED

log = logging.getLogger("slackbot.socket_mode")


async def serve(
    bolt: AsyncApp, app_token: str, start: Callable[[], Awaitable[None]], stop: asyncio.Event
) -> str | None:
    """Connect, run ``start`` once connected, serve until ``stop`` is set.

    Returns Slack's error when it refuses the app-level token (no retry cures that);
    None after a requested stop.
    """
    handler = AsyncSocketModeHandler(bolt, app_token)

    async def connect() -> str | None:
        # slack_sdk's connect() retries every failure forever: ask for the first URL
        # here, so that a token Slack refuses ends the process with a clear message.
        try:
            handler.client.wss_uri = await handler.client.issue_new_wss_url()
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error in TOKEN_REFUSED:
                return error
            log.warning("Socket Mode: Slack answered %s; retrying", error)
        except Exception as exc:
            log.warning("Socket Mode: cannot reach Slack (%s); retrying", type(exc).__name__)
        await start()
        await handler.connect_async()  # type: ignore[no-untyped-call]
        log.info("Socket Mode: connected; events arrive over the app's websocket")
        return None

    # Connecting can take long (Slack unreachable): a stop must end that too.
    connecting = asyncio.ensure_future(connect())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        refused = connecting.result() if connecting.done() else None
        if refused is not None:
            return refused
        await stopping
        log.info("shutting down")
        return None
    finally:
        connecting.cancel()
        stopping.cancel()
        await handler.close_async()  # type: ignore[no-untyped-call]
