"""Workspaces install the app through Slack's OAuth flow, against the fake Slack: the
install page, the redirect back, the tokens kept encrypted and refreshed before they
expire, and a workspace that uninstalls the app."""

from __future__ import annotations

import asyncio
import html
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from slackbot.installing import oauth_config
from slackbot.sandbox.amigo_fake import Reply
from slackbot.sandbox.slack_fake import FakeSlack
from slackbot.sandbox.slack_sender import SlackSender
from slackbot.slack.oauth import Installations
from slackbot.store.db import create_engine
from slackbot.store.installs import bots
from slackbot.store.workspaces import UninstalledRow
from tests.databases import query
from tests.e2e.conftest import ALICE, SIGNING_SECRET, Harness

KEY = Fernet.generate_key().decode()
"""Made up for this test run."""
STATE_SECRET = "made-up-state-secret-for-tests"


def oauth_settings(slack: FakeSlack, keys: str = KEY) -> dict[str, Any]:
    return {
        "slack_client_id": slack.oauth.client_id,
        "slack_client_secret": slack.oauth.client_secret,
        "slack_state_secret": STATE_SECRET,
        "slack_token_keys": keys,
    }


@pytest.fixture
def extra_settings(slack: FakeSlack) -> dict[str, Any]:
    return oauth_settings(slack)


async def install(h: Harness, team_id: str | None, **plan: Any) -> httpx.Response:
    """A person installs the app as a browser would: the app's install page, Slack's
    authorize page, and back to the app's redirect URL (with the state cookie)."""
    h.slack.oauth.redirect_url = f"{h.url}/slack/oauth_redirect"
    h.slack.plan_install(team_id, **plan)
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(f"{h.url}/slack/install")
        assert page.status_code == 200, page.text
        found = re.search(r'href="([^"]*/oauth/v2/authorize[^"]*)"', page.text)
        assert found is not None, page.text
        cookie = page.headers["set-cookie"].split(";")[0]
        at_slack = await browser.get(html.unescape(found.group(1)))
        assert at_slack.status_code == 302, at_slack.text
        return await browser.get(at_slack.headers["location"], headers={"cookie": cookie})


async def expire_soon(h: Harness, team_id: str | None) -> None:
    """Time passes: the install's bot token now expires within a minute."""
    soon = (datetime.now(UTC) + timedelta(seconds=60)).replace(tzinfo=None)
    team = bots.c.team_id
    async with h.runtime.store.engine.begin() as conn:
        await conn.execute(
            sa.update(bots)
            .where(team.is_(None) if team_id is None else team == team_id)
            .values(bot_token_expires_at=soon)
        )


def team_of(slack: FakeSlack, token: str) -> str | None:
    workspace = slack.workspace_of(token)
    return workspace.team_id if workspace else None


def refreshes(slack: FakeSlack) -> int:
    return sum(
        1
        for c in slack.calls_named("oauth.v2.access")
        if c.args.get("grant_type") == "refresh_token"
    )


async def test_installing_into_two_workspaces_keeps_a_token_for_each(harness: Harness) -> None:
    h = harness
    for team in ("T0NE", "T0TWO"):
        back = await install(h, team)
        assert back.status_code == 200, back.text
    one = await h.runtime.tokens.find("T0NE")
    two = await h.runtime.tokens.find("T0TWO")
    assert one is not None and two is not None
    assert one.token != two.token
    assert team_of(h.slack, one.token) == "T0NE"
    assert team_of(h.slack, two.token) == "T0TWO"
    assert await h.runtime.tokens.find("T0THER") is None
    exchanges = h.slack.calls_named("oauth.v2.access")
    assert [c.ok for c in exchanges] == [True, True]


async def test_a_redirect_without_the_installers_state_cookie_is_refused(harness: Harness) -> None:
    h = harness
    h.slack.oauth.redirect_url = f"{h.url}/slack/oauth_redirect"
    h.slack.plan_install("T0NE")
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(f"{h.url}/slack/install")
        found = re.search(r'href="([^"]*/oauth/v2/authorize[^"]*)"', page.text)
        assert found is not None
        at_slack = await browser.get(html.unescape(found.group(1)))
    async with httpx.AsyncClient(timeout=10) as another_browser:  # without the state cookie
        back = await another_browser.get(at_slack.headers["location"])
    assert back.status_code == 400
    assert await h.runtime.tokens.find("T0NE") is None
    assert not h.slack.calls_named("oauth.v2.access")


