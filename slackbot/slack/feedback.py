"""Slack's feedback buttons under a reply, and the "what went wrong?" window after a
thumbs down: acknowledged at once, kept in the background."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from slackbot.relay.feedback import Votes
from slackbot.relay.ports import SlackPort, SlackRefused, SlackUnreachable
from slackbot.relay.tasks import TaskTracker
from slackbot.slack import payloads
from slackbot.slack.commands import tell
from slackbot.ui import blocks

log = logging.getLogger("slackbot.feedback")


def register_feedback(app: AsyncApp, votes: Votes, port: SlackPort, tasks: TaskTracker) -> None:
    async def clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = payloads.parse(payloads.BlockActions, body, "feedback click")
        chosen = blocks.parse_feedback_value(click.action.value) if click else None
        if click is None or chosen is None:
            return
        vote, turn_id = chosen
        if vote == "down" and click.trigger_id:
            try:  # at once: the trigger lasts three seconds
                await port.open_view(click.trigger_id, blocks.feedback_modal(turn_id))
            except (SlackRefused, SlackUnreachable) as exc:
                log.info("could not ask what went wrong: %s", exc)

        async def keep() -> None:
            answer = await votes.vote(click.user.id, turn_id, vote)
            if answer and click.channel_id:
                await tell(None, port, channel=click.channel_id, user=click.user.id, text=answer)

        tasks.spawn(keep(), name=f"feedback:{vote}")

    async def commented(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        sent = payloads.parse(payloads.ViewSubmission, body, "feedback comment")
        if sent is None or not sent.view.private_metadata.isdigit():
            return
        text = sent.view.text(blocks.FEEDBACK_INPUT, blocks.FEEDBACK_INPUT)
        turn_id = int(sent.view.private_metadata)
        tasks.spawn(votes.comment(sent.user.id, turn_id, text), name="feedback:comment")

    app.action(blocks.FEEDBACK_ACTION)(clicked)
    app.view(blocks.FEEDBACK_VIEW)(commented)
