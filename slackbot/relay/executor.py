"""One turn, end to end: start the conversation or interact, stream the reply, end it.

What each Amigo failure means comes from :mod:`slackbot.relay.outcomes`; how the reply
ends (saved, then shown) is :mod:`slackbot.relay.replies`'; a turn the app lost track of
is settled with Amigo (:mod:`slackbot.relay.reconcile`) before anything is sent again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from slackbot.amigo.errors import AmigoBadRequest, AmigoError, AmigoStreamCut
from slackbot.amigo.events import (
    ConversationCreated,
    CurrentAgentAction,
    ErrorEvent,
    InteractionComplete,
    NewMessage,
    UserMessageAvailable,
)
from slackbot.relay.conversations import Conversations
from slackbot.relay.heard import Event, Heard
from slackbot.relay.mentions import Names
from slackbot.relay.openings import Openings
from slackbot.relay.outcomes import Context, Effect, outcome_of
from slackbot.relay.ports import (
    AmigoPort,
    Meter,
    NoMeter,
    SlackPort,
    SlackRefused,
    SlackUnreachable,
)
from slackbot.relay.prompts import Prompts
from slackbot.relay.reconcile import Answered, Reconciler, Unknown
from slackbot.relay.replies import Replies
from slackbot.relay.starts import StartPostponed, Starts
from slackbot.relay.stream import ReplySink
from slackbot.relay.voice import Refusal, Voice, heard_line, is_voice, recording
from slackbot.relay.worker import Batch
from slackbot.store.models import ConversationState, TurnKind, TurnState
from slackbot.store.repo import Conversation, Store, Turn
from slackbot.ui import messages
from slackbot.ui.activity import describe

log = logging.getLogger("slackbot.executor")

ReplyFactory = Callable[[str, str, str | None, str, str], ReplySink]
"""(channel, thread ts, the reply's message if it has one, the person it answers, their
workspace) -> the reply in that thread."""

PAUSE_NOTICE_SECONDS = 3.0
"""How long a stopping process may spend saying that a reply is paused."""

MAX_SENDS = 5
"""How often one message goes to Amigo without a person asking (the first time, then
each time Amigo lost it: a crash, a cut); beyond that its reply offers Retry, and the
messages behind it go on."""


@dataclass(frozen=True, slots=True)
class ExecutorConfig:
    service_id: str
    version_set: str = "release"
    retry_attempts: int = 3
    retry_max_wait: float = 60.0
    show_steps: bool = True
    """Show what the agent is doing (Amigo's current-agent-action) while it answers."""


@dataclass(frozen=True, slots=True)
class _Ended:
    """How a turn ended: its state, and the notice that ends its reply (None: answered)."""

    state: TurnState
    notice: str = ""
    retry: bool = True


class _ComeBack(Exception):
    """Amigo asked to come back later, before the turn began."""

    def __init__(self, wait: float | None, notice: str, cause: Exception) -> None:
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
        prompts: Prompts | None = None,
        replies: ReplyFactory,
        endings: Replies,
        reconciler: Reconciler,
        config: ExecutorConfig,
        meter: Meter | None = None,
        heard: Heard | None = None,
        voice: Voice | None = None,
    ) -> None:
        self._voice = voice
        self._store = store
        self._amigo = amigo
        self._slack = slack
        self._conversations = conversations
        self._starts = starts
        self._names = names
        self._prompts = prompts
        self._replies = replies
        self._endings = endings
        self._reconciler = reconciler
        self._config = config
        self._meter = meter or NoMeter()
        self._heard = heard
        self._openings = Openings(amigo, heard, config.service_id, config.version_set)

    async def run(self, batch: Batch, conversation: Conversation) -> TurnState:
        """Send one turn (or several replies joined as one) and see its reply through."""
        state = await self._run(batch, batch.as_turn(), conversation)
        self._meter.turn_ended(state)
        return state

    async def _run(self, batch: Batch, turn: Turn, conversation: Conversation) -> TurnState:
        if not conversation.is_open:
            await self._store.set_turn_state(batch.ids, TurnState.FAILED, error="not open")
            await self._slack.post_ephemeral(
                turn.channel_id, turn.user_id, messages.thread_finished_hint(), turn.thread_ts
            )
            return TurnState.FAILED
        reply = self._replies(
            turn.channel_id, turn.thread_ts, turn.reply_ts, turn.user_id, turn.team_id
        )
        try:
            reply_ts: str | None = await reply.open()
        except (SlackRefused, SlackUnreachable) as exc:
            log.warning("turn %s: no placeholder (%s); its reply comes at the end", turn.id, exc)
            reply_ts = None
        await self._store.set_turn_state(batch.ids, TurnState.SENDING, reply_ts=reply_ts)
        if reply_ts is None:

            async def saved(ts: str) -> None:
                await self._store.set_reply_ts(batch.ids, ts)

            reply.on_message = saved
        try:
            ended = await self._attempt(conversation, turn, reply, batch)
        except asyncio.CancelledError:
            # Shutdown ran out of grace: whoever runs the thread next asks Amigo first,
            # and the reply says it is only paused.
            await asyncio.shield(self._paused(batch, reply))
            raise
        except Exception:
            log.exception("turn %s failed unexpectedly", turn.id)
            ended = _Ended(TurnState.UNSURE)
        if ended.state == TurnState.DONE:
            return ended.state
        if ended.state == TurnState.UNSURE:
            # Not over an answer saved before the failure (Amigo's interaction is then
            # known, and asking it would send the message again): the worker shows that.
            if await self._store.lose_track(batch.ids, "the reply was lost on the way"):
                turns = [replace(t, reply_ts=reply_ts, state=ended.state) for t in batch.turns]
                await self.resolve(turns, conversation)
            return TurnState.UNSURE
        await self._endings.end(batch.turns, reply, ended.state, ended.notice, retry=ended.retry)
        return ended.state

    async def _paused(self, batch: Batch, reply: ReplySink) -> None:
        await self._store.lose_track(batch.ids, "paused at shutdown")
        try:
            async with asyncio.timeout(PAUSE_NOTICE_SECONDS):
                await reply.close_with_notice(messages.REPLY_PAUSED)
        except TimeoutError:
            log.warning("turn %s: no time left to say the reply is paused", batch.ids[0])

    async def resolve(self, turns: list[Turn], conversation: Conversation) -> bool:
        """Settle turns the app lost track of with Amigo: show the answer it has, or send
        them again when it has none. False when Amigo cannot be asked now."""
        text = await self._names.plain("\n\n".join(t.text for t in turns))
        finding = await self._reconciler.settle(conversation, text)
        if isinstance(finding, Unknown):
            return False
        if isinstance(finding, Answered):
            log.info("turn %s: Amigo had answered it; showing that answer", turns[0].id)
            await self._endings.answer(
                turns,
                finding.conversation,
                None,
                interaction_id=finding.interaction_id,
                text=finding.text,
                completed=False,
            )
            return True
        if turns[0].attempt + 1 >= MAX_SENDS:
            await self._endings.end(
                turns, None, TurnState.INTERRUPTED, messages.REPLY_INTERRUPTED, retry=True
            )
            return True
        started = finding.conversation.amigo_conversation_id is not None
        for turn in turns:
            kind = TurnKind.REPLY if started else turn.kind
            await self._store.requeue(turn, kind=kind)
        log.info("turn %s: Amigo did not get it; sending it again", turns[0].id)
        return True

    async def show_owed(self, turns: list[Turn], conversation: Conversation) -> bool:
        return await self._endings.show_owed(turns, conversation)

    async def _attempt(
        self, conversation: Conversation, turn: Turn, reply: ReplySink, batch: Batch
    ) -> _Ended:
        """Send the turn, coming back while Amigo says to come back later."""
        turn = replace(turn, text=await self._names.plain(turn.text))
        audio = await recording(self._voice, turn) if is_voice(turn) else None
        if isinstance(audio, Refusal):
            return _Ended(TurnState.FAILED, audio.notice, retry=audio.retry)
        if turn.kind == TurnKind.REPLY and not turn.text.strip() and audio is None:
            return _Ended(TurnState.FAILED, messages.MESSAGE_EMPTY, retry=False)
        if turn.kind == TurnKind.START and self._prompts is not None and turn.attempt == 0:
            await self._prompts.title(turn.channel_id, turn.thread_ts, turn.text)
        # The thread's events are fixed with the text: a retry sends the same ones.
        speaks = bool(turn.text.strip())
        heard = self._heard
        events = await heard.events_for(batch.turns, conversation, speaks=speaks) if heard else []
        ready = turn.kind == TurnKind.REPLY
        resolved = False
        waits = 0
        while True:
            try:
                if not ready:
                    prepared = await self._prepare(conversation)
                    if isinstance(prepared, str):
                        return _Ended(TurnState.FAILED, prepared)
                    conversation, ready = prepared, True
                return await self._send(conversation, turn, reply, batch, events, audio)
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

    async def _prepare(self, conversation: Conversation) -> Conversation | str:
        try:
            return await self._starts.prepare(conversation)
        except StartPostponed as exc:
            raise _ComeBack(None, messages.REPLY_FAILED_START, exc) from exc

    async def _send(
        self,
        conversation: Conversation,
        turn: Turn,
        reply: ReplySink,
        batch: Batch,
        events: list[Event],
        audio: bytes | None = None,
    ) -> _Ended:
        started = False
        starting = turn.kind == TurnKind.START
        heard = ""  # what Amigo heard of a voice message, shown above its answer
        try:
            async for event in self._openings.open(conversation, turn, events, audio):
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
                    self._conversations.watch.conversation_changed(conversation)
                elif isinstance(event, CurrentAgentAction):
                    activity = describe(event.action) if self._config.show_steps else None
                    if activity is not None:
                        await reply.activity(activity)
                elif isinstance(event, UserMessageAvailable) and audio is not None:
                    heard = heard_line(event.user_message)
                    await reply.append(heard)
                elif isinstance(event, NewMessage):
                    await reply.append(event.message)
                elif isinstance(event, InteractionComplete):
                    await self._endings.answer(
                        batch.turns,
                        conversation,
                        reply,
                        interaction_id=event.interaction_id,
                        text=heard + event.full_message,
                        completed=event.conversation_completed,
                    )
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
        return _Ended(outcome.turn, outcome.notice, outcome.retry)
