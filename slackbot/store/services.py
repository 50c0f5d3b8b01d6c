"""Which Amigo service a channel's conversations start in, and every change to that.

A channel without a row uses the default service (a setting). Each change writes the
mapping and a row of its history in one transaction: who changed it, when, to what.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from slackbot.store.base import StoreBase
from slackbot.store.models import ChannelServiceChangeRow, ChannelServiceRow, utcnow


@dataclass(frozen=True, slots=True)
class ChannelService:
    """A channel mapped to a service: its conversations start there."""

    team_id: str
    channel_id: str
    service_id: str
    version_set: str
    set_by: str
    set_at: datetime

    @classmethod
    def of(cls, row: ChannelServiceRow) -> ChannelService:
        return cls(
            row.team_id, row.channel_id, row.service_id, row.version_set, row.set_by, row.set_at
        )


@dataclass(frozen=True, slots=True)
class ServiceChange:
    """One change of a channel's service; ``service_id`` None: back to the default."""

    team_id: str
    channel_id: str
    service_id: str | None
    version_set: str | None
    changed_by: str
    changed_at: datetime


class ChannelServices(StoreBase):
    async def channel_service(self, team_id: str, channel_id: str) -> ChannelService | None:
        rows = await self._scalars(
            select(ChannelServiceRow).where(
                ChannelServiceRow.team_id == team_id, ChannelServiceRow.channel_id == channel_id
            )
        )
        return ChannelService.of(rows[0]) if rows else None

    async def channel_services(self, team_id: str) -> list[ChannelService]:
        """The workspace's mapped channels, by channel id."""
        rows = await self._scalars(
            select(ChannelServiceRow)
            .where(ChannelServiceRow.team_id == team_id)
            .order_by(ChannelServiceRow.channel_id)
        )
        return [ChannelService.of(row) for row in rows]

    async def set_channel_service(
        self, team_id: str, channel_id: str, service_id: str, version_set: str, *, by: str
    ) -> ChannelService:
        """Map the channel (again) and keep the change."""
        now = utcnow()
        values: dict[str, object] = {"service_id": service_id, "version_set": version_set}
        values |= {"set_by": by, "set_at": now}
        upsert = (
            self._insert_or(ChannelServiceRow)
            .values(team_id=team_id, channel_id=channel_id, **values)
            .on_conflict_do_update(index_elements=["team_id", "channel_id"], set_=values)
        )
        async with self._writing() as session:
            await session.execute(upsert)
            session.add(_change(team_id, channel_id, service_id, version_set, by, now))
            await session.commit()
        return ChannelService(team_id, channel_id, service_id, version_set, by, now)

    async def remove_channel_service(self, team_id: str, channel_id: str, *, by: str) -> bool:
        """Back to the default service; False (and nothing kept) when it was not mapped."""
        async with self._writing() as session:
            result = await session.execute(
                delete(ChannelServiceRow).where(
                    ChannelServiceRow.team_id == team_id,
                    ChannelServiceRow.channel_id == channel_id,
                )
            )
            if not getattr(result, "rowcount", 0):
                await session.rollback()
                return False
            session.add(_change(team_id, channel_id, None, None, by, utcnow()))
            await session.commit()
            return True

    async def channel_service_changes(
        self, team_id: str, channel_id: str | None = None
    ) -> list[ServiceChange]:
        """Every change, oldest first (of one channel, or of the workspace)."""
        query = select(ChannelServiceChangeRow).where(ChannelServiceChangeRow.team_id == team_id)
        if channel_id is not None:
            query = query.where(ChannelServiceChangeRow.channel_id == channel_id)
        rows = await self._scalars(query.order_by(ChannelServiceChangeRow.id))
        return [
            ServiceChange(
                r.team_id, r.channel_id, r.service_id, r.version_set, r.changed_by, r.changed_at
            )
            for r in rows
        ]


def _change(
    team_id: str,
    channel_id: str,
    service_id: str | None,
    version_set: str | None,
    by: str,
    at: datetime,
) -> ChannelServiceChangeRow:
    return ChannelServiceChangeRow(
        team_id=team_id,
        channel_id=channel_id,
        service_id=service_id,
        version_set=version_set,
        changed_by=by,
        changed_at=at,
    )
