"""The store's claims and lifecycle, on a migrated database."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from sqlalchemy import inspect

from slackbot.store.models import Base, ConversationState, TurnState
from slackbot.store.repo import IncomingMessage, Store, ThreadKey

THREAD = ThreadKey("T1", "C1", "1700000000.000100")


async def test_migrations_create_every_table_of_the_models(store: Store) -> None:
    async with store.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert set(Base.metadata.tables) <= tables


async def test_a_message_is_saved_once_however_often_it_is_delivered(store: Store) -> None:
    message = IncomingMessage("T1", "C1", "U1", THREAD.thread_ts, None, "hi", True, False, "Ev1")
    first = await store.record_inbound(message)
    assert first is not None
    assert await store.record_inbound(replace(message, event_id="Ev2")) is None
    assert [i for i, _ in await store.unrouted_of(THREAD)] == [first]
    await store.mark_routed(first)
    assert await store.unrouted_of(THREAD) == []


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
    seen = [t.ts for t in (await store.queue(THREAD)).turns]
    assert seen == sorted(seen)
    assert len(seen) == 3


async def test_a_hint_is_given_once_per_user_and_thread(store: Store) -> None:
    assert await store.claim_hint(THREAD, "U2", "not-owner")
    assert not await store.claim_hint(THREAD, "U2", "not-owner")
    assert await store.claim_hint(THREAD, "U3", "not-owner")


async def test_a_thread_lease_has_one_holder_until_it_expires(store: Store) -> None:
    assert await store.acquire_lease(THREAD, "a", 30)
    assert await store.acquire_lease(THREAD, "a", 30)  # the holder keeps it
    assert not await store.acquire_lease(THREAD, "b", 30)
    assert await store.renew_leases("a", 30) == {THREAD}
    assert await store.renew_leases("b", 30) == set()
    await store.release_lease(THREAD, "b")  # not b's to release
    assert not await store.acquire_lease(THREAD, "b", 30)
    await store.release_lease(THREAD, "a")
    assert await store.acquire_lease(THREAD, "b", 30)


async def test_an_expired_lease_passes_to_another_holder(store: Store) -> None:
    assert await store.acquire_lease(THREAD, "a", -1)  # already expired
    assert await store.acquire_lease(THREAD, "b", 30)
    assert await store.renew_leases("a", 30) == set()


async def test_concurrent_lease_requests_have_one_winner(store: Store) -> None:
    results = await asyncio.gather(*[store.acquire_lease(THREAD, f"h{i}", 30) for i in range(8)])
    assert sum(results) == 1


async def test_running_turns_of_an_expired_lease_are_marked_unsure_once(store: Store) -> None:
    claimed = await store.claim_start(THREAD, ts=THREAD.thread_ts, user_id="U1", text="hi")
    assert claimed is not None
    _, turn = claimed
    await store.set_turn_state(turn.id, TurnState.STREAMING)
    assert await store.acquire_lease(THREAD, "a", 30)
    assert await store.orphaned_running_turns() == []
    await store.release_lease(THREAD, "a")
    orphans = await store.orphaned_running_turns()
    assert [t.id for t in orphans] == [turn.id]
    assert await store.lose_track([turn.id], "gone") == [turn.id]
    assert await store.lose_track([turn.id], "gone") == []


async def test_a_message_sent_again_after_amigo_lost_it_is_still_claimed_once(
    store: Store,
) -> None:
    """A reply Amigo never got is queued again as its next attempt; Slack delivering the
    message once more (its ack was lost in the same crash) must not queue it twice."""
    claimed = await store.claim_start(THREAD, ts=THREAD.thread_ts, user_id="U1", text="hi")
    assert claimed is not None
    conversation, start = claimed
    await store.set_turn_state(start.id, TurnState.DONE)
    ts = "1700000002.000100"
    assert await store.claim_owned_reply(THREAD, ts=ts, user_id="U1", text="more") is True
    (turn,) = (await store.queue(THREAD)).turns
    await store.set_turn_state(turn.id, TurnState.STREAMING)
    assert await store.lose_track([turn.id], "its process stopped") == [turn.id]
    await store.requeue(turn, kind=turn.kind)

    assert await store.claim_owned_reply(THREAD, ts=ts, user_id="U1", text="more") is None
    assert await store.claim_reply(conversation, ts=ts, user_id="U1", text="more") is None
    assert await store.claim_pending(THREAD, ts=ts, user_id="U1", text="more") is None
    assert [(t.id, t.attempt) for t in (await store.queue(THREAD)).turns] == [(turn.id, 1)]
