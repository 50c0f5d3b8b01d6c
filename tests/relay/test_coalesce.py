"""Publishing per person: a burst of requests costs one run more, never one each."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from slackbot.relay.coalesce import Coalescer
from slackbot.relay.tasks import TaskTracker


class Work:
    def __init__(self) -> None:
        self.runs: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.started = asyncio.Event()

    async def __call__(self, key: str) -> None:
        self.runs.append(key)
        self.started.set()
        await self.gate.wait()


async def idle(tasks: TaskTracker) -> None:
    await asyncio.wait_for(tasks.wait_idle(), 5)


async def test_requests_during_a_run_fold_into_one_more_run() -> None:
    tasks, work = TaskTracker(), Work()
    coalescer = Coalescer(work, tasks, interval=0.01)
    work.gate.clear()
    coalescer.request("alice")
    await asyncio.wait_for(work.started.wait(), 5)
    for _ in range(5):
        coalescer.request("alice")
    coalescer.request("bob")  # another person is not held up by Alice's run
    await asyncio.wait_for(_until(lambda: work.runs.count("bob") == 1), 5)
    work.gate.set()
    await idle(tasks)
    assert work.runs.count("alice") == 2 and work.runs.count("bob") == 1
    coalescer.request("alice")  # idle again: runs at once
    await idle(tasks)
    assert work.runs.count("alice") == 3


async def test_nothing_runs_while_held_and_once_after() -> None:
    tasks, work = TaskTracker(), Work()
    coalescer = Coalescer(work, tasks, interval=0.01)
    async with coalescer.hold("alice"):
        coalescer.request("alice")
        coalescer.request("alice")
        await idle(tasks)  # a run wrongly started would have gone by now
        assert work.runs == []
    await idle(tasks)
    assert work.runs == ["alice"]


async def test_a_failing_run_does_not_stop_later_ones() -> None:
    tasks = TaskTracker()
    runs: list[str] = []

    async def failing(key: str) -> None:
        runs.append(key)
        raise RuntimeError("Slack said no")

    coalescer = Coalescer(failing, tasks, interval=0.01)
    coalescer.request("alice")
    await idle(tasks)
    coalescer.request("alice")
    await idle(tasks)
    assert runs == ["alice", "alice"] and coalescer.busy == 0


async def _until(predicate: Callable[[], bool]) -> None:
    while not predicate():  # noqa: ASYNC110 - callers give it a deadline
        await asyncio.sleep(0.001)
