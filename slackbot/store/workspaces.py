"""Workspaces that uninstalled the app: their data is kept for the retention period,
then deleted (unless the app is installed there again first)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, String, delete, or_, select
from sqlalchemy.orm import Mapped, mapped_column

from slackbot.store.base import StoreBase
from slackbot.store.installs import bots, workspace_orgs
from slackbot.store.models import (
    OPEN_CONVERSATION_STATES,
    AmigoUserRow,
    Base,
    ConversationRow,
    FeedbackRow,
    HintRow,
    InboundRow,
    ThreadEventRow,
    ThreadLeaseRow,
    TurnRow,
    utcnow,
)
from slackbot.store.records import Conversation


class UninstalledRow(Base):
    """A workspace (or, org-wide, a Grid org) whose tokens are gone, and since when."""

    __tablename__ = "uninstalled_workspaces"

    key: Mapped[str] = mapped_column(String(70), primary_key=True)
    team_id: Mapped[str | None] = mapped_column(String(32))
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    uninstalled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True)
class Uninstalled:
    team_id: str | None
    enterprise_id: str | None
    uninstalled_at: datetime


def _key(team_id: str | None, enterprise_id: str | None) -> str:
    return f"{enterprise_id or '-'}:{team_id or '-'}"


class Workspaces(StoreBase):
    async def mark_uninstalled(self, team_id: str | None, enterprise_id: str | None) -> None:
        """Remember when; a second uninstall keeps the first time."""
        statement = (
            self._insert_or(UninstalledRow)
            .values(
                key=_key(team_id, enterprise_id),
                team_id=team_id,
                enterprise_id=enterprise_id,
                uninstalled_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )
        await self._write(statement)

    async def clear_uninstalled(self, team_id: str | None, enterprise_id: str | None) -> None:
        """Installed again: its data stays (installed for a whole org: every workspace
        of the org's)."""
        if team_id is None and enterprise_id is not None:
            where = UninstalledRow.enterprise_id == enterprise_id
        else:
            where = UninstalledRow.key == _key(team_id, enterprise_id)
        await self._write(delete(UninstalledRow).where(where))

    async def workspaces_of_org(self, enterprise_id: str) -> list[str]:
        """The workspaces an org-wide install of ``enterprise_id`` served (as their events
        named the org), but those with an install of their own, which serves them still."""
        own = select(bots.c.team_id).where(
            bots.c.team_id.is_not(None), bots.c.bot_token.is_not(None)
        )
        teams = await self._scalars(
            select(workspace_orgs.c.team_id)
            .where(
                workspace_orgs.c.enterprise_id == enterprise_id,
                workspace_orgs.c.team_id.not_in(own),
            )
            .order_by(workspace_orgs.c.team_id)
        )
        return [str(team) for team in teams]

    async def uninstalled_before(self, cutoff: datetime) -> list[Uninstalled]:
        rows = await self._scalars(
            select(UninstalledRow).where(UninstalledRow.uninstalled_at < cutoff)
        )
        return [Uninstalled(r.team_id, r.enterprise_id, r.uninstalled_at) for r in rows]

    async def is_uninstalled(self, team_id: str | None, enterprise_id: str | None) -> bool:
        found = await self._scalar(
            select(UninstalledRow.key).where(UninstalledRow.key == _key(team_id, enterprise_id))
        )
        return found is not None

    async def open_conversations_in(self, team_id: str) -> list[Conversation]:
        rows = await self._scalars(
            select(ConversationRow)
            .where(
                ConversationRow.team_id == team_id,
                ConversationRow.state.in_(OPEN_CONVERSATION_STATES),
            )
            .order_by(ConversationRow.id)
        )
        return [Conversation.of(row) for row in rows]

    async def delete_workspace(self, team_id: str | None, enterprise_id: str | None) -> None:
        """Everything the app keeps of workspace ``team_id``, and its uninstall mark."""
        statements = []
        if team_id is not None:
            conversations = select(ConversationRow.id).where(ConversationRow.team_id == team_id)
            turns = select(TurnRow.id).where(TurnRow.team_id == team_id)
            statements += [
                delete(FeedbackRow).where(
                    or_(
                        FeedbackRow.conversation_id.in_(conversations),
                        FeedbackRow.turn_id.in_(turns),
                    )
                ),
                delete(ThreadEventRow).where(ThreadEventRow.team_id == team_id),
                delete(TurnRow).where(TurnRow.team_id == team_id),
                delete(ConversationRow).where(ConversationRow.team_id == team_id),
                delete(InboundRow).where(InboundRow.team_id == team_id),
                delete(HintRow).where(HintRow.team_id == team_id),
                delete(ThreadLeaseRow).where(ThreadLeaseRow.team_id == team_id),
                delete(AmigoUserRow).where(AmigoUserRow.team_id == team_id),
            ]
        statements.append(
            delete(UninstalledRow).where(UninstalledRow.key == _key(team_id, enterprise_id))
        )
        await self._write(*statements)
