"""The thread worker: per-thread order, batching, and what a lost lease means."""

from __future__ import annotations

import asyncio

from sqlalchemy import update

from slackbot.amigo.events import InteractionComplete, NewMessage
from slackbot.store.models import ThreadLeaseRow, TurnRow, TurnState
from slackbot.store.records import Conversation, Turn
from tests.relay.conftest import MakeCore
from tests.relay.core import OWNER, Core, eventually, new_ts


async def test_replies_reach_amigo_in_the_order_people_wrote_them(make_core: MakeCore) -> None:
    core = await make_core(coalesce=False)
    root, _ = await core.say("start")
    await core.settle()
    gate = asyncio.Event()
    core.amigo.script(gate, *core.amigo._echo("first"))  # the first reply waits
    for text in ("first", "second", "third"):
        await core.say(text, thread_ts=root)
    gate.set()
    await core.settle()
    assert [c.text for c in core.amigo.named("interact")] == ["first", "second", "third"]
    assert core.replies(root)[-3:] == ["Echo: first", "Echo: second", "Echo: third"]


async def test_replies_that_waited_go_as_one_message(make_core: MakeCore) -> None:
    core = await make_core(coalesce=True)
    root, _ = await core.say("start")
    await core.settle()
    gate = asyncio.Event()
    core.amigo.script(gate, *core.amigo._echo("first"))
    await core.say("first", thread_ts=root)
    await eventually(lambda: core.amigo.named("interact"))  # the first reply is answered
    await core.say("second", thread_ts=root)
    await core.say("third", thread_ts=root)
    gate.set()
    await core.settle()
    assert [c.text for c in core.amigo.named("interact")] == ["first", "second\n\nthird"]
    rows = (await core.store.queue(core.thread(root))).turns
    assert rows == []


async def test_a_worker_that_loses_its_lease_finishes_its_turn_and_takes_no_more(
    make_core: MakeCore,
) -> None:
    here = await make_core(holder="here", lease_seconds=0.3, coalesce=False)
    root, _ = await here.say("start")
    await here.settle()
    gate = asyncio.Event()
    here.amigo.script(
        gate,
        NewMessage(message="still mine"),
        InteractionComplete(message_id="m1", interaction_id="i" * 24, full_message="still mine"),
    )
    await here.say("first", thread_ts=root)
    await here.say("second", thread_ts=root)
    await eventually(lambda: here.amigo.named("interact"))
    # Another process takes the thread over (as if this one had stalled past the lease).
    async with here.store.engine.begin() as conn:
        await conn.execute(update(ThreadLeaseRow).values(holder="there"))
    await eventually(lambda: root in {t.thread_ts for t in here.workers.lost})
    gate.set()
    await here.settle()
    assert [c.text for c in here.amigo.named("interact")] == ["first"]
    assert here.replies(root)[-1] == "still mine"

    # The process that holds the lease now runs the rest.
    there = await make_core(holder="there", store=here.store, slack=here.slack, amigo=here.amigo)
    there.workers.kick(there.thread(root))
    await there.settle()
    assert [c.text for c in here.amigo.named("interact")] == ["first", "second"]


async def test_a_reply_waits_while_its_conversation_is_started_elsewhere(
    make_core: MakeCore,
) -> None:
    core = await make_core()
    root = new_ts()
    claimed = await core.store.claim_start(core.thread(root), ts=root, user_id=OWNER, text="start")
    assert claimed is not None
    _, start = claimed
    # Another process creates it, holding the thread's lease.
    assert await core.store.acquire_lease(core.thread(root), "there", 60)
    await core.store.set_turn_state(start.id, TurnState.SENDING)
    await core.say("early reply", thread_ts=root)
    await core.settle()
    assert core.amigo.calls == []  # the reply waits for the conversation

    # That process gives the start up (its reply offers Retry): the reply still waits,
    # and goes once the start is retried and the conversation exists.
    await core.store.set_turn_state(start.id, TurnState.FAILED)
    await core.store.release_lease(core.thread(root), "there")
    core.workers.kick(core.thread(root))
    await core.settle()
    assert core.amigo.calls == []
    assert await core.recovery.retry(start.id, OWNER) is None
    await core.settle()
    assert [c.text for c in core.amigo.calls if c.name in ("create", "interact")] == [
        "start",
        "early reply",
    ]


AMIGO_ID = "co" + "0" * 22


async def _left_streaming(core: Core) -> tuple[str, Conversation, Turn]:
    """A thread whose start a stopped process left streaming: Amigo had created the
    conversation (its id was saved) and not yet committed the message when the process
    died. No sweep has looked since its lease ran out."""
    root = new_ts()
    claimed = await core.store.claim_start(core.thread(root), ts=root, user_id=OWNER, text="start")
    assert claimed is not None
    conversation, start = claimed
    await core.store.set_conversation_user(conversation.id, "us" + "0" * 22)
    await core.store.activate_conversation(conversation.id, AMIGO_ID, [start.id])
    core.amigo.unfinished.append(AMIGO_ID)
    conversation = await core.store.conversation(conversation.id)
    assert conversation is not None
    return root, conversation, start


async def test_a_reply_waits_for_the_start_a_stopped_process_left_streaming(
    make_core: MakeCore,
) -> None:
    """Whoever takes the thread next settles that start with Amigo first (no trace of
    it: it goes again, in the same conversation), before the reply goes."""
    core = await make_core(coalesce=False)
    root, _, _ = await _left_streaming(core)
    await core.say("first", thread_ts=root)  # kicks the thread's worker
    await core.settle()
    assert [c.text for c in core.amigo.named("interact")] == ["start", "first"]
    assert {c.conversation_id for c in core.amigo.named("interact")} == {AMIGO_ID}
    assert core.amigo.named("create") == []
    assert core.replies(root)[-2:] == ["Echo: start", "Echo: first"]


async def test_a_reply_waits_for_the_reply_a_stopped_process_left_sending(
    make_core: MakeCore,
) -> None:
    core = await make_core(coalesce=False)
    root, conversation, start = await _left_streaming(core)
    await core.store.set_turn_state(start.id, TurnState.DONE)  # answered and shown
    first = await core.store.claim_reply(conversation, ts=new_ts(), user_id=OWNER, text="first")
    assert first is not None
    async with core.store.engine.begin() as conn:  # its process died sending it
        await conn.execute(
            update(TurnRow).where(TurnRow.ts == first.ts).values(state=TurnState.SENDING)
        )
    await core.say("second", thread_ts=root)
    await core.settle()
    assert [c.text for c in core.amigo.named("interact")] == ["first", "second"]
