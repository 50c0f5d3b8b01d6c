""" "Why this answer?": a message shortcut on a reply, or `/amigo why`, opens a modal with
what Amigo says the agent did (its state, steps, behaviour, tools), for whom the admins
allow (AMIGO_INSIGHTS)."""

from __future__ import annotations

from typing import Any

import pytest

from slackbot.sandbox.amigo_fake import Reply
from slackbot.sandbox.slack_fake import FakeView
from slackbot.ui import insights as ui
from tests.e2e.conftest import ALICE, BOB, CHANNEL, Harness
from tests.e2e.test_relay import wait_reply_done

TOOL = "65f0c0ffee0000000000aa01"
ACTIONS: list[dict[str, Any]] = [
    {
        "type": "tool-call-started",
        "tool_round_index": 0,
        "tool_id": TOOL,
        "tool_version": "1",
        "input_params": {},
    },
    {
        "type": "tool-call-ended",
        "tool_round_index": 0,
        "tool_id": TOOL,
        "tool_version": "1",
        "input_parameters": {},
        "result": "ok",
        "duration": 0.4,
    },
]


def modal_text(view: FakeView) -> str:
    return "\n".join(str(b.get("text", {}).get("text", "")) for b in view.view.get("blocks") or [])


async def answered_thread(h: Harness) -> tuple[str, str]:
    """A thread of Alice's with one answer; (thread ts, the answer's ts)."""
    h.amigo.queue_reply(Reply(text="Because of the tool.", actions=ACTIONS, kind="create"))
    ts = await h.sender.post_mention(ALICE, "<@UBOT> why is the sky blue?")
    await wait_reply_done(h, ts)
    return ts, h.bot_replies(ts)[0].ts


async def why_on(h: Harness, user: str, thread_ts: str, message_ts: str) -> FakeView:
    opened_before = len(h.slack.views("views.open"))
    response = await h.sender.message_shortcut(
        "amigo_why", user, channel=CHANNEL, message_ts=message_ts, thread_ts=thread_ts
    )
    assert response.status_code == 200
    await h.wait_for(lambda: h.slack.views("views.update"), what="the filled modal")
    [opened] = h.slack.views("views.open")[opened_before:]
    assert modal_text(opened) == ui.LOADING  # open at once: the trigger lasts 3 s
    [filled] = h.slack.views("views.update")
    assert filled.view_id == opened.view_id
    return filled


async def test_an_admin_sees_why_the_agent_gave_an_answer(harness: Harness) -> None:
    h = harness
    h.slack.add_user(BOB, name="bob", real_name="Bob Builder", is_admin=True)
    thread, reply = await answered_thread(h)
    modal = await why_on(h, BOB, thread, reply)
    text = modal_text(modal)
    assert "Where the agent was:" in text and "Tools it used:" in text
    assert TOOL in text
    [call] = h.amigo.calls_named("insights")
    [turn] = await h.runtime.store.turns_with_reply(reply)
    assert call.path.endswith(f"/interaction/{turn.interaction_id}/insights")


async def test_someone_who_is_no_admin_is_refused_under_admins(harness: Harness) -> None:
    h = harness
    thread, reply = await answered_thread(h)
    modal = await why_on(h, ALICE, thread, reply)  # her own answer, but she is no admin
    assert modal_text(modal) == ui.ONLY_ADMINS
    assert h.amigo.calls_named("insights") == []


@pytest.mark.parametrize("extra_settings", [{"amigo_insights": "owners"}])
async def test_under_owners_the_owner_asks_with_the_command(harness: Harness) -> None:
    h = harness
    await answered_thread(h)
    await h.sender.slash_command("/amigo", "why", user=ALICE, channel=CHANNEL)
    await h.wait_for(lambda: h.slack.views("views.update"), what="the filled modal")
    assert "Tools it used:" in modal_text(h.slack.views("views.update")[0])


@pytest.mark.parametrize("extra_settings", [{"amigo_insights": "off"}])
async def test_turned_off_says_so(harness: Harness) -> None:
    h = harness
    thread, reply = await answered_thread(h)
    assert modal_text(await why_on(h, ALICE, thread, reply)) == ui.TURNED_OFF


async def test_a_message_that_is_no_answer_has_nothing_to_explain(harness: Harness) -> None:
    h = harness
    h.slack.add_user(BOB, name="bob", real_name="Bob Builder", is_admin=True)
    thread, _ = await answered_thread(h)
    modal = await why_on(h, BOB, thread, thread)  # the person's own message
    assert modal_text(modal) == ui.NOT_AN_ANSWER
