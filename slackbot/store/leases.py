"""Thread leases: only the process holding a thread's lease talks to Amigo for it.

A lease that is not renewed expires, and another process takes the thread over; the
sweep finds the turns a stopped process left running and the threads nobody runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import ColumnElement, delete, or_, select, update

from slackbot.store.base import StoreBase
from slackbot.store.models import ThreadLeaseRow, TurnRow, TurnState, utcnow
from slackbot.store.records import ThreadKey, Turn
from slackbot.store.turns import Turns, work

RUNNING = (TurnState.SENDING, TurnState.STREAMING)


def _lease_of(thread: ThreadKey) -> tuple[ColumnElement[bool], ...]:
    return (
        ThreadLeaseRow.team_id == thread.team_id,
        ThreadLeaseRow.channel_id == thread.channel_id,
        ThreadLeaseRow.thread_ts == thread.thread_ts,
    )


def _unleased() -> ColumnElement[bool]:
    """The turn's thread has no lease, or only an expired one."""
    live = (
        select(ThreadLeaseRow.thread_ts)
        .where(
            ThreadLeaseRow.team_id == TurnRow.team_id,
            ThreadLeaseRow.channel_id == TurnRow.channel_id,
            ThreadLeaseRow.thread_ts == TurnRow.thread_ts,
            ThreadLeaseRow.expires_at >= utcnow(),
        )
        .exists()
    )
    return ~live


class Leases(StoreBase):
    async def acquire_lease(self, thread: ThreadKey, holder: str, seconds: float) -> bool:
        """Take (or keep) the right to run ``thread``'s turns for ``seconds``.

        True when ``holder`` has it now: nobody had it, it had expired, or it was
        already ``holder``'s. One atomic statement (an upsert with a condition).
        """
        now = utcnow()
        until = now + timedelta(seconds=seconds)
        statement = (
            self._insert_or(ThreadLeaseRow)
            .values(
                team_id=thread.team_id,
                channel_id=thread.channel_id,
                thread_ts=thread.thread_ts,
                holder=holder,
                expires_at=until,
            )
            .on_conflict_do_update(
                index_elements=["team_id", "channel_id", "thread_ts"],
                set_={"holder": holder, "expires_at": until},
                where=or_(ThreadLeaseRow.holder == holder, ThreadLeaseRow.expires_at < now),
            )
        )
        (count,) = await self._write(statement)
        return count > 0

    async def renew_leases(self, holder: str, seconds: float) -> set[ThreadKey]:
        """Extend every lease ``holder`` has, in one statement; the threads it still has
        (a lease missing here was taken over after it expired)."""
        async with self._writing() as session:
            rows = (
                await session.execute(
                    update(ThreadLeaseRow)
                    .where(ThreadLeaseRow.holder == holder)
                    .values(expires_at=utcnow() + timedelta(seconds=seconds))
                    .returning(
                        ThreadLeaseRow.team_id,
                        ThreadLeaseRow.channel_id,
                        ThreadLeaseRow.thread_ts,
                    )
                )
            ).all()
            await session.commit()
        return {ThreadKey(*row) for row in rows}

    async def release_lease(self, thread: ThreadKey, holder: str) -> bool:
        """Let the thread go; True when work is left in it (queued, unsure or unshown
        turns), which whoever kicks it next will take. One statement: the look comes
        after the release, so nothing queued meanwhile is missed."""
        async with self._writing() as session:
            result = await session.execute(
                delete(ThreadLeaseRow)
                .where(*_lease_of(thread), ThreadLeaseRow.holder == holder)
                .returning(Turns.work_waits(thread))
            )
            left = result.scalar()
            await session.commit()
        return bool(left)

    async def unleased_threads_with_work(self) -> list[ThreadKey]:
        """Threads nobody runs that have turns to send, to settle or to show."""
        rows = await self._rows(
            select(TurnRow.team_id, TurnRow.channel_id, TurnRow.thread_ts)
            .where(work(), TurnRow.conversation_id.is_not(None), _unleased())
            .distinct()
        )
        return [ThreadKey(*row) for row in rows]

    async def orphaned_running_turns(self) -> list[Turn]:
        """Turns left sending or streaming by a process whose lease ran out."""
        rows = await self._scalars(
            select(TurnRow).where(TurnRow.state.in_(RUNNING), _unleased()).order_by(TurnRow.id)
        )
        return [Turn.of(row) for row in rows]

    async def lose_track(self, turn_ids: Sequence[int], error: str) -> list[int]:
        """Mark these turns unsure (ask Amigo what it has) if they are still running;
        returns those marked. Only one process wins this for a given turn."""
        if not turn_ids:
            return []
        counts = await self._write(
            *(
                update(TurnRow)
                .where(TurnRow.id == turn_id, TurnRow.state.in_(RUNNING))
                .values(state=TurnState.UNSURE, error=error[:200])
                for turn_id in turn_ids
            )
        )
        return [turn_id for turn_id, count in zip(turn_ids, counts, strict=True) if count]
