"""Every reply is delivered or explained: whatever Slack refuses, the answer gets out."""

from __future__ import annotations

import pytest

from slackbot.sandbox.amigo_fake import Reply
from slackbot.ui import messages
from tests.databases import query
from tests.e2e.conftest import ALICE, CHANNEL, Harness
from tests.e2e.test_relay import start_thread, wait_reply_done

ANSWER = "The answer that must get out."


def owed(h: Harness) -> list[tuple[object, ...]]:
    return query(
        h.runtime.settings.database_url,
        "SELECT id FROM turns WHERE reply_text IS NOT NULL AND NOT shown",
    )


async def ask(h: Harness, question: str = "please answer") -> str:
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    h.amigo.queue_reply(Reply(text=ANSWER, pieces=3, delay=0.05))
    await h.sender.post_message(ALICE, question, thread_ts=ts)
    return ts


@pytest.mark.parametrize(
    ("error", "status", "html"),
    [
        ("msg_too_long", 200, False),
        ("invalid_blocks", 200, False),
        ("internal_error", 500, False),
        ("ratelimited", 429, False),
        ("bad_gateway", 502, True),
    ],
    ids=["msg_too_long", "invalid_blocks", "500", "429", "html-page"],
)
async def test_a_final_write_slack_refuses_still_ends_with_the_answer_in_the_thread(
    harness: Harness, error: str, status: int, html: bool
) -> None:
    h = harness
    ts = await ask(h)
    await h.wait_for(lambda: len(h.bot_replies(ts)) == 2, what="the placeholder")
    h.slack.fail_next("chat.update", error, status=status, times=6, html=html, retry_after=1)
    await h.wait_for(lambda: ANSWER in h.bot_texts(ts), timeout=30, what="the answer")
    await h.settle(timeout=30)
    assert owed(h) == []
    assert len(h.amigo.calls_named("interact")) == 1


async def test_a_channel_closed_to_the_app_gets_the_answer_by_dm(harness: Harness) -> None:
    h = harness
    ts = await ask(h)
    await h.wait_for(lambda: len(h.bot_replies(ts)) == 2, what="the placeholder")
    h.slack.fail_next("chat.update", "is_archived", times=20)  # the channel was archived
    dm = "D" + ALICE[1:]
    await h.wait_for(lambda: ANSWER in [m.text for m in h.slack.messages(dm)], what="the DM")
    await h.settle()
    (notice, answer) = h.slack.messages(dm)
    assert notice.text == messages.reply_sent_by_dm(CHANNEL, "is_archived")
    assert answer.text == ANSWER
    assert owed(h) == []


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found", "internal_error"])
async def test_a_placeholder_slack_refuses_does_not_stop_the_answer(
    harness: Harness, error: str
) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    closed = error != "internal_error"
    h.slack.fail_next("chat.postMessage", error, status=200 if closed else 500, times=3)
    h.amigo.queue_reply(Reply(text=ANSWER, pieces=2))
    await h.sender.post_message(ALICE, "please answer", thread_ts=ts)
    if closed:
        dm = "D" + ALICE[1:]
        await h.wait_for(lambda: ANSWER in [m.text for m in h.slack.messages(dm)], what="DM")
    else:
        await h.wait_for(lambda: h.bot_texts(ts)[-1] == ANSWER, timeout=20, what="the answer")
    await h.settle()
    assert len(h.amigo.calls_named("interact")) == 1  # Amigo was asked all the same
    assert owed(h) == []


async def test_an_answer_slack_would_not_take_is_shown_when_it_will(harness: Harness) -> None:
    h = harness
    ts = await ask(h)
    await h.wait_for(lambda: len(h.bot_replies(ts)) == 2, what="the placeholder")
    # Slack refuses every write for a while: the answer stays owed, saved.
    h.slack.fail_next("*", "internal_error", status=500, times=1000)
    await h.wait_for(lambda: owed(h), timeout=30, what="the answer saved, not shown")
    h.slack.reset_faults()
    await h.wait_for(lambda: ANSWER in h.bot_texts(ts), timeout=30, what="the answer shown")
    await h.wait_for(lambda: not owed(h), what="nothing owed")
