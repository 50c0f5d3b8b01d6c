"""Engine, sessions and migrations, and what to tell an admin when the database fails."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

log = logging.getLogger("slackbot.store")

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
"""Shipped inside the package (a link to the repository's top-level `migrations/`)."""

CONNECT_TIMEOUT_SECONDS = 10.0


class DatabaseUnavailable(Exception):
    """The database cannot be opened or reached; the message says why, in plain words."""


def create_engine(url: str) -> AsyncEngine:
    """An engine with settings that suit each backend."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers run beside the one writer; foreign keys are off by default.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


def describe(url: str) -> str:
    """Where the database is, for logs and messages: never the password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {_sqlite_path(parsed)}"
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"
    return f"PostgreSQL at {where}" + (f" as {parsed.username}" if parsed.username else "")


def _sqlite_path(parsed: URL) -> Path | str:
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return database or ":memory:"
    return Path(database).expanduser().resolve()


def explain_failure(exc: BaseException) -> str:
    """The most telling cause in an exception chain, in a few words."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    for error in seen:
        if isinstance(error, ConnectionRefusedError):
            return "connection refused: is the server running and listening on that port?"
        if isinstance(error, socket.gaierror):
            return "the host name cannot be resolved"
        if isinstance(error, TimeoutError):
            return f"no answer within {CONNECT_TIMEOUT_SECONDS:g} seconds"
        if isinstance(error, OSError) and error.strerror:
            return error.strerror.lower()
    innermost = seen[-1]
    text = str(innermost).strip().splitlines()
    detail = text[0] if text else ""
    return detail or type(innermost).__name__


def explain(url: str, exc: BaseException) -> str:
    """One sentence for an admin: which database, and what is wrong with it."""
    return f"cannot use the database ({describe(url)}): {explain_failure(exc)}"


def check_location(url: str) -> None:
    """A SQLite file can only be created in a directory that exists."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return
    path = _sqlite_path(parsed)
    if isinstance(path, Path) and not path.parent.is_dir():
        raise DatabaseUnavailable(
            f"DATABASE_URL names the SQLite file {path}, but the directory "
            f"{path.parent} does not exist: create it, or point DATABASE_URL elsewhere"
        )


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would read '%' in a password as a placeholder.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def head_revision() -> str:
    """The newest schema revision this version of the app ships."""
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    return ",".join(heads)


def migrate_sync(url: str, revision: str = "head") -> None:
    """Bring the schema up to date; :class:`DatabaseUnavailable` says why it could not."""
    check_location(url)
    try:
        command.upgrade(alembic_config(url), revision)
    except Exception as exc:
        log.debug("migration failed", exc_info=True)
        raise DatabaseUnavailable(explain(url, exc)) from exc


async def migrate(url: str, revision: str = "head") -> None:
    """Apply pending migrations. Alembic's env runs its own loop, so use a thread."""
    await asyncio.to_thread(migrate_sync, url, revision)
