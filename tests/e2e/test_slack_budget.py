"""Many replies at once share Slack's budgets without a 429, and every one ends complete.

First the paced editor alone: Slack allows about 50 edits a minute; here the fake Slack's
budget and the app's are both ten times that, so that 60 replies still ask for far more
edits than the budget holds (each streams 10 pieces in 3 s) and the test proves the same
thing in seconds instead of minutes. Then the writer chosen per reply, with every budget
of the fake made smaller than Slack's. `benchmarks/concurrency.py` measures Slack's real
budgets.
"""

from __future__ import annotations

import pytest

from slackbot.sandbox.amigo_fake import Reply
from tests.e2e.conftest import Harness

STREAMS = 60
SCALE = 10
SLACK_EDITS_PER_MINUTE = 50 * SCALE


Threads = dict[str, tuple[str, str]]
"""thread ts -> (channel, Amigo's answer)"""


async def start_threads(
    h: Harness, count: int, channels: int, *, pieces: int, delay: float
) -> Threads:
    """``count`` people each mention the app in one of ``channels`` channels at once."""
    threads: Threads = {}
    for i in range(count):
        user = f"U{i:04d}"
        h.slack.add_user(
            user, name=f"user{i}", real_name=f"User {i}", first_name="U", last_name=str(i)
        )
        text = f"Reply number {i}: " + "a few words at a time " * 6
        h.amigo.queue_reply(Reply(text=text, pieces=pieces, delay=delay, user_text=f"q {i}"))
        channel = f"C{i % channels:04d}"
        ts = await h.sender.post_mention(user, f"<@UBOT> q {i}", channel=channel)
        threads[ts] = (channel, text)
    return threads


def finished(h: Harness, threads: Threads) -> bool:
    return all(h.bot_texts(ts, channel) == [text] for ts, (channel, text) in threads.items())


@pytest.mark.parametrize(
    "extra_settings",
    [
        {
            "slack_edit_interval_seconds": 1.0,
            "slack_rate_limits": f"chat.update={SLACK_EDITS_PER_MINUTE}/10",  # 90% is kept
        }
    ],
)
async def test_many_edited_replies_get_no_429_and_end_complete(harness: Harness) -> None:
    h = harness
    h.slack.set_rate_limit("chat.update", per_minute=SLACK_EDITS_PER_MINUTE, burst=10)
    threads = await start_threads(h, STREAMS, STREAMS, pieces=10, delay=0.3)
    await h.wait_for(lambda: finished(h, threads), timeout=120, what="every reply complete")
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
    threads = await start_threads(h, BURST, 10, pieces=6, delay=0.2)
    await h.wait_for(lambda: finished(h, threads), timeout=150, what="every answer complete")
    await h.settle(timeout=60)
    assert h.slack.rate_limited_count() == 0
    streamed = [ts for ts, (ch, _) in threads.items() if h.bot_replies(ts, ch)[0].streamed]
    whole = [
        ts
        for ts, (ch, _) in threads.items()
        if not h.bot_replies(ts, ch)[0].streamed and len(h.bot_replies(ts, ch)[0].history) == 1
    ]
    # Streams while their budgets last; under the load, answers posted whole, never edited.
    assert streamed and whole, (len(streamed), len(whole))
    for ts, (channel, _) in threads.items():
        [reply] = h.bot_replies(ts, channel)
        assert not reply.streaming
        assert "Thinking" not in reply.text  # no placeholder outlived its answer
        assert h.slack.status(channel, ts) is None
