"""One turn, end to end: start the conversation or interact, stream the reply, complete.

What each Amigo failure means comes from :mod:`slackbot.relay.outcomes`; how the reply
reaches Slack is the :class:`~slackbot.relay.stream.ReplySink`'s business.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Protocol

from slackbot.amigo.errors import AmigoBadRequest, AmigoError, AmigoStreamCut
from slackbot.amigo.events import (
    AmigoEvent,
    ConversationCreated,
    CurrentAgentAction,
    ErrorEvent,
    InteractionComplete,
    NewMessage,
    UserMessageAvailable,
)
from slackbot.relay.conversations import Conversations
from slackbot.relay.mentions import Names
from slackbot.relay.outcomes import Context, Effect, outcome_of
from slackbot.relay.ports import AmigoPort, Blocks, Meter, NoMeter, SlackPort
from slackbot.relay.starts import Starts
from slackbot.relay.stream import ReplySink
from slackbot.relay.worker import Batch
from slackbot.store.models import ConversationState, TurnKind, TurnState
from slackbot.store.repo import Conversation, Store, Turn
from slackbot.ui import blocks, messages

log = logging.getLogger("slackbot.executor")

ReplyFactory = Callable[[str, str], ReplySink]
"""(channel, thread ts) -> a new reply in that thread."""


class ReplyExtras(Protocol):
    """What goes around a completed reply besides its text (menus, suggestions)."""

    async def footer(self, conversation: Conversation) -> Blocks | None:
        """Blocks to put under the reply's last message, e.g. its ⋯ menu."""
        ...

    async def after_reply(self, conversation: Conversation, interaction_id: str) -> None:
        """Called once the reply is complete and recorded."""
        ...


@dataclass(frozen=True, slots=True)
class ExecutorConfig:
    service_id: str
    version_set: str = "release"
    retry_attempts: int = 3
    retry_max_wait: float = 60.0


@dataclass(frozen=True, slots=True)
class _Ended:
    """How a turn ended: its state, and the notice that ends its reply (None: complete)."""

    state: TurnState
    notice: str | None = None


class _ComeBack(Exception):
    """Amigo asked to come back later, before the turn began."""

    def __init__(self, wait: float | None, notice: str, cause: AmigoError) -> None:
        self.wait = wait
        self.notice = notice
        self.cause = cause


