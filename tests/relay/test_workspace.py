"""The workspace the running work is for: set where work starts, inherited by its tasks."""

from __future__ import annotations

import asyncio

from slackbot.relay import workspace
from slackbot.relay.budgets import SlackBudgets
from slackbot.relay.limits import Limit
from slackbot.relay.workspace import CurrentBudgets, Workspace


async def test_work_started_inside_a_workspace_keeps_it_whatever_runs_meanwhile() -> None:
    seen: dict[str, Workspace | None] = {}
    gate = asyncio.Event()

    async def reply(name: str) -> None:
        await gate.wait()  # runs after its starter left the block, and after the other
        seen[name] = workspace.current()

    with workspace.within("T1", "E1"):
        one = asyncio.create_task(reply("one"))
    with workspace.within("T2"):
        two = asyncio.create_task(reply("two"))
    assert workspace.current() is None  # each block put back what was there before
    gate.set()
    await asyncio.gather(one, two)
    assert seen == {"one": Workspace("T1", "E1"), "two": Workspace("T2")}


async def test_a_task_that_enters_its_own_workspace_leaves_its_starter_alone() -> None:
    async def worker() -> Workspace | None:
        workspace.enter("T2")
        return workspace.current()

    with workspace.within("T1"):
        assert await asyncio.create_task(worker()) == Workspace("T2")
        assert workspace.current() == Workspace("T1")


def test_naming_the_same_team_again_keeps_its_grid_org() -> None:
    with workspace.within("T1", "E1"), workspace.within("T1"):
        assert workspace.current() == Workspace("T1", "E1")
    with workspace.within("T1", "E1"), workspace.within("T2"):
        assert workspace.current() == Workspace("T2")
    assert workspace.key() == ""


async def test_the_budgets_facade_takes_from_the_current_workspaces_budgets() -> None:
    tight = {"chat.update": Limit(60.0, 1)}
    kept = {"T1": SlackBudgets(tight), "T2": SlackBudgets(tight)}
    budgets = CurrentBudgets(lambda: kept[workspace.key()])
    with workspace.within("T1"):
        assert budgets.try_take("chat.update")
        assert not budgets.try_take("chat.update")  # T1's one call is spent
    with workspace.within("T2"):
        assert budgets.available("chat.update") >= 1.0  # T2's is not
        await asyncio.wait_for(budgets.acquire("chat.update"), 1)
    kept["T1"].limited("chat.update", 30)
    with workspace.within("T1"):
        assert [s.method for s in budgets.strained()] == ["chat.update"]
    with workspace.within("T2"):
        assert budgets.strained() == []
