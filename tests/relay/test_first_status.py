"""A reply's first status, shown when the person's message is saved and adopted by the
reply when it opens (so that the status is set once, and never after the text)."""

from __future__ import annotations

import asyncio
from typing import Any

from slackbot.relay.budgets import SlackBudgets
from slackbot.relay.first_status import FirstStatus
from slackbot.relay.limits import Limit
from slackbot.relay.options import WriterMode
from slackbot.relay.posting import STATUS, THINKING_WORDS
from slackbot.relay.tasks import TaskTracker
from slackbot.relay.writers import ReplyWriters
from slackbot.ui.activity import describe
from tests.relay.core import MemorySlack, eventually

THREAD = "1700000000.000100"
SET_STATUS = "assistant.threads.setStatus"


def wired(
    slack: MemorySlack, budgets: SlackBudgets, tasks: TaskTracker | None = None
) -> tuple[FirstStatus, ReplyWriters]:
    tasks = TaskTracker() if tasks is None else tasks
    first = FirstStatus(slack, budgets, tasks, status=STATUS, words=THINKING_WORDS)
    writers = ReplyWriters(slack, budgets, mode=WriterMode.POST, first_status=first)
    return first, writers


async def test_a_reply_adopts_the_status_shown_when_its_message_was_saved() -> None:
    slack = MemorySlack()
    first, writers = wired(slack, SlackBudgets())
    first.show("T1", "C1", THREAD)
    await eventually(lambda: slack.statuses)  # before any reply opened
    reply = writers("C1", THREAD, None, "U1", "T1")
    await reply.open()
    await asyncio.sleep(0.1)  # Amigo thinks a moment: time enough to set a status
    await reply.append("The answer.")
    assert await reply.complete("The answer.", None)
    assert slack.statuses == [(THREAD, STATUS, (THINKING_WORDS,))]  # set once, not twice
    assert [m.body for m in slack.thread(THREAD)] == ["The answer."]


async def test_a_reply_with_no_early_status_sets_its_own() -> None:
    slack = MemorySlack()
    first, writers = wired(slack, SlackBudgets())
    first.show("T1", "C1", "1700000000.000999")  # another thread's
    await eventually(lambda: slack.statuses)
    reply = writers("C1", THREAD, None, "U1", "T1")
    await reply.open()
    await eventually(lambda: len(slack.statuses) == 2)
    assert await reply.complete("Done.", None)
    assert [s[0] for s in slack.statuses] == ["1700000000.000999", THREAD]


async def test_an_early_status_still_waiting_for_budget_never_comes_after_the_text() -> None:
    slack = MemorySlack()
    budgets = SlackBudgets({SET_STATUS: Limit(120.0, 1, per_channel=True)})
    assert budgets.try_take(SET_STATUS, "C1")  # spent for the next half second
    tasks = TaskTracker()
    first, writers = wired(slack, budgets, tasks)
    first.show("T1", "C1", THREAD)
    reply = writers("C1", THREAD, None, "U1", "T1")
    await reply.open()
    assert await reply.complete("Quick answer.", None)
    await asyncio.wait_for(tasks.wait_idle(), 3)  # the early status went, or never will
    assert slack.statuses == []  # the answer came first: no status to linger after it
    assert slack.events == ["message"]


class SlowStatus(MemorySlack):
    """Slack takes a while to answer a status call."""

    async def set_status(self, *args: Any, **kwargs: Any) -> None:
        self.status_delay = 0.2
        await super().set_status(*args, **kwargs)
        self.events.append("status answered")


async def test_an_early_status_on_its_way_reaches_slack_before_the_text() -> None:
    slack = SlowStatus()
    first, writers = wired(slack, SlackBudgets())
    first.show("T1", "C1", THREAD)
    await eventually(lambda: slack.statuses)
    reply = writers("C1", THREAD, None, "U1", "T1")
    await reply.open()
    assert await reply.complete("Answer.", None)
    assert slack.events == ["status", "status answered", "message"]


async def test_the_agents_steps_leave_two_statuses_for_other_replies_first_ones() -> None:
    """In a channel whose status budget is nearly spent, a reply's later words wait; the
    next two replies' first statuses go at once."""
    slack = MemorySlack()
    budgets = SlackBudgets({SET_STATUS: Limit(1.0, 3, per_channel=True)})  # no refill here
    writers = ReplyWriters(slack, budgets, mode=WriterMode.POST)
    working = writers("C1", THREAD, None, "U1", "T1")
    await working.open()
    await eventually(lambda: len(slack.statuses) == 1)  # its first: two calls are left
    tool = describe({"type": "tool-call-started", "tool_round_index": 0, "tool_id": "t1"})
    assert tool is not None
    await working.activity(tool)
    for _ in range(50):  # the working reply's status task takes its turns (all in memory)
        await asyncio.sleep(0)
    threads = ["1700000001.000100", "1700000002.000100"]
    others = [writers("C1", thread, None, "U2", "T1") for thread in threads]
    for reply in others:
        await reply.open()
    await eventually(lambda: len(slack.statuses) == 3)
    assert [s[0] for s in slack.statuses[1:]] == threads
    assert all(loading == (THINKING_WORDS,) for _, _, loading in slack.statuses)
