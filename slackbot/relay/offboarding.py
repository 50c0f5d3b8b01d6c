"""A workspace that uninstalled the app (or revoked its tokens): its open conversations
are finished in Amigo, and what the app keeps of it is deleted once the retention
period is over, unless the app is installed there again first."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from slackbot.relay.conversations import Conversations
from slackbot.store.models import utcnow
from slackbot.store.repo import Store

log = logging.getLogger("slackbot.offboarding")

REASON = "uninstalled"


class Offboarding:
    def __init__(self, store: Store, conversations: Conversations, retention_days: float) -> None:
        self._store = store
        self._conversations = conversations
        self._retention = timedelta(days=retention_days)

    async def left(self, team_id: str | None, enterprise_id: str | None) -> int:
        """Remember since when, and finish the workspace's open conversations in Amigo
        (nothing is said in Slack: the app can no longer speak there). Returns how many
        were finished."""
        await self._store.mark_uninstalled(team_id, enterprise_id)
        if team_id is None:
            return 0
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
