"""One app, several workspaces: each is answered with its own token and bot user, within
its own budgets, and counted under its own label; workspaces the app is not installed in
are refused at the door."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from slackbot.sandbox.amigo_fake import Reply
from slackbot.sandbox.slack_fake import FakeSlack
from slackbot.sandbox.slack_sender import SlackSender
from slackbot.slack.tokens import BotTokens
from tests.databases import query
from tests.e2e.conftest import ALICE, SIGNING_SECRET, Harness
from tests.installs import Installs

ONE, TWO = "T0TEST", "T0TWO"
CAROL = "UCAROL"
HERE, THERE = "C0HERE", "C0THERE"


@pytest.fixture
def installs(slack: FakeSlack) -> Installs:
    slack.add_user(CAROL, real_name="Carol Two", first_name="Carol", last_name="Two")
    installs = Installs()
    installs.install(ONE, slack.bot_token)
    installs.install(TWO, slack.add_workspace(TWO, bot_user_id="UBOT2"))
    return installs


@pytest.fixture
def bot_tokens(installs: Installs) -> BotTokens:
    return installs


def sender(
    h: Harness, team_id: str, bot_user_id: str, enterprise_id: str | None = None
) -> SlackSender:
    """Slack's requests from another workspace (of Grid org ``enterprise_id``, where the
    app is installed for the whole org)."""
    return SlackSender(
        h.url,
        SIGNING_SECRET,
        team_id=team_id,
        bot_user_id=bot_user_id,
        enterprise_id=enterprise_id,
        org_wide=enterprise_id is not None,
    )


@pytest.fixture
async def two(harness: Harness) -> AsyncIterator[SlackSender]:
    async with sender(harness, TWO, "UBOT2") as other:
        yield other


async def metrics(h: Harness) -> str:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"{h.url}/metrics")).text


async def test_a_mention_in_each_workspace_is_answered_there_with_its_token_and_bot(
    harness: Harness, two: SlackSender
) -> None:
    h = harness
    here = await h.sender.post_mention(ALICE, "<@UBOT> hello one", channel=HERE)
    there = await two.post_mention(CAROL, "<@UBOT2> hello two", channel=THERE)
    await h.wait_for(
        lambda: (
            h.bot_texts(here, HERE) == ["Echo: hello one"]
            and h.bot_texts(there, THERE) == ["Echo: hello two"]
        ),  # <@UBOT2> is the app there
        what="both replies",
    )
    await h.settle()
    for team, channel in ((ONE, HERE), (TWO, THERE)):
        for method in ("chat.postMessage", "chat.update", "users.info"):
            calls = h.slack.calls_in(team, method)
            assert calls, f"no {method} in {team}"
            assert {c.args.get("channel", channel) for c in calls} == {channel}
    assert {c.args["user"] for c in h.slack.calls_in(TWO, "users.info")} == {CAROL}
    assert len(h.slack.calls_in(TWO, "auth.test")) == 1  # its bot user, asked once
    heard = sorted(c.json["initial_message"] for c in h.amigo.calls_named("create_conversation"))
    assert heard == ["hello one", "hello two"]

    # A second mention there: the workspace's port (token, bot user) is kept.
    again = await two.post_mention(CAROL, "<@UBOT2> and again", channel=THERE)
    await h.wait_for(lambda: h.bot_texts(again, THERE) == ["Echo: and again"], what="reply")
    assert len(h.slack.calls_in(TWO, "auth.test")) == 1

    text = await metrics(h)
    for team in (ONE, TWO):
        sample = f'slack_calls_total{{method="chat.update",result="ok",team="{team}"}}'
        assert sample in text


async def test_a_429_storm_in_one_workspace_does_not_slow_the_others_reply(
    harness: Harness, two: SlackSender
) -> None:
    h = harness
    # Slack counts per workspace: each may edit four times at once, then every 20 s.
    h.slack.set_rate_limit("chat.update", per_minute=3, burst=4)
    storm = []
    for i in range(6):
        h.slack.add_user(f"U0STORM{i}", real_name=f"Storm {i}", first_name="S", last_name=str(i))
        storm.append(
            await h.sender.post_mention(f"U0STORM{i}", f"<@UBOT> storm {i}", channel=f"C0STORM{i}")
        )
    await h.wait_for(
        lambda: h.slack.rate_limited_count("chat.update") >= 1, what="a 429 in workspace one"
    )
    h.amigo.queue_reply(Reply(text="Calm here.", pieces=1, user_text="calm?"))
    there = await two.post_mention(CAROL, "<@UBOT2> calm?", channel=THERE)
    # Workspace one's edits wait out Slack's 20 s; workspace two's reply does not.
    await h.wait_for(lambda: h.bot_texts(there, THERE) == ["Calm here."], timeout=8, what="reply")
    stormed = [h.bot_texts(ts, f"C0STORM{i}") == [f"Echo: storm {i}"] for i, ts in enumerate(storm)]
    assert not all(stormed), "workspace one's storm was over before two's reply: no proof"
    assert all(c.status == 200 for c in h.slack.calls_in(TWO, "chat.update"))
    text = await metrics(h)
    assert 'slack_rate_limited_total{method="chat.update",team="T0TEST"}' in text
    assert 'slack_rate_limited_total{method="chat.update",team="T0TWO"}' not in text


async def test_an_event_of_a_workspace_the_app_is_not_installed_in_is_refused(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    async with sender(h, "T0NOPE", "UBOT3") as stranger:
        ts = await stranger.post_mention(ALICE, "<@UBOT3> let me in", channel=HERE)
        assert [r.status_code for r in stranger.last_responses] == [200, 200]
    await h.settle()
    refusals = [r for r in caplog.records if "not installed" in r.getMessage()]
    assert [r.levelno for r in refusals] == [logging.WARNING] * 2  # the mention, the message
    assert "T0NOPE" in refusals[0].getMessage()
    assert query(h.runtime.settings.database_url, "SELECT ts FROM inbound") == []
    assert h.amigo.calls_named("create_conversation") == [] and h.bot_replies(ts, HERE) == []
    assert h.slack.calls_named("chat.postMessage") == []
    assert "T0NOPE" not in await metrics(h)


async def test_an_org_wide_grid_install_serves_two_workspaces_of_the_org(
    harness: Harness, installs: Installs
) -> None:
    h = harness
    org = h.slack.add_workspace(
        "T0GRIDA", enterprise_id="E0ORG", bot_user_id="UBOTG", org_wide=True
    )
    installs.install_org("E0ORG", org)
    replies = {}
    for team, channel in (("T0GRIDA", "C0GA"), ("T0GRIDB", "C0GB")):
        async with sender(h, team, "UBOTG", "E0ORG") as member:
            ts = await member.post_mention(CAROL, f"<@UBOTG> hi from {team}", channel=channel)
            replies[ts] = (channel, f"Echo: hi from {team}")
    await h.wait_for(
        lambda: all(h.bot_texts(ts, ch) == [text] for ts, (ch, text) in replies.items()),
        what="both replies",
    )
    made = [c for c in h.slack.calls if c.method in ("chat.postMessage", "chat.update")]
    assert {c.token for c in made} == {org}
    assert ("T0GRIDB", "E0ORG") in installs.asked  # found through the org's install
