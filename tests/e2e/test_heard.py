"""The thread is heard: what others write in a conversation's thread reaches Amigo as
external events before the owner's next message, and never as user messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from slackbot.relay.heard import slack_time
from slackbot.sandbox.amigo_fake import RecordedCall
from slackbot.ui import messages
from tests.e2e.conftest import ALICE, BOB, CHANNEL, Harness
from tests.e2e.test_relay import start_thread, wait_reply_done


def sent_events(call: RecordedCall) -> list[tuple[str, datetime]]:
    return [(text, datetime.fromisoformat(stamp)) for text, stamp in call.external_events]


def user_messages(h: Harness) -> list[str]:
    """What Amigo keeps as the person's messages, in every conversation."""
    return [
        m.message
        for conversation in h.amigo.conversations.values()
        for m in conversation.messages
        if m.message_type == "user-message"
    ]


async def bob_speaks_twice_then_alice(h: Harness) -> tuple[str, str, str]:
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    first = await h.sender.post_message(BOB, "the printer is on floor 3", thread_ts=ts)
    second = await h.sender.post_message(BOB, "next to <@UALICE>'s desk", thread_ts=ts)
    await h.sender.post_message(ALICE, "where do I print?", thread_ts=ts)
    await wait_reply_done(h, ts, count=2)
    return ts, first, second


async def test_anothers_messages_reach_amigo_as_events_with_the_owners_next_turn(
    harness: Harness,
) -> None:
    h = harness
    ts, first, second = await bob_speaks_twice_then_alice(h)

    (interact,) = h.amigo.calls_named("interact")
    assert interact.form is not None
    assert interact.form["recorded_message"] == "where do I print?"
    assert sent_events(interact) == [
        ("Bob Builder: the printer is on floor 3", slack_time(first)),
        ("Bob Builder: next to @alice's desk", slack_time(second)),  # as Alice's own text
    ]
    assert user_messages(h) == ["hello there", "where do I print?"]
    (conversation,) = h.amigo.conversations.values()
    kept = [m.message for m in conversation.messages if m.message_type == "external-event"]
    assert kept == [text for text, _ in sent_events(interact)]
    # Bob hears once that he is heard, and gets no answer of his own.
    hints = [e.text for e in h.slack.ephemerals(user=BOB)]
    assert hints == [messages.not_owner_hint(ALICE, shared=True)]
    assert h.bot_texts(ts)[-1] == "Echo: where do I print?"

    await h.sender.post_message(ALICE, "thanks", thread_ts=ts)
    await wait_reply_done(h, ts, count=3)
    assert h.amigo.calls_named("interact")[-1].external_events == []  # sent once


@pytest.mark.parametrize("extra_settings", [{"amigo_share_thread": "off"}], ids=["off"])
async def test_with_sharing_off_anothers_messages_stay_out(
    harness: Harness, extra_settings: dict[str, Any]
) -> None:
    h = harness
    await bob_speaks_twice_then_alice(h)
    (interact,) = h.amigo.calls_named("interact")
    assert interact.external_events == []
    assert user_messages(h) == ["hello there", "where do I print?"]
    hints = [e.text for e in h.slack.ephemerals(user=BOB)]
    assert hints == [messages.not_owner_hint(ALICE)]


async def test_a_mention_inside_a_human_thread_brings_its_earlier_messages(
    harness: Harness,
) -> None:
    h = harness
    root = await h.sender.post_message(BOB, "the printer jams again")
    reply = await h.sender.post_message(ALICE, "third time today", thread_ts=root)
    for ts, user, text, thread in (
        (root, BOB, "the printer jams again", None),
        (reply, ALICE, "third time today", root),
    ):
        h.slack.add_message(CHANNEL, text, user=user, ts=ts, thread_ts=thread)
    await h.sender.post_mention(ALICE, "<@UBOT> what should we do?", thread_ts=root)
    await h.wait_for(lambda: h.amigo.calls_named("interact"), what="the mention's turn")
    await h.settle()

    (create,) = h.amigo.calls_named("create_conversation")
    assert "initial_message" not in create.json
    (interact,) = h.amigo.calls_named("interact")
    assert interact.form is not None
    assert interact.form["recorded_message"] == "what should we do?"
    events = sent_events(interact)
    assert [text for text, _ in events] == [
        "Bob Builder: the printer jams again",
        "alice: third time today",
    ]
    # Amigo takes no event older than the conversation: they carry its start instead.
    assert all(when >= slack_time(reply) for _, when in events)
    assert events[0][1] <= events[1][1]
    assert user_messages(h) == ["what should we do?"]
    assert h.bot_texts(root) == ["Echo: what should we do?"]  # the opening is not shown
