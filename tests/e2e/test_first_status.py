"""A sign of life as soon as the message is saved: the thread's status appears before
the thread's turn can even run (here: while another replica holds the thread), and the
reply adopts it rather than setting it again."""

from __future__ import annotations

from typing import Any

import pytest

from slackbot.relay.posting import THINKING_WORDS
from slackbot.sandbox.amigo_fake import Reply
from slackbot.sandbox.slack_sender import new_ts
from slackbot.store.repo import ThreadKey
from tests.e2e.conftest import ALICE, CHANNEL, Harness
from tests.e2e.test_relay import completed, wait_reply_done

OTHER_REPLICA = "replica-b"


@pytest.fixture
def extra_settings() -> dict[str, Any]:
    return {"slack_reply_writer": "auto"}


def shown(h: Harness, ts: str) -> list[str]:
    """The first statuses the thread showed, one per reply ("is thinking…" with the
    thinking words; a later status shows the agent's steps, or a wait for Amigo)."""
    return [
        s.status
        for s in h.slack.status_history(CHANNEL, ts)
        if s.status and s.loading_messages == (THINKING_WORDS,)
    ]


async def test_a_mention_shows_its_status_before_its_turn_runs_and_only_once(
    harness: Harness,
) -> None:
    h = harness
    ts = new_ts()
    thread = ThreadKey(h.slack.team_id, CHANNEL, ts)
    assert await h.runtime.store.acquire_lease(thread, OTHER_REPLICA, 60)
    h.amigo.queue_reply(Reply(text="Here I am.", pieces=2, delay=0.3, kind="create"))

    await h.sender.post_mention(ALICE, "<@UBOT> are you there?", ts=ts)
    await h.wait_for(lambda: h.slack.status(CHANNEL, ts), what="the thread's status")
    assert not h.amigo.conversations, "the turn ran although another replica held the thread"

    await h.runtime.store.release_lease(thread, OTHER_REPLICA)  # that replica stopped
    h.runtime.workers.kick(thread)
    await wait_reply_done(h, ts)
    assert h.bot_texts(ts)[0] == "Here I am."
    assert len(shown(h, ts)) == 1, "the reply set its status again"
    assert h.slack.status(CHANNEL, ts) is None  # the answer cleared it


async def test_an_owners_reply_shows_its_status_at_once(harness: Harness) -> None:
    h = harness
    h.amigo.queue_reply(Reply(text="First.", kind="create"))
    ts = await h.sender.post_mention(ALICE, "<@UBOT> hello")
    await wait_reply_done(h, ts)
    before = len(shown(h, ts))
    thread = ThreadKey(h.slack.team_id, CHANNEL, ts)
    assert await h.runtime.store.acquire_lease(thread, OTHER_REPLICA, 60)

    h.amigo.queue_reply(Reply(text="Second.", pieces=2, delay=0.3))
    await h.sender.post_message(ALICE, "and again", thread_ts=ts)
    await h.wait_for(lambda: h.slack.status(CHANNEL, ts), what="the thread's status")
    assert completed(h) == 1

    await h.runtime.store.release_lease(thread, OTHER_REPLICA)
    h.runtime.workers.kick(thread)
    await wait_reply_done(h, ts, 2)
    assert h.bot_texts(ts)[-1] == "Second."
    assert len(shown(h, ts)) == before + 1, h.slack.status_history(CHANNEL, ts)
