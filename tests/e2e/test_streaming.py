"""Replies that appear at once: Slack's native streaming, the thread's live status,
and a writer chosen per reply from the Slack budgets (through the real app and the
sandbox's fake Slack, which enforces Slack's documented budgets and errors)."""

from __future__ import annotations

from typing import Any

import pytest

from slackbot.sandbox.amigo_fake import Reply
from slackbot.sandbox.slack_fake import message_text
from tests.e2e.conftest import ALICE, CHANNEL, Harness
from tests.e2e.test_relay import completed, wait_reply_done

ANSWER = (
    "Streaming answers grow in place, piece by piece, until the whole of this sentence is there."
)
TOOL_STARTED = {
    "type": "tool-call-started",
    "tool_round_index": 0,
    "tool_id": "65f0c0ffee0000000000aa01",
    "tool_version": "1",
    "input_params": {},
}
TOOL_ENDED = {
    "type": "tool-call-ended",
    "tool_round_index": 0,
    "tool_id": "65f0c0ffee0000000000aa01",
    "tool_version": "1",
    "input_parameters": {},
    "result": "ok",
    "duration": 0.2,
}


@pytest.fixture
def extra_settings() -> dict[str, Any]:
    return {"slack_reply_writer": "auto"}


async def ask(h: Harness, reply: Reply, text: str = "<@UBOT> stream please") -> str:
    h.amigo.queue_reply(reply)
    before = completed(h)
    ts = await h.sender.post_mention(ALICE, text)
    await wait_reply_done(h, ts, before + 1)
    return ts


async def test_a_reply_streams_natively_and_ends_with_its_footer(harness: Harness) -> None:
    h = harness
    ts = await ask(h, Reply(text=ANSWER, pieces=6, delay=0.35, kind="create"))
    starts = h.slack.calls_named("chat.startStream", ok=True)
    appends = h.slack.calls_named("chat.appendStream", ok=True)
    stops = h.slack.calls_named("chat.stopStream", ok=True)
    assert len(starts) == 1 and len(stops) == 1
    assert len(appends) >= 2, "the text should grow in place while Amigo writes"
    assert starts[0].args["recipient_user_id"] == ALICE
    assert starts[0].args["recipient_team_id"] == h.slack.team_id
    assert starts[0].args["thread_ts"] == ts
    assert any(b.get("type") == "actions" for b in stops[0].args.get("blocks") or [])
    [reply] = h.bot_replies(ts)
    assert reply.streamed and not reply.streaming
    assert message_text(reply) == ANSWER
    assert len({v.text for v in reply.history}) >= 3  # seen growing
    assert not h.slack.calls_named("chat.update")  # no placeholder was edited


@pytest.mark.parametrize(
    "error",
    [
        "feature_not_enabled",
        "method_deprecated",
        "unknown_method",
        "not_allowed_token_type",
        "missing_scope",
    ],
)
async def test_a_workspace_without_streaming_gets_edited_replies_until_restart(
    harness: Harness, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    h.slack.refuse_streaming(error)
    first = await ask(h, Reply(text=ANSWER, pieces=4, delay=0.1, kind="create"))
    assert [message_text(m) for m in h.bot_replies(first)] == [ANSWER]
    assert len(h.slack.calls_named("chat.startStream")) == 1
    h.amigo.queue_reply(Reply(text="Second answer.", kind="interact"))
    before = completed(h)
    await h.sender.post_message(ALICE, "and again", thread_ts=first)
    await wait_reply_done(h, first, before + 1)
    assert message_text(h.bot_replies(first)[-1]) == "Second answer."
    assert len(h.slack.calls_named("chat.startStream")) == 1, "asked to stream again"
    assert f"refused native streaming in this workspace ({error})" in caplog.text


async def test_a_stream_slack_closed_mid_reply_still_ends_with_the_whole_answer(
    harness: Harness,
) -> None:
    h = harness
    reply = Reply(text=ANSWER, pieces=6, delay=0.3, hold_after=2, kind="create")
    h.amigo.queue_reply(reply)
    ts = await h.sender.post_mention(ALICE, "<@UBOT> stream please")
    streamed = await h.wait_for(
        lambda: h.slack.calls_named("chat.startStream", ok=True), what="the stream"
    )
    h.slack.end_stream(CHANNEL, str(streamed[0].response["ts"]))
    reply.release()
    await wait_reply_done(h, ts)
    texts = [message_text(m) for m in h.bot_replies(ts)]
    assert texts == [ANSWER]
    assert h.slack.calls_named("chat.appendStream", ok=False) or h.slack.calls_named(
        "chat.stopStream", ok=False
    )


async def test_agent_steps_show_as_the_threads_status_until_the_text_starts(
    harness: Harness,
) -> None:
    h = harness
    ts = await ask(
        h,
        # A tool call that takes a while: the step shows once the channel's status budget
        # has calls beyond the two it keeps for other replies' first statuses.
        Reply(text=ANSWER, pieces=3, think=2.5, actions=[TOOL_STARTED, TOOL_ENDED], kind="create"),
    )
    history = h.slack.status_history(CHANNEL, ts)
    shown = [s for s in history if s.status]
    assert shown, "no status while the agent worked"
    words = [m for s in shown for m in s.loading_messages]
    assert any("tool" in w.lower() for w in words), words
    assert all(len(s.loading_messages) <= 10 for s in shown)
    assert h.slack.status(CHANNEL, ts) is None, "the status outlived the reply"
    assert history[-1].cleared_by in ("chat.startStream", "chat.postMessage", None)


@pytest.mark.parametrize(
    "extra_settings", [{"amigo_show_agent_steps": "tasks", "slack_reply_writer": "auto"}]
)
async def test_in_tasks_mode_tool_calls_show_as_task_updates_in_the_stream(
    harness: Harness,
) -> None:
    h = harness
    ts = await ask(
        h,
        Reply(text=ANSWER, pieces=3, think=0.3, actions=[TOOL_STARTED, TOOL_ENDED], kind="create"),
    )
    [reply] = h.bot_replies(ts)
    assert reply.tasks, "no task updates in the stream"
    assert {t.status for t in reply.tasks.values()} == {"complete"}
    assert message_text(reply) == ANSWER


@pytest.mark.parametrize(
    "extra_settings", [{"amigo_show_agent_steps": "off", "slack_reply_writer": "auto"}]
)
async def test_with_steps_off_people_see_only_that_the_agent_thinks(harness: Harness) -> None:
    h = harness
    ts = await ask(
        h,
        Reply(text=ANSWER, pieces=3, think=0.3, actions=[TOOL_STARTED, TOOL_ENDED], kind="create"),
    )
    words = [m for s in h.slack.status_history(CHANNEL, ts) for m in s.loading_messages]
    assert not any("tool" in w.lower() for w in words)
    assert not h.bot_replies(ts)[0].tasks
