"""Recommended replies as buttons in the thread, and what goes under every reply."""

from __future__ import annotations

import logging

from slackbot.amigo.errors import AmigoError
from slackbot.relay.options import SuggestionsMode
from slackbot.relay.ports import AmigoPort, Blocks, SlackPort
from slackbot.store.repo import Conversation, Store
from slackbot.ui import blocks, messages

log = logging.getLogger("slackbot.suggestions")


class Refused(Exception):
    """Stops an action with the answer to give instead."""

    def __init__(self, answer: str) -> None:
        super().__init__(answer)
        self.answer = answer


def amigo_ids(conversation: Conversation) -> tuple[str, str]:
    """(Amigo user, Amigo conversation), or refuse while it is still being created."""
    user, amigo_id = conversation.amigo_user_id, conversation.amigo_conversation_id
    if user is None or amigo_id is None:
        if conversation.is_open:
            raise Refused(messages.CONVERSATION_STARTING)
        raise Refused(messages.NO_CONVERSATION_IN_THREAD)
    return user, amigo_id


class Suggestions:
    def __init__(
        self, store: Store, amigo: AmigoPort, slack: SlackPort, mode: SuggestionsMode
    ) -> None:
        self._store = store
        self._amigo = amigo
        self._slack = slack
        self.mode = mode

    async def offer(self, conversation: Conversation, interaction_id: str | None = None) -> None:
        """Ask Amigo for replies to the latest interaction and post them as buttons."""
        user, amigo_id = amigo_ids(conversation)
        if interaction_id is None:
            interaction_id = (await self._store.progress(conversation.id)).latest_interaction_id
        if interaction_id is None:
            raise Refused(messages.NOTHING_TO_SUGGEST)
        found = await self._amigo.recommend_responses(user, amigo_id, interaction_id)
        texts = [text for text in found if text.strip()]
        shown = blocks.suggestions(conversation.owner_user_id, interaction_id, texts)
        if not shown:
            raise Refused(messages.NO_SUGGESTIONS)
        await self._slack.post_message(
            conversation.channel_id,
            conversation.thread_ts,
            messages.suggestions_fallback(texts[: blocks.MAX_SUGGESTIONS]),
            shown,
        )


class ReplyMenu:
    """The :class:`~slackbot.relay.replies.ReplyExtras` of the app: the ⋯ menu under
    each reply, and suggestions after it when they are wanted after every reply."""

    def __init__(self, store: Store, suggestions: Suggestions) -> None:
        self._store = store
        self._suggestions = suggestions

    async def footer(
        self, conversation: Conversation, turn_id: int, *, menu: bool
    ) -> Blocks | None:
        """The ⋯ menu (while the conversation goes on), then the feedback buttons."""
        shown = blocks.reply_menu(suggestions=self._suggestions.mode != "off") if menu else []
        return [*shown, *blocks.feedback(turn_id)]

    async def after_reply(self, conversation: Conversation, interaction_id: str) -> None:
        if self._suggestions.mode != "after-each-reply":
            return
        if await self._store.has_queued_turns(conversation.thread):
            return  # more of the person's messages are on their way: no buttons between
        try:
            await self._suggestions.offer(conversation, interaction_id)
        except (AmigoError, Refused) as exc:
            log.info("no suggestions after a reply in conversation %s: %s", conversation.id, exc)
