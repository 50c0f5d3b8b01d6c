"""FakeSlack's agent features (thread status, streaming rules, documented rate limits),
driven through slack_sdk's real AsyncWebClient."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.models.messages.chunk import MarkdownTextChunk, PlanUpdateChunk, TaskUpdateChunk
from slack_sdk.web.async_client import AsyncWebClient

from slackbot.sandbox.slack_fake import (
    DOCUMENTED_LIMITS,
    MAX_MARKDOWN_CHARS,
    STREAMING_REFUSALS,
    FakePrompt,
    FakeSlack,
    FakeStatus,
    message_text,
)

THREAD = "1700000000.000005"
OTHER_THREAD = "1700000000.000105"
RECIPIENT = {"recipient_user_id": "U1", "recipient_team_id": "T0TEST"}


async def error_of(web_client: AsyncWebClient, method: str, **args: Any) -> str:
    """The error ``method`` answers ``args`` (JSON body) with; fails if it succeeds."""
    with pytest.raises(SlackApiError) as err:
        await web_client.api_call(method, json=args)
    return str(err.value.response["error"])


async def start(web_client: AsyncWebClient, channel: str = "C1", **args: Any) -> str:
    resp = await web_client.chat_startStream(
        channel=channel,
        thread_ts=THREAD,
        recipient_user_id="U1",
        recipient_team_id="T0TEST",
        **args,
    )
    return str(resp["ts"])


# --------------------------------------------------------------------------- thread status


async def test_status_set_auto_clear_and_history(
    fake_slack: FakeSlack, web_client: AsyncWebClient
) -> None:
    await web_client.assistant_threads_setStatus(
        channel_id="C1", thread_ts=THREAD, status="is thinking…", loading_messages=["a", "b"]
    )
    current = fake_slack.status("C1", THREAD)
    assert current is not None
    assert (current.status, current.loading_messages, current.cleared_by) == (
        "is thinking…",
        ("a", "b"),
        None,
    )
    assert fake_slack.status("C1", OTHER_THREAD) is None
    assert fake_slack.status("C2", THREAD) is None

    # Posts elsewhere (another thread, the channel itself, another channel) leave it be.
    await web_client.chat_postMessage(channel="C1", text="x", thread_ts=OTHER_THREAD)
    await web_client.chat_postMessage(channel="C1", text="top level")
    await web_client.chat_postMessage(channel="C2", text="x", thread_ts=THREAD)
    assert fake_slack.status("C1", THREAD) == current

    # The app's post in the thread clears it, as Slack does.
    await web_client.chat_postMessage(channel="C1", text="answer", thread_ts=THREAD)
    assert fake_slack.status("C1", THREAD) is None
    history = fake_slack.status_history("C1", THREAD)
    assert [(s.status, s.cleared_by) for s in history] == [
        ("is thinking…", None),
        ("", "chat.postMessage"),
    ]
    # Nothing to clear: a second post adds nothing.
    await web_client.chat_postMessage(channel="C1", text="more", thread_ts=THREAD)
    assert len(fake_slack.status_history("C1", THREAD)) == 2

    # Starting a stream in the thread clears it too.
    await web_client.assistant_threads_setStatus(
        channel_id="C1", thread_ts=THREAD, status="is searching…"
    )
    assert fake_slack.status("C1", THREAD) == FakeStatus(
        "is searching…", (), fake_slack.status_history("C1", THREAD)[-1].at
    )
    await start(web_client)
    assert fake_slack.status("C1", THREAD) is None
    assert fake_slack.status_history("C1", THREAD)[-1].cleared_by == "chat.startStream"

    # An explicit clear is recorded as such.
    await web_client.assistant_threads_setStatus(channel_id="C1", thread_ts=THREAD, status="hm")
    await web_client.assistant_threads_setStatus(channel_id="C1", thread_ts=THREAD, status="")
    assert fake_slack.status("C1", THREAD) is None
    history = fake_slack.status_history("C1", THREAD)
    assert [(s.status, s.cleared_by) for s in history] == [
        ("is thinking…", None),
        ("", "chat.postMessage"),
        ("is searching…", None),
        ("", "chat.startStream"),
        ("hm", None),
        ("", None),
    ]
    assert [s.at for s in history] == sorted(s.at for s in history)

    # Readers return copies.
    history.clear()
    assert len(fake_slack.status_history("C1", THREAD)) == 6


async def test_status_form_encoded(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    await web_client.api_call(
        "assistant.threads.setStatus",
        data={
            "channel_id": "D1",
            "thread_ts": THREAD,
            "status": "is typing…",
            "loading_messages": '["one", "two"]',
        },
    )
    status = fake_slack.status("D1", THREAD)
    assert status is not None and status.loading_messages == ("one", "two")
    await web_client.api_call(
        "assistant.threads.setStatus",
        data={"channel_id": "D1", "thread_ts": THREAD, "status": ""},
    )
    assert fake_slack.status("D1", THREAD) is None


async def test_status_argument_errors(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    method = "assistant.threads.setStatus"
    ok = {"channel_id": "C1", "thread_ts": THREAD, "status": "is thinking…"}
    assert await error_of(web_client, method, thread_ts=THREAD, status="x") == "channel_not_found"
    assert await error_of(web_client, method, channel_id="C1", status="x") == "invalid_thread_ts"
    bad_ts = {**ok, "thread_ts": "yesterday"}
    assert await error_of(web_client, method, **bad_ts) == "invalid_thread_ts"
    no_status = {"channel_id": "C1", "thread_ts": THREAD}
    assert await error_of(web_client, method, **no_status) == "invalid_arguments"
    eleven = [f"m{i}" for i in range(11)]
    assert await error_of(web_client, method, **ok, loading_messages=eleven) == (
        "invalid_arguments"
    )
    assert await error_of(web_client, method, **ok, loading_messages=["a", 2]) == (
        "invalid_arguments"
    )
    assert fake_slack.status_history("C1", THREAD) == []

    await web_client.assistant_threads_setStatus(**ok, loading_messages=eleven[:10])
    status = fake_slack.status("C1", THREAD)
    assert status is not None and len(status.loading_messages) == 10


async def test_title_and_suggested_prompts(
    fake_slack: FakeSlack, web_client: AsyncWebClient
) -> None:
    await web_client.assistant_threads_setTitle(channel_id="D1", thread_ts=THREAD, title="Q3 plan")
    [title] = fake_slack.thread_titles("D1", THREAD)
    assert (title.channel, title.thread_ts, title.title) == ("D1", THREAD, "Q3 plan")
    assert fake_slack.thread_titles("D1", OTHER_THREAD) == []
    method = "assistant.threads.setTitle"
    assert await error_of(web_client, method, channel_id="D1", thread_ts=THREAD) == (
        "invalid_arguments"
    )
    assert await error_of(web_client, method, thread_ts=THREAD, title="t") == "channel_not_found"
    assert await error_of(web_client, method, channel_id="D1", title="t") == "invalid_thread_ts"

    prompt = {"title": "Summarize", "message": "Summarize this channel"}
    await web_client.assistant_threads_setSuggestedPrompts(
        channel_id="D1", thread_ts=THREAD, prompts=[prompt], title="Try:"
    )
    [recorded] = fake_slack.suggested_prompts("D1")
    assert recorded.prompts == (FakePrompt("Summarize", "Summarize this channel"),)
    assert recorded.title == "Try:"

    method = "assistant.threads.setSuggestedPrompts"
    base = {"channel_id": "D1", "thread_ts": THREAD}
    for prompts in ([], [prompt] * 5, [{"title": "no message"}], ["text"], "nope"):
        assert await error_of(web_client, method, **base, prompts=prompts) == "invalid_arguments"
    # Without a thread the prompts are the DM's own (Slack's agent view).
    await web_client.assistant_threads_setSuggestedPrompts(channel_id="D1", prompts=[prompt])
    assert [p.thread_ts for p in fake_slack.suggested_prompts("D1")][-1] is None
    assert await error_of(web_client, method, channel_id="D1", thread_ts="x", prompts=[prompt]) == (
        "invalid_thread_ts"
    )
    assert await error_of(web_client, method, thread_ts=THREAD, prompts=[prompt]) == (
        "channel_not_found"
    )
    await web_client.assistant_threads_setSuggestedPrompts(**base, prompts=[prompt] * 4)
    assert [len(p.prompts) for p in fake_slack.suggested_prompts("D1", THREAD)] == [1, 4]


# --------------------------------------------------------------------------- streaming


async def test_stream_recipient_required_outside_dms(
    fake_slack: FakeSlack, web_client: AsyncWebClient
) -> None:
    method = "chat.startStream"
    for channel in ("C1", "G1"):
        assert await error_of(web_client, method, channel=channel, thread_ts=THREAD) == (
            "missing_recipient_user_id"
        )
        only_user = {"channel": channel, "thread_ts": THREAD, "recipient_user_id": "U1"}
        assert await error_of(web_client, method, **only_user) == "missing_recipient_team_id"
        only_team = {"channel": channel, "thread_ts": THREAD, "recipient_team_id": "T0TEST"}
        assert await error_of(web_client, method, **only_team) == "missing_recipient_user_id"
    assert await error_of(web_client, method, channel="D1", markdown_text="x") == (
        "invalid_arguments"  # thread_ts is required everywhere
    )
    assert fake_slack.messages() == []

    dm = await web_client.chat_startStream(channel="D1", thread_ts=THREAD, markdown_text="hi")
    in_channel = await start(web_client, markdown_text="hi")
    assert fake_slack.message("D1", dm["ts"]) is not None
    assert fake_slack.message("C1", in_channel) is not None


async def test_stream_markdown_limit(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    too_long = "a" * (MAX_MARKDOWN_CHARS + 1)
    start_args = {"channel": "C1", "thread_ts": THREAD, **RECIPIENT}
    assert await error_of(web_client, "chat.startStream", **start_args, markdown_text=too_long) == (
        "msg_too_long"
    )
    ts = await start(web_client, markdown_text="a" * MAX_MARKDOWN_CHARS)
    append = {"channel": "C1", "ts": ts}
    assert await error_of(web_client, "chat.appendStream", **append, markdown_text=too_long) == (
        "msg_too_long"
    )
    await web_client.chat_appendStream(channel="C1", ts=ts, markdown_text="b" * MAX_MARKDOWN_CHARS)
    msg = fake_slack.message("C1", ts)
    assert msg is not None and len(msg.text) == 2 * MAX_MARKDOWN_CHARS


@pytest.mark.parametrize(
    "chunks",
    [
        ["text"],
        [{"text": "no type"}],
        [{"type": "reasoning", "text": "unknown type"}],
        [{"type": "markdown_text"}],
        [{"type": "task_update", "id": "t1", "title": "Search", "status": "done"}],
        [{"type": "task_update", "title": "Search", "status": "pending"}],
        [{"type": "task_update", "id": "t1", "status": "pending"}],
        [{"type": "plan_update"}],
        [{"type": "blocks", "blocks": {"type": "divider"}}],
        {"type": "markdown_text", "text": "not a list"},
    ],
)
async def test_invalid_chunks(
    fake_slack: FakeSlack, web_client: AsyncWebClient, chunks: Any
) -> None:
    start_args = {"channel": "C1", "thread_ts": THREAD, **RECIPIENT}
    assert await error_of(web_client, "chat.startStream", **start_args, chunks=chunks) == (
        "invalid_chunks"
    )
    assert fake_slack.messages() == []
    ts = await start(web_client, markdown_text="so far")
    for method in ("chat.appendStream", "chat.stopStream"):
        good = {"type": "markdown_text", "text": " ignored"}
        mixed = [good, *chunks] if isinstance(chunks, list) else chunks
        assert await error_of(web_client, method, channel="C1", ts=ts, chunks=mixed) == (
            "invalid_chunks"
        )
    msg = fake_slack.message("C1", ts)
    assert msg is not None and msg.streaming and msg.text == "so far" and msg.edits == []


async def test_append_needs_text_or_chunks(
    fake_slack: FakeSlack, web_client: AsyncWebClient
) -> None:
    ts = await start(web_client, markdown_text="x")
    assert await error_of(web_client, "chat.appendStream", channel="C1", ts=ts) == (
        "invalid_arguments"
    )
    await web_client.chat_appendStream(
        channel="C1", ts=ts, chunks=[{"type": "markdown_text", "text": "y"}]
    )
    assert fake_slack.message("C1", ts).text == "xy"  # type: ignore[union-attr]


async def test_task_updates_recorded(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    ts = await start(
        web_client,
        chunks=[
            PlanUpdateChunk(title="Answering"),
            TaskUpdateChunk(id="search", title="Search docs", status="pending"),
        ],
    )
    await web_client.chat_appendStream(
        channel="C1",
        ts=ts,
        chunks=[
            TaskUpdateChunk(id="search", title="Search docs", status="in_progress"),
            TaskUpdateChunk(id="write", title="Write answer", status="pending"),
            MarkdownTextChunk(text="Found "),
        ],
    )
    await web_client.chat_stopStream(
        channel="C1",
        ts=ts,
        chunks=[
            TaskUpdateChunk(
                id="search", title="Search docs", status="complete", details="3 pages", output="ok"
            ),
            TaskUpdateChunk(id="write", title="Write answer", status="error"),
            MarkdownTextChunk(text="it."),
            {"type": "blocks", "blocks": [{"type": "divider"}]},
        ],
    )
    msg = fake_slack.message("C1", ts)
    assert msg is not None and not msg.streaming
    assert msg.visible_text == "Found it."
    assert msg.plan_title == "Answering"
    assert msg.blocks == [{"type": "divider"}]
    assert [(t.id, t.status) for t in msg.task_history] == [
        ("search", "pending"),
        ("search", "in_progress"),
        ("write", "pending"),
        ("search", "complete"),
        ("write", "error"),
    ]
    assert {i: t.status for i, t in msg.tasks.items()} == {"search": "complete", "write": "error"}
    search = msg.tasks["search"]
    assert (search.title, search.details, search.output) == ("Search docs", "3 pages", "ok")
    assert msg.tasks["write"].details is None
    assert [t.at for t in msg.task_history] == sorted(t.at for t in msg.task_history)


async def test_refuse_streaming(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    started = await start(web_client, markdown_text="before")
    for error in sorted(STREAMING_REFUSALS):
        fake_slack.refuse_streaming(error)
        with pytest.raises(SlackApiError) as err:
            await start(web_client, markdown_text="x")
        assert err.value.response.status_code == 200
        assert err.value.response["error"] == error
        if error == "missing_scope":
            assert err.value.response["needed"] == "chat:write"
        else:
            assert "needed" not in err.value.response.data
    fake_slack.refuse_streaming()
    with pytest.raises(SlackApiError) as err:
        await start(web_client, markdown_text="x")
    assert err.value.response["error"] == "feature_not_enabled"

    # Only chat.startStream is refused: posting works, and a stream already going goes on.
    await web_client.chat_postMessage(channel="C1", text="fallback", thread_ts=THREAD)
    await web_client.chat_appendStream(channel="C1", ts=started, markdown_text=" and after")
    await web_client.chat_stopStream(channel="C1", ts=started)
    assert [m.visible_text for m in fake_slack.messages("C1")] == ["before and after", "fallback"]

    fake_slack.refuse_streaming(None)
    again = await start(web_client, markdown_text="streaming again")
    assert fake_slack.message("C1", again).streaming  # type: ignore[union-attr]


async def test_end_stream(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    ts = await start(web_client, markdown_text="half an ans")
    fake_slack.end_stream("C1", ts)
    msg = fake_slack.message("C1", ts)
    assert msg is not None and not msg.streaming and msg.visible_text == "half an ans"
    for method in ("chat.appendStream", "chat.stopStream"):
        assert await error_of(web_client, method, channel="C1", ts=ts, markdown_text="wer") == (
            "message_not_in_streaming_state"
        )
    assert fake_slack.message("C1", ts).text == "half an ans"  # type: ignore[union-attr]
    with pytest.raises(KeyError):
        fake_slack.end_stream("C1", "1700000000.000900")


async def test_update_streamed_message(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    ts = await start(web_client, markdown_text="draft")
    final = [{"type": "markdown", "text": "**Final** &amp; done"}]
    with pytest.raises(SlackApiError) as err:
        await web_client.chat_update(channel="C1", ts=ts, text="final", blocks=final)
    assert err.value.response["error"] == "streaming_state_conflict"
    msg = fake_slack.message("C1", ts)
    assert msg is not None and msg.streaming and msg.visible_text == "draft"

    await web_client.chat_stopStream(channel="C1", ts=ts, markdown_text=" answer")
    assert fake_slack.message("C1", ts).visible_text == "draft answer"  # type: ignore[union-attr]
    updated = await web_client.chat_update(channel="C1", ts=ts, text="final", blocks=final)
    assert "edited" in updated["message"]
    msg = fake_slack.message("C1", ts)
    assert msg is not None and msg.streamed and msg.replaced_by_update
    assert msg.visible_text == message_text(msg) == "**Final** & done"
    assert [v.text for v in msg.history] == ["draft", "draft answer", "final"]


# --------------------------------------------------------------------------- rate limits


async def test_per_channel_budget(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    fake_slack.set_rate_limit("chat.postMessage", per_minute=6, burst=2, per_channel=True)
    for channel in ("C1", "C2"):
        for i in range(2):
            await web_client.chat_postMessage(channel=channel, text=f"{channel} {i}")
    with pytest.raises(SlackApiError) as err:
        await web_client.chat_postMessage(channel="C1", text="C1 too many")
    assert err.value.response.status_code == 429
    assert err.value.response["error"] == "ratelimited"
    assert err.value.response.headers["retry-after"] in ("10", ["10"])
    with pytest.raises(SlackApiError):
        await web_client.chat_postMessage(channel="C2", text="C2 too many")
    await web_client.chat_postMessage(channel="C3", text="a fresh channel has its burst")
    assert fake_slack.rate_limited_count("chat.postMessage") == 2
    assert len(fake_slack.messages()) == 5
    assert fake_slack.rate_limits()["chat.postMessage"] == (6.0, 2, True)


async def test_enforce_documented_limits(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    fake_slack.enforce_documented_limits()
    assert fake_slack.rate_limits() == dict(DOCUMENTED_LIMITS)

    fake_slack.enforce_documented_limits(scale=0.1)
    per_minute, burst, per_channel = fake_slack.rate_limits()["chat.update"]
    assert per_minute == pytest.approx(5.0)
    assert (burst, per_channel) == (1, False)
    posted = await web_client.chat_postMessage(channel="C1", text="0")
    await web_client.chat_update(channel="C1", ts=posted["ts"], text="1")
    with pytest.raises(SlackApiError) as err:
        await web_client.chat_update(channel="C1", ts=posted["ts"], text="2")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["retry-after"] in ("12", ["12"])  # 5 a minute
    assert fake_slack.rate_limited_count("chat.update") == 1
    assert fake_slack.message("C1", posted["ts"]).text == "1"  # type: ignore[union-attr]

    # setStatus is counted per channel_id, like posting per channel.
    for channel in ("C1", "C2"):
        await web_client.assistant_threads_setStatus(
            channel_id=channel, thread_ts=THREAD, status="is thinking…"
        )
    with pytest.raises(SlackApiError) as err:
        await web_client.assistant_threads_setStatus(
            channel_id="C1", thread_ts=THREAD, status="still thinking…"
        )
    assert err.value.response.status_code == 429
    assert fake_slack.rate_limited_count() == 2