async def test_an_org_wide_install_serves_every_workspace_of_the_org(harness: Harness) -> None:
    h = harness
    back = await install(h, None, enterprise_id="E0RG", org_wide=True)
    assert back.status_code == 200, back.text
    first = await h.runtime.tokens.find("T0A", "E0RG")
    second = await h.runtime.tokens.find("T0B", "E0RG")
    assert first is not None and second is not None
    assert first.token == second.token
    assert first.team_id == "T0A" and second.team_id == "T0B"
    assert first.enterprise_id == "E0RG"
    workspace = h.slack.workspace_of(first.token)
    assert workspace is not None and workspace.is_enterprise_install
    assert await h.runtime.tokens.find("T0C", "E0THER") is None
    assert await h.runtime.tokens.find("T0C") is None


async def test_after_a_restart_a_grid_workspace_is_found_by_its_team_alone(
    harness: Harness,
) -> None:
    """A thread's turns know only its workspace; after a restart, before any new event
    names the org, they still find the org-wide install's token."""
    h = harness
    await install(h, None, enterprise_id="E0RG", org_wide=True)
    assert await h.runtime.tokens.find("T0A", "E0RG") is not None  # an event named the org
    restarted = Installations(
        oauth_config(h.runtime.settings), h.runtime.store.engine, holder="after-restart"
    )
    found = await restarted.tokens.find("T0A")
    assert found is not None and found.enterprise_id == "E0RG" and found.team_id == "T0A"
    assert await restarted.tokens.find("T0B") is None  # no event of it yet: not guessed


async def test_a_token_near_expiry_is_refreshed_once_for_twenty_askers(harness: Harness) -> None:
    h = harness
    h.slack.oauth.rotation = True
    await install(h, "T0NE")
    old = await h.runtime.tokens.find("T0NE")
    assert old is not None and old.token.startswith("xoxe.xoxb-")
    h.runtime.tokens.forget("T0NE", None)  # nothing remembered: every asker reads the row
    await expire_soon(h, "T0NE")

    found = await asyncio.gather(*(h.runtime.tokens.find("T0NE") for _ in range(20)))

    assert refreshes(h.slack) == 1
    tokens = {a.token for a in found if a is not None}
    assert len(tokens) == 1 and old.token not in tokens
    assert team_of(h.slack, tokens.pop()) == "T0NE"
    # The old token keeps working until it expires, as Slack's does.
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{h.slack.api_url}auth.test", data={"token": old.token})
    assert answer.json()["ok"] is True


async def test_two_replicas_refresh_a_token_once(harness: Harness) -> None:
    h = harness
    h.slack.oauth.rotation = True
    await install(h, None, enterprise_id="E0RG", org_wide=True)
    await expire_soon(h, None)
    engine = create_engine(h.runtime.settings.database_url)
    replica = Installations(oauth_config(h.runtime.settings), engine, holder="other-replica")
    try:
        h.runtime.tokens.forget(None, "E0RG")
        asks = [h.runtime.tokens.find("T0A", "E0RG") for _ in range(5)]
        asks += [replica.tokens.find("T0B", "E0RG") for _ in range(5)]
        found = await asyncio.gather(*asks)
    finally:
        await engine.dispose()
    assert refreshes(h.slack) == 1
    assert all(a is not None for a in found)
    assert len({a.token for a in found if a is not None}) == 1


async def test_the_tokens_tables_hold_no_token_in_the_clear(harness: Harness) -> None:
    h = harness
    h.slack.oauth.rotation = True
    await install(h, "T0NE")
    access = await h.runtime.tokens.find("T0NE")
    assert access is not None
    url = h.runtime.settings.database_url
    rows = query(url, "SELECT * FROM slack_bots") + query(url, "SELECT * FROM slack_installations")
    assert len(rows) == 2
    dump = " ".join(str(value) for row in rows for value in row)
    assert access.token not in dump
    assert "xox" not in dump  # no token of any kind: bot, refresh or user
    assert "T0NE" in dump  # the rows are the install's


