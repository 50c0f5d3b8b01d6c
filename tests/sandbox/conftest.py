"""Fixtures for the sandbox fakes' own tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from slackbot.sandbox.slack_fake import FakeSlack


@pytest.fixture(scope="session")
def _running_fake_slack() -> Iterator[FakeSlack]:
    # Stopping uvicorn takes ~0.2 s, so one server serves the whole session.
    fake = FakeSlack().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake_slack(_running_fake_slack: FakeSlack) -> FakeSlack:
    _running_fake_slack.reset()
    return _running_fake_slack


@pytest.fixture
def web_client(fake_slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=fake_slack.bot_token, base_url=fake_slack.api_url)
