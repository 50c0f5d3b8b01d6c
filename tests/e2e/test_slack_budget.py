"""Many replies at once share Slack's budgets without a 429, and every one ends complete.

First the paced editor alone: Slack allows about 50 edits a minute; here the fake Slack's
budget and the app's are both ten times that, so that 100 replies still ask for far more
edits than the budget holds (each streams 10 pieces in 3 s) and the test proves the same
thing in seconds instead of minutes. Then the writer chosen per reply, with every budget
of the fake made smaller than Slack's. `benchmarks/concurrency.py` measures Slack's real
budgets.
"""

from __future__ import annotations

import pytest

from slackbot.sandbox.amigo_fake import Reply
from tests.e2e.conftest import Harness

STREAMS = 100
SCALE = 10
SLACK_EDITS_PER_MINUTE = 50 * SCALE


@pytest.mark.parametrize(
    "extra_settings",
    [
        {
            "slack_edit_interval_seconds": 1.0,
            # The app keeps 90% of each limit: 10/9 of this is the fake's.
            "slack_rate_limits": f"chat.update={SLACK_EDITS_PER_MINUTE / 0.9:g}/11",
        }
    ],
)
async def test_a_hundred_streaming_replies_get_no_429_and_end_complete(harness: Harness) -> None:
    h = harness
    h.slack.set_rate_limit("chat.update", per_minute=SLACK_EDITS_PER_MINUTE, burst=10)
    threads: dict[str, tuple[str, str]] = {}
    for i in range(STREAMS):
        user = f"U{i:04d}"
        h.slack.add_user(
            user, name=f"user{i}", real_name=f"User {i}", first_name="U", last_name=str(i)
        )
        text = f"Reply number {i}: " + "a few words at a time " * 6
        h.amigo.queue_reply(Reply(text=text, pieces=10, delay=0.3, user_text=f"question {i}"))
        channel = f"C{i:04d}"
        ts = await h.sender.post_mention(user, f"<@UBOT> question {i}", channel=channel)
        threads[ts] = (channel, text)

    def finished() -> bool:
        return all(h.bot_texts(ts, channel) == [text] for ts, (channel, text) in threads.items())

    await h.wait_for(finished, timeout=120, what="every reply complete")
    await h.settle(timeout=60)
    assert h.slack.rate_limited_count("chat.update") == 0
    updates = h.slack.calls_named("chat.update")
    assert len(updates) >= STREAMS
    assert h.amigo.conflicts == 0


TINY = 0.5
"""The share of Slack's documented budgets the fake allows (and the app is told)."""
BURST = 50


@pytest.mark.parametrize(
    "extra_settings",
    [
        {
            "slack_reply_writer": "auto",
            "slack_rate_limit_share": TINY,
            # Looking 50 people up is not what this test is about.
            "slack_rate_limits": "users.info=100000/1000",
        }
    ],
)
async def test_a_burst_of_replies_on_tiny_budgets_ends_complete_without_a_429(
    harness: Harness,
) -> None:
    h = harness
    h.slack.enforce_documented_limits(scale=TINY)
    h.slack.set_rate_limit("users.info", None)
    threads: dict[str, tuple[str, str]] = {}
    for i in range(BURST):
        user = f"U{i:04d}"
        h.slack.add_user(
            user, name=f"user{i}", real_name=f"User {i}", first_name="U", last_name=str(i)
        )
        text = f"Answer {i}: " + "some words in pieces " * 4
        h.amigo.queue_reply(Reply(text=text, pieces=6, delay=0.2, user_text=f"question {i}"))
        channel = f"C{i % 10:04d}"
        ts = await h.sender.post_mention(user, f"<@UBOT> question {i}", channel=channel)
        threads[ts] = (channel, text)

    def finished() -> bool:
        return all(h.bot_texts(ts, channel) == [text] for ts, (channel, text) in threads.items())

    await h.wait_for(finished, timeout=150, what="every answer complete")
    await h.settle(timeout=60)
    assert h.slack.rate_limited_count() == 0
    writers = {
        "stream": len(h.slack.calls_named("chat.startStream", ok=True)),
        "edit": len(h.slack.calls_named("chat.update", ok=True)),
    }
    assert writers["stream"] >= 1  # while the stream budgets lasted
    for ts, (channel, _) in threads.items():
        [reply] = h.bot_replies(ts, channel)
        assert not reply.streaming
        assert "Thinking" not in reply.text  # no placeholder outlived its answer
        assert h.slack.status(channel, ts) is None
