"""How a turn's reply ends: its last word saved first, then shown, whatever it takes.

An answer, or a notice that says why there is none, is saved with the turn before
Slack sees it; the streaming reply then writes it, :class:`~slackbot.relay.delivery.
Delivery` takes over when that fails, and the turn is marked shown once it is.
"""

from __future__ import annotations

import logging
from typing import Protocol

from slackbot.relay.conversations import Conversations
from slackbot.relay.delivery import Delivery, Where
from slackbot.relay.ports import Blocks, Meter, SlackPort
from slackbot.relay.stream import ReplySink
from slackbot.relay.voice import voice_follows
from slackbot.store.models import TurnState
from slackbot.store.repo import Conversation, Store, Turn
from slackbot.ui import blocks, messages
from slackbot.ui.render import reply_body

log = logging.getLogger("slackbot.replies")


class ReplyExtras(Protocol):
    """What goes around a completed reply besides its text (menus, suggestions)."""

    async def footer(
        self, conversation: Conversation, turn_id: int, *, menu: bool
    ) -> Blocks | None:
        """Blocks to put under the last message of the reply to ``turn_id``: its feedback
        buttons, and its ⋯ menu when ``menu`` (the conversation goes on)."""
        ...

    async def after_reply(self, conversation: Conversation, interaction_id: str) -> None:
        """Called once the reply is complete and shown."""
        ...


class Replies:
    def __init__(
        self,
        *,
        store: Store,
        slack: SlackPort,
        conversations: Conversations,
        delivery: Delivery,
        extras: ReplyExtras,
        meter: Meter,
    ) -> None:
        self._store = store
        self._slack = slack
        self._conversations = conversations
        self._delivery = delivery
        self._extras = extras
        self._meter = meter

    async def answer(
        self,
        turns: list[Turn],
        conversation: Conversation,
        reply: ReplySink | None,
        *,
        interaction_id: str,
        text: str,
        completed: bool,
    ) -> None:
        """Amigo answered ``turns`` (one interaction): save, show, and what follows."""
        ids = [t.id for t in turns]
        later = [t for t in turns if voice_follows(t)]
        await self._store.answer(ids, interaction_id, reply_body(text), voice_after=later)
        footer = await self._footer(conversation, turns[0].id, menu=not completed)
        shown = await reply.complete(text, footer) if reply is not None else False
        if reply is not None and reply.first_text_at is not None:
            self._meter.first_text(reply.first_text_at - float(turns[-1].ts))
        if shown:
            await self._store.mark_shown(ids)
        else:
            reply_ts = reply.reply_ts if reply is not None else turns[0].reply_ts
            await self._show(turns, reply_ts, reply_body(text), footer)
        if completed:
            await self._conversation_completed(conversation)
            return
        try:
            await self._extras.after_reply(conversation, interaction_id)
        except Exception:
            log.exception("after a reply in conversation %s", conversation.id)

    async def end(
        self,
        turns: list[Turn],
        reply: ReplySink | None,
        state: TurnState,
        notice: str,
        *,
        retry: bool,
    ) -> None:
        """The turn ends without an answer: save ``notice`` (after what arrived so far),
        then show it, with a Retry button when sending again can help."""
        ids = [t.id for t in turns]
        partial = reply.text if reply is not None else ""
        body = reply_body(partial, notice)
        await self._store.set_turn_state(ids, state, reply_text=body)
        footer = blocks.retry(turns[0].id) if retry else None
        shown = False
        if reply is not None:
            try:
                shown = await reply.close_with_notice(notice, footer)
            except Exception:
                log.exception("could not end a reply")
        if shown:
            await self._store.mark_shown(ids)
        else:
            reply_ts = reply.reply_ts if reply is not None else turns[0].reply_ts
            await self._show(turns, reply_ts, body, footer)

    async def show_owed(self, turns: list[Turn], conversation: Conversation) -> bool:
        """Show what ended turns owe the thread (after a restart, or a failed write)."""
        first = turns[0]
        assert first.reply_text is not None
        if first.state == TurnState.DONE:
            footer = await self._footer(conversation, first.id, menu=conversation.is_open)
        elif first.state == TurnState.INTERRUPTED or conversation.is_open:
            footer = blocks.retry(first.id)
        else:
            footer = None
        return await self._show(turns, first.reply_ts, first.reply_text, footer)

    async def _show(
        self, turns: list[Turn], reply_ts: str | None, body: str, footer: Blocks | None
    ) -> bool:
        first = turns[0]
        where = Where(first.channel_id, first.thread_ts, reply_ts, first.user_id)
        shown_at = await self._delivery.show(where, body, footer)
        if shown_at is None:
            log.warning("turn %s: its reply is owed to Slack; trying again later", first.id)
            return False
        await self._store.mark_shown([t.id for t in turns], shown_at or None)
        return True

    async def _footer(
        self, conversation: Conversation, turn_id: int, *, menu: bool
    ) -> Blocks | None:
        try:
            return await self._extras.footer(conversation, turn_id, menu=menu)
        except Exception:
            log.exception("the reply footer of conversation %s", conversation.id)
            return None

    async def _conversation_completed(self, conversation: Conversation) -> None:
        if await self._store.finish_conversation(conversation.id, "completed"):
            self._conversations.watch.conversation_changed(conversation)
        await self._slack.post_message(
            conversation.channel_id, conversation.thread_ts, messages.CONVERSATION_COMPLETED, None
        )
        for waiting in await self._store.fail_queued_turns(conversation.id, "finished"):
            await self._slack.post_ephemeral(
                waiting.channel_id,
                waiting.user_id,
                messages.thread_finished_hint(),
                waiting.thread_ts,
            )
