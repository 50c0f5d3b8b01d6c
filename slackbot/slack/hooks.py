"""What goes around a completed agent reply: its ⋯ menu, and suggestions if wanted."""

from __future__ import annotations

from slackbot.relay.controls import Controls
from slackbot.relay.ports import Blocks
from slackbot.slack import blocks
from slackbot.store.models import Conversation


class SlackReplyHooks:
    """The :class:`~slackbot.relay.turns.ReplyHooks` of the Slack app."""

    def __init__(self, controls: Controls) -> None:
        self._controls = controls

    async def footer(self, conversation: Conversation, interaction_id: str) -> Blocks | None:
        return blocks.reply_menu(suggestions=self._controls.suggestions != "off")

    async def after_reply(self, conversation: Conversation, interaction_id: str) -> None:
        if self._controls.suggestions == "after-each-reply":
            await self._controls.suggest_after_reply(conversation)
