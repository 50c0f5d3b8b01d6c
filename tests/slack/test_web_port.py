"""The Web API port's profile cache: admin status is trusted for minutes, not for ever."""

from __future__ import annotations

from datetime import UTC, datetime

from slackbot.relay.controls import Permissions
from slackbot.sandbox.slack_fake import FakeSlack
from slackbot.slack.web_port import PROFILE_CACHE_SECONDS, WebApiPort, web_client
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
        permissions = Permissions(port, frozenset())
        assert await permissions.may_act(ADMIN, conversation())

        slack.add_user(ADMIN, real_name="Ada Admin", is_admin=False)  # demoted in Slack
        now[0] += PROFILE_CACHE_SECONDS / 2
        assert await permissions.may_act(ADMIN, conversation())  # still cached
        now[0] += PROFILE_CACHE_SECONDS / 2 + 1
        assert not await permissions.may_act(ADMIN, conversation())
        assert len(slack.calls_named("users.info")) == 2
