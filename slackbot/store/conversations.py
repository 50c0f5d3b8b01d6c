"""Users and conversations: who speaks to Amigo, and which conversation a thread is."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select, update

from slackbot.store.base import StoreBase
from slackbot.store.models import (
    OPEN_CONVERSATION_STATES,
    AmigoUserRow,
    ConversationRow,
    ConversationState,
    TurnRow,
    TurnState,
    utcnow,
)
from slackbot.store.records import Conversation, Progress, ThreadKey


def _in_thread(thread: ThreadKey) -> tuple[ColumnElement[bool], ...]:
    return (
        ConversationRow.team_id == thread.team_id,
        ConversationRow.channel_id == thread.channel_id,
        ConversationRow.thread_ts == thread.thread_ts,
    )


class Conversations(StoreBase):
    # -- users -------------------------------------------------------------

    async def amigo_user(self, team_id: str, slack_user_id: str) -> str | None:
        """The Amigo user that speaks for a Slack user, if one was made."""
        found: str | None = await self._scalar(
            select(AmigoUserRow.amigo_user_id).where(
                AmigoUserRow.team_id == team_id, AmigoUserRow.slack_user_id == slack_user_id
            )
        )
        return found

    async def save_amigo_user(
        self, team_id: str, slack_user_id: str, amigo_user_id: str, email: str
    ) -> None:
        row = AmigoUserRow(
            team_id=team_id, slack_user_id=slack_user_id, amigo_user_id=amigo_user_id, email=email
        )
        await self._insert(row)

    # -- reading -----------------------------------------------------------

    async def _one(
        self, *conditions: ColumnElement[bool], newest: bool = False
    ) -> Conversation | None:
        query = select(ConversationRow).where(*conditions)
        if newest:
            query = query.order_by(ConversationRow.id.desc())
        rows = await self._scalars(query.limit(1))
        return Conversation.of(rows[0]) if rows else None

    async def conversation(self, conversation_id: int) -> Conversation | None:
        return await self._one(ConversationRow.id == conversation_id)

    async def open_conversation(self, thread: ThreadKey) -> Conversation | None:
        return await self._one(
            *_in_thread(thread), ConversationRow.state.in_(OPEN_CONVERSATION_STATES)
        )

    async def latest_conversation(self, thread: ThreadKey) -> Conversation | None:
        return await self._one(*_in_thread(thread), newest=True)

    async def conversation_by_amigo_id(self, amigo_conversation_id: str) -> Conversation | None:
        return await self._one(ConversationRow.amigo_conversation_id == amigo_conversation_id)

    async def open_conversations_of(
        self, team_id: str, user_id: str, *, exclude_id: int | None = None
    ) -> list[Conversation]:
        """The user's open conversations, oldest first."""
        query = select(ConversationRow).where(
            ConversationRow.team_id == team_id,
            ConversationRow.owner_user_id == user_id,
            ConversationRow.state.in_(OPEN_CONVERSATION_STATES),
        )
        if exclude_id is not None:
            query = query.where(ConversationRow.id != exclude_id)
        rows = await self._scalars(query.order_by(ConversationRow.id))
        return [Conversation.of(row) for row in rows]

    async def latest_conversations_of(
        self, team_id: str, user_id: str, *, limit: int
    ) -> tuple[list[Conversation], int]:
        """The user's latest ``limit`` conversations, newest first, and how many they
        have in all (not counting those Amigo never created)."""
        mine = (
            ConversationRow.team_id == team_id,
            ConversationRow.owner_user_id == user_id,
            ConversationRow.state != ConversationState.FAILED,
        )
        rows = await self._scalars(
            select(ConversationRow).where(*mine).order_by(ConversationRow.id.desc()).limit(limit)
        )
        total = await self._scalar(select(func.count(ConversationRow.id)).where(*mine))
        return [Conversation.of(row) for row in rows], int(total or 0)

    async def known_amigo_conversations(self, amigo_ids: list[str]) -> dict[str, Conversation]:
        """The conversations Amigo knows by these ids, by id (those this app knows)."""
        if not amigo_ids:
            return {}
        rows = await self._scalars(
            select(ConversationRow).where(ConversationRow.amigo_conversation_id.in_(amigo_ids))
        )
        return {str(row.amigo_conversation_id): Conversation.of(row) for row in rows}

    async def interactions_of(self, conversation_id: int) -> set[str]:
        """The Amigo interactions the conversation's turns recorded."""
        rows = await self._scalars(
            select(TurnRow.interaction_id)
            .where(TurnRow.conversation_id == conversation_id, TurnRow.interaction_id.is_not(None))
            .distinct()
        )
        return {str(i) for i in rows}

    async def progress(self, conversation_id: int) -> Progress:
        """The latest interaction, its reply, and how many interactions there were."""
        answered = (
            TurnRow.conversation_id == conversation_id,
            TurnRow.interaction_id.is_not(None),
        )
        latest = await self._rows(
            select(TurnRow.interaction_id, TurnRow.reply_ts)
            .where(*answered)
            .order_by(TurnRow.id.desc())
            .limit(1)
        )
        count = await self._scalar(
            select(func.count(func.distinct(TurnRow.interaction_id))).where(*answered)
        )
        interaction_id, reply_ts = latest[0] if latest else (None, None)
        return Progress(interaction_id, reply_ts, int(count or 0))

    # -- changing ----------------------------------------------------------

    async def _update(self, conversation_id: int, *conditions: Any, **values: Any) -> bool:
        (count,) = await self._write(
            update(ConversationRow)
            .where(ConversationRow.id == conversation_id, *conditions)
            .values(**values)
        )
        return count > 0

    async def set_conversation_user(self, conversation_id: int, amigo_user_id: str) -> None:
        await self._update(conversation_id, amigo_user_id=amigo_user_id)

    async def set_conversation_service(
        self, conversation_id: int, service_id: str, version_set: str
    ) -> Conversation | None:
        """Record the service a conversation starts in, once (a second call leaves the
        first choice); the conversation as it now is."""
        await self._update(
            conversation_id,
            ConversationRow.service_id.is_(None),
            service_id=service_id,
            version_set=version_set,
        )
        return await self.conversation(conversation_id)

    async def services_of(self, team_id: str, user_id: str) -> set[str]:
        """The services the user's conversations started in (those recorded)."""
        rows = await self._scalars(
            select(ConversationRow.service_id)
            .where(
                ConversationRow.team_id == team_id,
                ConversationRow.owner_user_id == user_id,
                ConversationRow.service_id.is_not(None),
            )
            .distinct()
        )
        return {str(s) for s in rows}

    async def activate_conversation(
        self, conversation_id: int, amigo_conversation_id: str, turn_ids: list[int]
    ) -> None:
        """Amigo created the conversation: it is active, and its first turn is streaming."""
        await self._write(
            update(ConversationRow)
            .where(ConversationRow.id == conversation_id)
            .values(amigo_conversation_id=amigo_conversation_id, state=ConversationState.ACTIVE),
            update(TurnRow).where(TurnRow.id.in_(turn_ids)).values(state=TurnState.STREAMING),
        )

    async def finish_conversation(self, conversation_id: int, reason: str) -> bool:
        """Mark finished; False when it was not open (somebody finished it first)."""
        return await self._update(
            conversation_id,
            ConversationRow.state.in_(OPEN_CONVERSATION_STATES),
            state=ConversationState.FINISHED,
            finished_at=utcnow(),
            finish_reason=reason[:32],
        )
