"""Admins named in the settings, per workspace: `T…:U…` is an admin in that workspace
only, `E…:U…` in every workspace of that Grid org, a plain `U…` everywhere."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from slackbot.sandbox.slack_fake import FakeSlack
from slackbot.sandbox.slack_sender import SlackSender
from slackbot.slack.tokens import BotTokens
from tests.e2e.conftest import ALICE, BOB, SIGNING_SECRET, Harness
from tests.installs import Installs

ONE, TWO, GRID = "T0TEST", "T0TWO", "T0GRIDA"
CAROL, DAVE, ERIN = "UCAROL", "UDAVE", "UERIN"


@pytest.fixture
def extra_settings() -> dict[str, Any]:
    return {"slack_admin_user_ids": f"{TWO}:{CAROL}, E0ORG:{DAVE}"}


@pytest.fixture
def installs(slack: FakeSlack) -> Installs:
    for user, name in ((CAROL, "Carol"), (DAVE, "Dave"), (ERIN, "Erin")):
        slack.add_user(user, real_name=f"{name} Person", first_name=name, last_name="Person")
    installs = Installs()
    installs.install(ONE, slack.bot_token)
    installs.install(TWO, slack.add_workspace(TWO, bot_user_id="UBOT2"))
    org = slack.add_workspace(GRID, enterprise_id="E0ORG", bot_user_id="UBOTG", org_wide=True)
    installs.install_org("E0ORG", org)
    return installs


@pytest.fixture
def bot_tokens(installs: Installs) -> BotTokens:
    return installs


@pytest.fixture
async def senders(harness: Harness) -> AsyncIterator[dict[str, SlackSender]]:
    h = harness
    places = {
        TWO: SlackSender(h.url, SIGNING_SECRET, team_id=TWO, bot_user_id="UBOT2"),
        GRID: SlackSender(
            h.url,
            SIGNING_SECRET,
            team_id=GRID,
            bot_user_id="UBOTG",
            enterprise_id="E0ORG",
            org_wide=True,
        ),
    }
    yield {ONE: h.sender, **places}
    for sender in places.values():
        await sender.aclose()


async def thread_with_reply(h: Harness, there: SlackSender, owner: str, channel: str) -> str:
    """``owner`` starts a conversation in ``there``'s workspace; its link."""
    before = len(h.amigo.calls_named("create_conversation"))
    ts = await there.post_mention(owner, f"<@{there.bot_user_id}> hello", channel=channel)
    await h.wait_for(
        lambda: len(h.amigo.calls_named("create_conversation")) > before, what="conversation"
    )
    await h.wait_for(lambda: h.bot_replies(ts, channel), what="the reply")
    await h.settle()
    return h.slack.permalink(channel, ts)


async def finish(h: Harness, there: SlackSender, user: str, link: str) -> str:
    """`/amigo finish <link>` from ``user`` in ``there``'s workspace: the private answer."""
    token = secrets.token_hex(6)
    response = await there.slash_command(
        "/amigo",
        f"finish {link}",
        user=user,
        response_url=f"{h.slack.response_url_base}/{token}",
    )
    assert response.status_code == 200
    if response.content:
        return str(response.json()["text"])
    call = await h.wait_for(
        lambda: next((c for c in h.slack.responses() if c.args.get("_id") == token), None),
        what="the answer to /amigo finish",
    )
    return str(call.args["text"])


async def test_an_admin_named_for_a_workspace_or_org_is_an_admin_only_there(
    harness: Harness, senders: dict[str, SlackSender]
) -> None:
    h = harness
    in_one = await thread_with_reply(h, senders[ONE], ALICE, "C0NE")
    in_two = await thread_with_reply(h, senders[TWO], BOB, "C0TWO")
    in_grid = await thread_with_reply(h, senders[GRID], ERIN, "C0GRID")

    # Carol is an admin of TWO, not of ONE or of the org's workspace; Dave of the org only.
    for place, link, owner in ((ONE, in_one, ALICE), (GRID, in_grid, ERIN)):
        refused = await finish(h, senders[place], CAROL, link)
        assert f"Only <@{owner}>" in refused, place
    for place, link, owner in ((ONE, in_one, ALICE), (TWO, in_two, BOB)):
        refused = await finish(h, senders[place], DAVE, link)
        assert f"Only <@{owner}>" in refused, place
    await h.settle()
    assert h.amigo.calls_named("finish") == []

    assert "Finished" in await finish(h, senders[TWO], CAROL, in_two)
    assert "Finished" in await finish(h, senders[GRID], DAVE, in_grid)
    await h.settle()
    assert len(h.amigo.calls_named("finish")) == 2
