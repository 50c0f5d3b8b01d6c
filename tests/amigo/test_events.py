"""Parsing the NDJSON event stream."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest

from slackbot.amigo.events import (
    ConversationCreated,
    CurrentAgentAction,
    ErrorEvent,
    InteractionComplete,
    NewMessage,
    UnknownEvent,
    UserMessageAvailable,
    parse_event,
    read_ndjson,
    split_lines,
)


def line(**data: object) -> str:
    return json.dumps(data)


def test_known_events() -> None:
    assert parse_event(line(type="conversation-created", conversation_id="c1")) == (
        ConversationCreated(conversation_id="c1")
    )
    assert parse_event(
        line(type="user-message-available", message_id="m1", user_message="hi")
    ) == UserMessageAvailable(message_id="m1", user_message="hi")
    event = parse_event(
        line(
            type="new-message",
            message="Hel",
            transcript_alignment=None,
            stop=False,
            sequence_number=0,
            message_id="m2",
        )
    )
    assert event == NewMessage(message="Hel", stop=False, sequence_number=0, message_id="m2")
    complete = parse_event(
        line(
            type="interaction-complete",
            message_id="m2",
            interaction_id="i1",
            full_message="Hello",
            conversation_completed=True,
        )
    )
    assert isinstance(complete, InteractionComplete)
    assert complete.conversation_completed is True and complete.full_message == "Hello"
    error = parse_event(line(type="error", http_error_code=503, error_description="busy"))
    assert error == ErrorEvent(http_error_code=503, error_description="busy")


def test_agent_action_keeps_the_raw_action_and_a_label() -> None:
    action = {"type": "tool-call-started", "tool_id": "t", "input_params": {"a": 1}}
    event = parse_event(line(type="current-agent-action", action=action))
    assert isinstance(event, CurrentAgentAction)
    assert event.action == action
    assert event.label == "tool-call-started"
    untyped = parse_event(line(type="current-agent-action", action={"what": 1}))
    assert isinstance(untyped, CurrentAgentAction) and untyped.label is None


def test_new_message_tolerates_missing_optional_fields() -> None:
    event = parse_event(line(type="new-message", message="x"))
    assert event == NewMessage(message="x")
    assert isinstance(event, NewMessage)
    assert event.stop is False and event.sequence_number is None and event.message_id is None


def test_unknown_type_never_raises() -> None:
    event = parse_event(line(type="brand-new-event", payload={"deep": [1, 2]}))
    assert isinstance(event, UnknownEvent)
    assert event.type == "brand-new-event"
    assert event.data["payload"] == {"deep": [1, 2]}
    assert event.invalid is False


def test_known_type_failing_validation_becomes_invalid_unknown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="slackbot.amigo"):
        event = parse_event(line(type="interaction-complete", full_message="no ids"))
    assert isinstance(event, UnknownEvent)
    assert event.type == "interaction-complete" and event.invalid is True
    assert "interaction-complete" in caplog.text


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '{"no": "type"}', '{"type": 5}', "{"])
def test_malformed_lines_are_skipped(raw: str) -> None:
    assert parse_event(raw) is None


def test_malformed_line_log_is_truncated(caplog: pytest.LogCaptureFixture) -> None:
    secretish = "z" * 5000
    with caplog.at_level(logging.WARNING, logger="slackbot.amigo"):
        assert parse_event("garbage " + secretish) is None
    assert len(caplog.records) == 1
    assert "z" * 300 not in caplog.text
    assert "z" * 150 in caplog.text


def test_bytes_lines() -> None:
    raw = json.dumps({"type": "new-message", "message": "é"}, ensure_ascii=False).encode()
    assert parse_event(raw) == NewMessage(message="é")


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_split_lines_only_on_newline() -> None:
    text = json.dumps({"type": "new-message", "message": "a\u2028b\x85c"}, ensure_ascii=False)
    data = (text + "\r\n" + text + "\n").encode()
    # Cut in the middle of a multi-byte character and of a line.
    parts = [data[:5], data[5 : len(text) - 3], data[len(text) - 3 :]]
    lines = [line async for line in split_lines(chunks_of(*parts))]
    assert lines == [text.encode(), text.encode()]


async def test_split_lines_keeps_a_last_line_without_newline() -> None:
    lines = [line async for line in split_lines(chunks_of(b"one\ntw", b"o"))]
    assert lines == [b"one", b"two"]


async def test_read_ndjson_skips_blank_and_malformed_lines() -> None:
    async def lines() -> AsyncIterator[str]:
        for item in ["", "   ", line(type="new-message", message="a"), "oops", line(type="x")]:
            yield item

    events = [event async for event in read_ndjson(lines())]
    assert events == [NewMessage(message="a"), UnknownEvent(type="x", data={"type": "x"})]
