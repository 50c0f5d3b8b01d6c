"""The Retry button under an interrupted reply."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from slackbot.relay.recovery import Recovery
from slackbot.relay.tasks import TaskTracker
from slackbot.slack.web_port import WebApiPort
from slackbot.ui import blocks, messages

log = logging.getLogger("slackbot.retry")


def register_retry(app: AsyncApp, recovery: Recovery, port: WebApiPort, tasks: TaskTracker) -> None:
    @app.action(blocks.RETRY_ACTION)
    async def on_retry(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        tasks.spawn(_retry(recovery, port, body, action), name="retry")


async def _retry(
    recovery: Recovery, port: WebApiPort, body: dict[str, Any], action: dict[str, Any]
) -> None:
    user = str(body.get("user", {}).get("id", ""))
    channel = str(body.get("channel", {}).get("id", ""))
    message: dict[str, Any] = body.get("message") or {}
    thread_ts = message.get("thread_ts") or message.get("ts")
    try:
        turn_id = int(action.get("value", ""))
    except ValueError:
        await port.post_ephemeral(channel, user, messages.RETRY_UNKNOWN, thread_ts)
        return
    refusal = await recovery.retry(turn_id, user)
    if refusal is not None:
        await port.post_ephemeral(channel, user, refusal, thread_ts)
        return
    # The button has done its job: swap it for a note, keep the rest of the reply.
    shown = blocks.retry_queued(message.get("blocks") or [])
    try:
        await port.update_message(channel, str(message["ts"]), str(message.get("text", "")), shown)
    except Exception:
        log.exception("could not take the Retry button away in %s", channel)
