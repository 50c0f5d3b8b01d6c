"""The thread is heard: others' messages reach Amigo as external events with the owner's
next turn, capped, exactly once (a turn sent again carries the same ones)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from slackbot.amigo.errors import AmigoBadRequest, AmigoStreamCut
from slackbot.amigo.events import InteractionComplete, NewMessage, UserMessageAvailable
from slackbot.relay.heard import HeardConfig, capped, slack_time, stamped
from slackbot.relay.inbox import IncomingMessage, Routed
from slackbot.relay.ports import ThreadMessage
from slackbot.store.models import TurnState
from slackbot.ui import messages
from tests.relay.conftest import MakeCore
from tests.relay.core import CHANNEL, OTHER, OWNER, TEAM, Core, all_turns, eventually, new_ts

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_newest_events_are_kept_within_the_count() -> None:
    events = [(f"m{i}", at(i)) for i in range(5)]
    assert capped(events, 3, 1000) == events[2:]
    assert capped(events, 10, 1000) == events


def test_the_newest_events_are_kept_within_the_size() -> None:
    events = [("a" * 40, at(0)), ("b" * 40, at(1)), ("c" * 40, at(2))]
    assert capped(events, 20, 100) == events[1:]  # 80 fit, 120 do not
    assert capped(events, 20, 80) == events[1:]


def test_a_newest_event_longer_than_the_cap_is_cut_and_sent_alone() -> None:
    events = [("old", at(0)), ("x" * 500, at(1))]
    [(text, when)] = capped(events, 20, 100)
    assert len(text) == 100 and text.endswith("…") and when == at(1)


def test_times_are_raised_to_the_conversations_latest_message_and_never_in_the_future() -> None:
    events = [("early", at(0)), ("late", at(10)), ("future", at(100))]
    assert stamped(events, at(5), at(50)) == [
        ("early", at(5)),
        ("late", at(10)),
        ("future", at(50)),
    ]
    assert stamped(events[:2], None, at(50)) == events[:2]


def interacts(core: Core) -> list[tuple[str | None, list[tuple[str, datetime]]]]:
    return [(c.text, c.events) for c in core.amigo.named("interact")]


async def started(core: Core) -> str:
    root, _ = await core.say("hello")
    await core.settle()
    return root


async def test_others_messages_go_once_with_the_owners_next_turn_in_order(
    make_core: MakeCore,
) -> None:
    core = await make_core()
    root = await started(core)
    first, routed = await core.say("the printer is on floor 3", user=OTHER, thread_ts=root)
    assert routed == Routed.NOT_OWNER
    second, _ = await core.say("ask <@U1> about it", user=OTHER, thread_ts=root)
    await core.settle()
    assert core.amigo.named("interact") == []  # nobody is answered for them
    assert core.slack.told(OTHER) == [messages.not_owner_hint(OWNER, shared=True)]

    await core.say("where is the printer?", thread_ts=root)
    await core.settle()
    await core.say("thanks", thread_ts=root)
    await core.settle()
    assert interacts(core) == [
        (
            "where is the printer?",
            [
                (f"Person {OTHER}: the printer is on floor 3", slack_time(first)),
                (f"Person {OTHER}: ask @Person {OWNER} about it", slack_time(second)),
            ],
        ),
        ("thanks", []),
    ]


async def test_a_retried_turn_carries_the_same_events_and_later_ones_wait(
    make_core: MakeCore,
) -> None:
    core = await make_core()
    root = await started(core)
    early, _ = await core.say("before", user=OTHER, thread_ts=root)
    gate = asyncio.Event()
    heard = UserMessageAvailable(message_id="m1", user_message="question")
    core.amigo.script(heard, gate, AmigoStreamCut("the process died"))
    await core.say("question", thread_ts=root)
    await eventually(lambda: core.amigo.named("interact"))  # on its way, held at the gate
    late, _ = await core.say("while it answered", user=OTHER, thread_ts=root)
    gate.set()
    await core.settle()
    carried = [(f"Person {OTHER}: before", slack_time(early))]
    assert interacts(core) == [("question", carried), ("question", carried)]
    assert [t.state for t in await all_turns(core.store)][-1] == TurnState.DONE

    await core.say("next", thread_ts=root)
    await core.settle()
    assert interacts(core)[-1] == (
        "next",
        [(f"Person {OTHER}: while it answered", slack_time(late))],
    )


async def test_with_sharing_off_others_messages_reach_nobody(make_core: MakeCore) -> None:
    core = await make_core(heard=HeardConfig(share=False))
    root = await started(core)
    await core.say("the printer is on floor 3", user=OTHER, thread_ts=root)
    await core.say("where is the printer?", thread_ts=root)
    await core.settle()
    assert interacts(core) == [("where is the printer?", [])]
    assert core.slack.told(OTHER) == [messages.not_owner_hint(OWNER)]


async def test_only_the_newest_go_within_the_caps(make_core: MakeCore) -> None:
    core = await make_core(heard=HeardConfig(max_messages=2))
    root = await started(core)
    for text in ("one", "two", "three"):
        await core.say(text, user=OTHER, thread_ts=root)
    await core.say("go", thread_ts=root)
    await core.settle()
    await core.say("again", thread_ts=root)
    await core.settle()
    [(_, sent), (_, none)] = interacts(core)
    assert [text for text, _ in sent] == [f"Person {OTHER}: two", f"Person {OTHER}: three"]
    assert none == []  # the oldest was dropped, not kept for later


def mention_in(root: str, text: str) -> IncomingMessage:
    return IncomingMessage(TEAM, CHANNEL, OWNER, new_ts(), root, text, True, False)


async def test_a_mention_inside_a_human_thread_brings_its_earlier_messages(
    make_core: MakeCore,
) -> None:
    core = await make_core()
    root = new_ts()
    earlier = [
        ThreadMessage(root, OTHER, "the printer jams"),
        ThreadMessage(new_ts(), OWNER, "again?"),
    ]
    core.slack.human[root] = earlier
    assert await core.deliver(mention_in(root, "what should we do?")) == Routed.STARTED
    await core.settle()
    assert [c.text for c in core.amigo.named("create")] == [None]
    assert interacts(core) == [
        (
            "what should we do?",
            [
                (f"Person {OTHER}: the printer jams", slack_time(earlier[0].ts)),
                (f"Person {OWNER}: again?", slack_time(earlier[1].ts)),
            ],
        )
    ]
    assert core.replies(root)[-1].startswith("Echo: what should we do?")
    assert not any("Hello!" in reply for reply in core.replies(root))  # the opening is not shown


async def test_a_start_cut_after_creating_sends_the_same_history_again(
    make_core: MakeCore,
) -> None:
    core = await make_core()
    root = new_ts()
    core.slack.human[root] = [ThreadMessage(root, OTHER, "the printer jams")]
    opening = InteractionComplete(message_id="m", interaction_id="i" * 24, full_message="Hi!")
    core.amigo.script(NewMessage(message="Hi!"), opening)
    core.amigo.script(AmigoStreamCut("cut"))
    await core.deliver(mention_in(root, "fix it?"))
    await core.settle()
    history = [(f"Person {OTHER}: the printer jams", slack_time(root))]
    assert interacts(core) == [("fix it?", history), ("fix it?", history)]
    assert len(core.amigo.named("create")) == 1
    assert core.replies(root)[-1].startswith("Echo: fix it?")


async def test_an_empty_mention_lets_the_agent_speak_and_the_history_waits(
    make_core: MakeCore,
) -> None:
    core = await make_core()
    root = new_ts()
    core.slack.human[root] = [ThreadMessage(root, OTHER, "the printer jams")]
    await core.deliver(mention_in(root, ""))
    await core.settle()
    assert [c.text for c in core.amigo.named("create")] == [None]
    await core.say("so?", thread_ts=root)
    await core.settle()
    assert interacts(core) == [("so?", [(f"Person {OTHER}: the printer jams", slack_time(root))])]


async def test_events_amigo_refuses_do_not_cost_the_owners_message(make_core: MakeCore) -> None:
    core = await make_core()
    root = await started(core)
    await core.say("context", user=OTHER, thread_ts=root)
    core.amigo.script(AmigoBadRequest(400, "inconsistent timestamps"))
    await core.say("question", thread_ts=root)
    await core.settle()
    assert [text for text, _ in interacts(core)] == ["question", "question"]
    assert interacts(core)[-1][1] == []
    assert core.replies(root)[-1].startswith("Echo: question")
