"""Uninstalling through OAuth, beyond one workspace: an org-wide Grid install leaving the
whole org, and no call to Slack with a token Slack revoked."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from slackbot.sandbox.amigo_fake import Reply
from slackbot.sandbox.slack_fake import FakeSlack
from slackbot.sandbox.slack_sender import SlackSender
from slackbot.store.workspaces import UninstalledRow
from tests.databases import query
from tests.e2e.conftest import ALICE, BOB, SIGNING_SECRET, Harness
from tests.e2e.test_oauth import install, oauth_settings

CAROL = "UCAROL"
ORG = "E0RG"
IN_ORG = (("T0A", ALICE, "C0A"), ("T0B", BOB, "C0B"))
"""Two workspaces of the org: who writes there, and where."""


@pytest.fixture
def extra_settings(slack: FakeSlack) -> dict[str, Any]:
    slack.add_user(CAROL, real_name="Carol Else", first_name="Carol", last_name="Else")
    return oauth_settings(slack)


def member(h: Harness, team: str) -> SlackSender:
    """Slack's requests from a workspace of the org, where the app is installed org-wide."""
    return SlackSender(
        h.url, SIGNING_SECRET, team_id=team, bot_user_id="UBOTG", enterprise_id=ORG, org_wide=True
    )


def conversations_of(h: Harness) -> dict[str, str]:
    """Each workspace's Amigo conversation (one each here)."""
    rows = query(
        h.runtime.settings.database_url,
        "SELECT team_id, amigo_conversation_id FROM conversations",
    )
    return {str(team): str(conversation) for team, conversation in rows}


async def test_an_org_wide_uninstall_finishes_the_conversations_of_every_workspace_of_the_org(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    assert (
        await install(h, None, enterprise_id=ORG, org_wide=True, bot_user_id="UBOTG")
    ).is_success
    assert (await install(h, "T0NE")).is_success  # another workspace, not of the org
    for team, person, channel in IN_ORG:
        async with member(h, team) as there:
            await there.post_mention(person, f"<@UBOTG> hello from {team}", channel=channel)
    async with SlackSender(h.url, SIGNING_SECRET, team_id="T0NE") as other:
        await other.post_mention(CAROL, "<@UBOT> hello from T0NE", channel="C0NE")
    await h.wait_for(lambda: len(h.amigo.conversations) == 3, what="three conversations")
    await h.settle()
    started = conversations_of(h)
    assert set(started) == {"T0A", "T0B", "T0NE"}

    async with member(h, "T0A") as there:
        assert (await there.event({"type": "app_uninstalled"})).status_code == 200
    for team, _, _ in IN_ORG:
        await h.wait_for(
            lambda team=team: h.amigo.conversation(started[team]).is_finished,
            what=f"the conversation of {team} finished in Amigo",
        )
    await h.settle()
    assert not h.amigo.conversation(started["T0NE"]).is_finished
    url = h.runtime.settings.database_url
    marked = query(url, "SELECT team_id, enterprise_id FROM uninstalled_workspaces")
    assert sorted(marked) == [("T0A", ORG), ("T0B", ORG)]

    caplog.clear()
    with caplog.at_level(logging.INFO):
        for team, person, channel in IN_ORG:
            async with member(h, team) as there:
                await there.post_mention(person, "<@UBOTG> still there?", channel=channel)
        await h.settle()
    refused = [r.getMessage() for r in caplog.records if "not installed" in r.getMessage()]
    assert len(refused) == 4  # a mention and its message, in each workspace of the org
    assert set(refused) == {f"request from org {ORG} refused: the app is not installed there"}
    assert len(h.amigo.conversations) == 3  # nothing more reached Amigo

    async with SlackSender(h.url, SIGNING_SECRET, team_id="T0NE") as other:
        ts = await other.post_mention(CAROL, "<@UBOT> and again", channel="C0NE")
    await h.wait_for(
        lambda: h.bot_texts(ts, "C0NE") == ["Echo: and again"], what="T0NE still served"
    )

    async with h.runtime.store.engine.begin() as conn:  # the retention period passes
        then = datetime.now(UTC) - timedelta(days=31)
        await conn.execute(sa.update(UninstalledRow).values(uninstalled_at=then))
    assert await h.runtime.offboarding.sweep() == 2
    assert set(conversations_of(h)) == {"T0NE"}


@pytest.mark.parametrize("org_wide", [False, True], ids=["workspace", "org-wide"])
async def test_after_an_uninstall_no_call_is_made_with_the_revoked_token(
    harness: Harness, org_wide: bool
) -> None:
    """A reply streams while the app is uninstalled: what it still has to write is not
    sent with the token Slack revoked (its workspace's port, and the token in it, are
    gone). Org-wide, the reply is in a workspace of the org other than the one whose
    event said so."""
    h = harness
    if org_wide:
        await install(h, None, enterprise_id=ORG, org_wide=True, bot_user_id="UBOTG")
        speaker, team, bot = member(h, "T0B"), "T0B", "UBOTG"
        leaver = member(h, "T0A")
    else:
        await install(h, "T0NE")
        team, bot = "T0NE", "UBOT"
        speaker = leaver = SlackSender(h.url, SIGNING_SECRET, team_id=team)
    access = await h.runtime.tokens.find(team, ORG if org_wide else None)
    assert access is not None
    held = Reply(text="one two three four five six", pieces=6, hold_after=2)
    h.amigo.queue_reply(held)
    async with speaker:
        ts = await speaker.post_mention(ALICE, f"<@{bot}> tell me a long story", channel="C1")
    await h.wait_for(lambda: held.held and h.bot_replies(ts, "C1"), what="a reply under way")
    assert any(c.token == access.token for c in h.slack.calls)

    h.slack.revoke_token(access.token)  # as Slack does when the app is uninstalled
    async with leaver:
        assert (await leaver.event({"type": "app_uninstalled"})).status_code == 200
    since = len(h.slack.calls)
    held.release()
    await h.settle()

    after = h.slack.calls[since:]
    assert [c.method for c in after if c.token == access.token] == []
    assert await h.runtime.tokens.find(team, ORG if org_wide else None) is None


async def test_installing_for_the_org_again_keeps_the_data_of_its_workspaces(
    harness: Harness,
) -> None:
    h = harness
    await install(h, None, enterprise_id=ORG, org_wide=True, bot_user_id="UBOTG")
    async with member(h, "T0A") as there:
        await there.post_mention(ALICE, "<@UBOTG> hello", channel="C0A")
        await h.wait_for(lambda: h.amigo.conversations, what="a conversation")
        await h.settle()
        await there.event({"type": "app_uninstalled"})
    await h.settle()
    url = h.runtime.settings.database_url
    assert query(url, "SELECT team_id FROM uninstalled_workspaces") == [("T0A",)]

    assert (await install(h, None, enterprise_id=ORG, org_wide=True)).is_success
    assert query(url, "SELECT team_id FROM uninstalled_workspaces") == []
    async with h.runtime.store.engine.begin() as conn:  # long after the first uninstall
        then = datetime.now(UTC) - timedelta(days=31)
        await conn.execute(sa.update(UninstalledRow).values(uninstalled_at=then))
    assert await h.runtime.offboarding.sweep() == 0
    assert set(conversations_of(h)) == {"T0A"}
