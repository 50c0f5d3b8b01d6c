"""Voice: an audio clip the owner posts goes to the agent as a voice message, and the
thread shows what the agent heard; what cannot be sent is refused, and says why."""

from __future__ import annotations

from typing import Any

import pytest

from slackbot.sandbox.slack_fake import FakeMessage, message_text
from tests.audio_clips import played_seconds, sine_clip
from tests.e2e.conftest import ALICE, BOB, Harness
from tests.e2e.test_relay import completed, start_thread, wait_reply_done

CLIPS = {"mp4": ("audio_message.m4a", "audio/mp4"), "webm": ("audio_message.webm", "audio/webm")}


def clip_file(h: Harness, kind: str, seconds: float = 1.0, user: str = ALICE) -> dict[str, Any]:
    name, mimetype = CLIPS[kind]
    data = sine_clip(kind, seconds=seconds)
    return h.slack.add_file(
        data,
        name=name,
        mimetype=mimetype,
        user=user,
        subtype="slack_audio",
        duration_ms=int(seconds * 1000),
    )


def raw_markdown(message: FakeMessage) -> str:
    """What the app sent, before Slack's escapes are shown as characters."""
    return "\n".join(str(b.get("text")) for b in message.blocks or [] if b["type"] == "markdown")


async def refused(h: Harness, thread_ts: str, count: int) -> str:
    """The text of the thread's ``count``-th reply, once it is there and the app is idle."""
    await h.wait_for(lambda: len(h.bot_replies(thread_ts)) >= count, what="the refusal")
    await h.settle()
    reply = h.bot_replies(thread_ts)[count - 1]
    await h.wait_for(lambda: "nothing was sent" in message_text(reply), what="refusal text")
    return message_text(h.bot_replies(thread_ts)[count - 1])


@pytest.mark.parametrize("kind", ["mp4", "webm"])
async def test_a_clip_becomes_a_voice_message_and_the_thread_shows_what_was_heard(
    harness: Harness, kind: str
) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    h.amigo.transcripts.append("Where is my <!channel> parcel & <@UBOB>?")
    await h.sender.post_file(ALICE, [clip_file(h, kind, seconds=1.0)], thread_ts=ts)
    await wait_reply_done(h, ts, count=2)

    (interact,) = h.amigo.calls_named("interact")
    assert interact.query["request_format"] == ["voice"]
    assert interact.query["request_audio_config"] == ['{"type":"mp3"}']
    assert interact.audio is not None
    assert played_seconds(interact.audio, expect_format="mp3") == pytest.approx(1.0, abs=0.15)
    (download,) = h.slack.downloads()
    assert (download.token, download.status) == (h.slack.bot_token, 200)

    reply = h.bot_replies(ts)[-1]
    heard = "Where is my <!channel> parcel & <@UBOB>?"
    assert message_text(reply) == f"_Heard:_ “{heard}”\n\nEcho: {heard}"
    sent = raw_markdown(reply)
    assert "&lt;!channel&gt;" in sent and "&lt;@UBOB&gt;" in sent and "&amp;" in sent
    assert "<!channel>" not in sent and "<@UBOB>" not in sent


async def test_a_mention_with_a_clip_starts_a_conversation_and_then_is_heard(
    harness: Harness,
) -> None:
    h = harness
    h.amigo.transcripts.append("Book me a table")
    ts = await h.sender.post_file(ALICE, [clip_file(h, "mp4")], text="<@UBOT>")
    await wait_reply_done(h, ts, count=2)

    (create,) = h.amigo.calls_named("create_conversation")
    assert "initial_message" not in create.json  # the agent speaks first
    (interact,) = h.amigo.calls_named("interact")
    assert interact.audio is not None and played_seconds(interact.audio) > 0.8
    assert h.bot_texts(ts) == [
        h.amigo.greeting,
        "_Heard:_ “Book me a table”\n\nEcho: Book me a table",
    ]


