"""Fixtures shared by every test package."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from slackbot.sandbox.amigo_fake import FakeAmigo
from slackbot.sandbox.slack_fake import LIVE_BROADCASTS, FakeSlack
from slackbot.store.db import create_engine, migrate
from slackbot.store.repo import Store
from tests.databases import fresh_database


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database: SQLite, or PostgreSQL when TEST_DATABASE_URL says so."""
    with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """The app's store on a fresh database, migrated to the newest schema."""
    with fresh_database(tmp_path) as url:
        await migrate(url)
        s = Store(create_engine(url))
        yield s
        await s.close()


@pytest.fixture
def fakes() -> Iterator[tuple[FakeSlack, FakeAmigo]]:
    """A fresh fake Slack and fake Amigo (modules that need them set up otherwise have
    their own)."""
    with FakeSlack() as slack, FakeAmigo() as amigo:
        yield slack, amigo


# -- every log line of the whole run is checked for secrets --------------------

SECRETS = (
    "made-up-signing-secret-for-tests",
    "xoxb-test-token",
    "xapp-test-token",
    "fake-api-key-for-tests",
    "fake-api-key-id",
)


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:
            return
        self.leaks.extend(f"{record.name}: {s}" for s in SECRETS if s in text)


_recorder = _Recorder()
_recorder.setFormatter(logging.Formatter("%(message)s"))


def pytest_configure(config: pytest.Config) -> None:
    root = logging.getLogger()
    root.addHandler(_recorder)
    root.setLevel(min(root.level or logging.WARNING, logging.INFO))


@pytest.fixture(autouse=True)
def _nothing_leaks() -> Iterator[None]:
    """After every test: no secret reached the log, and nothing the app sent to Slack
    held a live ``<!channel>``, ``<!here>`` or ``<!everyone>``. (Checked per test, so
    that a failure is reported by the test that caused it, in every worker.)"""
    _recorder.leaks.clear()
    LIVE_BROADCASTS.clear()
    yield
    assert not _recorder.leaks, f"secrets reached the log: {sorted(set(_recorder.leaks))}"
    assert not LIVE_BROADCASTS, f"the app sent live broadcasts: {LIVE_BROADCASTS}"
