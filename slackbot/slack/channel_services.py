"""The admins' form in the Home tab that maps a channel to an Amigo service.

The button opens the form; its Submit goes through the same checks as
`/amigo config channel …` (:meth:`Services.change`: admins only, the service asked of
Amigo before it is saved). What is wrong shows in the form, next to its input
(``response_action: errors``). Slack waits three seconds for the answer: when Amigo
takes longer, the form says it is checking, and the answer replaces it when it comes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext

from slackbot.relay.config_commands import (
    Invalid,
    SetChannelService,
    parse_channel,
    parse_service_id,
    parse_version_set,
)
from slackbot.relay.controls import Caller
from slackbot.relay.home import Home
from slackbot.relay.ports import SlackPort, SlackRefused, SlackUnreachable
from slackbot.relay.services import Refusal, Services
from slackbot.relay.tasks import TaskTracker
from slackbot.slack import payloads
from slackbot.ui import messages
from slackbot.ui import services as ui

log = logging.getLogger("slackbot.channel_services")

ANSWER_WITHIN = 2.0
"""How long the form's Submit waits for Amigo before it says it is checking."""

_FIELDS = {"channel": ui.CHANNEL_BLOCK, "service": ui.SERVICE_BLOCK}


def read_form(sent: payloads.ViewSubmission) -> SetChannelService | dict[str, str]:
    """The form's mapping, or what is wrong with it (plain text, by block id)."""
    view = sent.view
    picked = view.selected(ui.CHANNEL_BLOCK, ui.CHANNEL_BLOCK)
    channel = parse_channel(picked) if picked else Invalid(ui.NO_CHANNEL)
    service = parse_service_id(view.text(ui.SERVICE_BLOCK, ui.SERVICE_BLOCK))
    version_set = parse_version_set(view.text(ui.VERSION_BLOCK, ui.VERSION_BLOCK))
    found = {ui.CHANNEL_BLOCK: channel, ui.SERVICE_BLOCK: service, ui.VERSION_BLOCK: version_set}
    errors = {block: ui.plain(v.message) for block, v in found.items() if isinstance(v, Invalid)}
    if errors:
        return errors
    assert isinstance(channel, str) and isinstance(service, str) and isinstance(version_set, str)
    return SetChannelService(channel, service, version_set)


def register_channel_services(
    app: AsyncApp, services: Services, home: Home, port: SlackPort, tasks: TaskTracker
) -> None:
    async def open_form(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = payloads.parse(payloads.BlockActions, body, "Home tab channel service")
        if click is None or not click.trigger_id:
            return
        try:  # at once: the trigger lasts three seconds
            await port.open_view(click.trigger_id, ui.config_modal())
        except (SlackRefused, SlackUnreachable) as exc:
            log.info("could not open the channel service form: %s", exc)

    async def submitted(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        sent = payloads.parse(payloads.ViewSubmission, body, "channel service form")
        if sent is None:
            await ack(response_action="update", view=ui.answer_modal(messages.COMMAND_FAILED))
            return
        form = read_form(sent)
        if isinstance(form, dict):
            await ack(response_action="errors", errors=form)
            return
        team = str(context.team_id or (sent.team.id if sent.team else ""))
        caller = Caller(team_id=team, user_id=sent.user.id)
        work = tasks.spawn(services.change(caller, form), name="config:form")
        if work is None:  # shutting down
            await ack(response_action="errors", errors={ui.SERVICE_BLOCK: ui.RESTARTING})
            return
        try:
            answer = await asyncio.wait_for(asyncio.shield(work), ANSWER_WITHIN)
        except TimeoutError:
            await ack(response_action="update", view=ui.answer_modal(ui.CHECKING))
            tasks.spawn(later(work, sent.view.id, caller), name="config:form-answer")
            return
        except Exception:
            log.exception("saving a channel's service from the form failed")
            await ack(response_action="errors", errors={ui.SERVICE_BLOCK: ui.FAILED})
            return
        if isinstance(answer, Refusal):
            block = _FIELDS[answer.field or "service"]
            await ack(response_action="errors", errors={block: ui.plain(answer.message)})
            return
        await ack(response_action="update", view=ui.answer_modal(answer))
        home.opened(caller.team_id, caller.user_id)  # the tab shows the new mapping

    async def later(work: asyncio.Task[str | Refusal], view_id: str, caller: Caller) -> None:
        """Amigo answered after the form's three seconds: the answer replaces "checking"."""
        try:
            answer = await work
        except Exception:
            answer = messages.COMMAND_FAILED
        text = answer.message if isinstance(answer, Refusal) else answer
        try:
            await port.update_view(view_id, ui.answer_modal(text))
        except (SlackRefused, SlackUnreachable) as exc:
            log.info("could not show the form's answer: %s", exc)
        home.opened(caller.team_id, caller.user_id)

    app.action(ui.HOME_CONFIG_ACTION)(open_form)
    app.view(ui.CONFIG_VIEW)(submitted)
