"""The SQLite writer queue: one writer at a time, the ack's saves first, no deadlock."""

from __future__ import annotations

import asyncio

from slackbot.store.writers import WriterQueue


async def _writer(queue: WriterQueue, name: str, order: list[str], *, urgent: bool) -> None:
    async with queue.turn(urgent=urgent):
        order.append(name)
        await asyncio.sleep(0)  # let the others pile up while this one writes


async def _started(*tasks: asyncio.Task[None]) -> None:
    """Let each task run up to its first wait."""
    for _ in tasks:
        await asyncio.sleep(0)


async def test_a_save_the_ack_waits_for_goes_before_waiting_background_writes() -> None:
    queue, order = WriterQueue(), list[str]()
    async with queue.turn():
        tasks = [
            asyncio.create_task(_writer(queue, "lease", order, urgent=False)),
            asyncio.create_task(_writer(queue, "state", order, urgent=False)),
            asyncio.create_task(_writer(queue, "save-1", order, urgent=True)),
            asyncio.create_task(_writer(queue, "save-2", order, urgent=True)),
        ]
        await _started(*tasks)
        assert order == []  # nobody writes while the first holds the turn
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert order == ["save-1", "save-2", "lease", "state"]


async def test_a_writer_cancelled_while_waiting_does_not_block_the_rest() -> None:
    queue, order = WriterQueue(), list[str]()
    async with queue.turn():
        gone = asyncio.create_task(_writer(queue, "gone", order, urgent=True))
        stays = asyncio.create_task(_writer(queue, "stays", order, urgent=False))
        await _started(gone, stays)
        gone.cancel()
        await asyncio.sleep(0)
    await asyncio.wait_for(stays, 5)
    assert order == ["stays"]
    async with asyncio.timeout(5), queue.turn():  # and the queue is free again
        pass


async def test_a_writer_cancelled_just_as_its_turn_came_passes_it_on() -> None:
    queue, order = WriterQueue(), list[str]()
    first = queue.turn()
    await first.__aenter__()
    handed = asyncio.create_task(_writer(queue, "handed", order, urgent=False))
    after = asyncio.create_task(_writer(queue, "after", order, urgent=False))
    await _started(handed, after)
    await first.__aexit__(None, None, None)  # the turn goes to "handed"...
    handed.cancel()  # ...which is cancelled before it runs
    await asyncio.wait_for(after, 5)
    assert order == ["after"]
    assert handed.cancelled()
