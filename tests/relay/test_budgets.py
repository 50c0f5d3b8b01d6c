"""Slack budgets: bursts, steady rate, finals first, pauses after a 429, per channel."""

from __future__ import annotations

import asyncio
import time

from slackbot.relay.budgets import Budget, SlackBudgets
from slackbot.relay.limits import Limit, parse_limits


async def grant_times(budget: Budget, count: int, *, final: bool = False) -> list[float]:
    start = time.monotonic()
    times: list[float] = []

    async def one() -> None:
        await budget.acquire(final=final)
        times.append(time.monotonic() - start)

    await asyncio.gather(*[one() for _ in range(count)])
    return sorted(times)


async def test_a_burst_is_granted_at_once_and_the_rest_at_the_rate() -> None:
    budget = Budget(per_minute=600, burst=5)  # 10 a second
    times = await grant_times(budget, 15)
    assert all(t < 0.3 for t in times[:5])  # paced, five would need 0.4 s
    # The remaining ten need about one second; never faster than the rate allows.
    assert times[-1] >= 0.95
    assert budget.granted == 15


async def test_final_edits_go_before_waiting_partial_edits() -> None:
    budget = Budget(per_minute=600, burst=1)
    await budget.acquire()  # use up the burst
    order: list[str] = []

    async def take(name: str, final: bool) -> None:
        await budget.acquire(final=final)
        order.append(name)

    partials = [asyncio.create_task(take(f"p{i}", False)) for i in range(3)]
    await asyncio.sleep(0)  # let the partial edits queue up first
    final = asyncio.create_task(take("final", True))
    await asyncio.gather(*partials, final)
    assert order[0] == "final"


async def test_a_pause_holds_every_edit_for_its_duration() -> None:
    budget = Budget(per_minute=6000, burst=10)
    budget.pause(0.3)
    times = await grant_times(budget, 3)
    assert times[0] >= 0.29
    assert budget.pauses == 1


async def test_posting_is_budgeted_per_channel_and_editing_per_workspace() -> None:
    budgets = SlackBudgets(
        {"chat.postMessage": Limit(120, 1, per_channel=True), "chat.update": Limit(120, 1)},
        share=1.0,
    )
    start = time.monotonic()
    await asyncio.gather(*(budgets.acquire("chat.postMessage", c) for c in ("C1", "C2", "C3")))
    assert time.monotonic() - start < 0.4  # one channel would need 1 s
    await budgets.acquire("chat.postMessage", "C1")
    assert time.monotonic() - start >= 0.45
    assert budgets.try_take("chat.update", "C1")
    assert not budgets.try_take("chat.update", "C2")  # one workspace-wide budget


def test_every_method_the_app_writes_with_has_a_documented_budget() -> None:
    budgets = SlackBudgets()
    for method in (
        "chat.update",
        "chat.postMessage",
        "chat.startStream",
        "chat.appendStream",
        "chat.stopStream",
        "assistant.threads.setStatus",
        "chat.delete",
    ):
        assert budgets.budget(method, "C1") is not None, method
    assert budgets.limits["chat.startStream"].per_minute == 20  # Tier 2
    assert budgets.limits["chat.appendStream"].per_minute == 100  # Tier 4


async def test_a_429_pauses_every_channel_of_the_method_and_tightens_its_rate() -> None:
    budgets = SlackBudgets()
    before = [budgets.budget("chat.postMessage", c) for c in ("C1", "C2")]
    rate = before[0].rate if before[0] else 0.0
    budgets.limited("chat.postMessage", 30)
    assert budgets.available("chat.postMessage", "C1") < 0
    assert budgets.available("chat.postMessage", "C2") < 0
    assert not budgets.try_take("chat.postMessage", "C2")
    assert budgets.available("chat.update") >= 1  # other methods go on
    assert before[0] is not None and before[0].rate < rate


def test_admins_override_a_budget_and_bad_overrides_name_the_culprit() -> None:
    limits = parse_limits("chat.update=25/4, chat.startStream=10")
    assert limits["chat.update"] == Limit(25, 4)
    assert limits["chat.startStream"].burst == 5  # Slack's burst kept
    for bad in ("chat.update", "chat.update=fast", "=5", "chat.update=-1", "chat.update=5/0"):
        try:
            parse_limits(bad)
        except ValueError as exc:
            assert bad.split(",")[0] in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")


async def test_a_call_booked_for_a_caller_that_stopped_waiting_goes_to_the_next() -> None:
    """With replicas, a call is booked in the database before it is granted; a reply that
    ends meanwhile stops waiting, and the calls queued behind it must still be served."""
    booking, booked = asyncio.Event(), asyncio.Event()

    async def book(per_second: float, capacity: float) -> float:
        booking.set()
        await booked.wait()
        return capacity - 1.0

    budget = Budget(per_minute=6000, burst=10, book=book)
    gone = asyncio.create_task(budget.acquire())
    await asyncio.wait_for(booking.wait(), 1.0)
    waiting = asyncio.create_task(budget.acquire(final=True))
    gone.cancel()
    booked.set()
    await asyncio.wait_for(waiting, 1.0)
    assert gone.cancelled()
    assert budget.granted == 1
    await asyncio.wait_for(budget.acquire(), 1.0)  # and the budget goes on serving
