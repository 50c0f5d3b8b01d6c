"""Helpers shared by the Amigo client tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from slackbot.amigo import AmigoClient, AmigoEvent, ConversationCreated

SERVICE_ID = "5f1e2d3c4b5a69788796a5b4"


async def collect(events: AsyncIterator[AmigoEvent]) -> list[AmigoEvent]:
    return [event async for event in events]


async def collect_until_error(
    events: AsyncIterator[AmigoEvent],
) -> tuple[list[AmigoEvent], BaseException | None]:
    """The events that arrived, and the exception that ended the stream (if any)."""
    seen: list[AmigoEvent] = []
    try:
        async for event in events:
            seen.append(event)
    except Exception as exc:
        return seen, exc
    return seen, None


async def start_conversation(client: AmigoClient, user: str, **kwargs: Any) -> str:
    """Create a conversation (agent first unless told) and return its id."""
    conversation_id = None
    async for event in client.create_conversation(user, service_id=SERVICE_ID, **kwargs):
        if isinstance(event, ConversationCreated):
            conversation_id = event.conversation_id
    assert conversation_id is not None
    return conversation_id
