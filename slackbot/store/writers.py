"""One writer at a time on SQLite, and the saves Slack's ack waits for go first.

SQLite lets one connection write at a time; one that finds the file locked waits in
SQLite's busy handler, which sleeps in steps of up to 100 ms. So the process's writers
queue here instead, and a save that Slack's ack waits on (``urgent``) goes before the
background writes already waiting (turn states, leases). ``asyncio.Lock`` has no
priorities, hence this small lock. PostgreSQL needs none of it: its writers run at once.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class WriterQueue:
    def __init__(self) -> None:
        self._busy = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = 0

    @asynccontextmanager
    async def turn(self, *, urgent: bool = False) -> AsyncIterator[None]:
        """Hold the right to write while the block runs."""
        await self._acquire(urgent)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, urgent: bool) -> None:
        if not self._busy:
            self._busy = True
            return
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._arrivals += 1
        heapq.heappush(self._waiting, (0 if urgent else 1, self._arrivals, handed))
        try:
            await handed
        except asyncio.CancelledError:
            if handed.done() and not handed.cancelled():
                self._release()  # handed over just as this waiter was cancelled
            raise

    def _release(self) -> None:
        while self._waiting:
            _, _, handed = heapq.heappop(self._waiting)
            if not handed.done():  # a cancelled waiter is skipped
                handed.set_result(None)
                return  # still busy: the next writer holds it now
        self._busy = False
