"""Buttons, the reply menu and message shortcuts: they act on the thread they are in."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from slackbot.relay.commands import Command, Finish, ShowTags, Suggest
from slackbot.relay.controls import Caller, Controls
from slackbot.relay.insights import Explainer
from slackbot.relay.ports import SlackPort
from slackbot.relay.tasks import TaskTracker
from slackbot.slack import payloads
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


def _caller(team: str | None, user: str, context: AsyncBoltContext) -> Caller:
    return Caller(team_id=str(context.team_id or team or ""), user_id=user)


def register_actions(
    app: AsyncApp,
    controls: Controls,
    explainer: Explainer,
    port: SlackPort,
    tasks: TaskTracker,
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
        click = payloads.parse(payloads.BlockActions, body, "reply menu choice")
        if click is None or click.channel_id is None or click.thread_ts is None:
            return
        caller = _caller(click.team.id if click.team else None, click.user.id, context)
        thread = ThreadKey(caller.team_id, click.channel_id, click.thread_ts)
        choice = click.action.choice
        command = _MENU.get(str(choice))
        if command is None:
            log.warning("unknown reply menu choice %r", choice)
            return
        run_in_thread(command, caller, thread, respond, f"menu:{choice}")

    async def choose(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
    ) -> None:
        await ack()
        click = payloads.parse(payloads.BlockActions, body, "suggestion click")
        if click is None or click.channel_id is None or click.thread_ts is None:
            return
        caller = _caller(click.team.id if click.team else None, click.user.id, context)
        thread = ThreadKey(caller.team_id, click.channel_id, click.thread_ts)
        chosen = blocks.parse_suggestion_value(click.action.value)
        where = {"channel": thread.channel_id, "user": caller.user_id}
        if chosen is None:
            await tell(respond, port, text=messages.SUGGESTION_STALE, **where)
            return
        interaction_id, text = chosen
        work = controls.choose(
            caller, thread, interaction_id=interaction_id, text=text, buttons_ts=click.message_ts
        )
        tasks.spawn(
            carry_out(work, respond, port, thread_ts=thread.thread_ts, **where),
            name="suggestion:choose",
        )

    async def shortcut(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
    ) -> None:
        await ack()
        chosen = payloads.parse(payloads.MessageShortcut, body, "message shortcut")
        if chosen is None:
            return
        caller = _caller(chosen.team.id if chosen.team else None, chosen.user.id, context)
        thread = ThreadKey(caller.team_id, chosen.channel.id, chosen.thread_ts)
        command = _SHORTCUTS[chosen.callback_id]
        run_in_thread(command, caller, thread, respond, f"shortcut:{chosen.callback_id}")

    async def why(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        chosen = payloads.parse(payloads.MessageShortcut, body, "why this answer")
        if chosen is None or not chosen.trigger_id:
            return
        caller = _caller(chosen.team.id if chosen.team else None, chosen.user.id, context)
        thread = ThreadKey(caller.team_id, chosen.channel.id, chosen.thread_ts)
        work = explainer.show(chosen.trigger_id, caller, thread, chosen.message_ts)
        tasks.spawn(work, name="shortcut:why")

    app.action(blocks.REPLY_MENU_ACTION)(menu)
    app.shortcut(blocks.SHORTCUT_WHY)(why)
    app.action(re.compile(rf"^{blocks.SUGGESTION_ACTION_PREFIX}\d+$"))(choose)
    for callback_id in _SHORTCUTS:
        app.shortcut(callback_id)(shortcut)
