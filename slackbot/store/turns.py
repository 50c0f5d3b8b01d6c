"""Turns: a thread's waiting messages, in order, and what became of each."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update

from slackbot.store.base import StoreBase
from slackbot.store.models import ConversationRow, TurnKind, TurnRow, TurnState, utcnow
from slackbot.store.records import Conversation, Queue, ThreadKey, Turn

RUNNING = (TurnState.SENDING, TurnState.STREAMING)
ENDED = (TurnState.DONE, TurnState.FAILED, TurnState.INTERRUPTED)


def _in(thread: ThreadKey) -> tuple[ColumnElement[bool], ...]:
    return (
        TurnRow.team_id == thread.team_id,
        TurnRow.channel_id == thread.channel_id,
        TurnRow.thread_ts == thread.thread_ts,
    )


def _queued_in(thread: ThreadKey) -> tuple[ColumnElement[bool], ...]:
    return (*_in(thread), TurnRow.state == TurnState.QUEUED)


def work() -> ColumnElement[bool]:
    """A turn with something left to do: to send, to ask Amigo about, or to show."""
    return or_(
        TurnRow.state.in_((TurnState.QUEUED, TurnState.UNSURE)),
        and_(TurnRow.state.in_(ENDED), TurnRow.reply_text.is_not(None), ~TurnRow.shown),
    )


def _voice_after(turn: Turn) -> dict[str, Any]:
    """The queued voice reply that sends ``turn``'s recording after its text."""
    assert turn.attachment is not None
    now = utcnow()
    return {
        "team_id": turn.team_id,
        "channel_id": turn.channel_id,
        "thread_ts": turn.thread_ts,
        "ts": turn.ts,
        "user_id": turn.user_id,
        "text": "",
        "kind": TurnKind.REPLY,
        "conversation_id": turn.conversation_id,
        "state": TurnState.QUEUED,
        "attempt": turn.attempt + 1,
        "shown": True,
        "attachment": turn.attachment.dumps(),
        "created_at": now,
        "updated_at": now,
    }


