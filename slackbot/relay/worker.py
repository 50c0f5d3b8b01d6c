"""One thread's turns, one at a time and in order, under the thread's lease.

Amigo refuses a second action on a conversation while one runs, so every thread has
at most one worker in the whole deployment: the process holding the thread's lease.
Messages that arrive meanwhile wait as queued rows and are taken in Slack order; replies
that waited together may go to Amigo as one message (a batch).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from slackbot.relay import workspace
from slackbot.relay.tasks import TaskTracker
from slackbot.store.models import TurnKind, TurnState
from slackbot.store.repo import Conversation, Queue, Store, ThreadKey, Turn

log = logging.getLogger("slackbot.worker")

RUNNING = (TurnState.SENDING, TurnState.STREAMING)


@dataclass(frozen=True)
class Batch:
    """Turns sent as one: a single turn, or replies that waited, joined by blank lines."""

    turns: list[Turn]

    @property
    def ids(self) -> list[int]:
        return [t.id for t in self.turns]

    def as_turn(self) -> Turn:
        """The first turn, carrying the joined text (not saved: rows keep their own)."""
        first = self.turns[0]
        if len(self.turns) == 1:
            return first
        return replace(first, text="\n\n".join(t.text for t in self.turns))


class Executor(Protocol):
    async def run(self, batch: Batch, conversation: Conversation) -> TurnState:
        """Send one batch to Amigo and see its reply through; the turns' final state."""
        ...

    async def resolve(self, turns: list[Turn], conversation: Conversation) -> bool:
        """Settle turns the app lost track of; False when Amigo cannot be asked now."""
        ...

    async def show_owed(self, turns: list[Turn], conversation: Conversation) -> bool:
        """Show what ended turns owe the thread; False when Slack would not take it."""
        ...


class Readiness(StrEnum):
    GO = "go"
    WAIT = "wait"  # the conversation is not created yet (being created, or to be retried)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    holder: str
    """Names this process in thread leases."""
    lease_seconds: float = 15.0
    coalesce_replies: bool = True


