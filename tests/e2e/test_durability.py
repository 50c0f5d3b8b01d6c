"""Nothing lost, nothing doubled: Retry, and every Amigo fault with its message and state."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from slackbot.sandbox.amigo_fake import Reply
from slackbot.store.models import ConversationRow as Conversation
from slackbot.store.models import ConversationState, TurnState
from slackbot.store.models import TurnRow as Turn
from slackbot.ui import messages
from slackbot.ui.blocks import RETRY_ACTION
from tests.e2e.conftest import ALICE, BOB, CHANNEL, Harness
from tests.e2e.test_relay import completed, start_thread, wait_reply_done


async def turns(h: Harness) -> list[Turn]:
    async with h.runtime.store.engine.connect() as conn:
        rows = await conn.execute(select(Turn).order_by(Turn.id))
        return [Turn(**row._mapping) for row in rows]


async def conversations(h: Harness) -> list[Conversation]:
    async with h.runtime.store.engine.connect() as conn:
        rows = await conn.execute(select(Conversation).order_by(Conversation.id))
        return [Conversation(**row._mapping) for row in rows]


async def click(
    h: Harness, user: str, action_id: str, value: str, message_ts: str, thread_ts: str
) -> httpx.Response:
    """A button click, with the message as Slack sends it (blocks included)."""
    payload: dict[str, Any] = h.sender.block_action_payload(
        user, action_id, value, channel=CHANNEL, message_ts=message_ts, thread_ts=thread_ts
    )
    shown = h.slack.message(CHANNEL, message_ts)
    assert shown is not None
    payload["message"] |= {"text": shown.text, "blocks": shown.blocks}
    return await h.sender.send_payload(payload)


def retry_value(h: Harness, message_ts: str) -> str:
    shown = h.slack.message(CHANNEL, message_ts)
    assert shown is not None
    for block in shown.blocks or []:
        for element in block.get("elements", []):
            if element.get("action_id") == RETRY_ACTION:
                return str(element["value"])
    raise AssertionError("no Retry button on the reply")


async def interrupted_thread(h: Harness) -> tuple[str, str]:
    """A thread whose second reply was interrupted by an `error` event."""
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    h.amigo.queue_reply(Reply(text="partial words then trouble", pieces=4, error_after=2))
    await h.sender.post_message(ALICE, "please answer", thread_ts=ts)
    await h.wait_for(lambda: "interrupted" in h.bot_texts(ts)[-1], what="interrupted")
    await h.settle()
    return ts, h.bot_replies(ts)[-1].ts


async def test_retry_resends_the_interrupted_message_once(harness: Harness) -> None:
    h = harness
    ts, reply_ts = await interrupted_thread(h)
    value = retry_value(h, reply_ts)
    h.amigo.queue_reply(Reply(text="A full answer this time.", pieces=2))

    assert (await click(h, ALICE, RETRY_ACTION, value, reply_ts, ts)).status_code == 200
    await h.wait_for(lambda: completed(h) == 2, what="the retried reply")
    await h.settle()
    assert h.bot_texts(ts)[-1] == "A full answer this time."
    sent = [c.form["recorded_message"] for c in h.amigo.calls_named("interact") if c.form]
    assert sent == ["please answer", "please answer"]
    assert RETRY_ACTION not in str(h.slack.message(CHANNEL, reply_ts).blocks)

    # A second click (the old payload) and another user's click send nothing.
    await click(h, ALICE, RETRY_ACTION, value, reply_ts, ts)
    await click(h, BOB, RETRY_ACTION, value, reply_ts, ts)
    await h.wait_for(lambda: h.slack.ephemerals(user=BOB), what="refusal")
    await h.settle()
    assert len(h.amigo.calls_named("interact")) == 2
    assert f"<@{ALICE}>" in h.slack.ephemerals(user=BOB)[0].text
    assert h.slack.ephemerals(user=ALICE)


async def test_409_operation_in_progress_is_retried(harness: Harness) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    busy = {"detail": "A related operation is in progress."}
    h.amigo.fail_next("interact", status=409, body=busy, retry_after=1)
    h.amigo.queue_reply(Reply(text="After the wait.", pieces=2))
    await h.sender.post_message(ALICE, "now?", thread_ts=ts)
    await wait_reply_done(h, ts, count=2)
    assert [c.status for c in h.amigo.calls_named("interact")] == [409, 200]
    assert h.bot_texts(ts)[-1] == "After the wait."
    assert [t.state for t in await turns(h)] == [TurnState.DONE, TurnState.DONE]


async def test_409_on_a_finished_conversation_marks_it_finished(harness: Harness) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    h.amigo.fail_next(
        "interact", status=409, body={"detail": "The conversation is already finished."}
    )
    await h.sender.post_message(ALICE, "still there?", thread_ts=ts)
    await h.wait_for(
        lambda: messages.CONVERSATION_COMPLETED in h.bot_texts(ts)[-1], what="finished note"
    )
    await h.settle()
    assert (await conversations(h))[0].state == ConversationState.FINISHED
    assert (await turns(h))[-1].state == TurnState.FAILED
    await h.sender.post_message(ALICE, "hello?", thread_ts=ts)
    await h.wait_for(lambda: h.slack.ephemerals(user=ALICE), what="hint")
    await h.settle()
    assert len(h.amigo.calls_named("interact")) == 1


async def test_an_unfinished_conversation_unknown_here_is_finished_then_create_succeeds(
    harness: Harness,
) -> None:
    h = harness
    # Alice talks to Amigo once, then this app forgets (a new database, say).
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    (old,) = await conversations(h)
    async with h.runtime.store.engine.begin() as conn:
        await conn.execute(Turn.__table__.delete())
        await conn.execute(Conversation.__table__.delete())

    again = await h.sender.post_mention(ALICE, "<@UBOT> a fresh start")
    await h.wait_for(lambda: completed(h) == 2, what="second conversation")
    await h.settle()
    creates = h.amigo.calls_named("create_conversation")
    assert [c.status for c in creates] == [201, 400, 201]
    assert len(h.amigo.calls_named("get_conversations")) == 1
    assert [c.path.split("/")[-3] for c in h.amigo.calls_named("finish")] == [
        old.amigo_conversation_id
    ]
    assert h.bot_replies(again)
    (fresh,) = await conversations(h)
    assert fresh.state == ConversationState.ACTIVE


async def test_amigo_unreachable_is_retried_then_explained(harness: Harness) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    h.amigo.stop()  # connections are refused from now on
    await h.sender.post_message(ALICE, "anyone?", thread_ts=ts)
    await h.wait_for(
        lambda: messages.REPLY_FAILED_UNREACHABLE in h.bot_texts(ts)[-1],
        timeout=20,
        what="unreachable message",
    )
    await h.settle()
    assert (await turns(h))[-1].state == TurnState.FAILED


@pytest.fixture
def extra_settings() -> dict[str, object]:
    return {"amigo_stream_idle_timeout_seconds": 0.5}


async def test_a_silent_stream_is_cut_after_the_idle_timeout_and_sent_again(
    harness: Harness,
) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    h.amigo.queue_reply(Reply(text="slow and then silent", pieces=3, delay=2.0))
    await h.sender.post_message(ALICE, "take your time", thread_ts=ts)
    # Cut for silence; Amigo kept nothing of it, so the message goes once more.
    await h.wait_for(
        lambda: h.bot_texts(ts)[-1] == "Echo: take your time", timeout=20, what="the answer"
    )
    await h.settle()
    sent = [c.form["recorded_message"] for c in h.amigo.calls_named("interact") if c.form]
    assert sent.count("take your time") == 2
    assert (await turns(h))[-1].state == TurnState.DONE


async def test_an_answer_amigo_committed_before_going_silent_is_shown_not_asked_again(
    harness: Harness,
) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    h.amigo.queue_reply(Reply(text="Kept by Amigo.", pieces=2, silent_after_commit=True))
    await h.sender.post_message(ALICE, "answer me", thread_ts=ts)
    await h.wait_for(
        lambda: h.bot_texts(ts)[-1] == "Kept by Amigo.", timeout=20, what="the kept answer"
    )
    await h.settle()
    sent = [c.form["recorded_message"] for c in h.amigo.calls_named("interact") if c.form]
    assert sent.count("answer me") == 1
    assert (await turns(h))[-1].state == TurnState.DONE
    assert RETRY_ACTION not in str(h.bot_replies(ts)[-1].blocks)


async def test_a_malformed_line_is_skipped_and_the_reply_completes(harness: Harness) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    h.amigo.queue_reply(
        Reply(text="Despite the noise.", pieces=2, extra_lines=["{not json", {"type": "new-kind"}])
    )
    await h.sender.post_message(ALICE, "noise?", thread_ts=ts)
    await wait_reply_done(h, ts, count=2)
    assert h.bot_texts(ts)[-1] == "Despite the noise."
    assert (await turns(h))[-1].state == TurnState.DONE


async def test_the_same_message_can_be_retried_again_and_again(harness: Harness) -> None:
    h = harness
    ts, reply_ts = await interrupted_thread(h)
    for attempt in range(1, 6):
        # Every retry is cut again, until the sixth try goes through.
        last = attempt == 5
        reply = Reply(text="Finally, a whole answer.", pieces=2)
        h.amigo.queue_reply(reply if last else Reply(text="cut again", pieces=2, error_after=1))
        value = retry_value(h, reply_ts)
        assert (await click(h, ALICE, RETRY_ACTION, value, reply_ts, ts)).status_code == 200
        sends = attempt + 1
        await h.wait_for(
            lambda sends=sends: len(h.amigo.calls_named("interact")) == sends,  # type: ignore[misc]
            what=f"retry {attempt}",
        )
        await h.settle()
        reply_ts = h.bot_replies(ts)[-1].ts
    assert h.bot_texts(ts)[-1] == "Finally, a whole answer."
    sent = [c.form["recorded_message"] for c in h.amigo.calls_named("interact") if c.form]
    assert sent == ["please answer"] * 6
    attempts = sorted(t.attempt for t in await turns(h) if t.text == "please answer")
    assert attempts == [0, 1, 2, 3, 4, 5]
