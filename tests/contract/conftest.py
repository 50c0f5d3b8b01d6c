"""Fixtures for the Amigo contract tests: the spec, a checked fake and a client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from slackbot.amigo import AmigoClient
from slackbot.sandbox.amigo_fake import FakeAmigo

from .amigo_spec import AmigoSpec


@pytest.fixture(scope="session")
def spec() -> AmigoSpec:
    return AmigoSpec()


@pytest.fixture
def fake(spec: AmigoSpec) -> Iterator[FakeAmigo]:
    fake = FakeAmigo(event_validator=spec.check_event).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
async def client(fake: FakeAmigo) -> AsyncIterator[AmigoClient]:
    async with AmigoClient(fake.url, fake.organization_id, fake.api_key, fake.api_key_id) as client:
        yield client
