"""How many database statements one turn costs, counted on the engine itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from tests.e2e.conftest import ALICE, CHANNEL, Harness

REPLY_TURN_MAX = 8
"""Statements for a reply turn: claim, lease, queue, sending, the thread's events taken
for it (one UPDATE … RETURNING), done, release, look again.
(Before the restructure it was 14, with the conversation row read three times.)
On PostgreSQL each Slack call is booked too (the budget the replicas share): those are
counted apart, one per Slack call."""


async def test_a_reply_turn_costs_at_most_eight_statements(harness: Harness) -> None:
    h = harness
    ts = await h.sender.post_mention(ALICE, "<@UBOT> hello")
    await h.wait_for(lambda: h.bot_texts(ts) == ["Echo: hello"], what="first reply")
    await h.settle()

    statements: list[str] = []
    bookings: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        booking = "INTO slack_budgets" in statement
        (bookings if booking else statements).append(statement.split(None, 3)[0])

    engine = h.runtime.store.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        calls_before = len(h.slack.calls)
        await h.sender.post_message(ALICE, "again", channel=CHANNEL, thread_ts=ts)
        await h.wait_for(lambda: h.bot_texts(ts)[-1:] == ["Echo: again"], what="second reply")
        await h.settle()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) <= REPLY_TURN_MAX, statements
    assert len(bookings) <= len(h.slack.calls) - calls_before