async def test_app_uninstalled_removes_that_workspace_and_refuses_its_next_event(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    await install(h, "T0NE")
    await install(h, "T0TWO")
    h.amigo.queue_reply(Reply(text="Hello from the agent.", kind="create"))
    async with SlackSender(h.url, SIGNING_SECRET, team_id="T0NE") as one:
        await one.post_mention(ALICE, "<@UBOT> hello there")
        await h.wait_for(lambda: h.amigo.conversations, what="a conversation in T0NE")
        await h.settle()
        (conversation_id,) = h.amigo.conversations
        assert not h.amigo.conversation(conversation_id).is_finished

        answer = await one.event({"type": "app_uninstalled"})
        assert answer.status_code == 200
        assert await h.runtime.tokens.find("T0NE") is None
        await h.wait_for(
            lambda: h.amigo.conversation(conversation_id).is_finished, what="finished in Amigo"
        )
        left = query(h.runtime.settings.database_url, "SELECT team_id FROM slack_bots")
        assert [r[0] for r in left] == ["T0TWO"]

        caplog.clear()
        with caplog.at_level(logging.INFO):
            await one.post_mention(ALICE, "<@UBOT> are you still there?")
        await h.settle()
    refused = [r for r in caplog.records if "not installed" in r.getMessage()]
    assert refused and all(r.exc_info is None for r in caplog.records)
    assert {r.getMessage() for r in refused} == {
        "request from workspace T0NE refused: the app is not installed there"
    }
    assert len(h.amigo.conversations) == 1  # nothing reached Amigo

    h.amigo.queue_reply(Reply(text="Hello to the other workspace.", kind="create"))
    async with SlackSender(h.url, SIGNING_SECRET, team_id="T0TWO") as two:
        await two.post_mention(ALICE, "<@UBOT> hello from the other workspace")
    await h.wait_for(lambda: len(h.amigo.conversations) == 2, what="T0TWO still served")


async def test_an_uninstalled_workspaces_data_goes_after_the_retention_period(
    harness: Harness,
) -> None:
    h = harness
    await install(h, "T0NE")
    h.amigo.queue_reply(Reply(text="Hello.", kind="create"))
    async with SlackSender(h.url, SIGNING_SECRET, team_id="T0NE") as one:
        await one.post_mention(ALICE, "<@UBOT> hello there")
        await h.wait_for(lambda: h.amigo.conversations, what="a conversation")
        await h.settle()
        await one.event({"type": "app_uninstalled"})
    url = h.runtime.settings.database_url
    count = "SELECT COUNT(*) FROM conversations WHERE team_id = 'T0NE'"
    await h.settle()
    assert await h.runtime.offboarding.sweep() == 0  # kept for the retention period
    assert query(url, count) == [(1,)]

    async with h.runtime.store.engine.begin() as conn:  # the retention period passes
        then = datetime.now(UTC) - timedelta(days=31)
        await conn.execute(sa.update(UninstalledRow).values(uninstalled_at=then))
    assert await h.runtime.offboarding.sweep() == 1
    assert query(url, count) == [(0,)]
    assert query(url, "SELECT COUNT(*) FROM turns WHERE team_id = 'T0NE'") == [(0,)]


async def test_revoked_bot_tokens_remove_that_workspace_only(harness: Harness) -> None:
    h = harness
    await install(h, "T0NE")
    await install(h, "T0TWO")
    async with SlackSender(h.url, SIGNING_SECRET, team_id="T0NE") as one:
        people_only = {"type": "tokens_revoked", "tokens": {"oauth": ["UINSTALLER"]}}
        assert (await one.event(people_only)).status_code == 200
        assert await h.runtime.tokens.find("T0NE") is not None  # the bot's token stays
        bot = {"type": "tokens_revoked", "tokens": {"bot": ["UBOT"]}}
        assert (await one.event(bot)).status_code == 200
    await h.settle()
    h.runtime.tokens.forget("T0TWO", None)
    assert await h.runtime.tokens.find("T0NE") is None
    assert await h.runtime.tokens.find("T0TWO") is not None
    url = h.runtime.settings.database_url
    assert query(url, "SELECT team_id FROM uninstalled_workspaces") == [("T0NE",)]


async def test_a_mention_in_each_installed_workspace_is_answered_with_its_own_token(
    harness: Harness,
) -> None:
    """Two workspaces install the app; each one's mention is answered there, every write
    made with the token that workspace's install gave, and its bot user recognised."""
    h = harness
    places = (("T0NE", "UBOT1", "C0NE"), ("T0TWO", "UBOT2", "C0TWO"))
    for team, bot, _ in places:
        assert (await install(h, team, bot_user_id=bot)).status_code == 200
    for team, bot, channel in places:
        async with SlackSender(h.url, SIGNING_SECRET, team_id=team, bot_user_id=bot) as there:
            ts = await there.post_mention(ALICE, f"<@{bot}> hello {team}", channel=channel)
        await h.wait_for(
            lambda ts=ts, channel=channel, team=team: (
                h.bot_texts(ts, channel) == [f"Echo: hello {team}"]
            ),
            what=f"the reply in {team}",
        )
    await h.settle()
    for team, _, channel in places:
        writes = [
            c
            for c in h.slack.calls
            if c.ok and c.method.startswith("chat.") and c.args.get("channel") == channel
        ]
        assert writes, f"nothing written in {team}"
        assert {team_of(h.slack, c.token or "") for c in writes} == {team}
