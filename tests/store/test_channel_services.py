"""Channels mapped to Amigo services, every change kept, and the service each conversation
started in."""

from __future__ import annotations

import sqlalchemy as sa

from slackbot.store.db import create_engine, migrate
from slackbot.store.repo import Store, ThreadKey
from tests.databases import query

A, B = "0123456789abcdef0123456a", "0123456789abcdef0123456b"


async def test_a_channel_is_mapped_changed_and_returned_to_the_default(store: Store) -> None:
    assert await store.channel_service("T1", "C1") is None
    first = await store.set_channel_service("T1", "C1", A, "release", by="UADMIN")
    assert (first.service_id, first.version_set, first.set_by) == (A, "release", "UADMIN")
    again = await store.set_channel_service("T1", "C1", B, "beta", by="UOTHER")
    found = await store.channel_service("T1", "C1")
    assert found is not None
    assert (found.service_id, found.version_set, found.set_by) == (B, "beta", "UOTHER")
    assert again.set_at >= first.set_at
    # one row per channel, per workspace
    await store.set_channel_service("T2", "C1", A, "release", by="UADMIN")
    assert [m.service_id for m in await store.channel_services("T1")] == [B]

    assert await store.remove_channel_service("T1", "C1", by="UADMIN") is True
    assert await store.channel_service("T1", "C1") is None
    assert await store.remove_channel_service("T1", "C1", by="UADMIN") is False
    assert (await store.channel_service("T2", "C1")) is not None

    changes = await store.channel_service_changes("T1")
    assert [(c.service_id, c.version_set, c.changed_by) for c in changes] == [
        (A, "release", "UADMIN"),
        (B, "beta", "UOTHER"),
        (None, None, "UADMIN"),  # back to the default; the second removal changed nothing
    ]
    assert [c.channel_id for c in await store.channel_service_changes("T2", "C1")] == ["C1"]


async def test_a_conversation_keeps_the_first_service_recorded(store: Store) -> None:
    thread = ThreadKey("T1", "C1", "1700000000.000100")
    claimed = await store.claim_start(thread, ts=thread.thread_ts, user_id="U1", text="hi")
    assert claimed is not None
    conversation, _ = claimed
    assert conversation.service_id is None
    chosen = await store.set_conversation_service(conversation.id, B, "beta")
    assert chosen is not None and (chosen.service_id, chosen.version_set) == (B, "beta")
    again = await store.set_conversation_service(conversation.id, A, "release")
    assert again is not None and (again.service_id, again.version_set) == (B, "beta")
    assert await store.services_of("T1", "U1") == {B}
    assert await store.services_of("T1", "U2") == set()


async def test_the_upgrade_keeps_conversations_which_then_have_no_service(
    database_url: str,
) -> None:
    await migrate(database_url, "0007")
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO conversations (id, team_id, channel_id, thread_ts, owner_user_id, "
                "amigo_user_id, amigo_conversation_id, state, created_at) VALUES (1, 'T1', 'C1', "
                "'1700000000.000100', 'U1', 'u1', 'c1', 'active', '2026-11-01 00:00:00')"
            )
        )
    await engine.dispose()
    await migrate(database_url)
    rows = query(database_url, "SELECT id, service_id, version_set FROM conversations")
    assert [tuple(r) for r in rows] == [(1, None, None)]
    store = Store(create_engine(database_url))
    try:
        old = await store.conversation(1)
        assert old is not None and old.service_id is None  # the default service, then
        await store.set_channel_service("T1", "C1", A, "release", by="UADMIN")
        assert [c.service_id for c in await store.channel_service_changes("T1")] == [A]
    finally:
        await store.close()
