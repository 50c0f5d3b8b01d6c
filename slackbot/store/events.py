"""Others' messages in a conversation's thread, kept until they reach Amigo as external
events with one of the owner's turns (and never with a second one)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, or_, select, update

from slackbot.store.base import StoreBase
from slackbot.store.models import ConversationRow, ThreadEventRow, utcnow
from slackbot.store.records import ThreadKey


@dataclass(frozen=True, slots=True)
class ThreadEvent:
    """A person's message in a thread, in Slack's markup."""

    ts: str
    user_id: str
    text: str


class ThreadEvents(StoreBase):
    async def share_message(
        self, conversation_id: int, thread: ThreadKey, event: ThreadEvent
    ) -> bool:
        """Keep a message for the owner's next turn; False when it was kept before."""
        return await self._insert(
            ThreadEventRow(
                team_id=thread.team_id,
                channel_id=thread.channel_id,
                thread_ts=thread.thread_ts,
                ts=event.ts,
                user_id=event.user_id,
                text=event.text,
                conversation_id=conversation_id,
                turn_ts=None,
            )
        )

    async def keep_history(
        self,
        conversation_id: int,
        thread: ThreadKey,
        turn_ts: str | None,
        events: Sequence[ThreadEvent],
    ) -> None:
        """The thread's messages from before its conversation, kept for the turn of the
        owner's message ``turn_ts`` (None: the next one); one kept before stays as it was."""
        if not events:
            return
        now = utcnow()
        rows = [
            {
                "team_id": thread.team_id,
                "channel_id": thread.channel_id,
                "thread_ts": thread.thread_ts,
                "ts": event.ts,
                "user_id": event.user_id,
                "text": event.text,
                "conversation_id": conversation_id,
                "turn_ts": turn_ts,
                "created_at": now,
            }
            for event in events
        ]
        statement = self._insert_or(ThreadEventRow).values(rows).on_conflict_do_nothing()
        await self._write(statement)

    async def events_of_turn(
        self, conversation_id: int, turn_ts: str, before_ts: str
    ) -> list[ThreadEvent]:
        """The events that go with the turn of the owner's message ``turn_ts``, oldest
        first. Those of the conversation that no turn has yet and are older than
        ``before_ts`` (the turn's last message) become the turn's, in the same statement:
        a turn sent again gets the same ones, plus any that came late, and no other turn
        gets them."""
        takes = and_(ThreadEventRow.turn_ts.is_(None), ThreadEventRow.ts < before_ts)
        statement = (
            update(ThreadEventRow)
            .where(
                ThreadEventRow.conversation_id == conversation_id,
                or_(takes, ThreadEventRow.turn_ts == turn_ts),
            )
            .values(turn_ts=turn_ts)
            .returning(ThreadEventRow.ts, ThreadEventRow.user_id, ThreadEventRow.text)
        )
        async with self._writing() as session:
            rows = (await session.execute(statement)).all()
            await session.commit()
        return sorted((ThreadEvent(*row) for row in rows), key=lambda event: event.ts)

    async def first_conversation_of_thread(self, conversation_id: int) -> bool:
        """Whether no conversation lived in this one's thread before it."""
        this = select(ConversationRow).where(ConversationRow.id == conversation_id).subquery()
        earlier = select(ConversationRow.id).where(
            ConversationRow.team_id == this.c.team_id,
            ConversationRow.channel_id == this.c.channel_id,
            ConversationRow.thread_ts == this.c.thread_ts,
            ConversationRow.id < conversation_id,
        )
        return not await self._scalar(select(earlier.exists()))
