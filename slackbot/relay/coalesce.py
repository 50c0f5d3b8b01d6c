"""One run at a time per key, and not more often than an interval: requests that come
while a key's run is going (or cooling down, or held) fold into one more run.

The Home tab is published this way per person, so that a burst of changes costs one
``views.publish`` (Slack allows about a hundred a minute for the whole workspace).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

from slackbot.relay.tasks import TaskTracker

log = logging.getLogger("slackbot.coalesce")

K = TypeVar("K", bound=Hashable)


class Coalescer(Generic[K]):
    def __init__(
        self, work: Callable[[K], Awaitable[None]], tasks: TaskTracker, *, interval: float
    ) -> None:
        self._work = work
        self._tasks = tasks
        self._interval = interval
        self._busy: set[K] = set()
        """Keys with a run going or cooling down: a request only marks them for again."""
        self._again: set[K] = set()
        self._held: dict[K, int] = {}

    @property
    def busy(self) -> int:
        return len(self._busy)

    def request(self, key: K) -> None:
        """Run ``work(key)`` soon: now if the key is idle, else once after its current run."""
        if key in self._busy or key in self._held:
            self._again.add(key)
            return
        self._busy.add(key)
        if self._tasks.spawn(self._runs(key), name="coalesced") is None:
            self._busy.discard(key)

    @asynccontextmanager
    async def hold(self, key: K) -> AsyncIterator[None]:
        """No run of ``key`` starts inside the block; one runs after it (whatever was
        requested meanwhile included)."""
        self._held[key] = self._held.get(key, 0) + 1
        try:
            yield
        finally:
            self._held[key] -= 1
            if not self._held[key]:
                del self._held[key]
            self._again.discard(key)
            self.request(key)

    async def _runs(self, key: K) -> None:
        try:
            while True:
                self._again.discard(key)
                try:
                    await self._work(key)
                except Exception:
                    log.exception("a coalesced run failed")
                await asyncio.sleep(self._interval)
                if key not in self._again or key in self._held:
                    return
        finally:
            self._busy.discard(key)
