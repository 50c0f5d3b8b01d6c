"""The edge: saved before the ack, strict about what it takes, quiet about what it refuses."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any

import httpx
import pytest

from slackbot.slack.payloads import MAX_TEXT_CHARS
from slackbot.ui import messages
from tests.databases import query
from tests.e2e.conftest import ALICE, BOB, CHANNEL, SIGNING_SECRET, Harness
from tests.e2e.test_relay import completed

MARKER = "a-secret-a-person-wrote"


def event_body(h: Harness, event: dict[str, Any], **envelope: Any) -> str:
    body = h.sender.event_envelope(event) | envelope
    return json.dumps(body)


def signed_headers(raw: bytes) -> dict[str, str]:
    """Slack's signature over raw bytes (they need not be UTF-8 here)."""
    timestamp = str(int(time.time()))
    base = b"v0:" + timestamp.encode() + b":" + raw
    digest = hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


async def post(h: Harness, body: str | bytes, content_type: str, *, signed: bool) -> httpx.Response:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    headers = {"Content-Type": content_type, **signed_headers(raw)}
    if not signed:
        headers["X-Slack-Signature"] = "v0=" + "0" * 64
    return await h.sender.send(httpx.Request("POST", h.sender.url, content=raw, headers=headers))


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_message_is_saved_before_slack_hears_back(harness: Harness) -> None:
    h = harness
    h.slack.set_latency("users.info", 2.0)  # naming a user is slow: it must not delay the ack
    mention = h.sender.mention(ALICE, f"<@UBOT> hello <@{BOB}>", channel=CHANNEL)
    response = await h.sender.event(mention)
    assert response.status_code == 200
    rows = query(h.runtime.settings.database_url, "SELECT ts, text FROM inbound")
    assert rows == [(mention["ts"], f"hello <@{BOB}>")]
    await h.wait_for(lambda: h.bot_texts(mention["ts"]) == ["Echo: hello @Bob Builder"], timeout=15)


async def test_text_with_a_nul_character_is_saved_and_relayed(harness: Harness) -> None:
    h = harness
    ts = await h.sender.post_mention(ALICE, "<@UBOT> before\x00after")
    await h.wait_for(lambda: h.bot_texts(ts) == ["Echo: beforeafter"], what="the reply")


