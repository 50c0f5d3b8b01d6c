"""Inbound messages: saved with one INSERT before Slack is acknowledged."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Executable, or_, select, update

from slackbot.store.base import StoreBase
from slackbot.store.models import InboundRow, utcnow
from slackbot.store.records import IncomingMessage, ThreadKey


class Inbound(StoreBase):
    async def record_inbound(self, message: IncomingMessage) -> int | None:
        """Save a message to be routed; its id, or None when it was saved before (a
        redelivery, or the other event of a mention). Raises when it cannot be saved."""
        statement = self._cached("record_inbound", self._record_inbound_statement)
        async with self._writing(urgent=True) as session:
            result = await session.execute(
                statement,
                {
                    "team_id": message.team_id,
                    "channel_id": message.channel_id,
                    "ts": message.ts,
                    "thread_ts": message.thread_ts,
                    "user_id": message.user_id,
                    "text": message.text,
                    "mentions_bot": message.mentions_bot,
                    "is_dm": message.is_dm,
                    "event_id": message.event_id,
                    "attachment": (
                        message.attachment.dumps() if message.attachment is not None else None
                    ),
                    "received_at": utcnow(),
                },
            )
            inbound_id = result.scalar()
            await session.commit()
            return int(inbound_id) if inbound_id is not None else None

    def _record_inbound_statement(self) -> Executable:
        statement: Executable = (
            self._insert_or(InboundRow)
            .on_conflict_do_nothing(index_elements=["team_id", "channel_id", "ts"])
            .returning(InboundRow.id)
        )
        return statement

    async def mark_routed(self, inbound_id: int) -> None:
        await self._write(
            update(InboundRow).where(InboundRow.id == inbound_id).values(routed_at=utcnow())
        )

    async def unrouted_of(self, thread: ThreadKey) -> list[tuple[int, IncomingMessage]]:
        """The thread's saved messages not routed yet, in the order they were saved."""
        rows = await self._scalars(
            select(InboundRow)
            .where(
                InboundRow.team_id == thread.team_id,
                InboundRow.channel_id == thread.channel_id,
                or_(InboundRow.thread_ts == thread.thread_ts, InboundRow.ts == thread.thread_ts),
                InboundRow.routed_at.is_(None),
            )
            .order_by(InboundRow.id)
        )
        return [(row.id, IncomingMessage.of(row)) for row in rows]

    async def unrouted_threads(self, older_than: float) -> list[ThreadKey]:
        """Threads with a message saved ``older_than`` seconds ago and not routed yet
        (the process that saved it stopped before routing it)."""
        before = utcnow() - timedelta(seconds=older_than)
        rows = await self._scalars(
            select(InboundRow)
            .where(InboundRow.routed_at.is_(None), InboundRow.received_at < before)
            .order_by(InboundRow.id)
        )
        return list(dict.fromkeys(IncomingMessage.of(row).thread for row in rows))
