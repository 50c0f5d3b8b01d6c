"""Picking up after a stop, and sending a message once more when a person asks.

A turn that a dead process left `sending` or `streaming` cannot be resumed: Amigo's
stream is gone. It becomes `unsure`, and whoever runs its thread next asks Amigo what it
has (:mod:`slackbot.relay.reconcile`) before anything is sent again; `queued` turns and
replies still owed to the thread simply go.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from slackbot.relay import workspace
from slackbot.relay.inbox import START_GRACE_SECONDS, Inbox, Kicker
from slackbot.relay.ports import Meter, NoMeter, SlackPort
from slackbot.store.models import TurnState
from slackbot.store.repo import Conversation, Store
from slackbot.ui import messages

log = logging.getLogger("slackbot.recovery")

MayAct = Callable[[str, Conversation], Awaitable[bool]]

ROUTE_AFTER_SECONDS = 10.0
"""A saved message not routed this long after it arrived was left by a stopped process."""


class Recovery:
    def __init__(
        self,
        store: Store,
        slack: SlackPort,
        inbox: Inbox,
        workers: Kicker,
        may_act: MayAct,
        meter: Meter | None = None,
    ) -> None:
        self._meter = meter or NoMeter()
        self._store = store
        self._slack = slack
        self._inbox = inbox
        self._workers = workers
        self._may_act = may_act

    async def sweep(self, *, route_after: float = ROUTE_AFTER_SECONDS) -> int:
        """Route saved messages a stopped process did not, let held replies go to their
        thread's conversation (or let them go when the thread never got its root), mark
        the turns a stopped process left running (its thread lease ran out) to be
        settled with Amigo, and start the threads whose work (turns to send, to settle,
        to show) nobody runs.

        Returns how many turns a stopped process left running.
        """
        for thread in await self._store.unrouted_threads(route_after):
            with workspace.within(thread.team_id):
                await self._inbox.route(thread)
        # A process that started a thread's conversation (or held a reply just after)
        # may have stopped before letting its held replies go: whoever routes the root
        # again finds it claimed, and nobody else would until the grace ran out.
        for thread in await self._store.threads_held_since(route_after):
            with workspace.within(thread.team_id):
                await self._inbox.resolve_held(thread)
        for thread in await self._store.threads_held_since(START_GRACE_SECONDS):
            with workspace.within(thread.team_id):
                await self._inbox.resolve_held(thread, root_seen=True)
        orphans = await self._store.orphaned_running_turns()
        lost = await self._store.lose_track([t.id for t in orphans], "process stopped")
        for thread in await self._store.unleased_threads_with_work():
            self._workers.kick(thread)
        if lost:
            log.warning("%d turn(s) of a stopped process will be settled with Amigo", len(lost))
        self._meter.waiting(await self._store.count_waiting())
        return len(lost)

    async def sweep_forever(self, interval: float) -> None:
        """Sweep every ``interval`` seconds: how threads of a dead replica move on."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("sweep failed; trying again in %.1f s", interval)

    async def retry(self, turn_id: int, user_id: str) -> str | None:
        """Queue an interrupted turn's text again; returns what to tell the user
        when nothing was queued, or None when it was."""
        turn = await self._store.turn(turn_id)
        conversation = (
            await self._store.conversation(turn.conversation_id)
            if turn is not None and turn.conversation_id is not None
            else None
        )
        if turn is None or conversation is None:
            return messages.RETRY_UNKNOWN
        if not await self._may_act(user_id, conversation):
            return messages.retry_not_yours(conversation.owner_user_id)
        if turn.state not in (TurnState.INTERRUPTED, TurnState.FAILED):
            return messages.RETRY_NOT_NEEDED
        if not conversation.is_open:
            return messages.thread_finished_hint()
        batch = await self._store.turns_with_reply(turn.reply_ts) if turn.reply_ts else [turn]
        text = "\n\n".join(t.text for t in batch) or turn.text
        if await self._store.claim_retry(turn, text) is None:
            return messages.RETRY_ALREADY
        self._workers.kick(turn.thread)
        return None
