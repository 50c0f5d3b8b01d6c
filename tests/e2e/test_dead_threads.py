"""A thread whose start went wrong is never dead: it is answered, or it says so and Retry
works, and the replies after it still reach Amigo in order."""

from __future__ import annotations

import pytest

from slackbot.sandbox.amigo_fake import Reply
from slackbot.store.models import ConversationState, TurnState
from tests.e2e.conftest import ALICE, Harness
from tests.e2e.test_durability import click, conversations, retry_value, turns
from tests.e2e.test_failures import busy_start
from tests.e2e.test_relay import completed


def sent_texts(h: Harness) -> list[str]:
    """What reached Amigo as the person's words, creates and replies in order."""
    texts = []
    for call in h.amigo.calls:
        if call.name == "create_conversation" and call.status == 201 and call.json:
            texts.append(call.json.get("initial_message"))
        elif call.name == "interact" and call.status == 200 and call.form:
            texts.append(call.form["recorded_message"])
    return texts


@pytest.mark.parametrize("status", [200, 500], ids=["refused", "server-error"])
async def test_a_failed_profile_lookup_does_not_stop_the_start(
    harness: Harness, status: int
) -> None:
    h = harness
    # ``internal_error`` with 200 is Slack saying no; a 500 is Slack failing, and comes back.
    h.slack.fail_next("users.info", "internal_error", status=status, times=2)
    ts = await h.sender.post_mention(ALICE, "<@UBOT> hello")
    await h.wait_for(lambda: completed(h) == 1, timeout=20, what="the first answer")
    await h.settle()
    assert h.bot_texts(ts) == ["Echo: hello"]
    await h.sender.post_message(ALICE, "and again", thread_ts=ts)
    await h.wait_for(lambda: completed(h) == 2, what="the second answer")
    await h.settle()
    assert h.bot_texts(ts)[-1] == "Echo: and again"
    assert sent_texts(h) == ["hello", "and again"]


@pytest.fixture
def extra_settings() -> dict[str, object]:
    return {"amigo_stream_idle_timeout_seconds": 0.5}


async def test_a_create_that_hangs_is_settled_then_answered_and_the_thread_goes_on(
    harness: Harness,
) -> None:
    h = harness
    # Amigo creates the conversation, then says nothing for longer than the idle timeout.
    h.amigo.queue_reply(Reply(text="never finished", pieces=2, think=3.0, kind="create"))
    ts = await h.sender.post_mention(ALICE, "<@UBOT> hello")
    await h.sender.post_message(ALICE, "are you there?", thread_ts=ts)
    await h.wait_for(
        lambda: h.bot_texts(ts)[-1:] == ["Echo: hello\n\nare you there?"],
        timeout=20,
        what="the answer after the hang",
    )
    await h.settle()
    # Amigo kept nothing of the first try: the first message goes again, once, as a reply to
    # the conversation that exists, with the message that waited behind it.
    assert len(h.amigo.calls_named("create_conversation")) == 1
    assert sent_texts(h) == ["hello", "hello\n\nare you there?"]
    assert [c.state for c in await conversations(h)] == [ConversationState.ACTIVE]
    await h.sender.post_message(ALICE, "thanks", thread_ts=ts)
    await h.wait_for(lambda: h.bot_texts(ts)[-1] == "Echo: thanks", what="the next answer")


async def test_a_create_amigo_committed_before_going_silent_is_shown_not_sent_again(
    harness: Harness,
) -> None:
    h = harness
    h.amigo.queue_reply(
        Reply(text="Kept at the start.", pieces=2, silent_after_commit=True, kind="create")
    )
    ts = await h.sender.post_mention(ALICE, "<@UBOT> hello")
    await h.wait_for(
        lambda: h.bot_texts(ts) == ["Kept at the start."], timeout=20, what="the kept answer"
    )
    await h.settle()
    assert sent_texts(h) == ["hello"]
    assert [t.state for t in await turns(h)] == [TurnState.DONE]


async def test_retry_after_a_start_amigo_refused_starts_it_and_the_reply_behind_goes_next(
    harness: Harness,
) -> None:
    h = harness
    ts = await busy_start(h)
    # The thread is not dead: a reply waits behind the first message, in its place.
    await h.sender.post_message(ALICE, "still there?", thread_ts=ts)
    await h.settle()
    assert [t.state for t in await turns(h)] == [TurnState.FAILED, TurnState.QUEUED]
    assert not h.amigo.calls_named("interact")

    notice = h.bot_replies(ts)[-1]
    assert (
        await click(h, ALICE, "amigo_retry", retry_value(h, notice.ts), notice.ts, ts)
    ).is_success
    await h.wait_for(lambda: completed(h) == 2, timeout=20, what="both answers")
    await h.settle()
    assert sent_texts(h) == ["hello", "still there?"]
    assert h.bot_texts(ts)[-2:] == ["Echo: hello", "Echo: still there?"]
    # The failed attempt stays on record; the retried message and the reply are done.
    assert [t.state for t in await turns(h)] == [TurnState.FAILED, TurnState.DONE, TurnState.DONE]


async def test_a_dm_reply_that_overtakes_its_root_is_answered_after_it(harness: Harness) -> None:
    h = harness
    root = h.sender.new_ts()
    # Slack delivers the thread reply first, then the message that starts the thread.
    await h.sender.post_message(ALICE, "second", channel="D0DM", channel_type="im", thread_ts=root)
    await h.settle()
    assert not h.amigo.calls_named("create_conversation")
    await h.sender.post_message(ALICE, "first", channel="D0DM", channel_type="im", ts=root)
    await h.wait_for(lambda: completed(h) == 2, timeout=20, what="both answers")
    await h.settle()
    assert sent_texts(h) == ["first", "second"]
    assert h.bot_texts(root, channel="D0DM") == ["Echo: first", "Echo: second"]
