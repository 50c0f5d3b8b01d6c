"""Upgrading a database that an earlier version wrote keeps what it knew."""

from __future__ import annotations

import sqlalchemy as sa

from slackbot.store.db import create_engine, migrate
from slackbot.store.repo import Store, ThreadKey
from tests.databases import query

THREAD = ThreadKey("T1", "C1", "1700000000.000100")
NOW = "2026-11-01 00:00:00"


async def test_retries_and_the_latest_interaction_survive_the_upgrade(database_url: str) -> None:
    await migrate(database_url, "0001")
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO conversations (id, team_id, channel_id, thread_ts, owner_user_id, "
                "amigo_user_id, amigo_conversation_id, state, latest_interaction_id, "
                "latest_reply_ts, turn_count, created_at) VALUES (1, 'T1', 'C1', "
                "'1700000000.000100', 'U1', 'u1', 'c1', 'active', 'i2', '1700000009.000000', 2, "
                f"'{NOW}')"
            )
        )
        rows = [
            (1, "1700000000.000100", "done", None),
            (2, "1700000001.000100", "interrupted", "1700000008.000000"),
            (3, "1700000001.000100-retry", "interrupted", None),
            (4, "1700000001.000100-retry-retry", "done", "1700000009.000000"),
        ]
        for turn_id, ts, state, reply_ts in rows:
            await conn.execute(
                sa.text(
                    "INSERT INTO turns (id, team_id, channel_id, ts, thread_ts, user_id, text, "
                    "kind, conversation_id, state, reply_ts, created_at, updated_at) VALUES "
                    f"({turn_id}, 'T1', 'C1', :ts, '1700000000.000100', 'U1', 'x', 'reply', 1, "
                    f"'{state}', :reply_ts, '{NOW}', '{NOW}')"
                ),
                {"ts": ts, "reply_ts": reply_ts},
            )
    await engine.dispose()

    await migrate(database_url)
    turns = query(database_url, "SELECT id, ts, attempt, interaction_id FROM turns ORDER BY id")
    assert [tuple(t) for t in turns] == [
        (1, "1700000000.000100", 0, None),
        (2, "1700000001.000100", 0, None),
        (3, "1700000001.000100", 1, None),
        (4, "1700000001.000100", 2, "i2"),
    ]
    store = Store(create_engine(database_url))
    try:
        progress = await store.progress(1)
        assert progress.latest_interaction_id == "i2"
        assert progress.latest_reply_ts == "1700000009.000000"
    finally:
        await store.close()
