"""The Web API port's profile cache: admin status is trusted for minutes, not for ever."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from slackbot.relay.admins import Admins
from slackbot.relay.controls import Permissions
from slackbot.sandbox.slack_fake import FakeSlack
from slackbot.slack.web_client import web_client
from slackbot.slack.web_port import PROFILE_CACHE_SECONDS, WebApiPort
from slackbot.store.models import ConversationState
from slackbot.store.records import Conversation

OWNER, ADMIN = "UOWNER", "UADMIN"


def conversation() -> Conversation:
    return Conversation(
        id=1,
        team_id="T0TEST",
        channel_id="C1",
        thread_ts="1.000001",
        owner_user_id=OWNER,
        amigo_user_id=None,
        amigo_conversation_id=None,
        state=ConversationState.ACTIVE,
        created_at=datetime.now(UTC),
    )


async def test_a_demoted_workspace_admin_loses_admin_powers_within_the_cache_expiry() -> None:
    now = [0.0]
    with FakeSlack() as slack:
        slack.add_user(ADMIN, real_name="Ada Admin", is_admin=True)
        port = WebApiPort(web_client(slack.bot_token, slack.api_url), clock=lambda: now[0])
        permissions = Permissions(port, Admins())
        assert await permissions.may_act(ADMIN, conversation())

        slack.add_user(ADMIN, real_name="Ada Admin", is_admin=False)  # demoted in Slack
        now[0] += PROFILE_CACHE_SECONDS / 2
        assert await permissions.may_act(ADMIN, conversation())  # still cached
        now[0] += PROFILE_CACHE_SECONDS / 2 + 1
        assert not await permissions.may_act(ADMIN, conversation())
        assert len(slack.calls_named("users.info")) == 2


async def test_many_new_people_at_once_are_named_by_the_page_not_one_by_one() -> None:
    """250 people new to the app write at once: users.info (Tier 4) would keep the last
    waiting minutes for the name Amigo knows them by; users.list pages answer them all."""
    with FakeSlack() as slack:
        slack.enforce_documented_limits()
        people = [f"UNEW{i:04d}" for i in range(250)]
        for i, user in enumerate(people):
            slack.add_user(user, real_name=f"Person {i}", email=f"p{i}@example.com")
        port = WebApiPort(web_client(slack.bot_token, slack.api_url))

        found = await asyncio.wait_for(
            asyncio.gather(*(port.profile(user) for user in people)), timeout=20
        )

        assert [p.user_id for p in found] == people
        assert found[7].first_name == "Person" and found[7].email == "p7@example.com"
        assert len(slack.calls_named("users.info")) <= 25  # the burst, then pages
        assert 1 <= len(slack.calls_named("users.list")) <= 2
        assert slack.rate_limited_count() == 0


async def test_when_the_list_fails_people_are_still_looked_up_on_their_own() -> None:
    with FakeSlack() as slack:
        slack.enforce_documented_limits()
        slack.add_user("UGUEST", real_name="Gus Guest")
        slack.fail_next("users.list", "internal_error", status=500, times=5)
        port = WebApiPort(web_client(slack.bot_token, slack.api_url))
        while port.budgets.try_take("users.info"):
            pass  # the burst is spent: the lookup tries the list first
        guest = await asyncio.wait_for(port.profile("UGUEST"), timeout=20)
        assert (guest.first_name, guest.last_name) == ("Gus", "Guest")
        assert slack.calls_named("users.list") and slack.calls_named("users.info")
