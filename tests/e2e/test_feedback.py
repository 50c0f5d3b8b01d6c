"""Feedback on replies: Slack's thumbs under each answer, one vote per person and reply
(a second click changes it), counted on the conversation's Amigo tags and in /metrics,
a comment after a thumbs down, all shown in "Why this answer?"."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from slackbot.sandbox.amigo_fake import Reply
from slackbot.ui import blocks
from tests.e2e.conftest import ALICE, BOB, CHANNEL, Harness
from tests.e2e.test_relay import wait_reply_done
from tests.e2e.test_why import modal_text, why_on


async def answered(h: Harness) -> tuple[str, str, dict[str, Any]]:
    """(thread ts, reply ts, the reply's feedback buttons) of a fresh answer."""
    h.amigo.queue_reply(Reply(text="Here you are.", kind="create"))
    ts = await h.sender.post_mention(ALICE, "<@UBOT> help me")
    await wait_reply_done(h, ts)
    reply = h.bot_replies(ts)[0]
    [block] = [b for b in reply.blocks or [] if b.get("type") == "context_actions"]
    [buttons] = block["elements"]
    assert buttons["type"] == "feedback_buttons"
    return ts, reply.ts, buttons


async def click(h: Harness, user: str, thread: str, reply: str, value: str) -> None:
    before = len(h.amigo.calls_named("tags"))
    response = await h.sender.block_action(
        user, blocks.FEEDBACK_ACTION, value, channel=CHANNEL, message_ts=reply, thread_ts=thread
    )
    assert response.status_code == 200
    await h.settle()
    assert len(h.amigo.calls_named("tags")) <= before + 1


def tags(h: Harness) -> dict[str, Any]:
    [conversation] = h.amigo.conversations.values()
    return dict(conversation.tags)


async def test_up_then_down_keeps_one_vote_and_the_tags_follow(harness: Harness) -> None:
    h = harness
    thread, reply, buttons = await answered(h)
    up, down = buttons["positive_button"]["value"], buttons["negative_button"]["value"]

    await click(h, ALICE, thread, reply, up)
    assert tags(h) == {"feedback_up": "1", "feedback_down": "0"}
    await click(h, ALICE, thread, reply, up)  # the same vote again changes nothing
    assert len(h.amigo.calls_named("tags")) == 1

    await click(h, ALICE, thread, reply, down)
    assert tags(h) == {"feedback_up": "0", "feedback_down": "1"}
    assert len(h.amigo.calls_named("tags")) == 2
    [asked] = h.slack.views("views.open")  # what went wrong?
    assert asked.view["callback_id"] == blocks.FEEDBACK_VIEW

    typed = {blocks.FEEDBACK_INPUT: {blocks.FEEDBACK_INPUT: "It ignored my question."}}
    response = await h.sender.send_payload(
        h.sender.view_submission_payload(ALICE, asked.view, typed)
    )
    assert response.status_code == 200
    await h.settle()

    h.slack.add_user(BOB, name="bob", real_name="Bob Builder", is_admin=True)
    why = modal_text(await why_on(h, BOB, thread, reply))
    assert ":+1: 0  :-1: 1" in why and "It ignored my question." in why
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{h.url}/metrics")).text
    assert 'amigo_slack_feedback_total{vote="up"} 1.0' in metrics
    assert 'amigo_slack_feedback_total{vote="down"} 1.0' in metrics


async def test_two_people_vote_on_one_answer(harness: Harness) -> None:
    h = harness
    thread, reply, buttons = await answered(h)
    await click(h, ALICE, thread, reply, buttons["positive_button"]["value"])
    await click(h, BOB, thread, reply, buttons["positive_button"]["value"])
    assert tags(h) == {"feedback_up": "2", "feedback_down": "0"}


@pytest.mark.parametrize("value", ["sideways:1", "up:", "up:999999", "", "down:x"])
async def test_a_forged_or_stale_vote_changes_nothing(harness: Harness, value: str) -> None:
    h = harness
    thread, reply, _ = await answered(h)
    await click(h, ALICE, thread, reply, value)
    assert h.amigo.calls_named("tags") == []
