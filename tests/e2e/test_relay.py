"""A Slack thread is an Amigo conversation, and the reply streams into it."""

from __future__ import annotations

import re
import time
from itertools import pairwise

import pytest

from slackbot.sandbox.amigo_fake import Reply
from slackbot.sandbox.slack_fake import message_text
from tests.e2e.conftest import ALICE, BOB, CHANNEL, Harness

SLOW_TEXT = (
    "Here is a slow answer that arrives in eight pieces, "
    "so that you can watch it grow in the thread while it is written."
)


async def start_thread(h: Harness, text: str = "<@UBOT> hello there", user: str = ALICE) -> str:
    ts = await h.sender.post_mention(user, text)
    await h.wait_for(lambda: h.amigo.calls_named("create_conversation"), what="conversation")
    return ts


async def wait_reply_done(h: Harness, thread_ts: str, count: int = 1) -> None:
    """Wait until ``count`` turns of the thread have completed and the app is idle."""
    await h.wait_for(lambda: completed(h) >= count, what=f"{count} interaction(s) complete")
    await h.settle()


def completed(h: Harness) -> int:
    return sum(
        1
        for e in h.amigo.emitted
        if isinstance(e.event, dict) and e.event.get("type") == "interaction-complete"
    )


async def test_mention_starts_a_conversation_and_the_reply_streams_into_the_thread(
    harness: Harness,
) -> None:
    h = harness
    h.amigo.queue_reply(Reply(text=SLOW_TEXT, pieces=8, delay=0.4, kind="create"))
    sent_at = time.monotonic()
    ts = await h.sender.post_mention(ALICE, "<@UBOT> hello there")

    first_post = await h.wait_for(
        lambda: h.slack.calls_named("chat.postMessage"), timeout=2, what="placeholder"
    )
    assert first_post[0].at - sent_at < 1.0, "the placeholder took more than a second"
    assert first_post[0].args["thread_ts"] == ts

    await wait_reply_done(h, ts)
    create = h.amigo.calls_named("create_conversation")
    assert len(create) == 1
    assert create[0].json["initial_message"] == "hello there"
    assert create[0].json["service_id"] == "0123456789abcdef01234567"

    (reply,) = h.bot_replies(ts)
    assert message_text(reply) == SLOW_TEXT
    # While streaming, the text was visibly edited at least twice, growing each time.
    seen = [message_text_of(v.text, v.blocks) for v in reply.history[1:]]
    partial = [t for t in seen if t and t != SLOW_TEXT]
    assert len(partial) >= 2, seen
    assert all(len(a) < len(b) for a, b in pairwise(partial)), partial
    assert all(SLOW_TEXT.startswith(t) for t in partial)


def message_text_of(text: str, blocks: list[dict[str, object]] | None) -> str:
    for block in blocks or []:
        if block.get("type") == "markdown":
            return str(block.get("text", ""))
    return text


async def test_a_reply_by_the_owner_goes_to_interact_and_streams(harness: Harness) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    h.amigo.queue_reply(Reply(text="Second answer, streamed too.", pieces=4, delay=0.2))
    await h.sender.post_message(ALICE, "and a follow-up", thread_ts=ts)
    await wait_reply_done(h, ts, count=2)

    (interact,) = h.amigo.calls_named("interact")
    assert interact.form == {
        "initial_message_type": "user-message",
        "recorded_message": "and a follow-up",
    }
    texts = h.bot_texts(ts)
    assert texts[-1] == "Second answer, streamed too."
    assert len(h.bot_replies(ts)[-1].history) >= 2


async def test_redelivered_events_and_the_mention_pair_cause_one_amigo_call(
    harness: Harness,
) -> None:
    h = harness
    # post_mention sends app_mention and message for the same post.
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    # Slack redelivers a thread reply with x-slack-retry-num after a slow answer.
    event = h.sender.message(ALICE, "only once please", thread_ts=ts, channel=CHANNEL)
    first = await h.sender.event(event, event_id="EvRetry1")
    again = await h.sender.event(event, event_id="EvRetry1", retry_num=1)
    assert first.status_code == 200 and again.status_code == 200
    await wait_reply_done(h, ts, count=2)
    await h.settle()
    assert len(h.amigo.calls_named("create_conversation")) == 1
    assert len(h.amigo.calls_named("interact")) == 1


@pytest.mark.parametrize(
    "extra_settings",
    [{"amigo_coalesce_replies": True}, {"amigo_coalesce_replies": False}],
    ids=["coalesced", "one-by-one"],
)
async def test_replies_sent_while_streaming_reach_amigo_in_order_without_conflict(
    harness: Harness, extra_settings: dict[str, bool]
) -> None:
    h = harness
    h.amigo.queue_reply(Reply(text=SLOW_TEXT, pieces=8, delay=0.25, kind="create"))
    ts = await start_thread(h)
    for word in ("first", "second", "third"):
        await h.sender.post_message(ALICE, word, thread_ts=ts)
    coalesced = extra_settings["amigo_coalesce_replies"]
    await wait_reply_done(h, ts, count=2 if coalesced else 4)
    sent = [c.form["recorded_message"] for c in h.amigo.calls_named("interact") if c.form]
    if coalesced:
        assert sent == ["first\n\nsecond\n\nthird"]
    else:
        assert sent == ["first", "second", "third"]
    assert h.amigo.conflicts == 0


