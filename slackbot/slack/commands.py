"""The `/amigo` slash command: acknowledged at once, answered privately.

Parsing is pure and fast, so help and parse errors go back in the
acknowledgement itself; anything that needs the database or Amigo runs as a
tracked background task and answers through the command's ``response_url``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from slackbot.relay.commands import (
    CommandError,
    Help,
    ResetChannelService,
    SetChannelService,
    ShowConfig,
    Why,
    help_text,
    parse_command,
)
from slackbot.relay.controls import Caller, Controls
from slackbot.relay.insights import Explainer
from slackbot.relay.ports import SlackPort
from slackbot.relay.services import Services
from slackbot.relay.tasks import TaskTracker
from slackbot.slack import payloads
from slackbot.store.repo import ThreadKey
from slackbot.ui import messages

log = logging.getLogger("slackbot.commands")


async def tell(
    respond: AsyncRespond | None,
    port: SlackPort,
    *,
    channel: str,
    user: str,
    text: str,
    thread_ts: str | None = None,
) -> None:
    """Show ``text`` to ``user`` only: through the response URL, else as an ephemeral."""
    if respond is not None and respond.response_url:
        try:
            await respond(text=text, response_type="ephemeral", replace_original=False)
            return
        except Exception:
            log.warning("could not answer through the response URL; posting an ephemeral")
    try:
        await port.post_ephemeral(channel, user, text, thread_ts)
    except Exception:
        log.exception("could not answer %s in %s", user, channel)


async def carry_out(
    work: Awaitable[str | None],
    respond: AsyncRespond | None,
    port: SlackPort,
    *,
    channel: str,
    user: str,
    thread_ts: str | None = None,
) -> None:
    """Await a control and tell the user its answer (or that it failed)."""
    try:
        answer = await work
    except Exception:
        log.exception("a conversation control failed")
        answer = messages.COMMAND_FAILED
    if answer:
        await tell(respond, port, channel=channel, user=user, text=answer, thread_ts=thread_ts)


def register_commands(
    app: AsyncApp,
    controls: Controls,
    explainer: Explainer,
    services: Services,
    port: SlackPort,
    tasks: TaskTracker,
) -> None:
    async def amigo(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
    ) -> None:
        command = payloads.parse(payloads.SlashCommand, body, "/amigo command")
        if command is None:
            await ack(text=messages.COMMAND_UNREADABLE, response_type="ephemeral")
            return
        parsed = parse_command(command.text)
        if isinstance(parsed, CommandError | Help):
            text = parsed.message if isinstance(parsed, CommandError) else help_text(parsed)
            await ack(text=text, response_type="ephemeral")
            return
        await ack()
        user, channel = command.user_id, command.channel_id
        caller = Caller(team_id=str(context.team_id or command.team_id), user_id=user)
        if isinstance(parsed, Why) and command.trigger_id:
            ref = parsed.thread
            thread = ThreadKey(caller.team_id, ref.channel_id, ref.thread_ts) if ref else None
            tasks.spawn(explainer.show(command.trigger_id, caller, thread), name="command:why")
            return
        work: Awaitable[str | None]
        if isinstance(parsed, ShowConfig | SetChannelService | ResetChannelService):
            work = services.run(parsed, caller)
        else:
            work = controls.run(parsed, caller)
        tasks.spawn(
            carry_out(work, respond, port, channel=channel, user=user),
            name=f"command:/amigo {type(parsed).__name__}",
        )

    app.command("/amigo")(amigo)
