"""All database reads and writes of the app, each one short transaction.

Claims (events, messages) rely on unique constraints: an INSERT that collides
means somebody else already took the thing, which is the whole point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from slackbot.store.db import session_factory
from slackbot.store.models import (
    OPEN_CONVERSATION_STATES,
    AmigoUser,
    Conversation,
    ConversationState,
    Hint,
    ProcessedEvent,
    Turn,
    TurnKind,
    TurnState,
    utcnow,
)


@dataclass(frozen=True, slots=True)
class ThreadKey:
    """Where a conversation lives in Slack."""

    team_id: str
    channel_id: str
    thread_ts: str


def thread_of(row: Conversation | Turn) -> ThreadKey:
    return ThreadKey(row.team_id, row.channel_id, row.thread_ts)


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions: async_sessionmaker[AsyncSession] = session_factory(engine)

    async def close(self) -> None:
        await self.engine.dispose()

    async def _insert(self, row: Any) -> bool:
        """Insert ``row``; False when a unique constraint says it exists already."""
        async with self._sessions() as session:
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()
                return False
            return True

    # -- claims ------------------------------------------------------------

    async def claim_event(self, event_id: str) -> bool:
        return await self._insert(ProcessedEvent(event_id=event_id))

    async def claim_hint(self, thread: ThreadKey, user_id: str, kind: str) -> bool:
        """True the first time this hint is given to this user in this thread."""
        return await self._insert(
            Hint(
                team_id=thread.team_id,
                channel_id=thread.channel_id,
                thread_ts=thread.thread_ts,
                user_id=user_id,
                kind=kind,
            )
        )

    async def claim_reply(
        self, conversation: Conversation, *, ts: str, user_id: str, text: str
    ) -> Turn | None:
        """Queue a reply turn for an open conversation, or None if already claimed."""
        turn = Turn(
            team_id=conversation.team_id,
            channel_id=conversation.channel_id,
            thread_ts=conversation.thread_ts,
            ts=ts,
            user_id=user_id,
            text=text,
            kind=TurnKind.REPLY,
            conversation_id=conversation.id,
            state=TurnState.QUEUED,
        )
        return turn if await self._insert(turn) else None

    async def claim_start(
        self, thread: ThreadKey, *, ts: str, user_id: str, text: str
    ) -> tuple[Conversation, Turn] | None:
        """Open a conversation in ``thread`` with its first turn, in one transaction.

        None when the message was claimed before, or when the thread already
        has an open conversation (the caller then treats the message as a reply).
        """
        async with self._sessions() as session:
            conversation = Conversation(
                team_id=thread.team_id,
                channel_id=thread.channel_id,
                thread_ts=thread.thread_ts,
                owner_user_id=user_id,
                state=ConversationState.STARTING,
                turn_count=0,
            )
            session.add(conversation)
            try:
                await session.flush()
                turn = Turn(
                    team_id=thread.team_id,
                    channel_id=thread.channel_id,
                    thread_ts=thread.thread_ts,
                    ts=ts,
                    user_id=user_id,
                    text=text,
                    kind=TurnKind.START,
                    conversation_id=conversation.id,
                    state=TurnState.QUEUED,
                )
                session.add(turn)
                await session.commit()
            except IntegrityError:
                await session.rollback()
                return None
            return conversation, turn

    # -- users -------------------------------------------------------------

    async def amigo_user(self, team_id: str, slack_user_id: str) -> AmigoUser | None:
        async with self._sessions() as session:
            return await session.get(AmigoUser, (team_id, slack_user_id))

    async def save_amigo_user(
        self, team_id: str, slack_user_id: str, amigo_user_id: str, email: str
    ) -> None:
        row = AmigoUser(
            team_id=team_id, slack_user_id=slack_user_id, amigo_user_id=amigo_user_id, email=email
        )
        await self._insert(row)

    # -- conversations -----------------------------------------------------

    async def conversation(self, conversation_id: int) -> Conversation | None:
        async with self._sessions() as session:
            return await session.get(Conversation, conversation_id)

    async def open_conversation(self, thread: ThreadKey) -> Conversation | None:
        async with self._sessions() as session:
            result = await session.scalars(
                select(Conversation).where(
                    Conversation.team_id == thread.team_id,
                    Conversation.channel_id == thread.channel_id,
                    Conversation.thread_ts == thread.thread_ts,
                    Conversation.state.in_(OPEN_CONVERSATION_STATES),
                )
            )
            return result.first()

    async def latest_conversation(self, thread: ThreadKey) -> Conversation | None:
        async with self._sessions() as session:
            result = await session.scalars(
                select(Conversation)
                .where(
                    Conversation.team_id == thread.team_id,
                    Conversation.channel_id == thread.channel_id,
                    Conversation.thread_ts == thread.thread_ts,
                )
                .order_by(Conversation.id.desc())
                .limit(1)
            )
            return result.first()

    async def open_conversations_of(
        self, team_id: str, user_id: str, *, exclude_id: int | None = None
    ) -> Sequence[Conversation]:
        """The user's open conversations, oldest first."""
        async with self._sessions() as session:
            query = select(Conversation).where(
                Conversation.team_id == team_id,
                Conversation.owner_user_id == user_id,
                Conversation.state.in_(OPEN_CONVERSATION_STATES),
            )
            if exclude_id is not None:
                query = query.where(Conversation.id != exclude_id)
            return (await session.scalars(query.order_by(Conversation.id))).all()

    async def conversation_by_amigo_id(self, amigo_conversation_id: str) -> Conversation | None:
        async with self._sessions() as session:
            result = await session.scalars(
                select(Conversation).where(
                    Conversation.amigo_conversation_id == amigo_conversation_id
                )
            )
            return result.first()

    async def _update_conversation(self, conversation_id: int, **values: Any) -> None:
        async with self._sessions() as session:
            await session.execute(
                update(Conversation).where(Conversation.id == conversation_id).values(**values)
            )
            await session.commit()

    async def set_conversation_user(self, conversation_id: int, amigo_user_id: str) -> None:
        await self._update_conversation(conversation_id, amigo_user_id=amigo_user_id)

    async def activate_conversation(self, conversation_id: int, amigo_conversation_id: str) -> None:
        await self._update_conversation(
            conversation_id,
            amigo_conversation_id=amigo_conversation_id,
            state=ConversationState.ACTIVE,
        )

    async def record_interaction(
        self, conversation_id: int, interaction_id: str, reply_ts: str | None = None
    ) -> None:
        async with self._sessions() as session:
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(
                    latest_interaction_id=interaction_id,
                    latest_reply_ts=reply_ts,
                    turn_count=Conversation.turn_count + 1,
                )
            )
            await session.commit()

    async def finish_conversation(self, conversation_id: int, reason: str) -> bool:
        """Mark finished; False when it was not open (somebody finished it first)."""
        async with self._sessions() as session:
            result = await session.execute(
                update(Conversation)
                .where(
                    Conversation.id == conversation_id,
                    Conversation.state.in_(OPEN_CONVERSATION_STATES),
                )
                .values(
                    state=ConversationState.FINISHED, finished_at=utcnow(), finish_reason=reason
                )
            )
            await session.commit()
            return bool(getattr(result, "rowcount", 0))

    async def fail_conversation(self, conversation_id: int, reason: str) -> None:
        await self._update_conversation(
            conversation_id,
            state=ConversationState.FAILED,
            finished_at=utcnow(),
            finish_reason=reason,
        )

    # -- turns -------------------------------------------------------------

    async def turn(self, turn_id: int) -> Turn | None:
        async with self._sessions() as session:
            return await session.get(Turn, turn_id)

    async def next_queued_turn(self, thread: ThreadKey) -> Turn | None:
        """The thread's oldest waiting turn (Slack ts order is the user's order)."""
        async with self._sessions() as session:
            result = await session.scalars(
                select(Turn)
                .where(
                    Turn.team_id == thread.team_id,
                    Turn.channel_id == thread.channel_id,
                    Turn.thread_ts == thread.thread_ts,
                    Turn.state == TurnState.QUEUED,
                )
                .order_by(Turn.ts, Turn.id)
                .limit(1)
            )
            return result.first()

    async def threads_with_turns_in(self, states: Sequence[TurnState]) -> list[ThreadKey]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(Turn.team_id, Turn.channel_id, Turn.thread_ts)
                .where(Turn.state.in_(states))
                .distinct()
            )
            return [ThreadKey(*row) for row in rows]

    async def set_turn_state(
        self,
        turn_id: int,
        state: TurnState,
        *,
        reply_ts: str | None = None,
        error: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"state": state}
        if reply_ts is not None:
            values["reply_ts"] = reply_ts
        if error is not None:
            values["error"] = error[:200]
        async with self._sessions() as session:
            await session.execute(update(Turn).where(Turn.id == turn_id).values(**values))
            await session.commit()

    async def fail_queued_turns(self, conversation_id: int, error: str) -> list[Turn]:
        """Fail the turns still waiting on a conversation that cannot take them."""
        async with self._sessions() as session:
            turns = (
                await session.scalars(
                    select(Turn).where(
                        Turn.conversation_id == conversation_id,
                        Turn.state == TurnState.QUEUED,
                    )
                )
            ).all()
            await session.execute(
                update(Turn)
                .where(Turn.conversation_id == conversation_id, Turn.state == TurnState.QUEUED)
                .values(state=TurnState.FAILED, error=error[:200])
            )
            await session.commit()
            return list(turns)
