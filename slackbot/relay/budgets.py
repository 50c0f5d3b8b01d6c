"""Sharing Slack's rate limits among everything the app writes at once.

`chat.update` is limited per workspace (Tier 3, about 50 a minute with short
bursts), so every streaming reply draws its edits from one :class:`EditBudget`:
with many replies at once each one gets fewer, evenly spaced edits, and final
edits go first so that every reply ends complete. Posting is limited per
channel (about one message a second), which :class:`ChannelPacer` keeps.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class EditBudget:
    """A token bucket with a queue: finals first, then first come, first served."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(max(1, burst))
        self._clock = clock
        self._tokens = self.capacity
        self._stamp = clock()
        self._paused_until = 0.0
        self._finals: deque[asyncio.Future[None]] = deque()
        self._others: deque[asyncio.Future[None]] = deque()
        self._dispatcher: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.granted = 0
        self.pauses = 0

    @property
    def waiting(self) -> int:
        return len(self._finals) + len(self._others)

    async def acquire(self, *, final: bool = False) -> None:
        """Wait for one edit's worth of budget."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._finals if final else self._others).append(future)
        self._kick()
        try:
            await future
        except asyncio.CancelledError:
            if not future.cancelled() and future.done():
                self._tokens += 1  # granted as we were cancelled: give it back
            raise

    def pause(self, seconds: float) -> None:
        """Slack said 429: no edits from this workspace for ``seconds``."""
        self.pauses += 1
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        self._tokens = 0.0
        self._changed.set()

    def _kick(self) -> None:
        self._changed.set()
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.get_running_loop().create_task(
                self._dispatch(), name="edit-budget"
            )

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def _next_waiter(self) -> asyncio.Future[None] | None:
        for queue in (self._finals, self._others):
            while queue:
                future = queue.popleft()
                if not future.done():
                    return future
        return None

    async def _dispatch(self) -> None:
        while self._finals or self._others:
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
                self.granted += 1
                future.set_result(None)
                continue
            await self._wait((1.0 - self._tokens) / self.rate)

    async def _wait(self, seconds: float) -> None:
        """Sleep until a token is due, or until a pause changes the plan."""
        try:
            await asyncio.wait_for(self._changed.wait(), timeout=max(seconds, 0.0))
        except TimeoutError:
            pass


class ChannelPacer:
    """About one new message a second per channel, with a small burst."""

    def __init__(
        self,
        per_second: float = 1.0,
        burst: int = 3,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_second = per_second
        self._burst = burst
        self._clock = clock
        self._buckets: dict[str, EditBudget] = {}

    async def acquire(self, channel: str) -> None:
        bucket = self._buckets.get(channel)
        if bucket is None:
            bucket = EditBudget(self._per_second * 60, self._burst, clock=self._clock)
            self._buckets[channel] = bucket
        await bucket.acquire()
        if len(self._buckets) > 10_000:  # forget idle channels now and then
            for key in [k for k, b in self._buckets.items() if not b.waiting][:5_000]:
                del self._buckets[key]


class TokenBucket:
    """``per_minute`` takes, ``burst`` at once; :meth:`try_take` never waits."""

    def __init__(
        self, per_minute: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = per_minute / 60.0
        self._capacity = float(max(1, burst))
        self._tokens = self._capacity
        self._clock = clock
        self._stamp = clock()

    def try_take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
