"""Slack's rate limits, kept before Slack has to enforce them.

Slack limits every Web API method on its own, per workspace (``chat.postMessage`` also
per channel), in tiers. :class:`SlackBudgets` holds one :class:`Budget` per method (and
channel, where Slack counts per channel), filled at the method's documented rate; every
call the app makes takes from it first, so no call is made that Slack would refuse. A 429
pauses the method for its ``Retry-After`` and tightens its rate. Finals (the write that
completes a reply) go before partial writes waiting on the same budget.

Replicas on one database book each call in the budget they share as well
(:class:`SharedBudgets`): the local budget keeps the queue and its order, the shared one
says when the call's turn comes.

slack_sdk's retry handlers only react to a 429 after the fact, one request at a time;
the app needs one queue per method that every reply shares, so this is our own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from slackbot.relay.limits import DOCUMENTED, SAFETY, Limit

log = logging.getLogger("slackbot.budgets")

Book = Callable[[float, float], Awaitable[float]]
"""Books one call in the budget every replica shares, given the budget's rate (a second)
and capacity: the tokens left after it (below zero: booked ahead of its turn)."""


@dataclass(frozen=True, slots=True)
class Strain:
    """How one method's budget fares: calls waiting, seconds still paused after a 429,
    and how many 429s Slack answered since start."""

    method: str
    waiting: int = 0
    paused_for: float = 0.0
    limited: int = 0


TIGHTEN = 0.8
"""After a 429 a method's rate drops to this share of what it was (down to a quarter)."""


