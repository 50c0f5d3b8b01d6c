"""The real app on a loopback port, between a fake Slack and a fake Amigo.

Tests talk to the app only as Slack does (signed HTTP requests to
``/slack/events``) and look at what reached the fakes.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn

from slackbot.config import load_settings
from slackbot.runtime import Runtime
from slackbot.sandbox.amigo_fake import FakeAmigo
from slackbot.sandbox.slack_fake import FakeMessage, FakeSlack, message_text
from slackbot.sandbox.slack_sender import SlackSender
from slackbot.slack.tokens import BotTokens
from slackbot.store.db import migrate
from slackbot.web import create_web_app
from tests.databases import fresh_database

SIGNING_SECRET = "made-up-signing-secret-for-tests"
SERVICE_ID = "0123456789abcdef01234567"
CHANNEL = "C0CHAN"
ALICE, BOB = "UALICE", "UBOB"

T = TypeVar("T")


@dataclass
class Harness:
    slack: FakeSlack
    amigo: FakeAmigo
    sender: SlackSender
    runtime: Runtime
    url: str

    async def wait_for(
        self, predicate: Callable[[], T], timeout: float = 10.0, what: str | None = None
    ) -> T:
        """Wait until ``predicate()`` is truthy (it may read either fake)."""
        return await self.slack.wait_for(lambda _: predicate(), timeout=timeout, description=what)

    async def settle(self, timeout: float = 15.0) -> None:
        """Wait until the app has no background work left."""
        await asyncio.wait_for(self.runtime.tasks.wait_idle(), timeout)

    def bot_replies(self, thread_ts: str, channel: str = CHANNEL) -> list[FakeMessage]:
        return [
            m
            for m in self.slack.thread(channel, thread_ts, include_root=False)
            if m.user == self.slack.bot_user_id
        ]

    def bot_texts(self, thread_ts: str, channel: str = CHANNEL) -> list[str]:
        return [message_text(m) for m in self.bot_replies(thread_ts, channel)]


def settings_overrides(slack: FakeSlack, amigo: FakeAmigo, database_url: str) -> dict[str, Any]:
    return {
        **slack.app_settings(SIGNING_SECRET),
        **amigo.app_settings(SERVICE_ID),
        "slack_app_token": "",
        "database_url": database_url,
        "slack_edit_interval_seconds": 0.3,
        # Most tests script Slack's faults on the placeholder and its edits; the native
        # stream and the writer chosen per reply (the default) have tests of their own
        # (test_streaming.py, test_writer_budgets.py), and the durability tests run both.
        "slack_reply_writer": "edit",
        "amigo_retry_max_wait_seconds": 2.0,
        "shutdown_grace_seconds": 5.0,
    }


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def slack(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.reset()
    fake_slack.add_user(
        ALICE,
        name="alice",
        real_name="Alice Liddell",
        email="alice@example.com",
        first_name="Alice",
        last_name="Liddell",
    )
    fake_slack.add_user(
        BOB,
        name="bob",
        real_name="Bob Builder",
        first_name="Bob",
        last_name="Builder",
        display_name="Bob Builder",
    )
    return fake_slack


@pytest.fixture
def amigo() -> Iterator[FakeAmigo]:
    with FakeAmigo() as fake:
        yield fake


@pytest.fixture
def extra_settings() -> dict[str, Any]:
    """Override in a test module (or parametrize) to change the app's settings."""
    return {}


@pytest.fixture
def bot_tokens() -> BotTokens | None:
    """Override in a test module to serve several workspaces (None: the one workspace of
    the settings' bot token)."""
    return None


@pytest.fixture
async def harness(
    slack: FakeSlack,
    amigo: FakeAmigo,
    tmp_path: Path,
    extra_settings: dict[str, Any],
    bot_tokens: BotTokens | None,
) -> AsyncIterator[Harness]:
    with fresh_database(tmp_path) as url:
        async for h in _serve(slack, amigo, url, extra_settings, bot_tokens):
            yield h


async def _serve(
    slack: FakeSlack,
    amigo: FakeAmigo,
    database_url: str,
    extra_settings: dict[str, Any],
    tokens: BotTokens | None = None,
) -> AsyncIterator[Harness]:
    overrides = settings_overrides(slack, amigo, database_url) | extra_settings
    settings = load_settings(**overrides)
    await migrate(settings.database_url)
    runtime = Runtime(settings, tokens=tokens)
    await runtime.introduce()  # as `amigo-slack run` does before it serves
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_web_app(runtime), log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    url = f"http://127.0.0.1:{port}"
    async with SlackSender(url, SIGNING_SECRET, team_id=slack.team_id) as sender:
        await slack.wait_for(lambda _: server.started, timeout=10, description="app started")
        yield Harness(slack, amigo, sender, runtime, url)
        server.should_exit = True
        await asyncio.wait_for(serving, 30)
    sock.close()
