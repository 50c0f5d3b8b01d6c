"""Where a person's Slack message enters the relay, and what becomes of it.

:meth:`Inbox.record` saves the message with one statement before Slack gets its ack: a
reply of a conversation's owner becomes a queued turn at once; anything else is saved
as an inbound message and routed afterwards (:meth:`Inbox.route`), one thread at a time,
in the order the messages were saved. Claims are unique by (team, channel, ts), so a
redelivery, or the second event Slack sends for a mention, does nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from slackbot.relay.first_status import FirstStatus
from slackbot.relay.heard import Heard
from slackbot.relay.ports import SlackPort
from slackbot.store.models import ConversationState
from slackbot.store.repo import Conversation, IncomingMessage, Store, ThreadEvent, ThreadKey
from slackbot.ui import messages

__all__ = ["Inbox", "IncomingMessage", "Recorded", "Routed"]

log = logging.getLogger("slackbot.inbox")

START_GRACE_SECONDS = 120.0
"""How young a thread must be for a reply to wait for its conversation to start."""


class Recorded(StrEnum):
    """What saving a message before the ack did."""

    QUEUED = "queued"  # an owner's reply: a turn already
    SAVED = "saved"  # to be routed
    DUPLICATE = "duplicate"


class Routed(StrEnum):
    """What happened to a saved message (returned for logs and tests)."""

    DUPLICATE = "duplicate"
    STARTED = "started"
    QUEUED = "queued"
    NOT_OWNER = "not-owner"
    THREAD_FINISHED = "thread-finished"
    IGNORED = "ignored"
    HELD = "held"  # waiting for its thread's root to start a conversation (or not)


class Kicker(Protocol):
    def kick(self, thread: ThreadKey) -> None:
        """Make sure somebody runs the thread's queued turns."""
        ...

    def running(self, thread: ThreadKey) -> bool:
        """Whether this process runs the thread's turns now."""
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
        heard: Heard | None = None,
        first_status: FirstStatus | None = None,
    ) -> None:
        self._store = store
        self._heard = heard
        self._first_status = first_status
        self._slack = slack
        self._workers = workers
        self._order: dict[ThreadKey, _Turnstile] = {}

    async def record(self, message: IncomingMessage) -> Recorded:
        """Save ``message`` durably, with one statement; raises when the database cannot
        take it (then Slack must not get its ack, so that it delivers it again)."""
        if not message.top_level:
            owned = await self._store.claim_owned_reply(
                message.thread,
                ts=message.ts,
                user_id=message.user_id,
                text=message.text,
                attachment=message.attachment,
            )
            if owned is None:
                return Recorded.DUPLICATE
            if owned:
                # Answered after the reply being written now, if there is one.
                if not self._workers.running(message.thread):
                    self._show_life(message.thread)
                self._workers.kick(message.thread)
                return Recorded.QUEUED
        saved = await self._store.record_inbound(message)
        if saved is None:
            return Recorded.DUPLICATE
        if message.top_level and self._starts_conversation(message):
            self._show_life(message.thread)  # a new thread: its conversation starts
        return Recorded.SAVED

    def _show_life(self, thread: ThreadKey) -> None:
        """The message will be answered: show the thread's status now (see
        :mod:`~slackbot.relay.first_status`)."""
        if self._first_status is not None:
            self._first_status.show(thread.team_id, thread.channel_id, thread.thread_ts)

    async def refuse_too_long(self, message: IncomingMessage, limit: int) -> None:
        """Tell the author, once per message, that it is too long to relay."""
        if await self._store.claim_hint(message.thread, message.user_id, f"long:{message.ts}"):
            await self._slack.post_ephemeral(
                message.channel_id,
                message.user_id,
                messages.message_too_long(len(message.text), limit),
                message.thread_ts,
            )

    @asynccontextmanager
    async def _in_order(self, thread: ThreadKey) -> AsyncIterator[None]:
        """One thread at a time (asyncio's lock serves waiters first come, first served).
        Entries go when nobody waits."""
        turnstile = self._order.setdefault(thread, _Turnstile())
        turnstile.users += 1
        try:
            async with turnstile.lock:
                yield
        finally:
            turnstile.users -= 1
            if not turnstile.users:
                del self._order[thread]

    async def route(self, thread: ThreadKey) -> list[Routed]:
        """Route the thread's saved messages, oldest first; each is marked routed once
        its fate is in the database (a turn, a hint given, or nothing to do)."""
        routed: list[Routed] = []
        async with self._in_order(thread):
            for inbound_id, message in await self._store.unrouted_of(thread):
                result = await self._receive(message)
                await self._store.mark_routed(inbound_id)
                log.debug("event %s: %s", message.event_id, result)
                routed.append(result)
        return routed

    async def accept(self, message: IncomingMessage) -> Routed:
        """Save and route a message the app itself makes (a chosen suggestion)."""
        recorded = await self.record(message)
        if recorded == Recorded.QUEUED:
            return Routed.QUEUED
        if recorded == Recorded.DUPLICATE:
            return Routed.DUPLICATE
        results = await self.route(message.thread)
        return results[-1] if results else Routed.DUPLICATE

    async def _receive(self, message: IncomingMessage) -> Routed:
        thread = message.thread
        conversation = await self._store.open_conversation(thread)
        if conversation is None and self._starts_conversation(message):
            claimed = await self._store.claim_start(
                thread,
                ts=message.ts,
                user_id=message.user_id,
                text=message.text,
                attachment=message.attachment,
            )
            if claimed is not None:
                await self.resolve_held(thread)
                self._workers.kick(thread)
                return Routed.STARTED
            # Lost a race: the message was claimed, or the thread was just opened.
            conversation = await self._store.open_conversation(thread)
        if conversation is None and message.top_level:
            await self.resolve_held(thread, root_seen=True)
            return Routed.IGNORED
        if conversation is None:
            latest = await self._store.latest_conversation(thread)
            if latest is None and self._young(thread):
                return await self._hold(message)
            return await self._outside_conversation(message, latest)
        if message.user_id != conversation.owner_user_id:
            return await self._not_owner(message, conversation)
        turn = await self._store.claim_reply(
            conversation,
            ts=message.ts,
            user_id=message.user_id,
            text=message.text,
            attachment=message.attachment,
        )
        if turn is None:
            return Routed.DUPLICATE
        self._workers.kick(thread)
        return Routed.QUEUED

    async def _not_owner(self, message: IncomingMessage, conversation: Conversation) -> Routed:
        """Another person's message in the thread: kept for the owner's next turn (when
        the thread is shared with the agent), and a hint, once per person and thread."""
        event = ThreadEvent(message.ts, message.user_id, message.text)
        shared = self._heard is not None and await self._heard.share(conversation, event)
        if await self._store.claim_hint(message.thread, message.user_id, "not-owner"):
            await self._slack.post_ephemeral(
                message.channel_id,
                message.user_id,
                messages.not_owner_hint(conversation.owner_user_id, shared=shared),
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
        """A reply may overtake the message that starts its thread's conversation (a
        quick typist, or the two going to different replicas). Hold it in its place in
        the thread's order until the root's fate is known."""
        held = await self._store.claim_pending(
            message.thread,
            ts=message.ts,
            user_id=message.user_id,
            text=message.text,
            attachment=message.attachment,
        )
        if held is None:
            return Routed.DUPLICATE
        # The root may have been routed (elsewhere) between our look and the hold.
        await self.resolve_held(message.thread)
        return Routed.HELD

    async def resolve_held(self, thread: ThreadKey, *, root_seen: bool = False) -> None:
        """Decide the held replies of ``thread`` once its root's fate is known: the
        owner's go to the conversation, others get the not-owner hint; with no
        conversation (``root_seen``: the root started none) they are let go. Replies
        older than a mention that started the conversation inside the thread are the
        thread's history: they go with that start (when shared), not after it."""
        held = await self._store.held_turns(thread)
        if not held:
            return
        conversation = await self._store.latest_conversation(thread)
        if conversation is None and not root_seen:
            return  # the root's fate is not known yet
        start = await self._store.start_turn(conversation.id) if conversation else None
        for turn in held:
            if conversation is not None and start is not None and turn.ts < start.ts:
                if self._heard is not None:
                    event = ThreadEvent(turn.ts, turn.user_id, turn.text)
                    await self._heard.share(conversation, event)
                await self._store.drop_turn(turn.id)
                continue
            message = IncomingMessage(
                turn.team_id,
                turn.channel_id,
                turn.user_id,
                turn.ts,
                turn.thread_ts,
                turn.text,
                False,
                False,
            )
            if conversation is not None and conversation.is_open:
                if turn.user_id == conversation.owner_user_id:
                    await self._store.attach_turn(turn.id, conversation.id)
                    continue
                await self._not_owner(message, conversation)  # kept before the row goes
                await self._store.drop_turn(turn.id)
                continue
            await self._store.drop_turn(turn.id)
            await self._outside_conversation(message, conversation)
        self._workers.kick(thread)

    @staticmethod
    def _starts_conversation(message: IncomingMessage) -> bool:
        return message.mentions_bot or (message.is_dm and message.top_level)

    async def _outside_conversation(
        self, message: IncomingMessage, latest: Conversation | None
    ) -> Routed:
        """A reply in a thread with no open conversation (``latest``: its last one)."""
        if message.top_level or latest is None or latest.state != ConversationState.FINISHED:
            return Routed.IGNORED
        if not await self._store.claim_hint(message.thread, message.user_id, f"f:{message.ts}"):
            return Routed.DUPLICATE  # this message's hint went out already
        await self._slack.post_ephemeral(
            message.channel_id,
            message.user_id,
            messages.thread_finished_hint(),
            message.thread.thread_ts,
        )
        return Routed.THREAD_FINISHED
