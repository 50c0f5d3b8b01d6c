"""The shared edit budget: bursts, steady rate, finals first, pauses after a 429."""

from __future__ import annotations

import asyncio
import time

from slackbot.relay.pacing import ChannelPacer, EditBudget


async def grant_times(budget: EditBudget, count: int, *, final: bool = False) -> list[float]:
    start = time.monotonic()
    times: list[float] = []

    async def one() -> None:
        await budget.acquire(final=final)
        times.append(time.monotonic() - start)

    await asyncio.gather(*[one() for _ in range(count)])
    return sorted(times)


async def test_a_burst_is_granted_at_once_and_the_rest_at_the_rate() -> None:
    budget = EditBudget(per_minute=600, burst=5)  # 10 a second
    times = await grant_times(budget, 15)
    assert all(t < 0.3 for t in times[:5])  # paced, five would need 0.4 s
    # The remaining ten need about one second; never faster than the rate allows.
    assert times[-1] >= 0.95
    assert budget.granted == 15


async def test_final_edits_go_before_waiting_partial_edits() -> None:
    budget = EditBudget(per_minute=600, burst=1)
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
    budget = EditBudget(per_minute=6000, burst=10)
    budget.pause(0.3)
    times = await grant_times(budget, 3)
    assert times[0] >= 0.29
    assert budget.pauses == 1


async def test_channels_are_paced_separately() -> None:
    pacer = ChannelPacer(per_second=2, burst=1)
    start = time.monotonic()
    await asyncio.gather(pacer.acquire("C1"), pacer.acquire("C2"), pacer.acquire("C3"))
    assert time.monotonic() - start < 0.4  # one channel would need 1 s
    await pacer.acquire("C1")
    assert time.monotonic() - start >= 0.45
