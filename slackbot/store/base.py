"""The one way the store talks to the database: short transactions, and claims that
rely on unique constraints (an INSERT that collides means somebody got there first)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from slackbot.store.db import session_factory
from slackbot.store.writers import WriterQueue


class StoreBase:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
        self._statements: dict[str, Executable] = {}
        self._writers = WriterQueue() if engine.dialect.name == "sqlite" else None

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
    async def _writing(self, *, urgent: bool = False) -> AsyncIterator[AsyncSession]:
        """A session for a transaction that writes (it may read first); ``urgent``: Slack's
        ack waits for it."""
        async with AsyncExitStack() as stack:
            if self._writers is not None:
                await stack.enter_async_context(self._writers.turn(urgent=urgent))
            yield await stack.enter_async_context(self._sessions())

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
        self, statement: Executable, values: dict[str, Any] | None = None, *, urgent: bool = False
    ) -> int | None:
        """Run one INSERT; the rows it added, or None when a unique constraint refused it."""
        async with self._writing(urgent=urgent) as session:
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
