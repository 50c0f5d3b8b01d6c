"""Buttons, the reply menu and message shortcuts: they act on the thread they are in."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from slackbot.relay.commands import Command, Finish, ShowTags, Suggest
from slackbot.relay.controls import Caller, Controls
from slackbot.relay.ports import SlackPort
from slackbot.relay.tasks import TaskTracker
from slackbot.slack.commands import carry_out, tell
from slackbot.store.repo import ThreadKey
from slackbot.ui import blocks, messages

log = logging.getLogger("slackbot.actions")

_MENU: dict[str, Command] = {
    blocks.MENU_FINISH: Finish(),
    blocks.MENU_SUGGEST: Suggest(),
    blocks.MENU_TAGS: ShowTags(),
}
_SHORTCUTS: dict[str, Command] = {
    blocks.SHORTCUT_FINISH: Finish(),
    blocks.SHORTCUT_SUGGEST: Suggest(),
}


def _caller(body: dict[str, Any], context: AsyncBoltContext) -> Caller:
    team = context.team_id or (body.get("team") or {}).get("id") or ""
    return Caller(team_id=str(team), user_id=str((body.get("user") or {}).get("id") or ""))


def _action_thread(body: dict[str, Any], team_id: str) -> tuple[ThreadKey, str | None]:
    """The thread a clicked message is in, and the clicked message's ts."""
    container: dict[str, Any] = body.get("container") or {}
    message: dict[str, Any] = body.get("message") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id") or ""
    message_ts = container.get("message_ts") or message.get("ts")
    thread_ts = container.get("thread_ts") or message.get("thread_ts") or message_ts or ""
    return ThreadKey(team_id, str(channel), str(thread_ts)), message_ts


def _shortcut_thread(body: dict[str, Any], team_id: str) -> ThreadKey:
    message: dict[str, Any] = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id") or ""
    thread_ts = message.get("thread_ts") or body.get("message_ts") or message.get("ts") or ""
    return ThreadKey(team_id, str(channel), str(thread_ts))


def register_actions(
    app: AsyncApp, controls: Controls, port: SlackPort, tasks: TaskTracker
) -> None:
    def run_in_thread(
        command: Command, caller: Caller, thread: ThreadKey, respond: AsyncRespond, name: str
    ) -> None:
        """Carry out a control on ``thread`` in the background; answer the caller."""
        work = controls.run(command, caller, thread=thread, in_thread=True)
        where = {"channel": thread.channel_id, "user": caller.user_id}
        tasks.spawn(carry_out(work, respond, port, thread_ts=thread.thread_ts, **where), name=name)

    async def menu(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
    ) -> None:
        await ack()
        caller = _caller(body, context)
        thread, _ = _action_thread(body, caller.team_id)
        action: dict[str, Any] = (body.get("actions") or [{}])[0]
        choice = (action.get("selected_option") or {}).get("value") or action.get("value")
        command = _MENU.get(str(choice))
        if command is None:
            log.warning("unknown reply menu choice %r", choice)
            return
        run_in_thread(command, caller, thread, respond, f"menu:{choice}")

    async def choose(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
    ) -> None:
        await ack()
        caller = _caller(body, context)
        thread, buttons_ts = _action_thread(body, caller.team_id)
        action: dict[str, Any] = (body.get("actions") or [{}])[0]
        chosen = blocks.parse_suggestion_value(action.get("value"))
        where = {"channel": thread.channel_id, "user": caller.user_id}
        if chosen is None:
            await tell(respond, port, text=messages.SUGGESTION_STALE, **where)
            return
        interaction_id, text = chosen
        work = controls.choose(
            caller, thread, interaction_id=interaction_id, text=text, buttons_ts=buttons_ts
        )
        tasks.spawn(
            carry_out(work, respond, port, thread_ts=thread.thread_ts, **where),
            name="suggestion:choose",
        )

    async def shortcut(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
    ) -> None:
        await ack()
        caller = _caller(body, context)
        thread = _shortcut_thread(body, caller.team_id)
        command = _SHORTCUTS[str(body.get("callback_id"))]
        run_in_thread(command, caller, thread, respond, f"shortcut:{body.get('callback_id')}")

    app.action(blocks.REPLY_MENU_ACTION)(menu)
    app.action(re.compile(rf"^{blocks.SUGGESTION_ACTION_PREFIX}\d+$"))(choose)
    for callback_id in _SHORTCUTS:
        app.shortcut(callback_id)(shortcut)
