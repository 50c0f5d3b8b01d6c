"""A rotating bot token expires while many replies stream: it is refreshed once, on one
replica or two, every reply completes, and every write after it uses the new token."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import pytest

from slackbot.sandbox.amigo_fake import Reply
from slackbot.sandbox.slack_fake import FakeSlack, RecordedCall
from slackbot.sandbox.slack_sender import SlackSender
from tests.e2e.conftest import SIGNING_SECRET, Harness, _serve
from tests.e2e.test_oauth import expire_soon, install, oauth_settings, refreshes

PEOPLE = 20
TEAM = "T0NE"


def person(i: int) -> tuple[str, str]:
    """The ``i``-th person, and the channel they write in (one each: no channel's
    posting pace holds the others up)."""
    return f"U0P{i:02d}", f"C0R{i:02d}"


@pytest.fixture
def extra_settings(slack: FakeSlack) -> dict[str, Any]:
    for i in range(PEOPLE):
        user, _ = person(i)
        slack.add_user(user, real_name=f"Person {i}", first_name="Person", last_name=str(i))
    return oauth_settings(slack) | {"slack_rate_limits": "chat.update=6000/100"}


def writes(calls: list[RecordedCall]) -> list[RecordedCall]:
    return [c for c in calls if c.method.startswith("chat.")]


async def streaming_while_the_token_expires(h: Harness, replicas: list[Harness]) -> str:
    """Every person mentions the app at once (spread over the ``replicas``); while all
    the replies are half written, the token expires. The new token."""
    h.slack.oauth.rotation = True
    await install(h, TEAM)
    old = await h.runtime.tokens.find(TEAM)
    assert old is not None and old.token.startswith("xoxe.xoxb-")
    held = [h.amigo.queue_reply(Reply(pieces=6, hold_after=3)) for _ in range(PEOPLE)]
    async with AsyncExitStack() as stack:
        senders = [
            await stack.enter_async_context(SlackSender(r.url, SIGNING_SECRET, team_id=TEAM))
            for r in replicas
        ]
        threads = await asyncio.gather(
            *(
                senders[i % len(senders)].post_mention(
                    person(i)[0], f"<@UBOT> question {i}", channel=person(i)[1]
                )
                for i in range(PEOPLE)
            )
        )
    await h.wait_for(
        lambda: (
            all(r.held for r in held)
            and all(h.bot_replies(ts, person(i)[1]) for i, ts in enumerate(threads))
        ),
        timeout=30,
        what="every reply half written",
    )
    assert {c.token for c in writes(h.slack.calls)} == {old.token}

    # Twelve hours pass: the install's row says the token expires, then Slack refuses it.
    await expire_soon(h, TEAM)
    for replica in replicas:  # the time they remembered it for is long over
        replica.runtime.tokens.forget(TEAM, None)
    since = len(h.slack.calls)
    h.slack.expire_token(old.token)
    for reply in held:
        reply.release()

    await h.wait_for(
        lambda: all(
            h.bot_texts(ts, person(i)[1]) == [f"Echo: question {i}"] for i, ts in enumerate(threads)
        ),
        timeout=60,
        what="every reply complete",
    )
    assert refreshes(h.slack) == 1
    new = await h.runtime.tokens.find(TEAM)
    assert new is not None and new.token != old.token
    after = writes(h.slack.calls[since:])
    assert {c.token for c in after if c.ok} == {new.token}
    # A write on its way when the token expired was refused, and made again with the new one.
    refused = [c for c in after if c.token == old.token]
    assert {c.response.get("error") for c in refused} <= {"token_expired"}
    again = {(c.method, c.args.get("channel"), c.args.get("ts")) for c in after if c.ok}
    assert {(c.method, c.args.get("channel"), c.args.get("ts")) for c in refused} <= again
    return new.token


async def test_a_token_expiring_while_twenty_replies_stream_is_refreshed_once(
    harness: Harness,
) -> None:
    await streaming_while_the_token_expires(harness, [harness])


async def test_two_replicas_streaming_replies_refresh_an_expiring_token_once(
    harness: Harness, extra_settings: dict[str, Any]
) -> None:
    h = harness
    other = _serve(h.slack, h.amigo, h.runtime.settings.database_url, extra_settings)
    replica = await anext(other)
    try:
        new = await streaming_while_the_token_expires(h, [h, replica])
        replica.runtime.tokens.forget(TEAM, None)
        found = await replica.runtime.tokens.find(TEAM)
        assert found is not None and found.token == new
    finally:
        await anext(other, None)
