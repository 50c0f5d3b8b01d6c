"""Bolt listeners for messages: save first, then let Slack have its ack.

The app runs with ``process_before_response``: Slack's 2xx (or the Socket Mode
envelope's ack) goes out only when the listener returns, and the listener returns
once the message is saved (one INSERT). Routing it, which may talk to Slack and
Amigo, runs afterwards as a tracked background task. A message that cannot be
saved gets a 503, so Slack delivers it again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.response import BoltResponse

from slackbot.metrics import Metrics
from slackbot.relay.inbox import Inbox, Recorded
from slackbot.relay.ports import SlackPort
from slackbot.relay.tasks import TaskTracker
from slackbot.slack.payloads import (
    MAX_TEXT_CHARS,
    Identity,
    Refused,
    incoming_message,
    not_a_person,
    workspace_of,
)
from slackbot.store.db import explain_failure
from slackbot.store.repo import IncomingMessage

log = logging.getLogger("slackbot.events")


def register_events(
    app: AsyncApp,
    inbox: Inbox,
    port: SlackPort,
    tasks: TaskTracker,
    identity: Callable[[str | None, str | None], Awaitable[Identity | None]],
    metrics: Metrics,
) -> None:
    """``identity(team, org)``: who the app is in that workspace, None when the app is not
    installed there."""

    async def read(body: dict[str, Any], context: AsyncBoltContext) -> IncomingMessage | Refused:
        team, org = workspace_of(body, context.team_id, context.enterprise_id)
        me = await identity(team, org)
        if me is None:
            return Refused(f"event of a workspace the app is not installed in ({team})", True)
        if not me.bot_user_id and context.bot_user_id:
            me = Identity(context.bot_user_id, me.team_id, me.app_id)
        return incoming_message(body, me)

    async def relay(body: dict[str, Any], context: AsyncBoltContext) -> BoltResponse | None:
        message = not_a_person(body) or await read(body, context)
        if isinstance(message, Refused):
            if message.warn:
                metrics.event("refused")
                log.warning("event %s not relayed: %s", body.get("event_id"), message.reason)
            return None
        if len(message.text) > MAX_TEXT_CHARS:
            metrics.event("too_long")
            tasks.spawn(inbox.refuse_too_long(message, MAX_TEXT_CHARS), name="too-long")
            return None
        try:
            recorded = await inbox.record(message)
        except Exception as exc:
            log.error(
                "could not save message %s of %s; Slack will deliver it again: %s",
                message.ts,
                message.channel_id,
                explain_failure(exc),
            )
            metrics.event("not_saved")
            return BoltResponse(status=503, body="")
        metrics.event(recorded)
        if recorded == Recorded.SAVED:
            tasks.spawn(inbox.route(message.thread), name=f"route:{message.thread.thread_ts}")
        else:
            log.debug("event %s: %s", message.event_id, recorded)
        return None

    app.event("app_mention")(relay)
    app.event("message")(relay)
