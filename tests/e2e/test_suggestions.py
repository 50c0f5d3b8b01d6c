"""Suggested replies: buttons in the thread, one click relays one reply."""

from __future__ import annotations

import json
from typing import Any

import pytest

from slackbot.sandbox.amigo_fake import Reply
from slackbot.sandbox.slack_fake import FakeMessage, message_text
from slackbot.ui import blocks
from tests.e2e.conftest import ALICE, BOB, CHANNEL, Harness
from tests.e2e.test_commands import (
    act,
    amigo,
    choose_in_menu,
    latest_reply,
    menu_of,
    private_answer,
    shortcut,
    thread_with_reply,
)
from tests.e2e.test_commands import extra_settings as extra_settings  # the fixture
from tests.e2e.test_relay import wait_reply_done

LONG = (
    "Could you walk me through every single step of the process, including the parts "
    "that usually go wrong, so that I can prepare properly?"
)
SUGGESTIONS = ["Tell me more.", LONG, "Thanks!", "What next?", "Why?", "Sixth", "Seventh"]


def latest_interaction(h: Harness) -> str:
    completes = [
        e.event
        for e in h.amigo.emitted
        if isinstance(e.event, dict) and e.event.get("type") == "interaction-complete"
    ]
    return str(completes[-1]["interaction_id"])


def suggestion_messages(h: Harness, thread_ts: str) -> list[FakeMessage]:
    return [m for m in h.bot_replies(thread_ts) if buttons_of(m)]


def buttons_of(message: FakeMessage) -> list[dict[str, Any]]:
    return [
        element
        for block in message.blocks or []
        if block.get("type") == "actions"
        for element in block.get("elements", [])
        if str(element.get("action_id", "")).startswith(blocks.SUGGESTION_ACTION_PREFIX)
    ]


async def suggested(h: Harness, thread_ts: str, *, not_ts: str | None = None) -> FakeMessage:
    """The thread's (newest) message with suggestion buttons, waiting for it."""
    found = await h.wait_for(
        lambda: [m for m in suggestion_messages(h, thread_ts) if m.ts != not_ts],
        what="suggestion buttons",
    )
    return found[-1]


async def click(h: Harness, user: str, message: FakeMessage, index: int) -> str:
    button = buttons_of(message)[index]
    payload = h.sender.block_action_payload(
        user,
        button["action_id"],
        button["value"],
        channel=message.channel,
        message_ts=message.ts,
        thread_ts=message.thread_ts,
    )
    return await act(h, payload)


def relayed(h: Harness) -> list[str]:
    return [str(c.form["recorded_message"]) for c in h.amigo.calls_named("interact") if c.form]


async def test_suggest_shows_the_latest_interactions_suggestions_as_buttons(
    harness: Harness,
) -> None:
    h = harness
    h.amigo.recommendations = list(SUGGESTIONS)
    ts = await thread_with_reply(h)

    said = await amigo(h, "suggest")
    assert said.answer_seconds < 3
    assert h.slack.permalink(CHANNEL, ts) in said.text
    (recommend,) = h.amigo.calls_named("recommend")
    assert f"/interaction/{latest_interaction(h)}/recommend_responses" in recommend.path

    message = await suggested(h, ts)
    buttons = buttons_of(message)
    assert len(buttons) == 5
    labels = [b["text"]["text"] for b in buttons]
    assert labels[0] == "Tell me more."
    assert len(labels[1]) == 75 and labels[1].endswith("…")
    assert LONG.startswith(labels[1][:-1])
    carried = [json.loads(b["value"]) for b in buttons]
    assert [c["t"] for c in carried] == SUGGESTIONS[:5]
    assert {c["i"] for c in carried} == {latest_interaction(h)}
    assert f"<@{ALICE}>" in message_text(message)


async def test_the_owners_click_relays_that_exact_text_once(harness: Harness) -> None:
    h = harness
    h.amigo.recommendations = list(SUGGESTIONS)
    ts = await thread_with_reply(h)
    await amigo(h, "suggest")
    buttons = await suggested(h, ts)

    answer = h.amigo.queue_reply(Reply(text="Sure, step by step.", hold_after=1))
    await click(h, ALICE, buttons, 1)
    await h.wait_for(lambda: relayed(h), what="the chosen reply relayed")
    assert relayed(h) == [LONG]
    assert any(t == f"<@{ALICE}> chose: {LONG}" for t in h.bot_texts(ts))
    replaced = await h.wait_for(
        lambda: (m := h.slack.message(CHANNEL, buttons.ts)) and not buttons_of(m) and m,
        what="buttons replaced",
    )
    assert "chose “Could you walk me through" in str(replaced.blocks)

    # While the answer streams, the same button again and another of the set: nothing.
    again = await click(h, ALICE, buttons, 1)
    assert "already chosen" in await private_answer(h, again)
    other = await click(h, ALICE, buttons, 0)
    assert "already chosen" in await private_answer(h, other)
    answer.release()
    await wait_reply_done(h, ts, count=2)
    # And once it is complete, the old set is stale.
    late = await click(h, ALICE, buttons, 2)
    assert "nothing was sent" in await private_answer(h, late)
    await h.settle()
    assert relayed(h) == [LONG]
    assert h.amigo.conflicts == 0


