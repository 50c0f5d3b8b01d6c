"""One thread's turns, one at a time and in order, each end to end.

Amigo refuses a second action on a conversation while one runs, so every
thread has at most one worker; messages that arrive meanwhile wait as queued
rows and are taken in Slack order when the reply completes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

from slackbot.amigo.client import AmigoClient
from slackbot.amigo.errors import (
    AmigoAuthError,
    AmigoBadRequest,
    AmigoConflict,
    AmigoError,
    AmigoHTTPError,
    AmigoNotFound,
    AmigoRateLimited,
    AmigoStreamCut,
    AmigoTransportError,
    AmigoUnavailable,
)
from slackbot.amigo.events import (
    AmigoEvent,
    ConversationCreated,
    CurrentAgentAction,
    ErrorEvent,
    InteractionComplete,
    NewMessage,
    UserMessageAvailable,
)
from slackbot.relay.conversations import Conversations, Identities
from slackbot.relay.ports import Blocks, SlackPort
from slackbot.relay.stream import ReplySink
from slackbot.relay.tasks import TaskTracker
from slackbot.slack import messages
from slackbot.store.models import (
    OPEN_CONVERSATION_STATES,
    Conversation,
    Turn,
    TurnKind,
    TurnState,
)
from slackbot.store.repo import Store, ThreadKey, thread_of

log = logging.getLogger("slackbot.turns")

ReplyFactory = Callable[[str, str], ReplySink]


@dataclass(frozen=True)
class Batch:
    """Turns sent as one: a single turn, or replies that waited joined by blank lines."""

    turns: list[Turn]

    @property
    def ids(self) -> list[int]:
        return [t.id for t in self.turns]

    def as_turn(self) -> Turn:
        """The first turn, carrying the joined text (not saved: rows keep their own)."""
        first = self.turns[0]
        if len(self.turns) == 1:
            return first
        merged = Turn(
            id=first.id,
            team_id=first.team_id,
            channel_id=first.channel_id,
            thread_ts=first.thread_ts,
            ts=first.ts,
            user_id=first.user_id,
            text="\n\n".join(t.text for t in self.turns),
            kind=first.kind,
            conversation_id=first.conversation_id,
            state=first.state,
        )
        return merged


class ReplyHooks(Protocol):
    """What the Slack side adds around a completed reply (menus, suggestions)."""

    async def footer(self, conversation: Conversation, interaction_id: str) -> Blocks | None:
        """Blocks to put under the reply's last message, e.g. its overflow menu."""
        ...

    async def after_reply(self, conversation: Conversation, interaction_id: str) -> None:
        """Called once the reply is complete and recorded."""
        ...


class NoHooks:
    async def footer(self, conversation: Conversation, interaction_id: str) -> Blocks | None:
        return None

    async def after_reply(self, conversation: Conversation, interaction_id: str) -> None:
        return None


@dataclass(frozen=True, slots=True)
class TurnConfig:
    service_id: str
    version_set: str
    retry_attempts: int = 3
    retry_max_wait: float = 60.0
    coalesce_replies: bool = True
    instance_id: str = "local"
    lease_seconds: float = 15.0


class Outcome(StrEnum):
    DONE = "done"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


class _Retry(Exception):
    """Amigo asked us to come back later before the turn began."""

    def __init__(self, wait: float | None, cause: AmigoError, busy: bool) -> None:
        self.wait = wait
        self.cause = cause
        self.busy = busy


