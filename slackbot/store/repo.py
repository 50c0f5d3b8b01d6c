"""The store: every database read and write of the app, each one short transaction.

Claims (events, messages) rely on unique constraints: an INSERT that collides means
somebody else already took the thing, which is the whole point. Reads return frozen
records (:mod:`slackbot.store.records`), never live rows.
"""

from __future__ import annotations

from slackbot.store.claims import Claims
from slackbot.store.conversations import Conversations
from slackbot.store.inbound import Inbound
from slackbot.store.leases import Leases
from slackbot.store.records import (
    Conversation,
    IncomingMessage,
    Progress,
    Queue,
    ThreadKey,
    Turn,
)
from slackbot.store.turns import Turns

__all__ = [
    "Conversation",
    "IncomingMessage",
    "Progress",
    "Queue",
    "Store",
    "ThreadKey",
    "Turn",
]


class Store(Inbound, Claims, Leases, Conversations, Turns):
    """One object for the whole store; its parts live in the modules named above."""