async def test_stale_and_other_peoples_clicks_relay_nothing(harness: Harness) -> None:
    h = harness
    ts = await thread_with_reply(h)
    await amigo(h, "suggest")
    old = await suggested(h, ts)

    bob = await click(h, BOB, old, 0)
    assert f"Only <@{ALICE}> can choose" in await private_answer(h, bob)

    h.amigo.queue_reply(Reply(text="A newer answer."))
    await h.sender.post_message(ALICE, "typed myself", thread_ts=ts)
    await h.wait_for(lambda: "A newer answer." in h.bot_texts(ts), what="newer answer")
    await h.settle()
    stale = await click(h, ALICE, old, 0)
    assert "earlier reply" in await private_answer(h, stale)
    await h.settle()
    assert relayed(h) == ["typed myself"]


async def test_a_click_in_a_finished_conversation_relays_nothing(harness: Harness) -> None:
    h = harness
    ts = await thread_with_reply(h)
    await amigo(h, "suggest")
    message = await suggested(h, ts)
    await amigo(h, "finish")

    token = await click(h, ALICE, message, 0)
    assert "finished" in await private_answer(h, token)
    await h.settle()
    assert relayed(h) == []


async def test_the_menu_and_the_shortcut_suggest_in_their_own_thread(harness: Harness) -> None:
    h = harness
    alice_ts = await thread_with_reply(h, ALICE)
    bob_ts = await thread_with_reply(h, BOB)

    await shortcut(h, blocks.SHORTCUT_SUGGEST, BOB, latest_reply(h, bob_ts))
    bobs = await suggested(h, bob_ts)
    assert f"<@{BOB}>" in message_text(bobs)
    assert suggestion_messages(h, alice_ts) == []

    await choose_in_menu(h, ALICE, latest_reply(h, alice_ts), blocks.MENU_SUGGEST)
    alices = await suggested(h, alice_ts)
    assert f"<@{ALICE}>" in message_text(alices)
    assert len(h.amigo.calls_named("recommend")) == 2

    await click(h, BOB, bobs, 1)
    await h.wait_for(lambda: relayed(h), what="Bob's choice relayed")
    await h.settle()
    assert relayed(h) == ["Thanks!"]
    bobs_conversation = h.amigo.calls_named("create_conversation")[1]
    assert h.amigo.calls_named("interact")[0].user_id == bobs_conversation.user_id


@pytest.mark.parametrize(
    "extra_settings", [{"amigo_suggestions": "after-each-reply"}], indirect=True
)
async def test_suggestions_follow_each_reply_when_configured(harness: Harness) -> None:
    h = harness
    ts = await thread_with_reply(h)
    first = await suggested(h, ts)
    await click(h, ALICE, first, 0)
    second = await suggested(h, ts, not_ts=first.ts)
    assert buttons_of(second)
    await h.settle()
    assert relayed(h) == ["Tell me more."]
    assert len(h.amigo.calls_named("recommend")) == 2


@pytest.mark.parametrize("extra_settings", [{"amigo_suggestions": "off"}], indirect=True)
async def test_suggestions_can_be_turned_off(harness: Harness) -> None:
    h = harness
    ts = await thread_with_reply(h)
    assert "turned off" in (await amigo(h, "suggest")).text
    options = [o["value"] for o in menu_of(latest_reply(h, ts))["options"]]
    assert options == [blocks.MENU_FINISH, blocks.MENU_TAGS]
    await h.settle()
    assert h.amigo.calls_named("recommend") == []


async def test_amigo_failures_of_suggestions_become_specific_answers(harness: Harness) -> None:
    h = harness
    await thread_with_reply(h)
    h.amigo.fail_next("recommend", status=429, retry_after=12)
    assert "try again in 12 s" in (await amigo(h, "suggest")).text.lower()
    h.amigo.fail_next("recommend", status=503)
    assert "maintenance" in (await amigo(h, "suggest")).text
    h.amigo.fail_next("recommend", status=400)
    assert "latest completed answer" in (await amigo(h, "suggest")).text
    h.amigo.recommendations = []
    assert "no suggested replies" in (await amigo(h, "suggest")).text
