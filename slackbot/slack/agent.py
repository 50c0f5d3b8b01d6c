"""Slack's agent surface: the app's DM opened (the agent view's messages tab) or an
assistant thread started (the older assistant view) → the agent's suggested prompts.

The listeners only parse and hand off: the prompts are fetched and shown in the
background, after Slack has its ack.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from slackbot.relay.prompts import Prompts
from slackbot.relay.tasks import TaskTracker
from slackbot.slack import payloads


def register_agent(app: AsyncApp, prompts: Prompts, tasks: TaskTracker) -> None:
    async def home_opened(body: dict[str, Any]) -> None:
        opened = payloads.parse(payloads.HomeOpened, body.get("event") or {}, "app_home_opened")
        if opened is not None and opened.tab == "messages":
            tasks.spawn(prompts.offer(opened.channel, None), name="prompts:home")

    async def thread_started(body: dict[str, Any]) -> None:
        started = payloads.parse(
            payloads.ThreadStarted, body.get("event") or {}, "assistant thread"
        )
        if started is not None:
            thread = started.assistant_thread
            tasks.spawn(prompts.offer(thread.channel_id, thread.thread_ts), name="prompts:thread")

    app.event("app_home_opened")(home_opened)
    app.event("assistant_thread_started")(thread_started)