async def test_after_the_conversation_completes_replies_are_not_relayed(harness: Harness) -> None:
    h = harness
    h.amigo.queue_reply(Reply(text="Goodbye!", conversation_completed=True, kind="create"))
    ts = await start_thread(h, "<@UBOT> bye")
    await wait_reply_done(h, ts)
    await h.wait_for(lambda: any("finished" in t for t in h.bot_texts(ts)), what="notice")

    await h.sender.post_message(ALICE, "are you there?", thread_ts=ts)
    hint = await h.wait_for(lambda: h.slack.ephemerals(user=ALICE), what="hint")
    assert "new conversation" in hint[0].text
    await h.settle()
    assert h.amigo.calls_named("interact") == []


async def test_an_error_event_marks_the_partial_reply_interrupted(harness: Harness) -> None:
    h = harness
    h.amigo.queue_reply(
        Reply(
            text="One two three four five six", pieces=6, delay=0.05, error_after=2, kind="create"
        )
    )
    ts = await start_thread(h)
    await h.wait_for(
        lambda: any("interrupted" in t for t in h.bot_texts(ts)), what="interrupted mark"
    )
    await h.settle()
    (reply,) = h.bot_texts(ts)
    assert reply.startswith("One two three four five six"[: len("One two ")].strip())
    assert "interrupted" in reply

    # The conversation was created before the error: the next message works.
    h.amigo.queue_reply(Reply(text="Back again.", pieces=2))
    await h.sender.post_message(ALICE, "try again", thread_ts=ts)
    await h.wait_for(lambda: "Back again." in h.bot_texts(ts), what="next reply")


async def test_a_long_reply_is_split_within_slack_limits_without_losing_text(
    harness: Harness,
) -> None:
    h = harness
    paragraphs = [f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 12 for i in range(20)]
    code = "```python\n" + "\n".join(f"print({i})  # line {i}" for i in range(60)) + "\n```"
    text = "\n\n".join([*paragraphs[:10], code, *paragraphs[10:]])
    text = text + "\n\n" + "tail " * ((9000 - len(text)) // 5)
    assert len(text) >= 8900
    h.amigo.queue_reply(Reply(text=text, pieces=30, delay=0.02, kind="create"))
    ts = await start_thread(h)
    await wait_reply_done(h, ts)

    parts = h.bot_texts(ts)
    assert len(parts) >= 3
    for part in parts:
        assert len(part) <= 12000
        assert len(re.findall(r"^```", part, flags=re.MULTILINE)) % 2 == 0, part[:200]
    joined = "".join(parts)
    assert re.sub(r"\s+|```(python)?", "", joined) == re.sub(r"\s+|```(python)?", "", text)
    assert all(c.ok for c in h.slack.calls_named("chat.update"))


async def test_another_users_reply_is_not_relayed_and_earns_one_hint(harness: Harness) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    await h.sender.post_message(BOB, "can I join?", thread_ts=ts)
    await h.sender.post_message(BOB, "hello?", thread_ts=ts)
    await h.wait_for(lambda: h.slack.ephemerals(user=BOB), what="hint")
    await h.settle()
    hints = h.slack.ephemerals(user=BOB)
    assert len(hints) == 1
    assert f"<@{ALICE}>" in hints[0].text
    assert h.amigo.calls_named("interact") == []


async def test_a_new_thread_finishes_the_previous_conversation(harness: Harness) -> None:
    h = harness
    first = await start_thread(h, "<@UBOT> first topic")
    await wait_reply_done(h, first)
    second = await h.sender.post_mention(ALICE, "<@UBOT> second topic")
    await h.wait_for(lambda: len(h.amigo.calls_named("create_conversation")) == 2, what="2nd")
    await wait_reply_done(h, second, count=2)

    assert len(h.amigo.calls_named("finish")) == 1
    notice = [t for t in h.bot_texts(first) if "finished" in t]
    assert notice and h.slack.permalink(CHANNEL, second) in notice[0]
    assert h.amigo.conflicts == 0
    creates = h.amigo.calls_named("create_conversation")
    assert creates[1].json["initial_message"] == "second topic"


async def test_bad_signatures_and_stale_timestamps_are_refused(harness: Harness) -> None:
    h = harness
    event = h.sender.mention(ALICE, "<@UBOT> hello")
    bad = await h.sender.event(event, signature="v0=" + "0" * 64)
    stale = await h.sender.event(event, timestamp=int(time.time()) - 600)
    assert bad.status_code == 401
    assert stale.status_code == 401
    await h.settle()
    assert h.amigo.calls == []
    assert h.slack.calls_named("chat.postMessage") == []
