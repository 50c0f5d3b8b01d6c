"""SlackSender: signing and payload shapes, against a tiny receiver and a real bolt app."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from slackbot.sandbox.server import BackgroundServer
from slackbot.sandbox.slack_fake import FakeMessage, FakeSlack
from slackbot.sandbox.slack_sender import SlackSender, new_ts

SECRET = "test-signing-secret"  # made up


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    valid: bool

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)


@pytest.fixture(scope="module")
def _receiver() -> Iterator[Receiver]:
    verifier = SignatureVerifier(SECRET)
    receiver = Receiver(url="")

    async def events(request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        valid = verifier.is_valid_request(body, headers)
        receiver.requests.append(Received(headers, body, valid))
        return JSONResponse({"ok": valid}, status_code=200 if valid else 401)

    server = BackgroundServer(
        Starlette(routes=[Route("/slack/events", events, methods=["POST"])]), name="receiver"
    ).start()
    receiver.url = server.url
    try:
        yield receiver
    finally:
        server.stop()


@pytest.fixture
def receiver(_receiver: Receiver) -> Receiver:
    _receiver.requests.clear()
    return _receiver


@pytest.fixture
async def sender(receiver: Receiver) -> AsyncIterator[SlackSender]:
    async with SlackSender(receiver.url, SECRET) as s:
        yield s


def test_signature_verifies_without_network() -> None:
    s = SlackSender("http://app.invalid/", SECRET)
    request = s.event_request(s.mention("U1", "<@UBOT> hi"))
    assert str(request.url) == "http://app.invalid/slack/events"
    body = request.content
    assert SignatureVerifier(SECRET).is_valid_request(body, dict(request.headers))
    ts = request.headers["x-slack-request-timestamp"]
    assert abs(int(ts) - time.time()) < 5
    assert request.headers["x-slack-signature"] == SignatureVerifier(SECRET).generate_signature(
        timestamp=ts, body=body
    )
    assert not SignatureVerifier("another-secret").is_valid_request(body, dict(request.headers))
    headers = s.sign("abc", timestamp=1234567890)
    assert headers["X-Slack-Request-Timestamp"] == "1234567890"
    assert (
        headers["X-Slack-Signature"].startswith("v0=") and len(headers["X-Slack-Signature"]) == 67
    )


def test_ts_format() -> None:
    values = [new_ts() for _ in range(200)]
    assert len(set(values)) == 200
    assert values == sorted(values, key=lambda t: tuple(int(p) for p in t.split(".")))
    assert all(len(v.split(".")[1]) == 6 and v.endswith("5") for v in values)


async def test_event_envelope(sender: SlackSender, receiver: Receiver) -> None:
    event = sender.mention("U1", "<@UBOT> what's up?", channel="C9", thread_ts="1700000000.000105")
    resp = await sender.event(event)
    assert resp.status_code == 200
    [req] = receiver.requests
    assert req.valid
    assert req.headers["content-type"] == "application/json"
    assert "x-slack-retry-num" not in req.headers
    env = req.json()
    assert env["type"] == "event_callback"
    assert env["team_id"] == "T0TEST" and env["api_app_id"] == "A0TEST"
    assert env["event_id"].startswith("Ev") and env["event_id"] == sender.last_event_id
    assert isinstance(env["event_time"], int)
    assert env["authorizations"] == [
        {
            "enterprise_id": None,
            "team_id": "T0TEST",
            "user_id": "UBOT",
            "is_bot": True,
            "is_enterprise_install": False,
        }
    ]
    ev = env["event"]
    assert ev["type"] == "app_mention" and ev["user"] == "U1" and ev["channel"] == "C9"
    assert ev["text"] == "<@UBOT> what's up?"
    assert ev["thread_ts"] == "1700000000.000105"
    assert ev["ts"] == ev["event_ts"]
    elements = ev["blocks"][0]["elements"][0]["elements"]
    assert elements == [
        {"type": "user", "user_id": "UBOT"},
        {"type": "text", "text": " what's up?"},
    ]


async def test_retry_headers_and_same_event_id(sender: SlackSender, receiver: Receiver) -> None:
    event = sender.message("U1", "hello", channel="C1")
    await sender.event(event)
    first_id = sender.last_event_id
    await sender.event(event, event_id=first_id, retry_num=1, retry_reason="http_error")
    first, retry = receiver.requests
    assert retry.headers["x-slack-retry-num"] == "1"
    assert retry.headers["x-slack-retry-reason"] == "http_error"
    assert retry.json()["event_id"] == first.json()["event_id"] == first_id
    assert retry.valid


async def test_bad_signature_and_stale_timestamp(sender: SlackSender, receiver: Receiver) -> None:
    event = sender.message("U1", "hello")
    assert (await sender.event(event, signature="v0=" + "0" * 64)).status_code == 401
    stale = int(time.time()) - 600
    assert (await sender.event(event, timestamp=stale)).status_code == 401
    assert [r.valid for r in receiver.requests] == [False, False]
    assert receiver.requests[1].headers["x-slack-request-timestamp"] == str(stale)


async def test_message_builder() -> None:
    s = SlackSender("http://app.invalid", SECRET)
    human = s.message("U1", "hi", channel="D1", channel_type="im", thread_ts="1.000005")
    assert human["type"] == "message" and "subtype" not in human and "client_msg_id" in human
    assert (human["channel"], human["channel_type"], human["thread_ts"]) == ("D1", "im", "1.000005")
    bot = s.message(
        "UOTHER", "beep", channel="C1", ts="2.000005", bot_id="B9", subtype="bot_message"
    )
    assert bot["subtype"] == "bot_message" and bot["bot_id"] == "B9" and "client_msg_id" not in bot
    assert bot["ts"] == bot["event_ts"] == "2.000005"
    extra = s.message("U1", "x", extra={"files": []})
    assert extra["files"] == []


async def test_post_mention_sends_both_events(receiver: Receiver) -> None:
    fake = FakeSlack()  # not started: only used as an event mirror
    async with SlackSender(receiver.url, SECRET, on_event=fake.ingest_event) as sender:
        ts = await sender.post_mention("U1", "<@UBOT> help", channel="C7", thread_ts=None)
        assert [r.status_code for r in sender.last_responses] == [200, 200]
    envs = [r.json() for r in receiver.requests]
    assert all(r.valid for r in receiver.requests)
    assert sorted(e["event"]["type"] for e in envs) == ["app_mention", "message"]
    assert len({e["event_id"] for e in envs}) == 2
    assert {e["event"]["ts"] for e in envs} == {ts}
    assert {e["event"]["channel"] for e in envs} == {"C7"}
    message = next(e["event"] for e in envs if e["event"]["type"] == "message")
    assert message["channel_type"] == "channel" and "thread_ts" not in message
    # Mirrored once into the fake despite two events.
    [stored] = fake.messages("C7")
    assert (stored.ts, stored.user, stored.text) == (ts, "U1", "<@UBOT> help")


async def test_slash_command_form(sender: SlackSender, receiver: Receiver) -> None:
    resp = await sender.slash_command("/amigo", "status please", user="U1", channel="C3")
    assert resp.status_code == 200
    [req] = receiver.requests
    assert req.valid
    assert req.headers["content-type"] == "application/x-www-form-urlencoded"
    form = req.form()
    assert form["command"] == "/amigo" and form["text"] == "status please"
    assert form["user_id"] == "U1" and form["channel_id"] == "C3" and form["team_id"] == "T0TEST"
    assert form["api_app_id"] == "A0TEST"
    assert form["trigger_id"] and form["response_url"].startswith("https://")


async def test_block_action_and_shortcut_payloads(sender: SlackSender, receiver: Receiver) -> None:
    await sender.block_action(
        "U1", "feedback_up", "yes", channel="C1", message_ts="1.000010", thread_ts="1.000005"
    )
    await sender.block_action(
        "U1",
        "pick",
        None,
        channel="C1",
        message_ts="1.000010",
        action_type="static_select",
        selected_option_value="opt-2",
    )
    await sender.message_shortcut(
        "summarize", "U2", channel="C1", message_ts="1.000020", message_text="long text"
    )
    await sender.url_verification("challenge-abc")
    button_req, select_req, shortcut_req, verify_req = receiver.requests
    assert all(r.valid for r in receiver.requests)

    button = json.loads(button_req.form()["payload"])
    assert button["type"] == "block_actions"
    assert button["user"]["id"] == "U1" and button["team"]["id"] == "T0TEST"
    assert button["container"] == {
        "type": "message",
        "message_ts": "1.000010",
        "channel_id": "C1",
        "is_ephemeral": False,
        "thread_ts": "1.000005",
    }
    assert button["message"]["ts"] == "1.000010" and button["message"]["thread_ts"] == "1.000005"
    [action] = button["actions"]
    assert (action["action_id"], action["type"], action["value"]) == (
        "feedback_up",
        "button",
        "yes",
    )
    assert button["channel"]["id"] == "C1" and button["trigger_id"] and button["response_url"]

    select = json.loads(select_req.form()["payload"])
    assert select["actions"][0]["selected_option"]["value"] == "opt-2"

    shortcut = json.loads(shortcut_req.form()["payload"])
    assert shortcut["type"] == "message_action" and shortcut["callback_id"] == "summarize"
    assert shortcut["message"]["text"] == "long text" and shortcut["message_ts"] == "1.000020"

    assert verify_req.json() == {
        "token": "fake-verification-token",
        "challenge": "challenge-abc",
        "type": "url_verification",
    }


# ----------------------------------------------------------------- end to end with bolt


@dataclass
class BoltRig:
    url: str
    fake: FakeSlack


@pytest.fixture(scope="module")
def _bolt_rig() -> Iterator[BoltRig]:
    fake = FakeSlack().start()
    client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    app = AsyncApp(signing_secret=SECRET, client=client)

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], say: Any) -> None:
        await say(
            text=f"you said: {event['text']}", thread_ts=event.get("thread_ts") or event["ts"]
        )

    @app.command("/amigo")
    async def on_command(ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any]) -> None:
        await ack()
        await respond(f"status: {command['text']}")

    @app.action("feedback_up")
    async def on_action(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        container = body["container"]
        await client.chat_update(
            channel=container["channel_id"], ts=container["message_ts"], text="thanks!"
        )

    @app.shortcut("summarize")
    async def on_shortcut(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.chat_postEphemeral(
            channel=body["channel"]["id"], user=body["user"]["id"], text="summary"
        )

    handler = AsyncSlackRequestHandler(app)

    async def endpoint(request: Request) -> Response:
        return await handler.handle(request)

    server = BackgroundServer(
        Starlette(routes=[Route("/slack/events", endpoint, methods=["POST"])]), name="bolt"
    ).start()
    try:
        yield BoltRig(url=server.url, fake=fake)
    finally:
        server.stop()
        fake.stop()


@pytest.fixture
async def bolt(_bolt_rig: BoltRig) -> AsyncIterator[tuple[FakeSlack, SlackSender]]:
    fake = _bolt_rig.fake
    fake.reset()
    async with SlackSender(
        _bolt_rig.url,
        SECRET,
        on_event=fake.ingest_event,
        response_url_base=fake.response_url_base,
    ) as sender:
        yield fake, sender


async def test_bolt_mention_gets_threaded_reply(bolt: tuple[FakeSlack, SlackSender]) -> None:
    fake, sender = bolt
    ts = await sender.post_mention("U1", "<@UBOT> hello", channel="C1")
    assert sender.last_responses[0].status_code == 200  # the app_mention was acked

    def replied(f: FakeSlack) -> list[FakeMessage] | None:
        thread = f.thread("C1", ts)
        return thread if len(thread) == 2 else None

    thread = await fake.wait_for(replied)
    assert thread is not None
    root, reply = thread
    assert (root.user, root.ts) == ("U1", ts)
    assert (reply.user, reply.text, reply.thread_ts) == ("UBOT", "you said: <@UBOT> hello", ts)
    assert tuple(int(p) for p in reply.ts.split(".")) > tuple(int(p) for p in ts.split("."))


async def test_bolt_rejects_bad_requests(bolt: tuple[FakeSlack, SlackSender]) -> None:
    fake, sender = bolt
    event = sender.mention("U1", "<@UBOT> hi")
    assert (await sender.event(event, signature="v0=" + "1" * 64)).status_code == 401
    assert (await sender.event(event, timestamp=int(time.time()) - 3600)).status_code == 401
    verify = await sender.url_verification("xyz")
    assert verify.status_code == 200 and verify.json() == {"challenge": "xyz"}
    assert fake.calls_named("chat.postMessage") == []


async def test_bolt_command_action_shortcut(bolt: tuple[FakeSlack, SlackSender]) -> None:
    fake, sender = bolt
    resp = await sender.slash_command("/amigo", "ping", user="U1", channel="C1")
    assert resp.status_code == 200
    [response] = await fake.wait_for(lambda f: f.responses())
    assert response.args["text"] == "status: ping"

    posted = fake.add_message("C1", "Was this helpful?", user="UBOT", bot_id="BBOT")
    resp = await sender.block_action("U1", "feedback_up", "yes", channel="C1", message_ts=posted.ts)
    assert resp.status_code == 200

    def edited(f: FakeSlack) -> FakeMessage | None:
        msg = f.message("C1", posted.ts)
        return msg if msg is not None and msg.edits else None

    msg = await fake.wait_for(edited)
    assert msg is not None
    assert msg.text == "thanks!"

    resp = await sender.message_shortcut("summarize", "U2", channel="C1", message_ts=posted.ts)
    assert resp.status_code == 200
    [eph] = await fake.wait_for(lambda f: f.ephemerals(user="U2"))
    assert (eph.channel, eph.text) == ("C1", "summary")
