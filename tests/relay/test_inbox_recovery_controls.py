"""Inbox claims, recovery after a stop, and the conversation controls, on the relay core."""

from __future__ import annotations

import asyncio

from slackbot.amigo.errors import AmigoConflict
from slackbot.amigo.events import ErrorEvent, NewMessage
from slackbot.relay.commands import Finish, SetTags, Suggest
from slackbot.relay.controls import Caller
from slackbot.relay.heard import HeardConfig
from slackbot.relay.inbox import IncomingMessage, Recorded, Routed
from slackbot.store.models import TurnState
from slackbot.store.records import Turn
from slackbot.ui import blocks, messages
from tests.relay.conftest import MakeCore
from tests.relay.core import (
    ADMIN,
    CHANNEL,
    OTHER,
    OWNER,
    TEAM,
    Core,
    all_turns,
    eventually,
    new_ts,
)

# -- inbox -------------------------------------------------------------------------


async def test_a_message_delivered_twice_is_claimed_once(make_core: MakeCore) -> None:
    core = await make_core()
    root, first = await core.say("hello")
    message = IncomingMessage(TEAM, CHANNEL, OWNER, root, None, "hello", True, False)
    assert first == Routed.STARTED
    assert await core.deliver(message) == Routed.DUPLICATE
    reply, routed = await core.say("more", thread_ts=root)
    assert routed == Routed.QUEUED
    again = IncomingMessage(TEAM, CHANNEL, OWNER, reply, root, "more", False, False)
    assert await core.deliver(again) == Routed.DUPLICATE
    await core.settle()
    assert [c.text for c in core.amigo.calls if c.name in ("create", "interact")] == [
        "hello",
        "more",
    ]


async def test_someone_elses_replies_get_one_hint_and_reach_nobody_when_not_shared(
    make_core: MakeCore,
) -> None:
    core = await make_core(heard=HeardConfig(share=False))
    root, _ = await core.say("hello")
    await core.settle()
    for text in ("me too", "and again"):
        _, routed = await core.say(text, user=OTHER, thread_ts=root)
        assert routed == Routed.NOT_OWNER
    assert core.slack.told(OTHER) == [messages.not_owner_hint(OWNER)]
    assert core.amigo.named("interact") == []
    await core.say("next", thread_ts=root)
    await core.settle()
    assert [(c.text, c.events) for c in core.amigo.named("interact")] == [("next", [])]


async def test_a_reply_that_overtakes_its_mention_keeps_its_place(make_core: MakeCore) -> None:
    core = await make_core()
    root = new_ts()
    early = IncomingMessage(TEAM, CHANNEL, OWNER, new_ts(), root, "second", False, False)
    other = IncomingMessage(TEAM, CHANNEL, OTHER, new_ts(), root, "me too", False, False)
    mention = IncomingMessage(TEAM, CHANNEL, OWNER, root, None, "first", True, False)
    assert await core.deliver(early) == Routed.HELD
    assert await core.deliver(other) == Routed.HELD
    assert await core.deliver(mention) == Routed.STARTED
    await core.settle()
    assert [c.text for c in core.amigo.calls if c.name in ("create", "interact")] == [
        "first",
        "second",
    ]
    assert core.slack.told(OTHER) == [messages.not_owner_hint(OWNER, shared=True)]


async def test_held_replies_whose_root_starts_nothing_are_let_go(make_core: MakeCore) -> None:
    core = await make_core()
    root = new_ts()
    _, routed = await core.say("a reply", thread_ts=root)
    assert routed == Routed.HELD
    plain_root = IncomingMessage(TEAM, CHANNEL, OWNER, root, None, "no mention", False, False)
    assert await core.deliver(plain_root) == Routed.IGNORED
    assert await all_turns(core.store) == []
    assert core.amigo.calls == []


async def test_a_held_reply_survives_a_restart_and_goes_when_its_root_arrives(
    make_core: MakeCore,
) -> None:
    core = await make_core()
    root = new_ts()
    _, routed = await core.say("early", thread_ts=root)
    assert routed == Routed.HELD
    restarted = await make_core(store=core.store, slack=core.slack, amigo=core.amigo)
    mention = IncomingMessage(TEAM, CHANNEL, OWNER, root, None, "root", True, False)
    assert await restarted.deliver(mention) == Routed.STARTED
    await restarted.settle()
    assert [c.text for c in core.amigo.calls if c.name in ("create", "interact")] == [
        "root",
        "early",
    ]


async def test_a_reply_held_when_a_process_stopped_after_starting_its_thread_goes(
    make_core: MakeCore,
) -> None:
    """The process claimed the mention's start and stopped before it let the held reply
    go to the new conversation (and before marking the mention routed)."""
    core = await make_core()
    root = new_ts()
    _, routed = await core.say("early", thread_ts=root)
    assert routed == Routed.HELD
    mention = IncomingMessage(TEAM, CHANNEL, OWNER, root, None, "root", True, False)
    assert await core.inbox.record(mention) == Recorded.SAVED
    assert await core.store.claim_start(core.thread(root), ts=root, user_id=OWNER, text="root")
    restarted = await make_core(store=core.store, slack=core.slack, amigo=core.amigo)
    await restarted.recovery.sweep(route_after=0)
    await restarted.settle()
    assert [c.text for c in core.amigo.calls if c.name in ("create", "interact")] == [
        "root",
        "early",
    ]


