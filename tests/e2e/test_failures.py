"""When Slack or Amigo misbehave, the thread says what happened in plain words."""

from __future__ import annotations

import logging

import pytest

from slackbot.sandbox.amigo_fake import Reply
from slackbot.store.models import ConversationState, TurnState
from slackbot.ui import messages
from tests.e2e.conftest import ALICE, BOB, Harness
from tests.e2e.test_durability import conversations, turns
from tests.e2e.test_relay import completed, start_thread, wait_reply_done


async def test_amigo_429_is_retried_after_retry_after_while_the_placeholder_waits(
    harness: Harness,
) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    h.amigo.fail_next("interact", status=429, retry_after=1)
    h.amigo.queue_reply(Reply(text="Worth the wait.", pieces=2))
    await h.sender.post_message(ALICE, "are you busy?", thread_ts=ts)
    await wait_reply_done(h, ts, count=2)

    assert [c.status for c in h.amigo.calls_named("interact")] == [429, 200]
    reply = h.bot_replies(ts)[-1]
    shown = [v.text for v in reply.history]
    assert any("trying again in 1 s" in t for t in shown), shown
    assert h.bot_texts(ts)[-1] == "Worth the wait."
    assert [t.state for t in await turns(h)] == [TurnState.DONE, TurnState.DONE]


async def test_amigo_503_on_create_is_retried_then_the_conversation_starts(
    harness: Harness,
) -> None:
    h = harness
    h.amigo.fail_next("create_conversation", status=503, times=2)
    ts = await h.sender.post_mention(ALICE, "<@UBOT> hello")
    await h.wait_for(lambda: completed(h) == 1, what="reply after two 503s")
    await h.settle()
    assert [c.status for c in h.amigo.calls_named("create_conversation")] == [503, 503, 201]
    assert len(h.bot_replies(ts)) == 1
    assert [t.state for t in await turns(h)] == [TurnState.DONE]


async def busy_start(h: Harness) -> str:
    """A mention whose create Amigo refuses as busy past every retry; the thread's ts."""
    h.amigo.fail_next("create_conversation", status=503, times=4)
    ts = await h.sender.post_mention(ALICE, "<@UBOT> hello")
    await h.wait_for(
        lambda: messages.REPLY_FAILED_BUSY in "".join(h.bot_texts(ts)), what="busy message"
    )
    await h.settle()
    return ts


async def test_amigo_busy_beyond_the_retries_says_so_and_a_new_mention_works(
    harness: Harness,
) -> None:
    h = harness
    ts = await busy_start(h)
    assert len(h.amigo.calls_named("create_conversation")) == 4  # first try + 3 retries
    assert [t.state for t in await turns(h)] == [TurnState.FAILED]
    (gave_up,) = await conversations(h)
    assert gave_up.state == ConversationState.STARTING  # it starts when Retry is pressed
    assert "amigo_retry" in str(h.bot_replies(ts)[-1].blocks)

    again = await h.sender.post_mention(ALICE, "<@UBOT> hello again")
    await h.wait_for(lambda: completed(h) == 1, what="second try")
    assert h.bot_replies(again)


async def test_rejected_credentials_tell_the_user_the_app_is_misconfigured(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    h.amigo.fail_next("signin", status=401)
    ts = await h.sender.post_mention(ALICE, "<@UBOT> hello")
    await h.wait_for(
        lambda: messages.REPLY_FAILED_MISCONFIGURED in "".join(h.bot_texts(ts)),
        what="misconfigured message",
    )
    await h.settle()
    assert h.amigo.calls_named("create_conversation") == []
    assert "refused" in caplog.text


async def test_a_403_on_interact_is_explained_not_retried(harness: Harness) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    h.amigo.fail_next("interact", status=403)
    await h.sender.post_message(ALICE, "hello?", thread_ts=ts)
    await h.wait_for(
        lambda: messages.REPLY_FAILED_MISCONFIGURED in h.bot_texts(ts)[-1], what="explanation"
    )
    await h.settle()
    assert len(h.amigo.calls_named("interact")) == 1


async def test_a_stream_cut_mid_reply_is_settled_with_amigo_and_sent_again(
    harness: Harness,
) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    h.amigo.queue_reply(Reply(text="alpha beta gamma delta", pieces=4, cut_after=2))
    await h.sender.post_message(ALICE, "tell me", thread_ts=ts)
    # Amigo kept nothing of the cut interaction, so the message goes once more.
    await h.wait_for(lambda: h.bot_texts(ts)[-1] == "Echo: tell me", what="the answer")
    await h.settle()
    sent = [c.form["recorded_message"] for c in h.amigo.calls_named("interact") if c.form]
    assert sent == ["tell me", "tell me"]
    assert len(h.amigo.calls_named("get_messages")) == 1
    assert (await turns(h))[-1].state == TurnState.DONE

    h.amigo.queue_reply(Reply(text="Fine again.", pieces=1))
    await h.sender.post_message(ALICE, "again", thread_ts=ts)
    await h.wait_for(lambda: h.bot_texts(ts)[-1] == "Fine again.", what="next reply")


async def test_slack_rate_limits_on_edits_are_waited_out(harness: Harness) -> None:
    h = harness
    h.slack.fail_next("chat.update", "ratelimited", retry_after=1, times=2)
    text = "A reply whose edits meet Slack's rate limit on the way."
    h.amigo.queue_reply(Reply(text=text, pieces=5, delay=0.1, kind="create"))
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    assert h.slack.rate_limited_count("chat.update") == 2
    assert h.bot_texts(ts) == [text]


async def test_an_empty_mention_lets_the_agent_speak_first(harness: Harness) -> None:
    h = harness
    ts = await h.sender.post_mention(ALICE, "<@UBOT>")
    await h.wait_for(lambda: completed(h) == 1, what="greeting")
    await h.settle()
    (create,) = h.amigo.calls_named("create_conversation")
    assert "initial_message" not in create.json
    assert h.bot_texts(ts) == [h.amigo.greeting]


async def test_a_top_level_dm_starts_a_conversation(harness: Harness) -> None:
    h = harness
    ts = await h.sender.post_message(ALICE, "hi in private", channel="D0DM", channel_type="im")
    await h.wait_for(lambda: completed(h) == 1, what="dm reply")
    await h.settle()
    (create,) = h.amigo.calls_named("create_conversation")
    assert create.json["initial_message"] == "hi in private"
    assert h.bot_replies(ts, channel="D0DM")


async def test_slack_markup_reaches_amigo_as_plain_text(harness: Harness) -> None:
    h = harness
    await h.sender.post_mention(
        ALICE, f"<@UBOT> ask <@{BOB}> about <https://docs.example.com|the docs> &amp; more"
    )
    await h.wait_for(lambda: completed(h) == 1, what="reply")
    await h.settle()
    (create,) = h.amigo.calls_named("create_conversation")
    assert create.json["initial_message"] == (
        "ask @Bob Builder about the docs (https://docs.example.com) & more"
    )


async def test_no_secret_reaches_the_logs(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    caplog.set_level(logging.DEBUG)
    h.amigo.fail_next("interact", status=401)
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    await h.sender.post_message(ALICE, "more", thread_ts=ts)
    await wait_reply_done(h, ts, count=2)
    logged = caplog.text
    assert logged
    for secret in h.runtime.settings.secrets():
        assert secret not in logged
