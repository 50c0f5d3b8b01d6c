"""Votes on replies: one per person and reply; a second click changes it."""

from __future__ import annotations

from sqlalchemy import func, select, update

from slackbot.store.base import StoreBase
from slackbot.store.models import FeedbackRow, utcnow


class Feedback(StoreBase):
    async def vote(self, turn_id: int, conversation_id: int, user_id: str, vote: str) -> bool:
        """Record ``user_id``'s vote on the reply of ``turn_id``; False when it was
        already that (nothing changed)."""
        mine = (FeedbackRow.turn_id == turn_id, FeedbackRow.user_id == user_id)
        new = FeedbackRow(
            turn_id=turn_id, conversation_id=conversation_id, user_id=user_id, vote=vote
        )
        if await self._insert(new):
            return True
        changed = update(FeedbackRow).where(*mine, FeedbackRow.vote != vote)
        [count] = await self._write(changed.values(vote=vote, comment=None, updated_at=utcnow()))
        return count > 0

    async def comment_vote(self, turn_id: int, user_id: str, comment: str) -> bool:
        """Keep what went wrong, in the person's words; False without a vote to keep it on."""
        [count] = await self._write(
            update(FeedbackRow)
            .where(FeedbackRow.turn_id == turn_id, FeedbackRow.user_id == user_id)
            .values(comment=comment, updated_at=utcnow())
        )
        return count > 0

    async def votes(
        self, *, conversation_id: int | None = None, turn_ids: list[int] | None = None
    ) -> dict[str, int]:
        """How many ``up`` and ``down`` votes a conversation's replies (or some replies) have."""
        query = select(FeedbackRow.vote, func.count()).group_by(FeedbackRow.vote)
        if conversation_id is not None:
            query = query.where(FeedbackRow.conversation_id == conversation_id)
        if turn_ids is not None:
            query = query.where(FeedbackRow.turn_id.in_(turn_ids))
        counts = {"up": 0, "down": 0}
        for vote, count in await self._rows(query):
            counts[str(vote)] = int(count)
        return counts

    async def comments(self, turn_ids: list[int]) -> list[str]:
        rows = await self._scalars(
            select(FeedbackRow.comment)
            .where(FeedbackRow.turn_id.in_(turn_ids), FeedbackRow.comment.is_not(None))
            .order_by(FeedbackRow.updated_at)
        )
        return [str(c) for c in rows]