async def test_a_message_saved_by_a_process_that_stopped_is_routed_by_the_sweep(
    make_core: MakeCore,
) -> None:
    core = await make_core()
    mention = IncomingMessage(
        TEAM, CHANNEL, OWNER, new_ts(), None, "saved, then a crash", True, False
    )
    assert await core.inbox.record(mention) == Recorded.SAVED  # acked; never routed here
    restarted = await make_core(store=core.store, slack=core.slack, amigo=core.amigo)
    await restarted.recovery.sweep(route_after=0)
    await restarted.settle()
    assert [c.text for c in core.amigo.named("create")] == ["saved, then a crash"]
    assert core.replies(mention.ts) == ["Echo: saved, then a crash"]


# -- recovery ----------------------------------------------------------------------


async def crash_mid_reply(make_core: MakeCore, *, committed: bool) -> tuple[Core, str, Turn]:
    """A process dies while a reply streams; Amigo did (or did not) commit the answer."""
    core = await make_core()
    root, _ = await core.say("hello")
    await core.settle()
    gate = asyncio.Event()
    core.amigo.script(gate)  # the reply never finishes in this process
    await core.say("question", thread_ts=root)
    await eventually(lambda: core.amigo.named("interact"))
    core.workers.stop()
    await core.tasks.drain(0)  # the process dies: its task is gone
    (cut,) = [t for t in await all_turns(core.store) if t.text == "question"]
    await core.store.set_turn_state(cut.id, TurnState.STREAMING)
    await core.store.release_lease(core.thread(root), "here")  # its lease runs out
    (conversation,) = await core.store.open_conversations_of(TEAM, OWNER)
    if committed:
        assert conversation.amigo_conversation_id is not None
        interaction = "c" * 24
        core.amigo.committed[conversation.amigo_conversation_id].append(
            (interaction, "question", "The answer Amigo kept.")
        )
    return core, root, cut


async def test_a_reply_cut_by_a_stopped_process_is_sent_again_when_amigo_lost_it(
    make_core: MakeCore,
) -> None:
    core, root, cut = await crash_mid_reply(make_core, committed=False)
    restarted = await make_core(store=core.store, slack=core.slack, amigo=core.amigo)
    assert await restarted.recovery.sweep() == 1
    await restarted.settle()
    assert [c.text for c in core.amigo.named("interact")] == ["question", "question"]
    assert core.slack.messages[cut.reply_ts or ""].body == "Echo: question"  # same message
    assert core.replies(root)[-1] == "Echo: question"


async def test_a_reply_amigo_kept_is_shown_and_not_sent_again(make_core: MakeCore) -> None:
    core, _, cut = await crash_mid_reply(make_core, committed=True)
    restarted = await make_core(store=core.store, slack=core.slack, amigo=core.amigo)
    await restarted.recovery.sweep()
    await restarted.settle()
    assert [c.text for c in core.amigo.named("interact")] == ["question"]
    reply = core.slack.messages[cut.reply_ts or ""]
    assert reply.body == "The answer Amigo kept."
    assert blocks.REPLY_MENU_ACTION in reply.actions()


async def test_a_message_slack_delivers_again_after_it_was_sent_again_goes_once_more_only(
    make_core: MakeCore,
) -> None:
    """The crash that cut the reply also lost Slack's ack: Slack delivers the message
    again after the restart, when its turn was already queued again (a later attempt)."""
    core, root, cut = await crash_mid_reply(make_core, committed=False)
    restarted = await make_core(store=core.store, slack=core.slack, amigo=core.amigo)
    await restarted.recovery.sweep()
    await restarted.settle()
    again = IncomingMessage(TEAM, CHANNEL, OWNER, cut.ts, root, "question", False, False)
    assert await restarted.deliver(again) == Routed.DUPLICATE
    await restarted.settle()
    assert [c.text for c in core.amigo.named("interact")] == ["question", "question"]


async def test_retry_sends_an_interrupted_message_once_and_only_for_its_owner(
    make_core: MakeCore,
) -> None:
    core = await make_core()
    root, _ = await core.say("hello")
    await core.settle()
    core.amigo.script(NewMessage(message="Half"), ErrorEvent(http_error_code=500))
    await core.say("question", thread_ts=root)
    await core.settle()
    (cut,) = [t for t in await all_turns(core.store) if t.text == "question"]
    assert cut.state == TurnState.INTERRUPTED
    assert await core.recovery.retry(cut.id, OTHER) == messages.retry_not_yours(OWNER)
    assert await core.recovery.retry(cut.id, OWNER) is None
    assert await core.recovery.retry(cut.id, OWNER) == messages.RETRY_ALREADY
    await core.settle()
    assert core.replies(root)[-1] == "Echo: question"
    assert [c.text for c in core.amigo.named("interact")] == ["question", "question"]


