"""Many replies at once share the workspace's chat.update budget without a 429.

Slack allows about 50 edits a minute; here the fake Slack's budget and the app's share of
it are both ten times that, so that 100 replies still ask for far more edits than the
budget holds (each streams 10 pieces in 3 s) and the test proves the same thing in
seconds instead of two minutes. `benchmarks/concurrency.py` measures Slack's real budget.
"""

from __future__ import annotations

import pytest

from slackbot.sandbox.amigo_fake import Reply
from tests.e2e.conftest import Harness

STREAMS = 100
SCALE = 10
SLACK_EDITS_PER_MINUTE = 50 * SCALE


@pytest.fixture
def extra_settings() -> dict[str, object]:
    return {
        "slack_edit_interval_seconds": 1.0,
        "slack_edits_per_minute": SLACK_EDITS_PER_MINUTE,
    }


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
