"""Typed errors: status mapping, Retry-After, safe messages."""

from __future__ import annotations

import json
import time
from email.utils import formatdate

import pytest

from slackbot.amigo.errors import (
    BODY_LIMIT,
    AmigoAuthError,
    AmigoBadRequest,
    AmigoConflict,
    AmigoError,
    AmigoHTTPError,
    AmigoNotFound,
    AmigoRateLimited,
    AmigoTransportError,
    AmigoUnavailable,
    error_for_response,
    parse_retry_after,
)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, AmigoBadRequest),
        (422, AmigoBadRequest),
        (401, AmigoAuthError),
        (403, AmigoAuthError),
        (404, AmigoNotFound),
        (409, AmigoConflict),
        (429, AmigoRateLimited),
        (408, AmigoUnavailable),
        (500, AmigoUnavailable),
        (502, AmigoUnavailable),
        (503, AmigoUnavailable),
        (504, AmigoUnavailable),
    ],
)
def test_status_maps_to_its_class(status: int, kind: type[AmigoHTTPError]) -> None:
    error = error_for_response(status, {}, "")
    assert type(error) is kind
    assert isinstance(error, AmigoHTTPError) and isinstance(error, AmigoError)
    assert error.status == status


def test_other_statuses_are_plain_http_errors() -> None:
    error = error_for_response(415, {}, "unsupported")
    assert type(error) is AmigoHTTPError
    assert error.status == 415


def test_message_has_status_operation_and_detail() -> None:
    body = json.dumps({"detail": "The conversation is already finished."})
    error = error_for_response(409, {"content-type": "application/json"}, body, operation="finish")
    assert "409" in str(error) and "finish" in str(error)
    assert error.detail == "The conversation is already finished."
    assert error.operation == "finish"
    assert error.body == body


def test_body_is_truncated_and_bytes_are_decoded() -> None:
    error = error_for_response(500, {}, b"x" * (BODY_LIMIT * 3))
    assert len(error.body) == BODY_LIMIT
    assert error.detail is None


def test_retry_after_header_any_case() -> None:
    assert error_for_response(429, {"Retry-After": "7"}, "").retry_after == 7.0
    assert error_for_response(503, {"retry-after": "1.5"}, "").retry_after == 1.5
    assert error_for_response(429, {}, "").retry_after is None


def test_parse_retry_after_seconds_and_garbage() -> None:
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after(" 12 ") == 12.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after("inf") is None


def test_parse_retry_after_http_date() -> None:
    now = time.time()
    later = formatdate(now + 30, usegmt=True)
    assert parse_retry_after(later, now=now) == pytest.approx(30, abs=1)
    earlier = formatdate(now - 30, usegmt=True)
    assert parse_retry_after(earlier, now=now) == 0.0


def test_transport_error_has_no_status() -> None:
    error = AmigoTransportError("no answer", operation="interact", request_sent=True)
    assert error.status is None
    assert error.request_sent is True
    assert error.retry_after is None
