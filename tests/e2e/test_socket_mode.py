"""`amigo-slack run` in Socket Mode: the real process, connected to FakeSlack's websocket.

Slack delivers events as Socket Mode envelopes; the app must acknowledge each one (within
Slack's 3 seconds), relay the message to Amigo, stream the reply back through the Web API,
drop Slack's redeliveries, and stop cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from asyncio.subprocess import PIPE, STDOUT
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from slackbot.sandbox.amigo_fake import FakeAmigo, Reply
from slackbot.sandbox.slack_fake import FakeSlack, message_text
from slackbot.sandbox.slack_sender import SlackSender
from tests.e2e.conftest import ALICE, CHANNEL
from tests.test_cli import CLI, env_for, free_port

ACK_DEADLINE = 3.0
"""Slack redelivers an envelope that is not acknowledged within 3 seconds."""


class App:
    """The running `amigo-slack run` process and everything it printed so far."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.url = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        # Read all the time: a full pipe would block the app's logging.
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def tail(self) -> str:
        """The last lines of output, for failure messages (DEBUG logs are long)."""
        return "\n".join(self.lines[-150:])

    async def wait_until(
        self, predicate: Callable[[], Any], what: str, timeout: float = 10.0
    ) -> None:
        """Wait for ``predicate()`` to be truthy; fail at once if the process ends."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if self.proc.returncode is not None:
                raise AssertionError(
                    f"the app exited ({self.proc.returncode}) before {what}:\n{self.tail}"
                )
            if loop.time() >= deadline:
                raise AssertionError(f"timed out waiting for {what}; output:\n{self.tail}")
            await asyncio.sleep(0.02)

    async def stop(self, timeout: float = 15.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        await asyncio.wait_for(self.reader, timeout)
        return code

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self.reader.cancel()


@pytest.fixture
def fakes() -> Iterator[tuple[FakeSlack, FakeAmigo]]:
    with FakeSlack() as slack, FakeAmigo() as amigo:
        slack.add_user(ALICE, name="alice", real_name="Alice Liddell", email="alice@example.com")
        yield slack, amigo


@pytest.fixture
def sender(fakes: tuple[FakeSlack, FakeAmigo]) -> SlackSender:
    # Only its payload builders are used: nothing is POSTed in Socket Mode.
    return SlackSender("http://127.0.0.1:9", "unused", team_id=fakes[0].team_id)


async def start_app(
    slack: FakeSlack,
    amigo: FakeAmigo,
    tmp_path: Path,
    *,
    app_token: str | None = None,
    port: int | None = None,
) -> App:
    """``amigo-slack run`` with an app-level token and no signing secret: Socket Mode."""
    # DEBUG for the relay's "event <id>: <what became of it>" lines.
    env = env_for(
        slack,
        amigo,
        tmp_path / "socket.db",
        LOG_LEVEL="DEBUG",
        HOST="127.0.0.1",
        PORT=str(port or free_port()),
    )
    del env["SLACK_SIGNING_SECRET"]  # Socket Mode needs none
    env["SLACK_APP_TOKEN"] = app_token or slack.app_token
    proc = await asyncio.create_subprocess_exec(
        CLI, "run", cwd=tmp_path, env=env, stdout=PIPE, stderr=STDOUT
    )
    return App(proc, int(env["PORT"]))


@pytest.fixture
async def app(tmp_path: Path, fakes: tuple[FakeSlack, FakeAmigo]) -> AsyncIterator[App]:
    slack, amigo = fakes
    running = await start_app(slack, amigo, tmp_path)
    try:
        await running.wait_until(lambda: slack.socket_connected, "a Socket Mode connection", 30)
        yield running
    finally:
        await running.kill()


def mention_envelope(sender: SlackSender, text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two ``event_callback`` bodies Slack sends for one post that mentions the bot."""
    mention = sender.mention(ALICE, text)
    message = sender.message(ALICE, text, ts=mention["ts"])
    message["client_msg_id"] = mention["client_msg_id"]
    message["blocks"] = mention["blocks"]
    return sender.event_envelope(mention), sender.event_envelope(message)


def bot_texts(slack: FakeSlack, thread_ts: str) -> list[str]:
    return [
        message_text(m)
        for m in slack.thread(CHANNEL, thread_ts, include_root=False)
        if m.user == slack.bot_user_id
    ]