async def test_typed_words_with_a_clip_go_first_then_the_clip(harness: Harness) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    h.amigo.transcripts.append("the recording")
    await h.sender.post_file(ALICE, [clip_file(h, "webm")], "about my order", thread_ts=ts)
    await wait_reply_done(h, ts, count=3)

    text, voice = h.amigo.calls_named("interact")
    assert text.form is not None and text.form["recorded_message"] == "about my order"
    assert voice.audio is not None
    assert h.bot_texts(ts)[1:] == [
        "Echo: about my order",
        "_Heard:_ “the recording”\n\nEcho: the recording",
    ]


async def test_a_50_mb_recording_is_refused_before_it_is_fetched(harness: Harness) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    big = h.slack.add_file(
        sine_clip("mp4"), name="meeting.m4a", mimetype="audio/mp4", user=ALICE, size=50_000_000
    )
    await h.sender.post_file(ALICE, [big], thread_ts=ts)

    text = await refused(h, ts, 2)
    assert "“meeting.m4a” is 50.0 MB, more than the 20.0 MB" in text
    assert "shorter clip" in text
    assert h.slack.downloads() == []
    assert h.amigo.calls_named("interact") == []


async def test_a_file_larger_than_it_said_is_not_fetched_past_the_limit(
    harness: Harness,
) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    lying = h.slack.add_file(
        bytes(25_000_000), name="big.webm", mimetype="audio/webm", user=ALICE, size=1000
    )
    await h.sender.post_file(ALICE, [lying], thread_ts=ts)

    text = await refused(h, ts, 2)
    assert "“big.webm” is larger than the 20.0 MB" in text
    assert h.amigo.calls_named("interact") == []


async def test_a_file_that_is_not_audio_is_refused_and_says_why(harness: Harness) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    pdf = h.slack.add_file(
        b"%PDF-1.4 not a recording", name="invoice <1>.pdf", mimetype="application/pdf", user=ALICE
    )
    await h.sender.post_file(ALICE, [pdf], thread_ts=ts)

    text = await refused(h, ts, 2)
    assert "“invoice <1>.pdf” (application/pdf) is not a recording" in text
    assert "type your message" in text
    assert h.slack.downloads() == []
    assert h.amigo.calls_named("interact") == []


async def test_a_damaged_clip_is_refused_after_it_is_fetched(harness: Harness) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    broken = h.slack.add_file(
        b"\x00\x00\x00\x18ftypM4A garbage" * 40,
        name="audio_message.m4a",
        mimetype="audio/mp4",
        user=ALICE,
        subtype="slack_audio",
    )
    await h.sender.post_file(ALICE, [broken], thread_ts=ts)

    text = await refused(h, ts, 2)
    assert "could not be played" in text
    assert len(h.slack.downloads()) == 1
    assert h.amigo.calls_named("interact") == []


async def test_slack_busy_is_tried_again_and_a_refused_download_is_explained(
    harness: Harness,
) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    h.slack.fail_downloads(503)
    await h.sender.post_file(ALICE, [clip_file(h, "mp4")], thread_ts=ts)
    await wait_reply_done(h, ts, count=2)
    assert [d.status for d in h.slack.downloads()] == [503, 200]
    assert len(h.amigo.calls_named("interact")) == 1

    h.slack.fail_downloads(404)
    await h.sender.post_file(ALICE, [clip_file(h, "webm")], thread_ts=ts)
    text = await refused(h, ts, 3)
    assert "Slack would not hand over “audio_message.webm”" in text
    assert [d.status for d in h.slack.downloads()] == [503, 200, 404]
    assert len(h.amigo.calls_named("interact")) == 1
    assert completed(h) == 2


async def test_another_persons_clip_is_not_fetched(harness: Harness) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    await h.sender.post_file(BOB, [clip_file(h, "mp4", user=BOB)], thread_ts=ts)
    await h.wait_for(lambda: h.slack.ephemerals(BOB), what="the not-owner hint")
    await h.settle()
    assert h.slack.downloads() == []
    assert h.amigo.calls_named("interact") == []


@pytest.mark.parametrize("extra_settings", [{"amigo_voice": "off"}])
async def test_with_voice_off_a_clip_is_refused(harness: Harness) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    await h.sender.post_file(ALICE, [clip_file(h, "mp4")], thread_ts=ts)
    text = await refused(h, ts, 2)
    assert "Voice messages are turned off" in text
    assert h.slack.downloads() == []
