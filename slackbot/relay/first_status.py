"""A reply's first sign of life, shown as soon as its message is saved.

A message that is sure to be answered (an owner's reply, a mention or DM that opens a
thread) gets the thread's status right after it is saved, before Slack's ack is even
sent. The reply's writer, which opens only once the thread's worker has taken the lease,
read the queue and chosen a writer (several database round trips, long ones when a few
hundred people talk at once), adopts that status instead of setting its own.

Only in this process: a reply run by another replica sets its status again, which costs
one call of the channel's status budget and shows nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from slackbot.relay.budgets import Budgets
from slackbot.relay.ports import SlackPort, SlackRefused, SlackUnreachable
from slackbot.relay.tasks import TaskTracker

log = logging.getLogger("slackbot.stream")

METHOD = "assistant.threads.setStatus"
KEEP_SECONDS = 60.0
"""A first status no reply adopted within this time is forgotten (its turn ran elsewhere,
or never: Slack drops the status by itself two minutes after it was set)."""


@dataclass
class EarlyStatus:
    """A first status on its way (or shown), for one reply to adopt."""

    since: float
    sending: bool = False
    task: asyncio.Task[float | None] | None = None

    async def shown(self) -> float | None:
        """When (by the app's clock) Slack took it, or None when it did not."""
        return None if self.task is None else await asyncio.shield(self.task)

    async def settle(self) -> None:
        """The reply's text is about to appear: a status still waiting for budget is not
        sent; one on its way reaches Slack first (a status set after the text would stay
        until Slack's timeout)."""
        if self.task is None or self.task.done():
            return
        if not self.sending:
            self.task.cancel()
        await asyncio.wait([self.task])


class FirstStatus:
    """First statuses set ahead of their replies, each waiting to be adopted by one."""

    def __init__(
        self,
        slack: SlackPort,
        budgets: Budgets,
        tasks: TaskTracker,
        *,
        status: str,
        words: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slack = slack
        self._budgets = budgets
        self._tasks = tasks
        self._status = status
        self._words = words
        self._clock = clock
        self._early: dict[tuple[str, str, str], EarlyStatus] = {}

    def show(self, team: str, channel: str, thread_ts: str) -> None:
        """Set the thread's status now, in the background (never twice at once)."""
        key = (team, channel, thread_ts)
        self._forget_old()
        if key in self._early:
            return
        early = EarlyStatus(since=self._clock())
        early.task = self._tasks.spawn(self._set(early, channel, thread_ts), name="first-status")
        if early.task is not None:
            self._early[key] = early

    def take(self, team: str, channel: str, thread_ts: str) -> EarlyStatus | None:
        """The thread's early status, for the reply that opens now (None: there is none,
        and the reply sets its own)."""
        return self._early.pop((team, channel, thread_ts), None)

    async def _set(self, early: EarlyStatus, channel: str, thread_ts: str) -> float | None:
        await self._budgets.acquire(METHOD, channel, first=True)
        early.sending = True
        try:
            await self._slack.set_status(
                channel, thread_ts, self._status, (self._words,), prepaid=True
            )
        except (SlackRefused, SlackUnreachable) as exc:
            log.info("no first status in %s: %s", channel, exc)
            return None
        finally:
            early.sending = False
        return self._clock()

    def _forget_old(self) -> None:
        now = self._clock()
        for key in [k for k, e in self._early.items() if now - e.since > KEEP_SECONDS]:
            early = self._early.pop(key)
            if early.task is not None and not early.task.done():
                early.task.cancel()