async def test_requests_not_signed_by_slack_are_refused_briefly(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    caplog.set_level(logging.DEBUG)
    big = json.dumps({"type": "event_callback", "pad": MARKER * 40_000})  # ~900 KB
    for _ in range(20):
        assert (await post(h, big, "application/json", signed=False)).status_code == 401
    too_big = json.dumps({"pad": "x" * (2 << 20)})
    assert (await post(h, too_big, "application/json", signed=True)).status_code == 413
    assert MARKER not in caplog.text
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert 1 <= len(refusals) <= 3  # throttled, not one line per request
    assert h.amigo.calls == []
    no_tracebacks(caplog)


@pytest.mark.parametrize(
    ("body", "content_type", "signed", "status"),
    [
        ("{not json", "application/json", False, 401),
        ("{not json", "application/json", True, 400),
        (b"\xff\xfe\x00garbage", "application/json", True, 400),
        ("[" * 100_000 + "]" * 100_000, "application/json", True, 400),
        ("payload=%7Bnot%20json", "application/x-www-form-urlencoded", True, 400),
        (
            "payload="
            + json.dumps({"type": "block_actions", "actions": "garbage", "user": {"id": ALICE}}),
            "application/x-www-form-urlencoded",
            True,
            200,
        ),
        ('{"type": "event_callback", "event": 5}', "application/json", True, 200),
    ],
    ids=[
        "unsigned-json",
        "bad-json",
        "not-utf-8",
        "deep-nesting",
        "bad-payload",
        "garbage-action",
        "not-an-event",
    ],
)
async def test_unreadable_requests_get_a_4xx_or_a_2xx_never_a_500(
    harness: Harness,
    caplog: pytest.LogCaptureFixture,
    body: str | bytes,
    content_type: str,
    signed: bool,
    status: int,
) -> None:
    response = await post(harness, body, content_type, signed=signed)
    assert response.status_code == status
    no_tracebacks(caplog)
    assert harness.amigo.calls == []


@pytest.mark.parametrize(
    "change",
    [
        {"user": None},
        {"ts": ["1.2"]},
        {"user": 12345},
        {"channel": {"id": CHANNEL}},
    ],
    ids=["no-user", "ts-list", "user-number", "channel-object"],
)
async def test_signed_but_malformed_events_are_refused_with_one_warning(
    harness: Harness, caplog: pytest.LogCaptureFixture, change: dict[str, Any]
) -> None:
    h = harness
    event = h.sender.mention(ALICE, "<@UBOT> broken", channel=CHANNEL) | change
    event = {k: v for k, v in event.items() if v is not None}
    response = await h.sender.event(event)
    assert response.status_code == 200
    warnings = [r for r in caplog.records if "not relayed: malformed" in r.getMessage()]
    assert len(warnings) == 1
    no_tracebacks(caplog)
    ts = await h.sender.post_mention(ALICE, "<@UBOT> a good one")
    await h.wait_for(lambda: h.bot_texts(ts) == ["Echo: a good one"], what="the good reply")
    assert len(h.amigo.calls_named("create_conversation")) == 1


@pytest.mark.parametrize(
    "envelope", [{"team_id": "T0OTHER"}, {"api_app_id": "A0OTHER"}], ids=["team", "app"]
)
async def test_events_of_another_workspace_or_app_are_refused(
    harness: Harness, caplog: pytest.LogCaptureFixture, envelope: dict[str, str]
) -> None:
    h = harness
    mention = h.sender.mention(ALICE, "<@UBOT> not for you", channel=CHANNEL)
    response = await post(h, event_body(h, mention, **envelope), "application/json", signed=True)
    assert response.status_code == 200
    await h.settle()
    assert h.amigo.calls == []
    assert any("another" in r.getMessage() for r in caplog.records)


async def test_a_message_over_the_cap_gets_an_answer_instead_of_being_relayed(
    harness: Harness,
) -> None:
    h = harness
    text = "<@UBOT> " + "long words " * (MAX_TEXT_CHARS // 10) + "end"
    await h.sender.post_mention(ALICE, text)
    await h.wait_for(lambda: h.slack.ephemerals(user=ALICE), what="the answer")
    await h.settle()
    (told,) = h.slack.ephemerals(user=ALICE)
    assert told.text == messages.message_too_long(len(text) - len("<@UBOT> "), MAX_TEXT_CHARS)
    assert h.amigo.calls == []


async def test_a_flood_of_mentions_costs_a_few_lookups_once(harness: Harness) -> None:
    h = harness
    names = " ".join(f"<@U{i:04d}>" for i in range(1500))  # nobody Slack knows
    ts = await h.sender.post_mention(ALICE, f"<@UBOT> {names}")
    await h.wait_for(lambda: completed(h) == 1, timeout=20, what="the reply")
    first = len(h.slack.calls_named("users.info"))
    assert first <= 25  # the sender's own profile, and 20 of the mentions at most
    await h.sender.post_message(ALICE, f"again {names}", thread_ts=ts)
    await h.wait_for(lambda: completed(h) == 2, what="the second reply")
    await h.settle()
    assert len(h.slack.calls_named("users.info")) - first <= 20


async def test_metrics_move_for_one_turn(harness: Harness) -> None:
    h = harness
    ts = await h.sender.post_mention(ALICE, "<@UBOT> count me")
    await h.wait_for(lambda: h.bot_texts(ts) == ["Echo: count me"], what="the reply")
    await h.settle()
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{h.url}/metrics")).text
    samples = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert float(samples['amigo_slack_events_total{outcome="saved"}']) == 1
    assert float(samples['amigo_slack_events_total{outcome="duplicate"}']) == 1  # the pair
    assert float(samples['amigo_slack_turns_ended_total{state="done"}']) == 1
    assert float(samples["amigo_slack_first_text_seconds_count"]) == 1
    created = (
        'amigo_slack_amigo_request_seconds_count{operation="create_conversation",status="201"}'
    )
    assert float(samples[created]) == 1
    posted = 'amigo_slack_slack_calls_total{method="chat.postMessage",result="ok",team="T0TEST"}'
    assert float(samples[posted]) >= 1
