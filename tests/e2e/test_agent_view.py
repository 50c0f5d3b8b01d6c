"""The app's DM as Slack's agent view: suggested prompts written by the agent itself
(Amigo's conversation starters), and threads titled after their first message."""

from __future__ import annotations

from typing import Any

import pytest

from slackbot.sandbox.amigo_fake import Reply
from tests.contract.amigo_spec import AmigoSpec
from tests.e2e.conftest import ALICE, Harness
from tests.e2e.test_relay import wait_reply_done
from tests.e2e.test_replicas import user_texts

DM = "D" + ALICE[1:]
STATIC = ["What can you help me with?", "How do I get started?"]


def opened(channel: str = DM, tab: str = "messages") -> dict[str, Any]:
    return {
        "type": "app_home_opened",
        "user": ALICE,
        "channel": channel,
        "tab": tab,
        "event_ts": "1700000000.000100",
    }


async def start_assistant_thread(h: Harness) -> str:
    """Slack's older assistant view opens a thread in the app's DM; its ts."""
    thread_ts = h.sender.new_ts()
    started = {
        "type": "assistant_thread_started",
        "assistant_thread": {"user_id": ALICE, "channel_id": DM, "thread_ts": thread_ts},
        "event_ts": thread_ts,
    }
    await h.sender.event(started)
    return thread_ts


async def open_dm(h: Harness, count: int = 1) -> None:
    before = len(h.slack.suggested_prompts(DM))
    response = await h.sender.event(opened())
    assert response.status_code == 200
    await h.wait_for(
        lambda: len(h.slack.suggested_prompts(DM)) >= before + count, what="suggested prompts"
    )


async def test_opening_the_dm_shows_the_prompts_amigo_wrote_once_per_expiry(
    harness: Harness,
) -> None:
    h = harness
    h.amigo.starters = ["Where is my order?", "Change my delivery address", "Talk to a person"]
    await open_dm(h)
    [shown] = h.slack.suggested_prompts(DM)
    assert [p.message for p in shown.prompts] == h.amigo.starters
    assert shown.thread_ts is None and all(len(p.title) <= 40 for p in shown.prompts)
    [call] = h.amigo.calls_named("conversation_starter")
    spec = AmigoSpec()
    assert (
        spec.request_problems(
            call.method, call.path, call.query, call.headers, call.json, call.form
        )
        == []
    )
    assert call.json["service_id"] == "0123456789abcdef01234567"
    assert call.json["facets"] and call.json["max_count"] <= 4

    await open_dm(h)  # within the expiry: Slack is told again, Amigo is not asked again
    assert len(h.amigo.calls_named("conversation_starter")) == 1
    assert len(h.slack.suggested_prompts(DM)) == 2


async def test_when_amigo_cannot_suggest_the_static_prompts_show(harness: Harness) -> None:
    h = harness
    h.amigo.fail_next("conversation_starter", status=503)
    await open_dm(h)
    [shown] = h.slack.suggested_prompts(DM)
    assert [p.message for p in shown.prompts] == STATIC


async def test_the_home_tab_and_other_channels_get_no_prompts(harness: Harness) -> None:
    h = harness
    await h.sender.event(opened(tab="home"))
    await h.settle()
    assert h.slack.suggested_prompts() == []
    assert h.amigo.calls_named("conversation_starter") == []


async def test_an_assistant_thread_gets_the_prompts_too(harness: Harness) -> None:
    h = harness
    thread_ts = await start_assistant_thread(h)
    await h.wait_for(lambda: h.slack.suggested_prompts(DM, thread_ts), what="thread prompts")


async def test_the_first_words_in_an_assistant_thread_start_a_conversation(
    harness: Harness,
) -> None:
    """Slack's older assistant view opens each thread with the app's own message, so the
    person's first words there are a reply: they start the conversation all the same."""
    h = harness
    thread_ts = await start_assistant_thread(h)
    h.amigo.queue_reply(Reply(text="Happy to help.", kind="create"))
    await h.sender.post_message(
        ALICE,
        "Where is the expense policy?",
        channel=DM,
        channel_type="im",
        thread_ts=thread_ts,
        parent_user_id=h.slack.bot_user_id,
    )
    await wait_reply_done(h, thread_ts)
    assert h.bot_texts(thread_ts, DM)[-1].startswith("Happy to help.")
    assert list(user_texts(h.amigo).values()) == [["Where is the expense policy?"]]
    [title] = h.slack.thread_titles(DM, thread_ts)
    assert title.title == "Where is the expense policy?"


async def test_a_reply_to_the_persons_own_dm_message_does_not_start_a_second_conversation(
    harness: Harness,
) -> None:
    h = harness
    h.amigo.queue_reply(Reply(text="One answer.", kind="create"))
    ts = await h.sender.post_message(ALICE, "first", channel=DM, channel_type="im")
    await wait_reply_done(h, ts)
    h.amigo.queue_reply(Reply(text="Second answer.", kind="interact"))
    await h.sender.post_message(ALICE, "more", channel=DM, channel_type="im", thread_ts=ts)
    await wait_reply_done(h, ts, 2)
    assert len(h.amigo.calls_named("create_conversation")) == 1


async def test_a_dm_thread_is_titled_after_its_first_message(harness: Harness) -> None:
    h = harness
    h.amigo.queue_reply(Reply(text="Sure, here is how.", kind="create"))
    question = "How do I reset the password of my account when I no longer have my phone?"
    ts = await h.sender.post_message(ALICE, question, channel=DM, channel_type="im")
    await wait_reply_done(h, ts)
    [title] = h.slack.thread_titles(DM, ts)
    assert title.title.startswith("How do I reset the password") and len(title.title) <= 60


@pytest.mark.parametrize("extra_settings", [{"amigo_starter_prompts": "Just one"}])
async def test_admins_choose_the_static_prompts(harness: Harness) -> None:
    h = harness
    h.amigo.fail_next("conversation_starter", status=500)
    await open_dm(h)
    assert [p.message for p in h.slack.suggested_prompts(DM)[0].prompts] == ["Just one"]