async def test_a_mention_over_socket_mode_is_acked_relayed_and_answered(
    fakes: tuple[FakeSlack, FakeAmigo], sender: SlackSender, app: App
) -> None:
    slack, amigo = fakes
    [opened] = slack.calls_named("apps.connections.open")
    assert opened.ok and opened.token == slack.app_token
    text = "Hello from the fake agent, streamed over a few pieces."
    amigo.queue_reply(Reply(text=text, pieces=4, delay=0.05))

    mention, message = mention_envelope(sender, "<@UBOT> hello there")
    ids = [
        await slack.push_socket_event("events_api", mention),
        await slack.push_socket_event("events_api", message),
    ]
    ts = mention["event"]["ts"]
    await app.wait_until(lambda: bot_texts(slack, ts) == [text], "the reply in the thread")

    for envelope_id in ids:
        await slack.wait_for_socket_ack(envelope_id)
        delay = slack.socket_ack_delay(envelope_id)
        assert delay is not None and delay < ACK_DEADLINE, delay
    assert slack.unacked_socket_envelopes() == []
    assert slack.socket_messages == []
    [created] = amigo.calls_named("create_conversation")
    assert created.status < 300

    # Operators watch a Socket Mode app on its port, as they would in HTTP mode.
    async with httpx.AsyncClient(base_url=app.url) as http:
        health = await http.get("/healthz")
        assert (health.status_code, health.json()) == (200, {"ok": True})
        metrics = (await http.get("/metrics")).text
    assert 'amigo_slack_turns_ended_total{state="done"} 1.0' in metrics, metrics
    assert "/healthz and /metrics on http://127.0.0.1:" in app.output

    assert await app.stop() == 0, app.tail
    await slack.wait_for(lambda s: s.socket_connected == 0, description="connection closed")
    assert slack.app_token not in app.output
    assert amigo.api_key not in app.output
    assert "Traceback" not in app.output


async def test_a_redelivered_envelope_starts_one_conversation(
    fakes: tuple[FakeSlack, FakeAmigo], sender: SlackSender, app: App
) -> None:
    slack, amigo = fakes
    text = "Only one conversation for one post."
    amigo.queue_reply(Reply(text=text, pieces=2))
    mention, _ = mention_envelope(sender, "<@UBOT> once, please")
    envelope_id = await slack.push_socket_event("events_api", mention)
    ts = mention["event"]["ts"]
    await app.wait_until(lambda: bot_texts(slack, ts) == [text], "the reply in the thread")

    # Slack redelivers the same envelope when it thinks the first one was not acknowledged.
    again = await slack.push_socket_event(
        "events_api",
        mention,
        envelope_id=envelope_id,
        retry_attempt=1,
        retry_reason="timeout",
    )
    assert again == envelope_id
    await app.wait_until(
        lambda: len([a for a in slack.socket_acks if a.envelope_id == envelope_id]) == 2,
        "both deliveries acknowledged",
    )
    event_id = mention["event_id"]
    await app.wait_until(
        lambda: any(f"event {event_id}: duplicate" in line for line in app.lines),
        "the app to drop the redelivery",
    )
    assert len(amigo.calls_named("create_conversation")) == 1
    assert bot_texts(slack, ts) == [text]
    assert await app.stop() == 0, app.tail


async def test_sigterm_lets_a_streaming_reply_finish(
    fakes: tuple[FakeSlack, FakeAmigo], sender: SlackSender, app: App
) -> None:
    slack, amigo = fakes
    text = "A reply that is still streaming when the app is told to stop."
    amigo.queue_reply(Reply(text=text, pieces=6, delay=0.2))
    mention, _ = mention_envelope(sender, "<@UBOT> tell me a long story")
    await slack.push_socket_event("events_api", mention)
    await app.wait_until(lambda: slack.calls_named("chat.update"), "the reply to start streaming")
    assert await app.stop() == 0, app.tail
    assert bot_texts(slack, mention["event"]["ts"]) == [text]
    await slack.wait_for(lambda s: s.socket_connected == 0, description="connection closed")


async def test_sigterm_while_slack_cannot_be_reached_still_stops_the_app(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeAmigo]
) -> None:
    slack, amigo = fakes
    slack.fail_next("apps.connections.open", "internal_error", status=500, times=1000)
    app = await start_app(slack, amigo, tmp_path)
    try:
        await app.wait_until(
            lambda: slack.calls_named("apps.connections.open"), "a try to open a connection"
        )
        assert await app.stop(timeout=10) == 0, app.tail
        assert slack.socket_connections_opened == 0
    finally:
        await app.kill()


async def test_an_app_token_slack_refuses_stops_the_app_with_exit_code_2(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeAmigo]
) -> None:
    slack, amigo = fakes
    wrong = "xapp-1-A0TEST-revoked-or-mistyped"
    app = await start_app(slack, amigo, tmp_path, app_token=wrong)
    try:
        code = await asyncio.wait_for(app.proc.wait(), 15)
        await asyncio.wait_for(app.reader, 5)
        assert code == 2, app.tail
        assert "Slack refused SLACK_APP_TOKEN (invalid_auth)" in app.output
        assert wrong not in app.output
        assert "Traceback" not in app.output
        assert slack.socket_connections_opened == 0
        assert amigo.calls == []
    finally:
        await app.kill()


async def test_a_taken_port_costs_health_and_metrics_not_the_connection(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeAmigo], sender: SlackSender
) -> None:
    slack, amigo = fakes
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        app = await start_app(slack, amigo, tmp_path, port=taken.getsockname()[1])
        try:
            await app.wait_until(lambda: slack.socket_connected, "a Socket Mode connection", 30)
            mention, _ = mention_envelope(sender, "<@UBOT> still here?")
            await slack.push_socket_event("events_api", mention)
            await app.wait_until(
                lambda: bot_texts(slack, mention["event"]["ts"]), "the reply in the thread"
            )
            assert "no /healthz or /metrics: port" in app.output
            assert await app.stop() == 0, app.tail
        finally:
            await app.kill()
