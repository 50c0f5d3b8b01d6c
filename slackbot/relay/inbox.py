"""Where a person's Slack message enters the relay, and what becomes of it.

The message is claimed in the database (by team, channel and ts) before anything is
sent to Amigo: a redelivered event, or the `app_mention` and `message` pair Slack sends
for one post, finds the claim taken and stops. One thread's messages are claimed one
at a time, in the order they arrived.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from slackbot.relay.ports import SlackPort
from slackbot.store.models import ConversationState
from slackbot.store.repo import Conversation, Store, ThreadKey
from slackbot.ui import messages

log = logging.getLogger("slackbot.inbox")

START_GRACE_SECONDS = 120.0
"""How young a thread must be for a reply to wait for its conversation to start."""
START_RECHECKS = (0.25, 0.5, 1.0, 2.0)
"""Pauses between looks for a held reply's conversation."""


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A person's message, with Slack markup already turned into plain text."""

    team_id: str
    channel_id: str
    user_id: str
    ts: str
    thread_ts: str | None
    text: str
    mentions_bot: bool
    is_dm: bool
    event_id: str | None = None

    @property
    def thread(self) -> ThreadKey:
        return ThreadKey(self.team_id, self.channel_id, self.thread_ts or self.ts)

    @property
    def top_level(self) -> bool:
        return self.thread_ts is None or self.thread_ts == self.ts


class Routed(StrEnum):
    """What happened to a message (returned for logs and tests)."""

    DUPLICATE = "duplicate"
    STARTED = "started"
    QUEUED = "queued"
    NOT_OWNER = "not-owner"
    THREAD_FINISHED = "thread-finished"
    IGNORED = "ignored"
    HELD = "held"  # waiting for its thread's conversation to start


class Kicker(Protocol):
    def kick(self, thread: ThreadKey) -> None:
        """Make sure somebody runs the thread's queued turns."""
        ...


@dataclass
class _Turnstile:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class Inbox:
    def __init__(
        self,
        store: Store,
        slack: SlackPort,
        workers: Kicker,
        *,
        rechecks: tuple[float, ...] = START_RECHECKS,
    ) -> None:
        self._store = store
        self._slack = slack
        self._workers = workers
        self._rechecks = rechecks
        self._order: dict[ThreadKey, _Turnstile] = {}

    @asynccontextmanager
    async def _in_order(self, thread: ThreadKey) -> AsyncIterator[None]:
        """One thread's messages one at a time, in arrival order (asyncio's lock serves
        waiters first come, first served). Entries go when nobody waits."""
        turnstile = self._order.setdefault(thread, _Turnstile())
        turnstile.users += 1
        try:
            async with turnstile.lock:
                yield
        finally:
            turnstile.users -= 1
            if not turnstile.users:
                del self._order[thread]

    async def accept(
        self, thread: ThreadKey, prepare: Callable[[], Awaitable[IncomingMessage]]
    ) -> Routed:
        """Claim a message of ``thread`` in its place in the thread's order.

        ``prepare`` builds the message (turning Slack markup into text may look users
        up) once the message's turn in the thread has come; call this before the first
        ``await`` of a message's handling, so that arrival order is kept.
        """
        async with self._in_order(thread):
            message = await prepare()
            routed = await self._receive(message)
        if routed == Routed.HELD:
            # Outside the thread's turnstile, so the mention it waits for can be claimed.
            routed = await self._settle(message)
        log.debug("event %s: %s", message.event_id, routed)
        return routed

    async def _receive(self, message: IncomingMessage) -> Routed:
        """Claims dedupe by (team, channel, ts), so a redelivered event (even with a new
        event id) or the mention pair does nothing twice."""
        thread = message.thread
        if not message.top_level:
            # The usual case, a reply by its conversation's owner, is one statement.
            owned = await self._store.claim_owned_reply(
                thread, ts=message.ts, user_id=message.user_id, text=message.text
            )
            if owned is None:
                return Routed.DUPLICATE
            if owned:
                self._workers.kick(thread)
                return Routed.QUEUED
        conversation = await self._store.open_conversation(thread)
        if conversation is None and self._starts_conversation(message):
            claimed = await self._store.claim_start(
                thread, ts=message.ts, user_id=message.user_id, text=message.text
            )
            if claimed is not None:
                self._workers.kick(thread)
                return Routed.STARTED
            # Lost a race: the message was claimed, or the thread was just opened.
            conversation = await self._store.open_conversation(thread)
        if conversation is None and not message.top_level and self._young(thread):
            return await self._hold(message)
        if conversation is None:
            return await self._outside_conversation(message)
        if message.user_id != conversation.owner_user_id:
            return await self._not_owner(message, conversation)
        turn = await self._store.claim_reply(
            conversation, ts=message.ts, user_id=message.user_id, text=message.text
        )
        if turn is None:
            return Routed.DUPLICATE
        self._workers.kick(thread)
        return Routed.QUEUED

    async def _not_owner(self, message: IncomingMessage, conversation: Conversation) -> Routed:
        if await self._store.claim_hint(message.thread, message.user_id, "not-owner"):
            await self._slack.post_ephemeral(
                message.channel_id,
                message.user_id,
                messages.not_owner_hint(conversation.owner_user_id),
                message.thread.thread_ts,
            )
        return Routed.NOT_OWNER

    @staticmethod
    def _young(thread: ThreadKey) -> bool:
        try:
            return time.time() - float(thread.thread_ts) < START_GRACE_SECONDS
        except ValueError:
            return False

    async def _hold(self, message: IncomingMessage) -> Routed:
        """A reply may overtake the mention that starts its thread's conversation
        (a quick typist, or the two events going to different replicas). Hold it in
        its place in the thread's order until the conversation's fate is known."""
        held = await self._store.claim_pending(
            message.thread, ts=message.ts, user_id=message.user_id, text=message.text
        )
        return Routed.DUPLICATE if held is None else Routed.HELD

    async def _settle(self, message: IncomingMessage) -> Routed:
        """Look again for a few seconds for the held reply's conversation; queue the
        reply if it is its owner's, drop it otherwise."""
        thread = message.thread
        conversation: Conversation | None = None
        for delay in (0.0, *self._rechecks):
            await asyncio.sleep(delay)
            latest = await self._store.latest_conversation(thread)
            if latest is not None:
                conversation = latest if latest.is_open else None
                break
        held = await self._store.held_turn(thread, message.ts)
        if held is None:
            return Routed.DUPLICATE
        if conversation is not None and conversation.owner_user_id == message.user_id:
            await self._store.attach_turn(held.id, conversation.id)
            self._workers.kick(thread)
            return Routed.QUEUED
        await self._store.drop_turn(held.id)
        if conversation is not None:
            self._workers.kick(thread)  # turns behind the held one may go now
            return await self._not_owner(message, conversation)
        return await self._outside_conversation(message)

    @staticmethod
    def _starts_conversation(message: IncomingMessage) -> bool:
        return message.mentions_bot or (message.is_dm and message.top_level)

    async def _outside_conversation(self, message: IncomingMessage) -> Routed:
        """A reply in a thread with no open conversation."""
        if message.top_level:
            return Routed.IGNORED
        latest = await self._store.latest_conversation(message.thread)
        if latest is None or latest.state != ConversationState.FINISHED:
            return Routed.IGNORED
        if message.event_id is not None and not await self._store.claim_event(message.event_id):
            return Routed.DUPLICATE  # the hint went out on the first delivery
        await self._slack.post_ephemeral(
            message.channel_id,
            message.user_id,
            messages.thread_finished_hint(),
            message.thread.thread_ts,
        )
        return Routed.THREAD_FINISHED