class Turns(StoreBase):
    async def turn(self, turn_id: int) -> Turn | None:
        rows = await self._scalars(select(TurnRow).where(TurnRow.id == turn_id))
        return Turn.of(rows[0]) if rows else None

    async def queue(self, thread: ThreadKey) -> Queue:
        """The thread's turns with work left (to send, to ask Amigo about, to show), and
        those left running (sending or streaming), in Slack ts order (the order people
        wrote them; a retry keeps its message's place), with the first one's
        conversation. One query."""
        rows = await self._rows(
            select(TurnRow, ConversationRow)
            .outerjoin(ConversationRow, ConversationRow.id == TurnRow.conversation_id)
            .where(*_in(thread), or_(work(), TurnRow.state.in_(RUNNING)))
            .order_by(TurnRow.ts, TurnRow.attempt, TurnRow.id)
        )
        turns = [Turn.of(turn) for turn, _ in rows]
        first = rows[0][1] if rows else None
        return Queue(turns, Conversation.of(first) if first is not None else None)

    async def held_turns(self, thread: ThreadKey) -> list[Turn]:
        """Replies held for the thread's conversation to start (queued, no conversation)."""
        rows = await self._scalars(
            select(TurnRow)
            .where(*_queued_in(thread), TurnRow.conversation_id.is_(None))
            .order_by(TurnRow.ts, TurnRow.id)
        )
        return [Turn.of(row) for row in rows]

    async def threads_held_since(self, seconds: float) -> list[ThreadKey]:
        """Threads with a reply held longer than ``seconds``."""
        before = utcnow() - timedelta(seconds=seconds)
        rows = await self._rows(
            select(TurnRow.team_id, TurnRow.channel_id, TurnRow.thread_ts)
            .where(
                TurnRow.state == TurnState.QUEUED,
                TurnRow.conversation_id.is_(None),
                TurnRow.created_at < before,
            )
            .distinct()
        )
        return [ThreadKey(*row) for row in rows]

    async def has_queued_turns(self, thread: ThreadKey) -> bool:
        """Whether turns wait to be sent (held replies do not count)."""
        waiting = select(TurnRow.id).where(
            *_queued_in(thread), TurnRow.conversation_id.is_not(None)
        )
        return bool(await self._scalar(select(waiting.exists())))

    @staticmethod
    def work_waits(thread: ThreadKey) -> Any:
        """A condition: the thread has turns with work left a worker could take."""
        return (
            select(TurnRow.id)
            .where(*_in(thread), work(), TurnRow.conversation_id.is_not(None))
            .exists()
        )

    async def count_waiting(self) -> int:
        """How many turns are queued (held ones too), in every thread."""
        count = await self._scalar(
            select(func.count()).select_from(TurnRow).where(TurnRow.state == TurnState.QUEUED)
        )
        return int(count or 0)

    async def start_turn(self, conversation_id: int) -> Turn | None:
        """The turn that creates the conversation."""
        rows = await self._scalars(
            select(TurnRow)
            .where(TurnRow.conversation_id == conversation_id, TurnRow.kind == TurnKind.START)
            .order_by(TurnRow.attempt.desc())
            .limit(1)
        )
        return Turn.of(rows[0]) if rows else None

    async def set_turn_state(
        self,
        turn_ids: int | Sequence[int],
        state: TurnState,
        *,
        reply_ts: str | None = None,
        error: str | None = None,
        reply_text: str | None = None,
    ) -> None:
        """Move turns to ``state``; with ``reply_text``, the reply they owe Slack."""
        ids = [turn_ids] if isinstance(turn_ids, int) else list(turn_ids)
        values: dict[str, Any] = {"state": state}
        if reply_ts is not None:
            values["reply_ts"] = reply_ts
        if error is not None:
            values["error"] = error[:200]
        if reply_text is not None:
            values |= {"reply_text": reply_text, "shown": False}
        await self._write(update(TurnRow).where(TurnRow.id.in_(ids)).values(**values))

    async def set_reply_ts(self, turn_ids: Sequence[int], reply_ts: str) -> None:
        """The reply's first message appeared after the turn began (a native stream
        starts with its first text); a turn that has one already keeps it."""
        await self._write(
            update(TurnRow)
            .where(TurnRow.id.in_(list(turn_ids)), TurnRow.reply_ts.is_(None))
            .values(reply_ts=reply_ts)
        )

    async def answer(
        self,
        turn_ids: Sequence[int],
        interaction_id: str,
        reply_text: str,
        *,
        voice_after: Sequence[Turn] = (),
    ) -> None:
        """Amigo answered these turns (one interaction): save the reply before Slack sees it.

        ``voice_after``: turns among them whose message also shared a recording that has
        not gone yet (a start, or a clip posted with typed words); in the same transaction,
        each recording is queued as its message's next attempt, a voice reply (once:
        saying it again queues nothing more).
        """
        answered = (
            update(TurnRow)
            .where(TurnRow.id.in_(list(turn_ids)))
            .values(
                state=TurnState.DONE,
                interaction_id=interaction_id,
                reply_text=reply_text,
                shown=False,
            )
        )
        queued = [
            self._insert_or(TurnRow)
            .values(_voice_after(turn))
            .on_conflict_do_nothing(index_elements=["team_id", "channel_id", "ts", "attempt"])
            for turn in voice_after
            if turn.attachment is not None
        ]
        await self._write(answered, *queued)

    async def mark_shown(self, turn_ids: Sequence[int], reply_ts: str | None = None) -> None:
        values: dict[str, Any] = {"shown": True}
        if reply_ts is not None:
            values["reply_ts"] = reply_ts
        await self._write(update(TurnRow).where(TurnRow.id.in_(list(turn_ids))).values(**values))

    async def requeue(self, turn: Turn, *, kind: TurnKind) -> None:
        """Send a turn again (Amigo does not have it): its next attempt, in its place."""
        await self._write(
            update(TurnRow)
            .where(TurnRow.id == turn.id)
            .values(state=TurnState.QUEUED, kind=kind, attempt=turn.attempt + 1)
        )

    async def turns_with_reply(self, reply_ts: str) -> list[Turn]:
        """The turns answered by one reply (several when replies were joined)."""
        rows = await self._scalars(
            select(TurnRow).where(TurnRow.reply_ts == reply_ts).order_by(TurnRow.ts, TurnRow.id)
        )
        return [Turn.of(row) for row in rows]

    async def last_interaction(self, conversation_id: int) -> str | None:
        """The interaction of the conversation's latest answered turn."""
        rows = await self._scalars(
            select(TurnRow.interaction_id)
            .where(TurnRow.conversation_id == conversation_id, TurnRow.interaction_id.is_not(None))
            .order_by(TurnRow.ts.desc(), TurnRow.id.desc())
            .limit(1)
        )
        return next((str(r) for r in rows), None)

    async def fail_queued_turns(self, conversation_id: int, error: str) -> list[Turn]:
        """Fail the turns still waiting on a conversation that cannot take them."""
        waiting = (TurnRow.conversation_id == conversation_id, TurnRow.state == TurnState.QUEUED)
        async with self._writing() as session:
            rows = (await session.scalars(select(TurnRow).where(*waiting))).all()
            turns = [Turn.of(row) for row in rows]
            await session.execute(
                update(TurnRow).where(*waiting).values(state=TurnState.FAILED, error=error[:200])
            )
            await session.commit()
        return turns

    async def turn_in_progress(self, conversation_id: int) -> bool:
        """Whether one of the conversation's turns is being sent to Amigo right now."""
        running = select(TurnRow.id).where(
            TurnRow.conversation_id == conversation_id, TurnRow.state.in_(RUNNING)
        )
        return bool(await self._scalar(select(running.exists())))
