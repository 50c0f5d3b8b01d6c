"""The Retry button under an interrupted reply."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ContextBlock, MarkdownTextObject

from slackbot.relay.ports import Blocks
from slackbot.relay.recovery import Recovery
from slackbot.relay.tasks import TaskTracker
from slackbot.slack import messages
from slackbot.slack.web_port import WebApiPort
from slackbot.store.models import Turn

log = logging.getLogger("slackbot.retry")

RETRY_ACTION = "amigo_retry"
RETRY_BLOCK = "amigo_retry_block"


def retry_blocks(turn: Turn) -> Blocks:
    button = ButtonElement(
        text=messages.RETRY_BUTTON, action_id=RETRY_ACTION, value=str(turn.id), style="primary"
    )
    return [ActionsBlock(block_id=RETRY_BLOCK, elements=[button]).to_dict()]


def register_retry(app: AsyncApp, recovery: Recovery, port: WebApiPort, tasks: TaskTracker) -> None:
    @app.action(RETRY_ACTION)
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
    kept = [b for b in message.get("blocks") or [] if b.get("block_id") != RETRY_BLOCK]
    note = ContextBlock(elements=[MarkdownTextObject(text=messages.RETRY_QUEUED)]).to_dict()
    try:
        await port.update_message(
            channel, str(message["ts"]), str(message.get("text", "")), [*kept, note]
        )
    except Exception:
        log.exception("could not take the Retry button away in %s", channel)
