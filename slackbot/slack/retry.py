"""The Retry button under an interrupted reply."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from slackbot.relay.ports import SlackPort
from slackbot.relay.recovery import Recovery
from slackbot.relay.tasks import TaskTracker
from slackbot.slack import payloads
from slackbot.ui import blocks, messages

log = logging.getLogger("slackbot.retry")


def register_retry(app: AsyncApp, recovery: Recovery, port: SlackPort, tasks: TaskTracker) -> None:
    @app.action(blocks.RETRY_ACTION)
    async def on_retry(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = payloads.parse(payloads.BlockActions, body, "Retry click")
        if click is not None and click.channel_id is not None:
            tasks.spawn(_retry(recovery, port, click, click.channel_id), name="retry")


async def _retry(
    recovery: Recovery, port: SlackPort, click: payloads.BlockActions, channel: str
) -> None:
    user = click.user.id
    thread_ts = click.thread_ts
    value = click.action.value or ""
    if not value.isdigit():
        await port.post_ephemeral(channel, user, messages.RETRY_UNKNOWN, thread_ts)
        return
    refusal = await recovery.retry(int(value), user)
    if refusal is not None:
        await port.post_ephemeral(channel, user, refusal, thread_ts)
        return
    if click.message is None:
        return
    # The button has done its job: swap it for a note, keep the rest of the reply.
    shown = blocks.retry_queued(click.message.blocks)
    try:
        await port.update_message(channel, click.message.ts, click.message.text, shown)
    except Exception:
        log.exception("could not take the Retry button away in %s", channel)