class TurnExecutor:
    def __init__(
        self,
        *,
        store: Store,
        amigo: AmigoPort,
        slack: SlackPort,
        conversations: Conversations,
        starts: Starts,
        names: Names,
        replies: ReplyFactory,
        extras: ReplyExtras,
        config: ExecutorConfig,
        meter: Meter | None = None,
    ) -> None:
        self._store = store
        self._amigo = amigo
        self._slack = slack
        self._conversations = conversations
        self._starts = starts
        self._names = names
        self._replies = replies
        self._extras = extras
        self._config = config
        self._meter = meter or NoMeter()

    async def abandon(self, conversation: Conversation) -> None:
        await self._conversations.abandon(conversation)

    async def run(self, batch: Batch, conversation: Conversation) -> TurnState:
        """Send one turn (or several replies joined as one) and stream its reply."""
        turn = batch.as_turn()
        try:
            state = await self._run(batch, turn, conversation)
        except asyncio.CancelledError:
            await self._store.set_turn_state(batch.ids, TurnState.INTERRUPTED, error="shutdown")
            self._meter.turn_ended(TurnState.INTERRUPTED)
            raise
        self._meter.turn_ended(state)
        return state

    async def _run(self, batch: Batch, turn: Turn, conversation: Conversation) -> TurnState:
        if not conversation.is_open:
            await self._store.set_turn_state(batch.ids, TurnState.FAILED, error="not open")
            await self._slack.post_ephemeral(
                turn.channel_id, turn.user_id, messages.thread_finished_hint(), turn.thread_ts
            )
            return TurnState.FAILED
        reply = self._replies(turn.channel_id, turn.thread_ts)
        try:
            reply_ts = await reply.open()
            await self._store.set_turn_state(batch.ids, TurnState.SENDING, reply_ts=reply_ts)
            ended = await self._attempt(conversation, turn, reply, batch)
        except asyncio.CancelledError:
            # Shutdown ran out of grace: say so in the reply before giving up.
            await asyncio.shield(self._close(reply, messages.REPLY_INTERRUPTED, turn))
            raise
        except Exception:
            log.exception("turn %s failed unexpectedly", turn.id)
            ended = _Ended(TurnState.INTERRUPTED, messages.REPLY_INTERRUPTED)
        if ended.state == TurnState.DONE:
            return ended.state  # complete() recorded it
        if ended.notice is not None:
            retry_of = turn if ended.state == TurnState.INTERRUPTED else None
            await self._close(reply, ended.notice, retry_of)
        await self._store.set_turn_state(batch.ids, ended.state)
        if turn.kind == TurnKind.START and ended.state == TurnState.FAILED:
            await self._conversations.abandon(conversation)
        return ended.state

    async def _close(self, reply: ReplySink, notice: str, retry_of: Turn | None) -> None:
        """End the reply with ``notice``; an interrupted one offers to retry."""
        footer = None if retry_of is None else blocks.retry(retry_of.id)
        try:
            await reply.close_with_notice(notice, footer)
        except Exception:
            log.exception("could not end a reply")

    async def _attempt(
        self, conversation: Conversation, turn: Turn, reply: ReplySink, batch: Batch
    ) -> _Ended:
        """Send the turn, coming back while Amigo says to come back later."""
        turn = replace(turn, text=await self._names.plain(turn.text))
        if turn.kind == TurnKind.START:
            prepared = await self._starts.prepare(conversation)
            if isinstance(prepared, str):
                return _Ended(TurnState.FAILED, prepared)
            conversation = prepared
        elif not turn.text.strip():
            return _Ended(TurnState.FAILED, messages.MESSAGE_EMPTY)
        resolved = False
        waits = 0
        while True:
            try:
                return await self._send(conversation, turn, reply, batch)
            except AmigoBadRequest as exc:
                # Amigo refused to create: most likely the user has an unfinished
                # conversation this app does not know. Resolve it once, then go again.
                if resolved:
                    log.warning("create refused again after resolving: %s", exc)
                    return _Ended(TurnState.FAILED, messages.REPLY_FAILED_START)
                refusal = await self._starts.resolve_unfinished(conversation, exc)
                if refusal is not None:
                    return _Ended(TurnState.FAILED, refusal)
                resolved = True
            except _ComeBack as back:
                if waits == self._config.retry_attempts:
                    log.warning("giving up on turn %s: %s", turn.id, back.cause)
                    return _Ended(TurnState.FAILED, back.notice)
                waits += 1
                wait = back.wait if back.wait is not None else 2.0**waits
                wait = min(wait, self._config.retry_max_wait)
                if wait > 0:
                    await reply.status(messages.waiting_for_amigo(wait))
                    await asyncio.sleep(wait)

    def _open_stream(self, conversation: Conversation, turn: Turn) -> AsyncIterator[AmigoEvent]:
        assert conversation.amigo_user_id is not None
        if turn.kind == TurnKind.START:
            return self._amigo.create_conversation(
                conversation.amigo_user_id,
                service_id=self._config.service_id,
                version_set=self._config.version_set,
                initial_message=turn.text or None,
            )
        assert conversation.amigo_conversation_id is not None
        return self._amigo.interact(
            conversation.amigo_user_id, conversation.amigo_conversation_id, turn.text
        )

    async def _send(
        self, conversation: Conversation, turn: Turn, reply: ReplySink, batch: Batch
    ) -> _Ended:
        started = False
        starting = turn.kind == TurnKind.START
        try:
            async for event in self._open_stream(conversation, turn):
                started = True
                if isinstance(event, ConversationCreated):
                    await self._store.activate_conversation(
                        conversation.id, event.conversation_id, batch.ids
                    )
                    conversation = replace(
                        conversation,
                        amigo_conversation_id=event.conversation_id,
                        state=ConversationState.ACTIVE,
                    )
                elif isinstance(event, UserMessageAvailable):
                    pass  # Amigo has the message; the reply follows
                elif isinstance(event, CurrentAgentAction):
                    if event.label:
                        await reply.status(messages.agent_action(event.label))
                elif isinstance(event, NewMessage):
                    await reply.append(event.message)
                elif isinstance(event, InteractionComplete):
                    await self._complete(conversation, reply, batch, event)
                    return _Ended(TurnState.DONE)
                elif isinstance(event, ErrorEvent):
                    log.warning(
                        "Amigo error event in turn %s: %s %s",
                        turn.id,
                        event.http_error_code,
                        event.error_description[:200],
                    )
                    return _Ended(TurnState.INTERRUPTED, messages.REPLY_INTERRUPTED)
            raise AmigoStreamCut("the stream ended before the reply was complete")
        except AmigoBadRequest as exc:
            if starting and not started:
                raise
            return await self._failed(conversation, turn, exc, started)
        except AmigoError as exc:
            return await self._failed(conversation, turn, exc, started)

    async def _failed(
        self, conversation: Conversation, turn: Turn, exc: AmigoError, started: bool
    ) -> _Ended:
        """Look the failure up in the table: end the turn, or come back later."""
        context = Context("turn", sent=started, starting=turn.kind == TurnKind.START)
        outcome = outcome_of(exc, context)
        log.log(outcome.level, "turn %s: Amigo %s", turn.id, exc)
        if outcome.effect == Effect.FINISHED:
            await self._conversations.finish(conversation, reason="finished-in-amigo", notice=None)
        elif outcome.effect == Effect.GONE:
            await self._conversations.finish(conversation, reason="not-found", notice=None)
        if outcome.turn is None:
            raise _ComeBack(getattr(exc, "retry_after", None), outcome.notice, exc)
        return _Ended(outcome.turn, outcome.notice)

    async def _complete(
        self,
        conversation: Conversation,
        reply: ReplySink,
        batch: Batch,
        event: InteractionComplete,
    ) -> None:
        finished = event.conversation_completed
        footer = None if finished else await self._footer(conversation)
        await reply.complete(event.full_message, footer)
        if reply.first_text_at is not None:
            self._meter.first_text(reply.first_text_at - float(batch.turns[-1].ts))
        await self._store.complete_turns(batch.ids, event.interaction_id)
        if not finished:
            try:
                await self._extras.after_reply(conversation, event.interaction_id)
            except Exception:
                log.exception("after a reply in conversation %s", conversation.id)
            return
        await self._store.finish_conversation(conversation.id, "completed")
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

    async def _footer(self, conversation: Conversation) -> Blocks | None:
        try:
            return await self._extras.footer(conversation)
        except Exception:
            log.exception("the reply footer of conversation %s", conversation.id)
            return None
