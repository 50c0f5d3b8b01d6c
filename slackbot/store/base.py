"""The one way the store talks to the database: short transactions, and claims that
rely on unique constraints (an INSERT that collides means somebody got there first)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from slackbot.store.db import session_factory


class StoreBase:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
        # SQLite has one writer at a time, and a connection that finds the file locked
        # waits in SQLite's busy handler, which sleeps in steps of up to 100 ms: a
        # message's save (Slack's ack waits on it) could sleep behind a lease renewal.
        # Writers of this process queue here instead, first come, first served.
        self._statements: dict[str, Executable] = {}
        self._one_writer: AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if engine.dialect.name == "sqlite" else nullcontext()
        )

    def _cached(self, name: str, build: Callable[[], Executable]) -> Executable:
        """A statement of the ack's path, built once and run with bound parameters:
        building one (``.values(...)``) costs more than SQLite takes to run it."""
        statement = self._statements.get(name)
        if statement is None:
            statement = self._statements[name] = build()
        return statement

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _insert_or(self, model: Any) -> Any:
        """An INSERT that can say what to do on a conflict (``on_conflict_do_...``):
        both backends have one, each in its own dialect."""
        return (postgresql_insert if self.dialect == "postgresql" else sqlite_insert)(model)

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncSession]:
        """A session for a transaction that writes (it may read first)."""
        async with self._one_writer, self._sessions() as session:
            yield session

    async def _insert(self, row: Any) -> bool:
        """Insert ``row``; False when a unique constraint says it exists already."""
        async with self._writing() as session:
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()
                return False
            return True

    async def _write(self, *statements: Executable) -> list[int]:
        """Run ``statements`` in one transaction; how many rows each one touched."""
        async with self._writing() as session:
            counts = [
                int(getattr(await session.execute(statement), "rowcount", 0) or 0)
                for statement in statements
            ]
            await session.commit()
            return counts

    async def _claim(
        self, statement: Executable, values: dict[str, Any] | None = None
    ) -> int | None:
        """Run one INSERT; the rows it added, or None when a unique constraint refused it."""
        async with self._writing() as session:
            try:
                # Core, not the ORM: with parameters, an ORM INSERT would be a bulk one.
                result = await (await session.connection()).execute(statement, values)
                await session.commit()
            except IntegrityError:
                await session.rollback()
                return None
            return int(getattr(result, "rowcount", 0) or 0)

    async def _rows(self, query: Executable) -> Sequence[Any]:
        async with self._sessions() as session:
            rows: Sequence[Any] = (await session.execute(query)).all()
            return rows

    async def _scalars(self, query: Executable) -> Sequence[Any]:
        async with self._sessions() as session:
            found: Sequence[Any] = (await session.scalars(query)).all()
            return found

    async def _scalar(self, query: Executable) -> Any:
        async with self._sessions() as session:
            return await session.scalar(query)
