"""Slack budgets shared by every replica on one database.

Slack counts each method's calls per workspace (posting and status also per channel),
whichever replica makes them. Each replica keeping its own share of a budget wastes it:
the threads of one channel land on every replica, and a burst on one finds its share
spent while the other's lies idle. So replicas book their calls in one row per budget,
a token bucket that may go below zero: each booking takes one token and says how long
the caller waits for its turn (none while tokens are left). One statement per call.
"""

from __future__ import annotations

from sqlalchemy import Float, String, case
from sqlalchemy.orm import Mapped, mapped_column

from slackbot.store.base import StoreBase
from slackbot.store.models import Base


class SlackBudgetRow(Base):
    """One Slack budget's bucket: tokens left (below zero: booked ahead) as of ``stamp``
    (epoch seconds, by the clock of the replica that booked last)."""

    __tablename__ = "slack_budgets"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    """Workspace, method and (for budgets per channel) channel."""
    tokens: Mapped[float] = mapped_column(Float)
    stamp: Mapped[float] = mapped_column(Float)


class SlackBudgetBook(StoreBase):
    async def book_slack_call(
        self, key: str, per_second: float, capacity: float, now: float
    ) -> float:
        """Book one call of budget ``key`` (refilled at ``per_second``, holding at most
        ``capacity``); the tokens left after it. Below zero, the call waits
        ``-left / per_second`` seconds for its turn."""
        row = SlackBudgetRow.__table__.c
        elapsed = case((row.stamp < now, now - row.stamp), else_=0.0)
        refilled = row.tokens + elapsed * per_second
        statement = (
            self._insert_or(SlackBudgetRow)
            .values(key=key, tokens=capacity - 1.0, stamp=now)
            .on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "tokens": case((refilled > capacity, capacity), else_=refilled) - 1.0,
                    "stamp": case((row.stamp < now, now), else_=row.stamp),
                },
            )
            .returning(SlackBudgetRow.tokens)
        )
        async with self._writing() as session:
            left = (await session.execute(statement)).scalar_one()
            await session.commit()
        return float(left)
