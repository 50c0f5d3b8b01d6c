"""Slack budgets the replicas share through the database: each call is booked in one
row, and a call beyond the budget is told how long to wait for its turn."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from slackbot.relay.budgets import SlackBudgets
from slackbot.relay.limits import Limit
from slackbot.store.repo import Store
from slackbot.store.slack_budgets import SlackBudgetRow

POST = "chat.postMessage"


async def test_calls_within_the_burst_go_at_once_and_the_next_waits_its_turn(
    store: Store,
) -> None:
    book = store.book_slack_call
    left = [await book("T1/chat.postMessage/C1", 2.0, 3.0, 100.0) for _ in range(4)]
    assert left == [2.0, 1.0, 0.0, -1.0]  # the fourth waits half a second (1 / 2 a second)
    assert await book("T1/chat.postMessage/C1", 2.0, 3.0, 101.0) == pytest.approx(0.0)
    assert await book("T1/chat.postMessage/C2", 2.0, 3.0, 101.0) == 2.0  # its own budget
    assert await book("T1/chat.postMessage/C1", 2.0, 3.0, 200.0) == 2.0  # never above full


async def test_a_clock_behind_the_last_booking_refills_nothing(store: Store) -> None:
    key = "T1/chat.update/"
    assert await store.book_slack_call(key, 1.0, 2.0, 50.0) == 1.0
    assert await store.book_slack_call(key, 1.0, 2.0, 49.0) == 0.0  # another replica's clock


async def test_two_replicas_sharing_the_book_keep_one_channel_within_slacks_budget(
    store: Store,
) -> None:
    """Each replica alone would send its whole burst at once; booked together, the calls
    beyond one burst wait their turns at the channel's rate."""
    limits = {POST: Limit(600.0, 3, per_channel=True)}  # 9 a second with the safety margin
    replicas = [SlackBudgets(limits, shared=store, workspace="T1") for _ in range(2)]
    start = time.monotonic()
    granted: list[float] = []

    async def call(budgets: SlackBudgets) -> None:
        await budgets.acquire(POST, "C1")
        granted.append(time.monotonic() - start)

    await asyncio.wait_for(asyncio.gather(*(call(replicas[i % 2]) for i in range(6))), 10)
    assert len(granted) == 6
    # Two went at once (the burst of three, less one kept for a call that reaches Slack
    # late); the other four at 1/9 s intervals after them.
    assert sorted(granted)[-1] >= 4 / 9 - 0.02


async def test_a_call_taken_at_once_is_booked_for_the_other_replicas_too(store: Store) -> None:
    """A status or edit sent only when the budget has a call to spare (never waiting) is
    booked right after it goes: the other replica's next call waits its turn."""
    limits = {POST: Limit(60.0, 1, per_channel=True)}  # one call; the next in 1/0.9 s
    mine, theirs = (SlackBudgets(limits, shared=store, workspace="T1") for _ in range(2))
    assert mine.try_take(POST, "C1")

    async def booked() -> bool:
        async with store.engine.connect() as connection:
            rows = (await connection.execute(select(SlackBudgetRow.tokens))).all()
        return bool(rows)

    async with asyncio.timeout(5):
        while not await booked():  # noqa: ASYNC110 - a condition with a deadline
            await asyncio.sleep(0.01)
    start = time.monotonic()
    await asyncio.wait_for(theirs.acquire(POST, "C1"), 5)
    assert time.monotonic() - start >= 0.9
