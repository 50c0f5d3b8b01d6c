"""Answers for Amigo failures, and the suggestion buttons' limits."""

from __future__ import annotations

import json

import pytest

from slackbot.amigo.errors import (
    AmigoAuthError,
    AmigoBadRequest,
    AmigoConflict,
    AmigoError,
    AmigoNotFound,
    AmigoRateLimited,
    AmigoTransportError,
    AmigoUnavailable,
)
from slackbot.relay.outcomes import Operation, answer_for
from slackbot.ui import blocks, messages


@pytest.mark.parametrize(
    ("error", "operation", "answer"),
    [
        (AmigoRateLimited(429, "x", retry_after=4.2), "finish", messages.amigo_busy(4.2)),
        (AmigoRateLimited(429, "x"), "tags", messages.amigo_busy(None)),
        (AmigoUnavailable(503, "x"), "recommend", messages.AMIGO_UNAVAILABLE),
        (AmigoConflict(409, "x"), "tags", messages.CONVERSATION_BUSY),
        (AmigoBadRequest(400, "x"), "tags", messages.AMIGO_TOO_MANY_TAGS),
        (AmigoBadRequest(400, "x"), "recommend", messages.SUGGESTIONS_NOT_LATEST),
        (AmigoBadRequest(400, "x"), "finish", messages.AMIGO_REFUSED),
        (AmigoNotFound(404, "x"), "tags", messages.CONVERSATION_GONE),
        (AmigoAuthError(401, "x"), "tags", messages.REPLY_FAILED_MISCONFIGURED),
        (AmigoTransportError("x", request_sent=False), "tags", messages.AMIGO_UNREACHABLE),
    ],
)
def test_each_amigo_failure_has_its_own_answer(
    error: AmigoError, operation: Operation, answer: str
) -> None:
    assert answer_for(error, operation) == answer
    assert "Amigo answered" not in answer


def test_busy_names_the_wait_in_whole_seconds() -> None:
    assert "in 4 s" in messages.amigo_busy(4.2)
    assert "in 1 s" in messages.amigo_busy(0)
    assert "in a minute" in messages.amigo_busy(None)


def test_suggestion_buttons_trim_labels_carry_full_text_and_skip_what_cannot_fit() -> None:
    texts = ["short", "x" * 200, "y" * 3000, *[f"s{i}" for i in range(6)]]
    shown = blocks.suggestions("U1", "i" * 24, texts)
    buttons = shown[1]["elements"]
    assert len(buttons) == blocks.MAX_SUGGESTIONS
    assert [b["action_id"] for b in buttons] == [f"amigo_suggestion_{i}" for i in range(5)]
    assert buttons[1]["text"]["text"] == "x" * 74 + "…"
    assert blocks.parse_suggestion_value(buttons[1]["value"]) == ("i" * 24, "x" * 200)
    assert all("y" * 100 not in b["value"] for b in buttons)
    assert blocks.suggestions("U1", "i" * 24, ["y" * 3000]) == []


@pytest.mark.parametrize(
    "value",
    [None, 3, "", "not json", "[1]", json.dumps({"i": "a"}), json.dumps({"i": 1, "t": "x"})],
)
def test_foreign_button_values_are_not_taken_for_suggestions(value: object) -> None:
    assert blocks.parse_suggestion_value(value) is None


def test_the_reply_menu_offers_suggestions_only_when_they_are_on() -> None:
    def values(menu: list[dict[str, object]]) -> list[object]:
        element = menu[0]["elements"][0]  # type: ignore[index]
        return [o["value"] for o in element["options"]]

    assert values(blocks.reply_menu(suggestions=True)) == ["suggest", "finish", "tags"]
    assert values(blocks.reply_menu(suggestions=False)) == ["finish", "tags"]
