"""A Slack port per workspace: its token, budgets, bot user and metrics label; and the
facade that picks the port of the workspace the running work is for."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from slackbot.metrics import Metrics
from slackbot.relay import workspace
from slackbot.relay.budgets import SlackBudgets
from slackbot.relay.ports import SlackRefused
from slackbot.relay.workspace import NoWorkspace, Workspace
from slackbot.sandbox.slack_fake import FakeSlack
from slackbot.slack.tokens import BotAccess, SingleToken
from slackbot.slack.workspaces import CurrentPort, SlackPorts
from tests.installs import Installs

ONE, TWO = "T0TEST", "T0TWO"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def many(slack: FakeSlack, installs: Installs, metrics: Metrics | None = None) -> SlackPorts:
    return SlackPorts(installs, slack.api_url, budgets=SlackBudgets, metrics=metrics or Metrics())


async def test_work_with_no_workspace_set_is_refused_loudly_when_the_app_serves_many(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    installs = Installs()
    installs.install(ONE, slack.bot_token)
    ports = many(slack, installs)
    with pytest.raises(NoWorkspace):
        await CurrentPort(ports).post_message("C1", None, "to whom?")
    said = [r for r in caplog.records if r.name == "slackbot.workspaces"]
    assert [r.levelno for r in said] == [logging.ERROR]
    assert "no workspace" in said[0].getMessage()
    assert slack.calls == [] and installs.asked == []  # no token was guessed
    await ports.aclose()


async def test_each_workspace_speaks_with_its_own_token_budgets_and_bot_user(
    slack: FakeSlack,
) -> None:
    installs = Installs()
    installs.install(ONE, slack.bot_token)
    installs.install(TWO, slack.add_workspace(TWO, bot_user_id="UBOT2"))
    metrics = Metrics()
    ports = many(slack, installs, metrics)
    port = CurrentPort(ports)

    async def post(text: str) -> str:
        return await port.post_message("C1", None, text)

    with workspace.within(ONE):
        first = asyncio.create_task(post("one"))  # the task keeps the workspace it began in
    with workspace.within(TWO):
        await post("two")
    await first
    assert [c.args["text"] for c in slack.calls_in(ONE, "chat.postMessage")] == ["one"]
    assert [c.args["text"] for c in slack.calls_in(TWO, "chat.postMessage")] == ["two"]
    assert ports.port(Workspace(ONE)).budgets is not ports.port(Workspace(TWO)).budgets

    for _ in range(2):
        me = await ports.identity(TWO, None, None)
        assert me is not None and me.bot_user_id == "UBOT2"
    assert len(slack.calls_in(TWO, "auth.test")) == 1  # asked once, kept

    assert await ports.identity("T0NOPE", None, None) is None  # not installed there
    with workspace.within("T0NOPE"), pytest.raises(SlackRefused) as refused:
        await post("nobody")
    assert refused.value.error == "not_installed"
    exposition = metrics.render()[0].decode()
    assert 'method="chat.postMessage",result="ok",team="T0TWO"' in exposition
    assert "T0NOPE" not in exposition  # the label holds only workspaces the app serves
    await ports.aclose()


async def test_a_token_slack_refuses_is_asked_for_again_and_the_call_made_with_the_new_one(
    slack: FakeSlack,
) -> None:
    installs = Installs()
    old = slack.add_workspace(TWO, bot_user_id="UBOT2")
    installs.install(TWO, old)
    ports = many(slack, installs)
    port = CurrentPort(ports)
    with workspace.within(TWO):
        await port.post_message("C1", None, "before")
        assert len(installs.asked) == 1  # asked when first needed, then kept

        new = slack.add_workspace(TWO, bot_user_id="UBOT2")  # rotated (or installed again)
        installs.install(TWO, new)
        slack.revoke_token(old)
        await asyncio.gather(*(port.post_message("C1", None, f"after {i}") for i in range(3)))
    posted = slack.calls_in(TWO, "chat.postMessage")
    assert [c.token for c in posted if c.status == 200 and c.response.get("ok")][-3:] == [new] * 3
    assert len(installs.asked) == 2  # once more, however many calls met the refusal
    await ports.aclose()


async def test_one_token_serves_every_call_whatever_workspace_work_is_for(
    slack: FakeSlack,
) -> None:
    ports = SlackPorts(
        SingleToken(BotAccess(slack.bot_token, None)),
        slack.api_url,
        budgets=SlackBudgets,
        metrics=Metrics(),
        single_token=slack.bot_token,
    )
    port = CurrentPort(ports)
    await port.post_message("C1", None, "no workspace set")
    with workspace.within("T0ELSE"):
        await port.post_message("C1", None, "another team named")
    assert len(slack.calls_in(ONE, "chat.postMessage")) == 2
    await ports.aclose()


async def test_forgetting_a_workspace_or_an_org_drops_only_their_ports(slack: FakeSlack) -> None:
    installs = Installs()
    installs.install(ONE, slack.bot_token)
    installs.install(TWO, slack.add_workspace(TWO, bot_user_id="UBOT2"))
    installs.install_org("E0RG", slack.add_workspace("T0G", enterprise_id="E0RG", org_wide=True))
    ports = many(slack, installs)
    kept = {w: ports.port(w) for w in (Workspace(ONE), Workspace(TWO), Workspace("T0G", "E0RG"))}
    for port in kept.values():
        await port.post_message("C1", None, "hello")
        assert port.client.token is not None

    assert await ports.forget(ONE) == 1
    assert await ports.forget(None, "E0RG") == 1
    assert kept[Workspace(ONE)].client.token is None  # a holder of the old port has no token
    assert ports.port(Workspace(ONE)) is not kept[Workspace(ONE)]  # a new, empty one
    assert ports.port(Workspace("T0G")) is not kept[Workspace("T0G", "E0RG")]
    assert ports.port(Workspace(TWO)) is kept[Workspace(TWO)]
    await ports.aclose()