async def test_queued_turns_nobody_runs_are_started_by_the_sweep(make_core: MakeCore) -> None:
    core = await make_core()
    root, _ = await core.say("hello")
    await core.settle()
    core.workers.stop()
    await core.say("waiting", thread_ts=root)  # queued, no worker
    restarted = await make_core(store=core.store, slack=core.slack, amigo=core.amigo)
    await restarted.recovery.sweep()
    await restarted.settle()
    assert core.replies(root)[-1] == "Echo: waiting"


# -- controls ----------------------------------------------------------------------


async def test_the_owner_or_an_admin_may_finish_others_may_not(make_core: MakeCore) -> None:
    core = await make_core()
    root, _ = await core.say("hello")
    await core.settle()
    thread = core.thread(root)
    refused = await core.controls.run(Finish(), Caller(TEAM, OTHER), thread=thread)
    assert refused == messages.not_allowed(OWNER)
    answer = await core.controls.run(Finish(), Caller(TEAM, ADMIN), thread=thread)
    assert answer is not None and "Finished the conversation" in answer
    assert len(core.amigo.named("finish")) == 1
    assert core.replies(root)[-1] == messages.finished_by(ADMIN)


async def test_a_workspace_admin_may_act_as_slack_says(make_core: MakeCore) -> None:
    core = await make_core()
    root, _ = await core.say("hello")
    await core.settle()
    core.slack.admins.add(OTHER)
    answer = await core.controls.run(
        SetTags((("team", "sales"),)), Caller(TEAM, OTHER), thread=core.thread(root)
    )
    assert answer == messages.tags_set({"team": "sales"})
    assert core.amigo.tags == {"team": "sales"}


async def test_finishing_while_a_reply_streams_is_refused(make_core: MakeCore) -> None:
    core = await make_core()
    root, _ = await core.say("hello")
    await core.settle()
    gate = asyncio.Event()
    core.amigo.script(gate, *core.amigo._echo("question"))
    await core.say("question", thread_ts=root)
    await eventually(lambda: core.amigo.named("interact"))
    answer = await core.controls.run(Finish(), Caller(TEAM, OWNER), thread=core.thread(root))
    assert answer == messages.CONVERSATION_BUSY
    gate.set()
    await core.settle()
    assert core.amigo.named("finish") == []


async def test_amigo_saying_finished_to_a_control_finishes_it_here(make_core: MakeCore) -> None:
    core = await make_core()
    root, _ = await core.say("hello")
    await core.settle()
    core.amigo.fail["tags"] = AmigoConflict(
        409, '{"detail": "The conversation is already finished."}'
    )
    answer = await core.controls.run(
        SetTags((("a", "b"),)), Caller(TEAM, OWNER), thread=core.thread(root)
    )
    assert answer == messages.CONVERSATION_COMPLETED
    assert await core.store.open_conversations_of(TEAM, OWNER) == []


async def test_a_chosen_suggestion_is_posted_and_relayed_once(make_core: MakeCore) -> None:
    core = await make_core()
    root, _ = await core.say("hello")
    await core.settle()
    thread = core.thread(root)
    assert (
        await core.controls.run(Suggest(), Caller(TEAM, OWNER), thread=thread, in_thread=True)
        is None
    )
    (conversation,) = await core.store.open_conversations_of(TEAM, OWNER)
    interaction = (await core.store.progress(conversation.id)).latest_interaction_id
    assert interaction is not None
    choose = core.controls.choose
    chosen = await choose(
        Caller(TEAM, OWNER), thread, interaction_id=interaction, text="Thanks!", buttons_ts=None
    )
    assert chosen is None
    again = await choose(
        Caller(TEAM, OWNER), thread, interaction_id=interaction, text="Thanks!", buttons_ts=None
    )
    assert again == messages.SUGGESTION_USED
    await core.settle()
    assert [c.text for c in core.amigo.named("interact")] == ["Thanks!"]
    assert messages.suggestion_chosen(OWNER, "Thanks!") in core.replies(root)


async def test_an_answer_slack_refused_is_shown_after_a_restart(make_core: MakeCore) -> None:
    core = await make_core()
    root, _ = await core.say("hello")
    await core.settle()
    core.slack.refuse["chat.update"] = "internal_error"  # Slack takes no edits
    core.slack.refuse["chat.postMessage"] = "internal_error"
    await core.say("question", thread_ts=root)
    await core.settle()
    (turn,) = [t for t in await all_turns(core.store) if t.text == "question"]
    assert (turn.state, turn.reply_text, turn.shown) == (TurnState.DONE, "Echo: question", False)

    core.slack.refuse.clear()  # Slack is well again, and the app starts anew
    restarted = await make_core(store=core.store, slack=core.slack, amigo=core.amigo)
    await restarted.recovery.sweep()
    await restarted.settle()
    assert core.replies(root)[-1] == "Echo: question"
    (turn,) = [t for t in await all_turns(core.store) if t.text == "question"]
    assert turn.shown
    assert len(core.amigo.named("interact")) == 1
