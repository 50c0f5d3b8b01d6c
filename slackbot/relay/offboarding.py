"""A workspace that uninstalled the app (or revoked its tokens): its open conversations
are finished in Amigo, and what the app keeps of it is deleted once the retention
period is over, unless the app is installed there again first.

An org-wide install of an Enterprise Grid org leaves every workspace of the org that it
served (as their events named the org): each is offboarded as a workspace of its own,
but one that has an install of its own, which serves it still."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from slackbot.relay.conversations import Conversations
from slackbot.store.models import utcnow
from slackbot.store.repo import Store

log = logging.getLogger("slackbot.offboarding")

REASON = "uninstalled"

Forget = Callable[[str | None, str | None], Awaitable[object]]
"""Drops what is kept in memory for a workspace (team, org) or, with no team, an org."""


class Offboarding:
    def __init__(
        self,
        store: Store,
        conversations: Conversations,
        retention_days: float,
        forget: Forget | None = None,
    ) -> None:
        self._store = store
        self._conversations = conversations
        self._retention = timedelta(days=retention_days)
        self._forget = forget

    async def workspaces(self, team_id: str | None, enterprise_id: str | None) -> list[str]:
        """The workspaces that an uninstall of ``team_id`` (none: of the whole org
        ``enterprise_id``) leaves without the app."""
        if team_id is not None:
            return [team_id]
        return await self._store.workspaces_of_org(enterprise_id) if enterprise_id else []

    async def forget(self, team_id: str | None, enterprise_id: str | None) -> None:
        """At once: nothing of the workspace (or every workspace of the org) is kept in
        memory, so no call to Slack is made with its old token."""
        if self._forget is None:
            return
        await self._forget(team_id, enterprise_id)
        if team_id is None:
            for team in await self.workspaces(None, enterprise_id):
                await self._forget(team, enterprise_id)

    async def left(self, team_id: str | None, enterprise_id: str | None) -> int:
        """Remember since when, and finish the open conversations of the workspace (or
        of every workspace of the org) in Amigo (nothing is said in Slack: the app can
        no longer speak there). Returns how many were finished."""
        finished = 0
        for team in await self.workspaces(team_id, enterprise_id):
            await self._store.mark_uninstalled(team, enterprise_id)
            finished += await self._finish_open(team)
        if team_id is None:
            log.info("org %s uninstalled the app", enterprise_id)
        return finished

    async def _finish_open(self, team_id: str) -> int:
        finished = 0
        for conversation in await self._store.open_conversations_in(team_id):
            try:
                if await self._conversations.finish(conversation, reason=REASON, notice=None):
                    finished += 1
            except Exception as exc:
                log.warning("could not finish conversation %s: %s", conversation.id, exc)
        log.info(
            "workspace %s uninstalled the app: %d open conversation(s) finished; its data is "
            "kept for %g day(s)",
            team_id,
            finished,
            self._retention.total_seconds() / 86400,
        )
        return finished

    async def returned(self, team_id: str | None, enterprise_id: str | None) -> None:
        """Installed again: its data is kept."""
        await self._store.clear_uninstalled(team_id, enterprise_id)

    async def sweep(self) -> int:
        """Delete the data of the workspaces whose retention period is over; how many."""
        deleted = 0
        for gone in await self._store.uninstalled_before(utcnow() - self._retention):
            await self._store.delete_workspace(gone.team_id, gone.enterprise_id)
            log.info(
                "deleted the data of workspace %s (uninstalled on %s)",
                gone.team_id or gone.enterprise_id,
                gone.uninstalled_at.date().isoformat(),
            )
            deleted += 1
        return deleted

    async def sweep_forever(self, interval: float) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as exc:
                log.warning("the retention sweep failed (%s); trying again later", exc)
            await asyncio.sleep(interval)