class ThreadWorkers:
    """Starts a worker for a thread when asked, unless one runs already."""

    def __init__(
        self, store: Store, executor: Executor, tasks: TaskTracker, config: WorkerConfig
    ) -> None:
        self._store = store
        self._executor = executor
        self._tasks = tasks
        self._config = config
        self._workers: dict[ThreadKey, asyncio.Task[None]] = {}
        self._again: set[ThreadKey] = set()
        self._lost: set[ThreadKey] = set()
        self._held: dict[ThreadKey, int] = {}
        """Threads whose lease this process holds, each with the number of its taking."""
        self._takings = 0
        self._renewer: asyncio.Task[None] | None = None
        self.stopping = False

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

    def running(self, thread: ThreadKey) -> bool:
        """Whether a worker of this process looks at ``thread`` now."""
        return thread in self._workers

    @property
    def lost(self) -> frozenset[ThreadKey]:
        """Threads whose lease another process took while this one ran them."""
        return frozenset(self._lost)

    def stop(self) -> None:
        """Take no further turns; those running go on to their end."""
        self.stopping = True

    async def _work(self, thread: ThreadKey) -> None:
        """Run the thread's queued turns while holding its lease.

        Another process holding the lease runs them instead. After letting the lease
        go, look once more: a turn queued meanwhile by another process, which could
        not take the lease, would otherwise wait for the sweep.
        """
        holder, ttl = self._config.holder, self._config.lease_seconds
        workspace.enter(thread.team_id)  # whoever kicked it: the thread's own workspace
        try:
            while not self.stopping:
                if not await self._store.acquire_lease(thread, holder, ttl):
                    return
                self._lost.discard(thread)
                self._takings += 1
                self._held[thread] = self._takings
                if self._renewer is None or self._renewer.done():
                    self._renewer = asyncio.create_task(self._renew(), name="lease-renewer")
                try:
                    emptied = await self._drain(thread)
                finally:
                    self._held.pop(thread, None)
                    left = await self._store.release_lease(thread, holder)
                if not emptied or not left:
                    return
        finally:
            self._workers.pop(thread, None)
            self._again.discard(thread)
            self._lost.discard(thread)

    async def _drain(self, thread: ThreadKey) -> bool:
        """Run turns until, as far as this process knows, none is left (True), or until
        the next one must wait (False)."""
        while not self.stopping and thread not in self._lost:
            self._again.discard(thread)
            queue = await self._store.queue(thread)
            if not queue.turns:
                if thread in self._again:
                    continue
                return True
            running = [t.id for t in queue.turns if t.state in RUNNING]
            if running:
                # Only the lease's holder runs a thread's turns, and this one runs none
                # now: a process that stopped (or whose lease ran out) left these. Ask
                # Amigo about them before anything behind them goes.
                lost = await self._store.lose_track(running, "its process stopped")
                log.warning("thread %s: %d turn(s) left running", thread.thread_ts, len(lost))
                continue
            first, conversation = queue.turns[0], queue.conversation
            if conversation is not None and first.state != TurnState.QUEUED:
                # Earlier work first: a turn to settle with Amigo, or a reply to show.
                group = self.same_reply(queue)
                if first.state == TurnState.UNSURE:
                    done = await self._executor.resolve(group, conversation)
                else:
                    done = await self._executor.show_owed(group, conversation)
                if not done:
                    return False  # Amigo or Slack cannot be reached: the sweep comes back
                continue
            if await self._readiness(queue) == Readiness.WAIT:
                return False  # whoever creates the conversation drains the rest
            assert conversation is not None
            batch = self.batch(queue)
            await self._executor.run(batch, conversation)
            if len(batch.turns) == len(queue.turns) and thread not in self._again:
                return True  # the queue read before this batch is done
        return False

    async def _readiness(self, queue: Queue) -> Readiness:
        """Whether the first turn can go now: its conversation exists in Amigo (or is
        closed, which the executor explains), or it is not created yet: the reply waits
        for its start (sent again when Amigo lost it, or by a person's Retry)."""
        first, conversation = queue.turns[0], queue.conversation
        if conversation is None:
            return Readiness.WAIT  # a held reply keeps its place; the inbox kicks us again
        if (
            first.kind != TurnKind.REPLY
            or conversation.amigo_conversation_id is not None
            or not conversation.is_open
        ):
            return Readiness.GO
        return Readiness.WAIT

    @staticmethod
    def same_reply(queue: Queue) -> list[Turn]:
        """The first turn and those answered by the same reply (sent as one)."""
        first = queue.turns[0]
        return [
            t
            for t in queue.turns
            if t.state == first.state and (t.id == first.id or t.reply_ts == first.reply_ts)
        ]

    async def _renew(self) -> None:
        """Renew every lease this process holds, with one statement each period (one per
        thread would be a write every few seconds for each thread waiting on Slack)."""
        holder, ttl = self._config.holder, self._config.lease_seconds
        while self._held:
            await asyncio.sleep(ttl / 3)
            before = dict(self._held)
            try:
                kept = await self._store.renew_leases(holder, ttl)
            except Exception as exc:  # the database is back by the next period, or not
                log.warning("could not renew thread leases: %s", exc)
                continue
            for thread, taking in before.items():
                if thread not in kept and self._held.get(thread) == taking:
                    # Another process may run the thread now: finish this turn, take no more.
                    log.warning("lost the lease of thread %s", thread.thread_ts)
                    self._lost.add(thread)

    def batch(self, queue: Queue) -> Batch:
        """The first waiting turn, with the replies right behind it when they go as one."""
        first = queue.turns[0]
        alone = first.kind != TurnKind.REPLY or first.attachment is not None
        if not self._config.coalesce_replies or alone:
            return Batch([first])  # a recording goes as its own voice message
        run = [first]
        for turn in queue.turns[1:]:
            if (
                turn.kind != TurnKind.REPLY
                or turn.conversation_id != first.conversation_id
                or turn.attachment is not None
            ):
                break
            run.append(turn)
        return Batch(run)
