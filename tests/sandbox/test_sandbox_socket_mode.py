"""FakeSlack's Socket Mode, driven by slack_sdk's real aiohttp Socket Mode client."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from slackbot.sandbox.slack_fake import FakeSlack
from slackbot.sandbox.slack_sender import SlackSender

Json = dict[str, object]


class Recorder:
    """A Socket Mode client that records what it receives and acks every request."""

    def __init__(self, fake: FakeSlack, *, ack_payload: Json | None = None) -> None:
        self.messages: list[Json] = []
        self.requests: list[SocketModeRequest] = []
        self.ack_payload = ack_payload
        self.client = SocketModeClient(
            app_token=fake.app_token,
            web_client=AsyncWebClient(token=fake.bot_token, base_url=fake.api_url),
            ping_interval=1,
        )
        self.client.message_listeners.append(self._on_message)
        self.client.socket_mode_request_listeners.append(self._on_request)

    async def _on_message(self, _: object, message: Json, raw: str | None) -> None:
        self.messages.append(message)

    async def _on_request(self, client: object, req: SocketModeRequest) -> None:
        self.requests.append(req)
        response = SocketModeResponse(envelope_id=req.envelope_id, payload=self.ack_payload)
        await self.client.send_socket_mode_response(response)


@pytest.fixture
async def recorder(fake_slack: FakeSlack) -> AsyncIterator[Recorder]:
    rec = Recorder(fake_slack)
    await rec.client.connect()
    await fake_slack.wait_for(lambda s: s.socket_connected == 1, description="connected")
    await fake_slack.wait_for(lambda _: rec.messages, description="hello received")
    try:
        yield rec
    finally:
        await rec.client.close()
        await fake_slack.wait_for(lambda s: s.socket_connected == 0, description="closed")


async def test_apps_connections_open_wants_the_app_level_token(fake_slack: FakeSlack) -> None:
    web = AsyncWebClient(token=fake_slack.bot_token, base_url=fake_slack.api_url)
    opened = await web.apps_connections_open(app_token=fake_slack.app_token)
    assert opened["url"].startswith(f"ws://127.0.0.1:{fake_slack.url.rsplit(':', 1)[1]}/")
    assert "/socket-mode?ticket=" in opened["url"]
    assert opened["url"].endswith(f"&app_id={fake_slack.app_id}")

    with pytest.raises(SlackApiError) as bot_token:
        await web.apps_connections_open(app_token=fake_slack.bot_token)
    assert bot_token.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as wrong:
        await web.apps_connections_open(app_token="xapp-not-the-one")
    assert wrong.value.response["error"] == "invalid_auth"
    app_web = AsyncWebClient(token=fake_slack.app_token, base_url=fake_slack.api_url)
    with pytest.raises(SlackApiError) as misuse:
        await app_web.chat_postMessage(channel="C1", text="hi")
    assert misuse.value.response["error"] == "not_allowed_token_type"
    assert fake_slack.calls[0].token == fake_slack.app_token


async def test_an_unknown_ticket_is_refused(fake_slack: FakeSlack) -> None:
    url = fake_slack.url.replace("http://", "ws://") + "/socket-mode?ticket=made-up"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url)
    assert refused.value.status == 403
    assert fake_slack.socket_connected == 0


async def test_hello_then_envelopes_and_acks(fake_slack: FakeSlack, recorder: Recorder) -> None:
    assert recorder.messages[0]["type"] == "hello"
    assert recorder.messages[0]["num_connections"] == 1
    assert recorder.messages[0]["connection_info"] == {"app_id": fake_slack.app_id}
    assert "debug_info" in recorder.messages[0]

    sender = SlackSender("http://unused.invalid", "secret", team_id=fake_slack.team_id)
    event = sender.mention("UALICE", "<@UBOT> hi")
    body = sender.event_envelope(event)
    envelope_id = await fake_slack.push_socket_event("events_api", body)
    uuid.UUID(envelope_id)
    ack = await fake_slack.wait_for_socket_ack(envelope_id)
    assert ack.payload is None
    delay = fake_slack.socket_ack_delay(envelope_id)
    assert delay is not None and 0 <= delay < 2

    [req] = recorder.requests
    assert req.type == "events_api"
    assert req.envelope_id == envelope_id
    assert req.payload == body
    assert req.retry_attempt == 0 and req.retry_reason == ""
    assert req.accepts_response_payload is False
    [sent] = fake_slack.socket_envelopes
    assert sent.body == {
        "envelope_id": envelope_id,
        "type": "events_api",
        "payload": body,
        "accepts_response_payload": False,
        "retry_attempt": 0,
        "retry_reason": "",
    }
    assert fake_slack.unacked_socket_envelopes() == []
    assert fake_slack.socket_messages == []
    # The mentioned message now exists in the fake, as it would in Slack.
    assert fake_slack.message("C0CHAN", event["ts"]) is not None

    retry = await fake_slack.push_socket_event(
        "events_api", body, retry_attempt=1, retry_reason="timeout"
    )
    await fake_slack.wait_for_socket_ack(retry)
    assert recorder.requests[-1].retry_attempt == 1
    assert recorder.requests[-1].retry_reason == "timeout"
    assert recorder.requests[-1].payload["event_id"] == body["event_id"]


async def test_slash_commands_and_interactive_envelopes(
    fake_slack: FakeSlack, recorder: Recorder
) -> None:
    recorder.ack_payload = {"text": "working on it"}
    sender = SlackSender("http://unused.invalid", "secret", team_id=fake_slack.team_id)
    command = sender.slash_command_form("/amigo", "help", user="UALICE")
    cid = await fake_slack.push_socket_event("slash_commands", command)
    ack = await fake_slack.wait_for_socket_ack(cid)
    assert ack.payload == {"text": "working on it"}
    req = recorder.requests[-1]
    assert (req.type, req.payload) == ("slash_commands", command)
    assert req.accepts_response_payload is True
    assert "retry_attempt" not in fake_slack.socket_envelopes[-1].body

    recorder.ack_payload = None
    action = sender.block_action_payload(
        "UALICE", "amigo_finish", "x", channel="C0CHAN", message_ts="1700000000.000010"
    )
    aid = await fake_slack.push_socket_event("interactive", action)
    await fake_slack.wait_for_socket_ack(aid)
    req = recorder.requests[-1]
    assert (req.type, req.accepts_response_payload) == ("interactive", False)
    assert req.payload["actions"] == action["actions"]


async def test_disconnect_makes_the_client_reconnect(
    fake_slack: FakeSlack, recorder: Recorder
) -> None:
    first = fake_slack.socket_connections_opened
    assert await fake_slack.disconnect_socket() == 1
    # slack_sdk handles "disconnect" itself (its message listeners never see it): it opens
    # a new connection and closes the old one.
    await fake_slack.wait_for(
        lambda s: s.socket_connections_opened == first + 1 and s.socket_connected == 1,
        description="a new connection replaced the old",
    )
    envelope_id = await fake_slack.push_socket_event("events_api", {"type": "event_callback"})
    ack = await fake_slack.wait_for_socket_ack(envelope_id)
    assert ack.connection_id == fake_slack.socket_envelopes[-1].connection_id
    assert len(fake_slack.calls_named("apps.connections.open")) == 2


async def test_a_dropped_connection_is_reopened(fake_slack: FakeSlack, recorder: Recorder) -> None:
    first = fake_slack.socket_connections_opened
    assert await fake_slack.close_socket_connections() == 1
    await fake_slack.wait_for(
        lambda s: s.socket_connections_opened > first and s.socket_connected == 1,
        description="reconnected",
    )
    envelope_id = await fake_slack.push_socket_event("events_api", {"type": "event_callback"})
    await fake_slack.wait_for_socket_ack(envelope_id)


async def test_push_from_another_thread(fake_slack: FakeSlack, recorder: Recorder) -> None:
    ids: list[str] = []
    thread = threading.Thread(
        target=lambda: ids.append(
            fake_slack.push_socket_event_sync("events_api", {"type": "event_callback"})
        )
    )
    thread.start()
    await asyncio.to_thread(thread.join, 5)
    [envelope_id] = ids
    await fake_slack.wait_for_socket_ack(envelope_id)


async def test_push_without_a_connection_fails(fake_slack: FakeSlack) -> None:
    assert fake_slack.socket_connected == 0
    with pytest.raises(RuntimeError, match="no Socket Mode connection"):
        await fake_slack.push_socket_event("events_api", {"type": "event_callback"})
    assert fake_slack.socket_envelopes == []


async def test_reset_forgets_envelopes_and_acks(fake_slack: FakeSlack, recorder: Recorder) -> None:
    envelope_id = await fake_slack.push_socket_event("events_api", {"type": "event_callback"})
    await fake_slack.wait_for_socket_ack(envelope_id)
    fake_slack.reset()
    assert fake_slack.socket_envelopes == [] and fake_slack.socket_acks == []
    assert fake_slack.socket_connected == 1
