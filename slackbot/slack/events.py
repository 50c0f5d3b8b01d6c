"""Bolt listeners for messages: thin, they only hand work to the relay.

Slack wants a 2xx within 3 seconds, so a listener acknowledges at once (Bolt
does that for events) and the real work runs as a tracked background task.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from slackbot.relay.inbox import Inbox, IncomingMessage
from slackbot.relay.tasks import TaskTracker
from slackbot.slack.web_port import WebApiPort
from slackbot.store.repo import ThreadKey
from slackbot.ui.markup import slack_to_plain, strip_bot_mention

log = logging.getLogger("slackbot.events")

# Message subtypes that are still a person talking in the thread.
RELAYED_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})


def register_events(app: AsyncApp, inbox: Inbox, port: WebApiPort, tasks: TaskTracker) -> None:
    async def relay(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        if event.get("bot_id") or event.get("subtype") not in RELAYED_SUBTYPES:
            return
        user = event.get("user")
        if not user or user == context.bot_user_id:
            return
        tasks.spawn(
            _receive(inbox, port, body, event, context.bot_user_id or ""),
            name=f"event:{body.get('event_id', '?')}",
        )

    app.event("app_mention")(relay)
    app.event("message")(relay)


async def _receive(
    inbox: Inbox, port: WebApiPort, body: dict[str, Any], event: dict[str, Any], bot_user_id: str
) -> None:
    team_id = str(body.get("team_id") or event.get("team") or "")
    channel, ts = str(event["channel"]), str(event["ts"])
    thread_ts = event.get("thread_ts")

    async def prepare() -> IncomingMessage:
        raw = str(event.get("text") or "")
        mentions_bot = event.get("type") == "app_mention" or (
            bool(bot_user_id) and f"<@{bot_user_id}" in raw
        )
        text = await slack_to_plain(strip_bot_mention(raw, bot_user_id), port.display_name)
        return IncomingMessage(
            team_id=team_id,
            channel_id=channel,
            user_id=str(event["user"]),
            ts=ts,
            thread_ts=thread_ts,
            text=text,
            mentions_bot=mentions_bot,
            is_dm=event.get("channel_type") == "im",
            event_id=body.get("event_id"),
        )

    await inbox.accept(ThreadKey(team_id, channel, thread_ts or ts), prepare)
