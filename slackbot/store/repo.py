"""The store: every database read and write of the app, each one short transaction.

Claims (events, messages) rely on unique constraints: an INSERT that collides means
somebody else already took the thing, which is the whole point. Reads return frozen
records (:mod:`slackbot.store.records`), never live rows.
"""

from __future__ import annotations

from sqlalchemy import update

from slackbot.store.claims import Claims
from slackbot.store.conversations import Conversations
from slackbot.store.db import explain_failure
from slackbot.store.events import ThreadEvent, ThreadEvents
from slackbot.store.feedback import Feedback
from slackbot.store.inbound import Inbound
from slackbot.store.leases import Leases
from slackbot.store.models import HealthRow, utcnow
from slackbot.store.records import (
    Conversation,
    IncomingMessage,
    Progress,
    Queue,
    ThreadKey,
    Turn,
)
from slackbot.store.services import ChannelService, ChannelServices, ServiceChange
from slackbot.store.slack_budgets import SlackBudgetBook
from slackbot.store.turns import Turns
from slackbot.store.workspaces import Workspaces

__all__ = [
    "ChannelService",
    "Conversation",
    "IncomingMessage",
    "Progress",
    "Queue",
    "ServiceChange",
    "Store",
    "ThreadEvent",
    "ThreadKey",
    "Turn",
]


class Store(
    Inbound,
    Claims,
    Leases,
    Conversations,
    Turns,
    Feedback,
    ThreadEvents,
    Workspaces,
    ChannelServices,
    SlackBudgetBook,
):
    """One object for the whole store; its parts live in the modules named above."""

    async def writable(self) -> str | None:
        """None when the database takes a write now; otherwise why not, in a few words."""
        try:
            await self._write(
                update(HealthRow).where(HealthRow.id == 1).values(checked_at=utcnow())
            )
        except Exception as exc:
            return explain_failure(exc)
        return None
