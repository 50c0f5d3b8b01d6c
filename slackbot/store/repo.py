"""All database reads and writes of the app, each one short transaction.

Claims (events, messages) rely on unique constraints: an INSERT that collides
means somebody else already took the thing, which is the whole point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
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
    ThreadLease,
    Turn,
    TurnKind,
    TurnState,
    utcnow,
)


def _lease_key(thread: ThreadKey) -> tuple[Any, ...]:
    return (
        ThreadLease.team_id == thread.team_id,
        ThreadLease.channel_id == thread.channel_id,
        ThreadLease.thread_ts == thread.thread_ts,
    )


@dataclass(frozen=True, slots=True)
class ThreadKey:
    """Where a conversation lives in Slack."""

    team_id: str
    channel_id: str
    thread_ts: str


def thread_of(row: Conversation | Turn) -> ThreadKey:
    return ThreadKey(row.team_id, row.channel_id, row.thread_ts)


def _queued_turn(
    thread: ThreadKey,
    *,
    ts: str,
    user_id: str,
    text: str,
    kind: TurnKind = TurnKind.REPLY,
    conversation_id: int | None,
) -> Turn:
    return Turn(
        team_id=thread.team_id,
        channel_id=thread.channel_id,
        thread_ts=thread.thread_ts,
        ts=ts,
        user_id=user_id,
        text=text,
        kind=kind,
        conversation_id=conversation_id,
        state=TurnState.QUEUED,
    )


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
        turn = _queued_turn(
            thread_of(conversation),
            ts=ts,
            user_id=user_id,
            text=text,
            conversation_id=conversation.id,
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
                turn = _queued_turn(
                    thread,
                    ts=ts,
                    user_id=user_id,
                    text=text,
                    kind=TurnKind.START,
                    conversation_id=conversation.id,
                )
                session.add(turn)
                await session.commit()
            except IntegrityError:
                await session.rollback()
                return None
            return conversation, turn

    # -- thread leases -----------------------------------------------------

    async def acquire_lease(self, thread: ThreadKey, holder: str, seconds: float) -> bool:
        """Take (or keep) the right to run ``thread``'s turns for ``seconds``.

        True when ``holder`` has it now: nobody had it, it had expired, or it
        was already ``holder``'s. Both statements are single-row and atomic.
        """
        now = utcnow()
        until = now + timedelta(seconds=seconds)
        lease = ThreadLease(
            team_id=thread.team_id,
            channel_id=thread.channel_id,
            thread_ts=thread.thread_ts,
            holder=holder,
            expires_at=until,
        )
        if await self._insert(lease):
            return True
        async with self._sessions() as session:
            result = await session.execute(
                update(ThreadLease)
                .where(
                    *_lease_key(thread),
                    or_(ThreadLease.holder == holder, ThreadLease.expires_at < now),
                )
                .values(holder=holder, expires_at=until)
            )
            await session.commit()
            return bool(getattr(result, "rowcount", 0))

    async def renew_lease(self, thread: ThreadKey, holder: str, seconds: float) -> bool:
        async with self._sessions() as session:
            result = await session.execute(
                update(ThreadLease)
                .where(*_lease_key(thread), ThreadLease.holder == holder)
                .values(expires_at=utcnow() + timedelta(seconds=seconds))
            )
            await session.commit()
            return bool(getattr(result, "rowcount", 0))

    async def release_lease(self, thread: ThreadKey, holder: str) -> None:
        async with self._sessions() as session:
            await session.execute(
                delete(ThreadLease).where(*_lease_key(thread), ThreadLease.holder == holder)
            )
            await session.commit()

    def _unleased(self) -> Any:
        """A condition: the turn's thread has no lease, or only an expired one."""
        live = (
            select(ThreadLease.thread_ts)
            .where(
                ThreadLease.team_id == Turn.team_id,
                ThreadLease.channel_id == Turn.channel_id,
                ThreadLease.thread_ts == Turn.thread_ts,
                ThreadLease.expires_at >= utcnow(),
            )
            .exists()
        )
        return ~live

    async def unleased_threads_with_queued_turns(self) -> list[ThreadKey]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(Turn.team_id, Turn.channel_id, Turn.thread_ts)
                .where(Turn.state == TurnState.QUEUED, self._unleased())
                .distinct()
            )
            return [ThreadKey(*row) for row in rows]

    async def orphaned_running_turns(self) -> list[Turn]:
        """Turns left sending or streaming by a process whose lease ran out."""
        async with self._sessions() as session:
            result = await session.scalars(
                select(Turn)
                .where(
                    Turn.state.in_((TurnState.SENDING, TurnState.STREAMING)),
                    self._unleased(),
                )
                .order_by(Turn.id)
            )
            return list(result.all())

    async def interrupt_turns(self, turn_ids: Sequence[int], error: str) -> list[int]:
        """Mark these turns interrupted if they are still running; returns those marked.

        Only one process wins this for a given turn, so only one marks its reply.
        """
        marked: list[int] = []
        async with self._sessions() as session:
            for turn_id in turn_ids:
                result = await session.execute(
                    update(Turn)
                    .where(
                        Turn.id == turn_id,
                        Turn.state.in_((TurnState.SENDING, TurnState.STREAMING)),
                    )
                    .values(state=TurnState.INTERRUPTED, error=error[:200])
                )
                if getattr(result, "rowcount", 0):
                    marked.append(turn_id)
            await session.commit()
        return marked

    async def start_turn(self, conversation_id: int) -> Turn | None:
        """The turn that creates the conversation."""
        async with self._sessions() as session:
            result = await session.scalars(
                select(Turn).where(
                    Turn.conversation_id == conversation_id, Turn.kind == TurnKind.START
                )
            )
            return result.first()

    async def has_queued_turns(self, thread: ThreadKey) -> bool:
        """Whether turns wait that a worker could take (held replies do not count)."""
        return any(t.conversation_id is not None for t in await self.queued_turns(thread))

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

    async def queued_turns(self, thread: ThreadKey) -> list[Turn]:
        """The thread's waiting turns in Slack ts order (the order people wrote them)."""
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
            )
            return list(result.all())

    async def claim_pending(
        self, thread: ThreadKey, *, ts: str, user_id: str, text: str
    ) -> Turn | None:
        """Hold a reply whose thread may be about to get its conversation.

        The row keeps the message's place in the thread's order; it has no
        conversation until :meth:`attach_turn`, and is dropped if none comes.
        """
        turn = _queued_turn(thread, ts=ts, user_id=user_id, text=text, conversation_id=None)
        return turn if await self._insert(turn) else None

    async def attach_turn(self, turn_id: int, conversation_id: int) -> None:
        async with self._sessions() as session:
            await session.execute(
                update(Turn).where(Turn.id == turn_id).values(conversation_id=conversation_id)
            )
            await session.commit()

    async def drop_turn(self, turn_id: int) -> None:
        async with self._sessions() as session:
            await session.execute(delete(Turn).where(Turn.id == turn_id))
            await session.commit()

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
        turn_id: int | Sequence[int],
        state: TurnState,
        *,
        reply_ts: str | None = None,
        error: str | None = None,
    ) -> None:
        ids = [turn_id] if isinstance(turn_id, int) else list(turn_id)
        values: dict[str, Any] = {"state": state}
        if reply_ts is not None:
            values["reply_ts"] = reply_ts
        if error is not None:
            values["error"] = error[:200]
        async with self._sessions() as session:
            await session.execute(update(Turn).where(Turn.id.in_(ids)).values(**values))
            await session.commit()

    async def turns_in(self, states: Sequence[TurnState]) -> list[Turn]:
        async with self._sessions() as session:
            result = await session.scalars(
                select(Turn).where(Turn.state.in_(states)).order_by(Turn.id)
            )
            return list(result.all())

    async def turns_with_reply(self, reply_ts: str) -> list[Turn]:
        """The turns answered by one reply (several when replies were joined)."""
        async with self._sessions() as session:
            result = await session.scalars(
                select(Turn).where(Turn.reply_ts == reply_ts).order_by(Turn.ts, Turn.id)
            )
            return list(result.all())

    async def claim_retry(self, turn: Turn, text: str) -> Turn | None:
        """Queue ``text`` again for an interrupted turn, once; None if done before."""
        retry = _queued_turn(
            thread_of(turn),
            ts=f"{turn.ts}-retry",
            user_id=turn.user_id,
            text=text,
            conversation_id=turn.conversation_id,
        )
        return retry if await self._insert(retry) else None

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

    # -- conversation controls ---------------------------------------------

    async def turn_in_progress(self, conversation_id: int) -> bool:
        """Whether one of the conversation's turns is being sent to Amigo right now."""
        async with self._sessions() as session:
            result = await session.scalars(
                select(Turn.id)
                .where(
                    Turn.conversation_id == conversation_id,
                    Turn.state.in_((TurnState.SENDING, TurnState.STREAMING)),
                )
                .limit(1)
            )
            return result.first() is not None
