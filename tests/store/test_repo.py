"""The store's claims and lifecycle, on a migrated database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from slackbot.store.db import create_engine, migrate
from slackbot.store.models import Base, ConversationState, TurnState
from slackbot.store.repo import Store, ThreadKey

THREAD = ThreadKey("T1", "C1", "1700000000.000100")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await migrate(url)
    s = Store(create_engine(url))
    yield s
    await s.close()


async def test_migrations_create_every_table_of_the_models(store: Store) -> None:
    async with store.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert set(Base.metadata.tables) <= tables


async def test_an_event_id_is_claimed_once(store: Store) -> None:
    assert await store.claim_event("Ev1")
    assert not await store.claim_event("Ev1")
    assert await store.claim_event("Ev2")


async def test_a_message_starts_one_conversation_and_is_claimed_once(store: Store) -> None:
    first = await store.claim_start(THREAD, ts=THREAD.thread_ts, user_id="U1", text="hi")
    assert first is not None
    conversation, turn = first
    assert conversation.state == ConversationState.STARTING
    assert turn.state == TurnState.QUEUED
    # The same message again, and another start in the same open thread, both lose.
    assert await store.claim_start(THREAD, ts=THREAD.thread_ts, user_id="U1", text="hi") is None
    assert await store.claim_start(THREAD, ts="1700000001.000100", user_id="U1", text="x") is None
    assert (
        await store.claim_reply(conversation, ts=THREAD.thread_ts, user_id="U1", text="hi") is None
    )


async def test_concurrent_claims_of_one_message_yield_one_winner(store: Store) -> None:
    results = await asyncio.gather(
        *[store.claim_start(THREAD, ts=THREAD.thread_ts, user_id="U1", text="hi") for _ in range(8)]
    )
    assert sum(r is not None for r in results) == 1


async def test_a_finished_thread_can_hold_a_new_conversation(store: Store) -> None:
    claimed = await store.claim_start(THREAD, ts=THREAD.thread_ts, user_id="U1", text="hi")
    assert claimed is not None
    assert await store.finish_conversation(claimed[0].id, "test")
    assert not await store.finish_conversation(claimed[0].id, "test")
    again = await store.claim_start(THREAD, ts="1700000005.000100", user_id="U2", text="new")
    assert again is not None
    latest = await store.latest_conversation(THREAD)
    assert latest is not None and latest.id == again[0].id


async def test_queued_turns_come_out_in_slack_order(store: Store) -> None:
    claimed = await store.claim_start(THREAD, ts=THREAD.thread_ts, user_id="U1", text="hi")
    assert claimed is not None
    conversation, start = claimed
    await store.set_turn_state(start.id, TurnState.DONE)
    for ts in ("1700000003.000100", "1700000002.000100", "1700000004.000100"):
        assert await store.claim_reply(conversation, ts=ts, user_id="U1", text=ts)
    seen = []
    while (turn := await store.next_queued_turn(THREAD)) is not None:
        seen.append(turn.ts)
        await store.set_turn_state(turn.id, TurnState.DONE)
    assert seen == sorted(seen)
    assert len(seen) == 3


async def test_a_hint_is_given_once_per_user_and_thread(store: Store) -> None:
    assert await store.claim_hint(THREAD, "U2", "not-owner")
    assert not await store.claim_hint(THREAD, "U2", "not-owner")
    assert await store.claim_hint(THREAD, "U3", "not-owner")
