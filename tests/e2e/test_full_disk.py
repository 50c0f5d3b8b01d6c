"""A database that cannot be written: nothing acked, health says so, nothing lost after.

The SQLite file lives on a small filesystem of its own (a tmpfs, which needs root to
mount) that the test fills up.
"""

from __future__ import annotations

import errno
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from slackbot.sandbox.amigo_fake import FakeAmigo
from slackbot.sandbox.slack_fake import FakeSlack
from tests.databases import on_postgresql
from tests.e2e.conftest import ALICE, CHANNEL, Harness, _serve

pytestmark = pytest.mark.skipif(on_postgresql(), reason="fills a SQLite file's filesystem")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    place = tmp_path / "disk"
    place.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(place)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.decode().strip()}")
    try:
        yield place
    finally:
        subprocess.run(["umount", "-l", str(place)], check=False)


@pytest.fixture
async def on_small_disk(
    slack: FakeSlack, amigo: FakeAmigo, small_disk: Path
) -> AsyncIterator[tuple[Harness, Path]]:
    database = small_disk / "app.db"
    async for h in _serve(slack, amigo, f"sqlite+aiosqlite:///{database}", {}):
        yield h, database


def fill(place: Path) -> None:
    """Write until the filesystem is full."""
    with (place / "junk").open("ab") as junk:
        try:
            while True:
                junk.write(b"\0" * 65536)
                junk.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


async def health(h: Harness) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(f"{h.url}/healthz")


async def test_a_full_disk_refuses_the_ack_and_nothing_is_lost_after(
    on_small_disk: tuple[Harness, Path],
) -> None:
    h, database = on_small_disk
    assert (await health(h)).status_code == 200
    fill(database.parent)
    # SQLite reuses its write-ahead log's space: give it back, then fill that too.
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    fill(database.parent)

    mention = h.sender.mention(ALICE, "<@UBOT> written on a full disk", channel=CHANNEL)
    refused = await h.sender.event(mention)
    assert refused.status_code == 503  # no ack: Slack delivers it again
    sick = await health(h)
    assert sick.status_code == 503
    assert "full" in sick.json()["database"]
    assert h.amigo.calls_named("create_conversation") == []

    (database.parent / "junk").unlink()
    assert (await health(h)).status_code == 200
    event_id = h.sender.last_event_id
    again = await h.sender.event(mention, event_id=event_id, retry_num=1, retry_reason="http_error")
    assert again.status_code == 200
    await h.wait_for(
        lambda: h.bot_texts(mention["ts"]) == ["Echo: written on a full disk"], what="the reply"
    )
    assert len(h.amigo.calls_named("create_conversation")) == 1
