"""Slack's agent surface and the app's Home: the app's DM opened (the agent view's
messages tab) or an assistant thread started (the older assistant view) → the agent's
suggested prompts; the Home tab opened → the person's conversations; Finish clicked on
the Home tab → that conversation finished.

The listeners only parse and hand off: the work happens in the background, after Slack
has its ack.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from slackbot.relay.controls import Caller
from slackbot.relay.home import Home
from slackbot.relay.prompts import Prompts
from slackbot.relay.tasks import TaskTracker
from slackbot.slack import payloads
from slackbot.ui import home as ui_home


def register_agent(app: AsyncApp, prompts: Prompts, home: Home, tasks: TaskTracker) -> None:
    async def home_opened(body: dict[str, Any], context: AsyncBoltContext) -> None:
        opened = payloads.parse(payloads.HomeOpened, body.get("event") or {}, "app_home_opened")
        if opened is not None and opened.tab == "messages":
            tasks.spawn(prompts.offer(opened.channel, None), name="prompts:home")
        elif opened is not None and opened.tab == "home":
            home.opened(str(context.team_id or body.get("team_id") or ""), opened.user)

    async def thread_started(body: dict[str, Any]) -> None:
        started = payloads.parse(
            payloads.ThreadStarted, body.get("event") or {}, "assistant thread"
        )
        if started is not None:
            thread = started.assistant_thread
            tasks.spawn(prompts.offer(thread.channel_id, thread.thread_ts), name="prompts:thread")

    async def finish(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        click = payloads.parse(payloads.BlockActions, body, "Home tab Finish")
        where = ui_home.parse_finish_value(click.action.value) if click else None
        if click is None or where is None:
            return
        team = str(context.team_id or (click.team.id if click.team else ""))
        caller = Caller(team_id=team, user_id=click.user.id)
        tasks.spawn(home.finish(caller, *where), name="home:finish")

    app.event("app_home_opened")(home_opened)
    app.event("assistant_thread_started")(thread_started)
    app.action(ui_home.HOME_FINISH_ACTION)(finish)