class Budget:
    """A token bucket with a queue: finals first, then first come, first served."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        book: Book | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._book = book
        self._bookings: set[asyncio.Task[float]] = set()
        self._book_failed_at = -60.0
        self.rate = per_minute / 60.0
        self._floor = self.rate / 4
        self.capacity = float(max(1, burst))
        self._clock = clock
        self._tokens = self.capacity
        self._stamp = clock()
        self._paused_until = 0.0
        self._queues: tuple[deque[asyncio.Future[None]], ...] = (deque(), deque(), deque())
        """Finals, then first texts, then the rest."""
        self._dispatcher: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.granted = 0
        self.pauses = 0

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._queues)

    def available(self) -> float:
        """Calls that could go at once now, less those already waiting (may be < 0)."""
        now = self._clock()
        if now < self._paused_until:
            return -float(self.waiting) - 1.0
        self._refill(now)
        return self._tokens - self.waiting

    def paused_for(self) -> float:
        """Seconds until Slack's last 429 lets this budget go again (0: not paused)."""
        return max(0.0, self._paused_until - self._clock())

    def try_take(self) -> bool:
        """One call's worth now, or False (never waits)."""
        if self.available() < 1.0:
            return False
        self._tokens -= 1.0
        self.granted += 1
        if self._book is not None:  # booked behind: the call goes now
            booking = asyncio.get_running_loop().create_task(self._shared(), name="slack-book")
            self._bookings.add(booking)
            booking.add_done_callback(self._bookings.discard)
        return True

    async def acquire(self, *, final: bool = False, first: bool = False) -> None:
        """Wait for one call's worth of budget: a reply's final write goes first, then
        the first text of a reply, then everything else."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queues[0 if final else 1 if first else 2].append(future)
        self._kick()
        try:
            await future
        except asyncio.CancelledError:
            if not future.cancelled() and future.done():
                self._tokens += 1  # granted as we were cancelled: give it back
            raise

    def pause(self, seconds: float) -> None:
        """Slack said 429: nothing from this budget for ``seconds``, and a lower rate."""
        self.pauses += 1
        self.rate = max(self._floor, self.rate * TIGHTEN)
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        self._tokens = 0.0
        self._changed.set()

    def _kick(self) -> None:
        self._changed.set()
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.get_running_loop().create_task(
                self._dispatch(), name="slack-budget"
            )

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def _next_waiter(self) -> asyncio.Future[None] | None:
        for queue in self._queues:
            while queue:
                future = queue.popleft()
                if not future.done():
                    return future
        return None

    async def _dispatch(self) -> None:
        while any(self._queues):
            self._changed.clear()
            now = self._clock()
            if now < self._paused_until:
                self._stamp = self._paused_until
                await self._wait(self._paused_until - now)
                continue
            self._refill(now)
            if self._tokens >= 1.0:
                future = self._next_waiter()
                if future is None:
                    break
                self._tokens -= 1.0
                if self._book is not None:
                    turn_in = await self._shared()
                    if turn_in > 0:
                        await asyncio.sleep(turn_in)  # this call's turn, booked
                    # Its caller may have stopped waiting meanwhile (a reply that ended):
                    # the booked turn is the next caller's.
                    future = future if not future.done() else self._next_waiter()
                    if future is None:
                        self._tokens += 1.0
                        continue
                self.granted += 1
                future.set_result(None)
                continue
            await self._wait((1.0 - self._tokens) / self.rate)

    async def _shared(self) -> float:
        """Book the call in the budget the replicas share; seconds until its turn. What
        is left there bounds what this replica has (it saw the others' calls)."""
        assert self._book is not None
        try:
            left = await self._book(self.rate, self.capacity)
        except Exception as exc:  # the database is back soon; Slack's 429s still pause us
            now = self._clock()
            if now - self._book_failed_at >= 60.0:
                self._book_failed_at = now
                log.warning("could not book a Slack call with the other replicas: %s", exc)
            return 0.0
        self._refill(self._clock())
        self._tokens = min(self._tokens, left)
        return max(0.0, -left / self.rate)

    async def _wait(self, seconds: float) -> None:
        """Sleep until a token is due, or until a pause changes the plan."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout=max(seconds, 0.0))
        except TimeoutError:
            pass


class Budgets(Protocol):
    """What replies take from their workspace's budgets (:class:`SlackBudgets` is one)."""

    async def acquire(
        self, method: str, channel: str | None = None, *, final: bool = False, first: bool = False
    ) -> None: ...

    def available(self, method: str, channel: str | None = None) -> float: ...

    def try_take(self, method: str, channel: str | None = None) -> bool: ...

    def strained(self) -> list[Strain]: ...


class SharedBudgets(Protocol):
    """Where the replicas book their Slack calls (:class:`~slackbot.store.repo.Store`)."""

    async def book_slack_call(
        self, key: str, per_second: float, capacity: float, now: float
    ) -> float: ...


class SlackBudgets:
    """One workspace's budgets: a :class:`Budget` per method (and channel, where Slack
    counts per channel). Methods Slack documents no limit for are not held back."""

    MAX_CHANNELS = 10_000

    def __init__(
        self,
        overrides: Mapping[str, Limit] | None = None,
        *,
        share: float = 1.0,
        shared: SharedBudgets | None = None,
        workspace: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``shared``: where the replicas book their calls (None: this process alone
        speaks for the app), under ``workspace``'s name."""
        self.limits = {**DOCUMENTED, **(overrides or {})}
        self._share = share
        self._shared = shared
        self._workspace = workspace
        self._clock = clock
        self._budgets: dict[tuple[str, str], Budget] = {}

    def budget(self, method: str, channel: str | None = None) -> Budget | None:
        limit = self.limits.get(method)
        if limit is None:
            return None
        key = (method, (channel or "") if limit.per_channel else "")
        found = self._budgets.get(key)
        if found is None:
            if len(self._budgets) > self.MAX_CHANNELS:
                self._forget_idle()
            burst = max(1, int(limit.burst * self._share))
            if self._shared is not None and burst > 1:
                # A call booked by one replica may reach Slack late, behind another's
                # booked after it (one process busier than the other): one call of the
                # burst is kept for that, as the rate keeps SAFETY.
                burst -= 1
            found = Budget(
                limit.per_minute * self._share * SAFETY,
                burst,
                book=self._book_of("/".join((self._workspace, *key))),
                clock=self._clock,
            )
            self._budgets[key] = found
        return found

    def _book_of(self, key: str) -> Book | None:
        shared = self._shared
        if shared is None:
            return None

        async def book(per_second: float, capacity: float) -> float:
            return await shared.book_slack_call(key, per_second, capacity, time.time())

        return book

    async def acquire(
        self, method: str, channel: str | None = None, *, final: bool = False, first: bool = False
    ) -> None:
        budget = self.budget(method, channel)
        if budget is not None:
            await budget.acquire(final=final, first=first)

    def available(self, method: str, channel: str | None = None) -> float:
        budget = self.budget(method, channel)
        return float("inf") if budget is None else budget.available()

    def try_take(self, method: str, channel: str | None = None) -> bool:
        budget = self.budget(method, channel)
        return budget is None or budget.try_take()

    def limited(self, method: str, retry_after: float) -> None:
        """Slack answered 429 to ``method``: pause it (every channel's budget of it)."""
        for (name, _), budget in list(self._budgets.items()):
            if name == method:
                budget.pause(retry_after)
        if not any(name == method for name, _ in self._budgets):
            first = self.budget(method)
            if first is not None:
                first.pause(retry_after)

    def strained(self) -> list[Strain]:
        """Each method Slack rate-limited since start or that has calls waiting now (every
        channel's budget of it together), by name."""
        found: dict[str, Strain] = {}
        for (method, _), budget in self._budgets.items():
            if not (budget.pauses or budget.waiting):
                continue
            seen = found.get(method, Strain(method))
            found[method] = Strain(
                method,
                seen.waiting + budget.waiting,
                max(seen.paused_for, budget.paused_for()),
                seen.limited + budget.pauses,
            )
        return [found[method] for method in sorted(found)]

    def _forget_idle(self) -> None:
        idle = [k for k, b in self._budgets.items() if not b.waiting and k[1]]
        for key in idle[: len(idle) // 2 + 1]:
            del self._budgets[key]
