"""Fixtures for the Amigo client tests: a fake Amigo and a client pointed at it.

Every event the fake streams in these tests is also checked against the spec
(the helper is loaded from tests/contract by path, so it works whatever the
test packages are called).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from slackbot.amigo import AmigoClient
from slackbot.sandbox.amigo_fake import FakeAmigo


def _spec_module() -> ModuleType:
    name = "amigo_contract_spec"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "contract" / "amigo_spec.py"
        module_spec = importlib.util.spec_from_file_location(name, path)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def spec() -> object:
    return _spec_module().AmigoSpec()


@pytest.fixture(scope="session")
def fake_server(spec: object) -> Iterator[FakeAmigo]:
    fake = FakeAmigo(event_validator=spec.check_event).start()  # type: ignore[attr-defined]
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake(fake_server: FakeAmigo) -> Iterator[FakeAmigo]:
    """The shared fake, reset for this test; its streams must be closed by the end."""
    fake_server.reset()
    yield fake_server
    for reply in fake_server.replies_held():
        reply.release()
    fake_server.wait_for_sync(lambda: fake_server.open_streams() == 0)
    assert fake_server.contract_violations == []


@pytest.fixture
async def client(fake: FakeAmigo) -> AsyncIterator[AmigoClient]:
    async with AmigoClient(fake.url, fake.organization_id, fake.api_key, fake.api_key_id) as client:
        yield client


@pytest.fixture
def user(fake: FakeAmigo) -> str:
    return fake.add_user(email="member@example.test", first_name="Mem", last_name="Ber")