class TurnRunner:
    def __init__(
        self,
        *,
        store: Store,
        amigo: AmigoClient,
        slack: SlackPort,
        identities: Identities,
        conversations: Conversations,
        tasks: TaskTracker,
        reply_factory: ReplyFactory,
        config: TurnConfig,
        hooks: ReplyHooks | None = None,
    ) -> None:
        self._store = store
        self._amigo = amigo
        self._slack = slack
        self._identities = identities
        self._conversations = conversations
        self._tasks = tasks
        self._reply_factory = reply_factory
        self._config = config
        self.hooks: ReplyHooks = hooks or NoHooks()
        self.retry_blocks: Callable[[Turn], Blocks | None] = lambda _turn: None
        """Blocks under an interrupted reply that let its owner send it again."""
        self._workers: dict[ThreadKey, asyncio.Task[None]] = {}
        self._again: set[ThreadKey] = set()
        self.stopping = False
        self._resolved_starts: set[int] = set()
        self._lost: set[ThreadKey] = set()

    def kick(self, thread: ThreadKey) -> None:
        """Make sure a worker will look at ``thread``'s queued turns."""
        if thread in self._workers:
            self._again.add(thread)
            return
        if self.stopping:
            return
        task = self._tasks.spawn(self._work(thread), name=f"turns:{thread.thread_ts}")
        if task is not None:
            self._workers[thread] = task

    @property
    def busy_threads(self) -> int:
        return len(self._workers)

    def stop(self) -> None:
        """Take no further turns; those running go on to their end."""
        self.stopping = True

    async def _work(self, thread: ThreadKey) -> None:
        """Run the thread's queued turns while holding its lease.

        Another process holding the lease runs them instead. After letting the
        lease go, look once more: a turn queued meanwhile by another process
        could otherwise wait for the sweeper.
        """
        holder, ttl = self._config.instance_id, self._config.lease_seconds
        try:
            while not self.stopping:
                if not await self._store.acquire_lease(thread, holder, ttl):
                    return
                self._lost.discard(thread)
                renewer = asyncio.create_task(self._renew(thread), name="lease-renewer")
                try:
                    emptied = await self._drain(thread)
                finally:
                    renewer.cancel()
                    await self._store.release_lease(thread, holder)
                if not emptied or not await self._store.has_queued_turns(thread):
                    return
        finally:
            self._workers.pop(thread, None)

    async def _drain(self, thread: ThreadKey) -> bool:
        """Run turns until none is left (True) or the next must wait (False)."""
        while not self.stopping and thread not in self._lost:
            self._again.discard(thread)
            queued = await self._store.queued_turns(thread)
            if not queued:
                if thread in self._again:
                    continue
                return True
            turn = queued[0]
            if turn.conversation_id is None:
                return False  # a held reply keeps its place; the inbox kicks us when it settles
            readiness = await self._readiness(turn)
            if readiness == "wait":
                return False  # the first turn is still running elsewhere; it drains the rest
            if readiness == "gone":
                continue  # its conversation never started; the waiting turns were failed
            await self.run_turn(self._batch(queued))
        return False

    async def _readiness(self, turn: Turn) -> Literal["go", "wait", "gone"]:
        """Whether a reply can go now: its conversation exists in Amigo (or is
        closed, which run_turn explains), is being created (wait), or never will
        be (gone: its waiting turns are failed with an explanation)."""
        if turn.kind != TurnKind.REPLY or turn.conversation_id is None:
            return "go"
        conversation = await self._store.conversation(turn.conversation_id)
        if (
            conversation is None
            or conversation.amigo_conversation_id is not None
            or conversation.state not in OPEN_CONVERSATION_STATES
        ):
            return "go"
        first = await self._store.start_turn(conversation.id)
        if first is None or first.state in (TurnState.QUEUED, TurnState.SENDING):
            return "wait"
        await self._abandon(conversation)  # its first turn ended before Amigo created it
        return "gone"

    async def _renew(self, thread: ThreadKey) -> None:
        holder, ttl = self._config.instance_id, self._config.lease_seconds
        while True:
            await asyncio.sleep(ttl / 3)
            if not await self._store.renew_lease(thread, holder, ttl):
                # Another process may run the thread now: finish this turn, take no more.
                log.warning("lost the lease of thread %s", thread.thread_ts)
                self._lost.add(thread)
                return

    def _batch(self, queued: list[Turn]) -> Batch:
        """The first waiting turn, with the replies right behind it when they go as one."""
        first = queued[0]
        if not self._config.coalesce_replies or first.kind != TurnKind.REPLY:
            return Batch([first])
        run = [first]
        for turn in queued[1:]:
            if turn.kind != TurnKind.REPLY or turn.conversation_id != first.conversation_id:
                break
            run.append(turn)
        return Batch(run)

    async def run_turn(self, batch: Batch | Turn) -> Outcome:
        """Send one turn (or several replies joined as one) and stream its reply."""
        if isinstance(batch, Turn):
            batch = Batch([batch])
        turn = batch.as_turn()
        try:
            return await self._run(batch, turn)
        except asyncio.CancelledError:
            await self._store.set_turn_state(batch.ids, TurnState.INTERRUPTED, error="shutdown")
            raise

    async def _run(self, batch: Batch, turn: Turn) -> Outcome:
        conversation = (
            await self._store.conversation(turn.conversation_id)
            if turn.conversation_id is not None
            else None
        )
        if conversation is None or conversation.state not in OPEN_CONVERSATION_STATES:
            await self._store.set_turn_state(batch.ids, TurnState.FAILED, error="not open")
            await self._slack.post_ephemeral(
                turn.channel_id, turn.user_id, messages.thread_finished_hint(), turn.thread_ts
            )
            return Outcome.FAILED
        await self._store.set_turn_state(batch.ids, TurnState.SENDING)
        reply = self._reply_factory(turn.channel_id, turn.thread_ts)
        try:
            reply_ts = await reply.open()
            await self._store.set_turn_state(batch.ids, TurnState.SENDING, reply_ts=reply_ts)
            outcome, note = await self._attempt(conversation, turn, reply, batch)
        except asyncio.CancelledError:
            # Shutdown ran out of grace: say so in the reply before giving up.
            await asyncio.shield(self._close(reply, messages.REPLY_INTERRUPTED, turn))
            raise
        except Exception:
            log.exception("turn %s failed unexpectedly", turn.id)
            outcome, note = Outcome.INTERRUPTED, messages.REPLY_INTERRUPTED
        if note is not None:
            await self._close(reply, note, turn if outcome == Outcome.INTERRUPTED else None)
        state = {
            Outcome.DONE: TurnState.DONE,
            Outcome.INTERRUPTED: TurnState.INTERRUPTED,
            Outcome.FAILED: TurnState.FAILED,
        }[outcome]
        await self._store.set_turn_state(batch.ids, state)
        if turn.kind == TurnKind.START and outcome == Outcome.FAILED:
            await self._abandon(conversation)
        return outcome

    async def _close(self, reply: ReplySink, note: str, retry_of: Turn | None) -> None:
        """End the reply with ``note``; an interrupted one offers to retry."""
        footer = None if retry_of is None else self.retry_blocks(retry_of)
        try:
            await reply.close_with_notice(note, footer)
        except Exception:
            log.exception("could not end the reply in %s", retry_of.channel_id if retry_of else "?")

    async def _abandon(self, conversation: Conversation) -> None:
        """A conversation that never started: its waiting turns cannot be sent."""
        fresh = await self._store.conversation(conversation.id)
        if fresh is not None and fresh.amigo_conversation_id is None:
            await self._store.fail_conversation(conversation.id, "start failed")
            for waiting in await self._store.fail_queued_turns(conversation.id, "start failed"):
                await self._slack.post_ephemeral(
                    waiting.channel_id,
                    waiting.user_id,
                    messages.REPLY_FAILED_START,
                    waiting.thread_ts,
                )

    async def _attempt(
        self, conversation: Conversation, turn: Turn, reply: ReplySink, batch: Batch
    ) -> tuple[Outcome, str | None]:
        """Send the turn, retrying while Amigo says to come back later.

        Returns the outcome and, unless the reply completed, the notice to end it with.
        """
        if turn.kind == TurnKind.START:
            prepared = await self._prepare_start(conversation)
            if isinstance(prepared, str):
                return Outcome.FAILED, prepared
            conversation = prepared
        attempts = self._config.retry_attempts
        for attempt in range(attempts + 1):
            try:
                return await self._send(conversation, turn, reply, batch)
            except _Retry as retry:
                if attempt == attempts:
                    log.warning("giving up on turn %s: %s", turn.id, retry.cause)
                    busy = messages.REPLY_FAILED_BUSY
                    return Outcome.FAILED, busy if retry.busy else messages.REPLY_FAILED_UNREACHABLE
                wait = retry.wait if retry.wait is not None else 2.0 ** (attempt + 1)
                wait = min(wait, self._config.retry_max_wait)
                if wait > 0:
                    await reply.status(messages.waiting_for_amigo(wait))
                    await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def _prepare_start(self, conversation: Conversation) -> Conversation | str:
        """Identity and policy before a conversation is created; a str is a refusal."""
        try:
            amigo_user = await self._identities.amigo_user_for(
                conversation.team_id, conversation.owner_user_id
            )
        except AmigoAuthError as exc:
            log.error("Amigo refused the provisioning credentials: %s", exc)
            return messages.REPLY_FAILED_MISCONFIGURED
        except AmigoError as exc:
            log.error("could not provision an Amigo user: %s", exc)
            return messages.REPLY_FAILED_START
        await self._store.set_conversation_user(conversation.id, amigo_user)
        conversation.amigo_user_id = amigo_user
        try:
            blocking = await self._conversations.make_room_for(conversation)
        except AmigoError:
            return messages.REPLY_FAILED_START
        if blocking is not None:
            return messages.refused_active_elsewhere(blocking)
        return conversation

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
    ) -> tuple[Outcome, str | None]:
        if turn.kind == TurnKind.REPLY and not turn.text.strip():
            return Outcome.FAILED, messages.MESSAGE_EMPTY
        started = False
        try:
            async for event in self._open_stream(conversation, turn):
                started = True
                if isinstance(event, ConversationCreated):
                    await self._store.activate_conversation(conversation.id, event.conversation_id)
                    conversation.amigo_conversation_id = event.conversation_id
                    await self._store.set_turn_state(batch.ids, TurnState.STREAMING)
                elif isinstance(event, UserMessageAvailable):
                    await self._store.set_turn_state(batch.ids, TurnState.STREAMING)
                elif isinstance(event, CurrentAgentAction):
                    if event.label:
                        await reply.status(messages.agent_action(event.label))
                elif isinstance(event, NewMessage):
                    await reply.append(event.message)
                elif isinstance(event, InteractionComplete):
                    await self._complete(conversation, turn, reply, event)
                    return Outcome.DONE, None
                elif isinstance(event, ErrorEvent):
                    log.warning(
                        "Amigo error event in turn %s: %s %s",
                        turn.id,
                        event.http_error_code,
                        event.error_description[:200],
                    )
                    return Outcome.INTERRUPTED, messages.REPLY_INTERRUPTED
            raise AmigoStreamCut("the stream ended before the reply was complete")
        except AmigoStreamCut as exc:
            log.warning("reply stream of turn %s was cut: %s", turn.id, exc)
            return Outcome.INTERRUPTED, messages.REPLY_INTERRUPTED
        except AmigoTransportError as exc:
            if started or exc.request_sent:
                log.warning("turn %s lost its connection to Amigo: %s", turn.id, exc)
                return Outcome.INTERRUPTED, messages.REPLY_INTERRUPTED
            raise _Retry(None, exc, busy=False) from exc
        except (AmigoRateLimited, AmigoUnavailable) as exc:
            raise _Retry(exc.retry_after, exc, busy=True) from exc
        except AmigoConflict as exc:
            if exc.already_finished:
                await self._conversations.finish(
                    conversation, reason="finished-in-amigo", notice=None
                )
                return Outcome.FAILED, messages.CONVERSATION_COMPLETED
            raise _Retry(exc.retry_after, exc, busy=True) from exc
        except AmigoAuthError as exc:
            log.error("Amigo refused the credentials for turn %s: %s", turn.id, exc)
            return Outcome.FAILED, messages.REPLY_FAILED_MISCONFIGURED
        except AmigoBadRequest as exc:
            if turn.kind == TurnKind.START and not started:
                return await self._unfinished_elsewhere(conversation, exc)
            log.warning("Amigo rejected turn %s: %s", turn.id, exc)
            return Outcome.FAILED, messages.REPLY_FAILED_REJECTED
        except AmigoNotFound as exc:
            log.warning("Amigo does not know the conversation of turn %s: %s", turn.id, exc)
            if turn.kind == TurnKind.START:
                return Outcome.FAILED, messages.REPLY_FAILED_START
            await self._conversations.finish(conversation, reason="not-found", notice=None)
            return Outcome.FAILED, messages.CONVERSATION_GONE
        except AmigoHTTPError as exc:
            log.warning("Amigo answered turn %s with %s", turn.id, exc)
            return Outcome.FAILED, messages.REPLY_FAILED_REJECTED

    async def _footer(
        self, conversation: Conversation, event: InteractionComplete
    ) -> Blocks | None:
        try:
            return await self.hooks.footer(conversation, event.interaction_id)
        except Exception:
            log.exception("reply footer hook failed")
            return None

    async def _unfinished_elsewhere(
        self, conversation: Conversation, exc: AmigoBadRequest
    ) -> tuple[Outcome, str | None]:
        """Amigo refused to create: most likely the user has an unfinished
        conversation this app does not know. Resolve it by the policy, then retry."""
        assert conversation.amigo_user_id is not None
        if conversation.id in self._resolved_starts:
            log.warning("create refused again after resolving: %s", exc)
            return Outcome.FAILED, messages.REPLY_FAILED_START
        self._resolved_starts.add(conversation.id)
        if self._conversations.policy == "refuse":
            return Outcome.FAILED, messages.UNFINISHED_ELSEWHERE
        try:
            finished = await self._conversations.finish_unknown_unfinished(
                conversation.amigo_user_id, self._config.service_id
            )
        except AmigoError as lookup_error:
            log.warning("could not look up unfinished conversations: %s", lookup_error)
            return Outcome.FAILED, messages.REPLY_FAILED_START
        if not finished:
            log.warning("Amigo refused to create a conversation: %s", exc)
            return Outcome.FAILED, messages.REPLY_FAILED_START
        raise _Retry(0.0, exc, busy=True)

    async def _complete(
        self,
        conversation: Conversation,
        turn: Turn,
        reply: ReplySink,
        event: InteractionComplete,
    ) -> None:
        footer = None if event.conversation_completed else await self._footer(conversation, event)
        await reply.complete(event.full_message, footer)
        await self._store.record_interaction(conversation.id, event.interaction_id, reply.reply_ts)
        conversation.latest_interaction_id = event.interaction_id
        conversation.latest_reply_ts = reply.reply_ts
        if not event.conversation_completed:
            try:
                await self.hooks.after_reply(conversation, event.interaction_id)
            except Exception:
                log.exception("after-reply hook failed in turn %s", turn.id)
        if event.conversation_completed:
            await self._store.finish_conversation(conversation.id, "completed")
            await self._slack.post_message(
                conversation.channel_id,
                conversation.thread_ts,
                messages.CONVERSATION_COMPLETED,
                None,
            )
            for waiting in await self._store.fail_queued_turns(conversation.id, "finished"):
                await self._slack.post_ephemeral(
                    waiting.channel_id,
                    waiting.user_id,
                    messages.thread_finished_hint(),
                    waiting.thread_ts,
                )


__all__ = ["Batch", "Outcome", "ReplyFactory", "TurnConfig", "TurnRunner", "thread_of"]
