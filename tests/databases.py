"""A fresh database for each test, on SQLite or on a real PostgreSQL server.

The suite runs on SQLite by default. With ``TEST_DATABASE_URL`` set to a
PostgreSQL server (``postgresql+asyncpg://user:password@host:port/postgres``),
each test gets a database of its own there, created and dropped around it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.sync import run_sync

SERVER_URL = os.environ.get("TEST_DATABASE_URL", "")


def on_postgresql() -> bool:
    return SERVER_URL.startswith("postgresql")


def _admin_dsn() -> str:
    url = make_url(SERVER_URL).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(_admin_dsn())
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def fresh_database(tmp_path: Path) -> Iterator[str]:
    """Yields the SQLAlchemy async URL of an empty database."""
    if not on_postgresql():
        yield f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
        return
    name = f"amigo_test_{uuid.uuid4().hex[:12]}"
    run_sync(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    """Run a read-only query with a synchronous driver (for checks from outside the app)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        sync_url = parsed.set(drivername="sqlite")
    else:
        sync_url = parsed.set(drivername="postgresql+asyncpg")
        return run_sync(_query_async(sync_url.render_as_string(hide_password=False), sql))
    engine = sa.create_engine(sync_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


async def _query_async(url: str, sql: str) -> list[tuple[object, ...]]:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        return [tuple(row) for row in await conn.fetch(sql)]
    finally:
        await conn.close()
