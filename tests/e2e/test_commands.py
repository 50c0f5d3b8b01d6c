"""`/amigo`, the reply's ⋯ menu and the message shortcuts, through signed requests."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from slackbot.sandbox.amigo_fake import ALREADY_FINISHED, Reply
from slackbot.sandbox.slack_fake import FakeMessage, RecordedCall
from slackbot.ui import blocks
from tests.contract.amigo_spec import AmigoSpec
from tests.e2e.conftest import ALICE, BOB, CHANNEL, Harness
from tests.e2e.test_relay import start_thread, wait_reply_done

ADMIN = "UADMIN"
CAROL = "UCAROL"
OTHER_CHANNEL = "C0OTHER"


@pytest.fixture
def extra_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings of the app under test; parametrize it (indirect) to change them."""
    return dict(getattr(request, "param", {}))


@dataclass
class Said:
    """An answer the app gave to one person, and how long it took."""

    text: str
    http_seconds: float
    answer_seconds: float


def _answer_to(h: Harness, token: str) -> RecordedCall | None:
    return next((c for c in h.slack.responses() if c.args.get("_id") == token), None)


async def amigo(h: Harness, text: str = "", *, user: str = ALICE, channel: str = CHANNEL) -> Said:
    """Send `/amigo <text>` and return the private answer (in the ack or via response_url)."""
    token = secrets.token_hex(6)
    sent = time.monotonic()
    response = await h.sender.slash_command(
        "/amigo",
        text,
        user=user,
        channel=channel,
        response_url=f"{h.slack.response_url_base}/{token}",
    )
    http = time.monotonic() - sent
    assert response.status_code == 200
    if response.content:
        body = response.json()
        assert body["response_type"] == "ephemeral"
        return Said(body["text"], http, http)
    call = await h.wait_for(lambda: _answer_to(h, token), what=f"answer to /amigo {text[:40]}")
    assert call.args["response_type"] == "ephemeral"
    return Said(str(call.args["text"]), http, call.at - sent)


async def act(h: Harness, payload: dict[str, Any]) -> str:
    """Send an interactivity payload; returns the token of its response_url."""
    token = secrets.token_hex(6)
    payload["response_url"] = f"{h.slack.response_url_base}/{token}"
    response = await h.sender.send_payload(payload)
    assert response.status_code == 200
    return token


async def private_answer(h: Harness, token: str) -> str:
    call = await h.wait_for(lambda: _answer_to(h, token), what="private answer")
    assert call.args["response_type"] == "ephemeral"
    assert call.args.get("replace_original") is False
    return str(call.args["text"])


def latest_reply(h: Harness, thread_ts: str) -> FakeMessage:
    return h.bot_replies(thread_ts)[-1]


def menu_of(message: FakeMessage) -> dict[str, Any]:
    for block in message.blocks or []:
        for element in block.get("elements", []):
            if element.get("action_id") == blocks.REPLY_MENU_ACTION:
                return dict(element)
    raise AssertionError(f"no reply menu in {message.blocks}")


async def choose_in_menu(h: Harness, user: str, message: FakeMessage, choice: str) -> str:
    payload = h.sender.block_action_payload(
        user,
        blocks.REPLY_MENU_ACTION,
        choice,
        channel=message.channel,
        message_ts=message.ts,
        thread_ts=message.thread_ts,
        action_type="overflow",
    )
    return await act(h, payload)


async def shortcut(h: Harness, callback_id: str, user: str, message: FakeMessage) -> str:
    payload = h.sender.message_shortcut_payload(
        callback_id,
        user,
        channel=message.channel,
        message_ts=message.ts,
        thread_ts=message.thread_ts,
        message_text=message.text,
        message_user=message.user,
    )
    return await act(h, payload)


async def thread_with_reply(h: Harness, user: str = ALICE, text: str = "hello") -> str:
    before = len(h.amigo.calls_named("create_conversation"))
    ts = await h.sender.post_mention(user, f"<@UBOT> {text}")
    await h.wait_for(
        lambda: len(h.amigo.calls_named("create_conversation")) > before, what="conversation"
    )
    await h.wait_for(lambda: any(menu_of_or_none(m) for m in h.bot_replies(ts)), what="reply")
    await h.settle()
    return ts


def menu_of_or_none(message: FakeMessage) -> dict[str, Any] | None:
    try:
        return menu_of(message)
    except AssertionError:
        return None


def spec_problems(h: Harness) -> list[str]:
    spec = AmigoSpec()
    return [
        p
        for c in h.amigo.calls
        for p in spec.request_problems(c.method, c.path, c.query, c.headers, c.json, c.form)
    ]


def amigo_conversation_id(h: Harness, owner_email: str) -> str:
    user = next(u for u in h.amigo.users.values() if u.email == owner_email)
    return next(c.id for c in h.amigo.conversations.values() if c.user_id == user.user_id)


# -- finish ------------------------------------------------------------------


async def test_finish_in_the_channel_finishes_the_callers_conversation(harness: Harness) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)

    said = await amigo(h, "finish")
    assert said.http_seconds < 3 and said.answer_seconds < 3
    assert "Finished the conversation" in said.text
    assert h.slack.permalink(CHANNEL, ts) in said.text
    assert len(h.amigo.calls_named("finish")) == 1
    await h.wait_for(
        lambda: any(f"<@{ALICE}> finished this conversation" in t for t in h.bot_texts(ts)),
        what="line in the thread",
    )

    await h.sender.post_message(ALICE, "are you still there?", thread_ts=ts)
    await h.wait_for(lambda: h.slack.ephemerals(user=ALICE), what="finished hint")
    await h.settle()
    assert h.amigo.calls_named("interact") == []
    assert len(h.amigo.calls_named("finish")) == 1


async def test_finish_with_a_thread_link_finishes_that_thread(harness: Harness) -> None:
    h = harness
    h.slack.add_user(ADMIN, real_name="Ada Admin", is_admin=True)
    alice_ts = await thread_with_reply(h, ALICE)
    bob_ts = await thread_with_reply(h, BOB)
    # A link to the reply inside Alice's thread, wrapped by Slack, from another channel.
    link = h.slack.permalink(CHANNEL, latest_reply(h, alice_ts).ts)
    assert "thread_ts=" in link

    said = await amigo(h, f"finish <{link}|that thread>", user=ADMIN, channel=OTHER_CHANNEL)
    assert "Finished the conversation" in said.text
    (finish,) = h.amigo.calls_named("finish")
    assert amigo_conversation_id(h, "alice@example.com") in finish.path
    assert any(f"<@{ADMIN}> finished" in t for t in h.bot_texts(alice_ts))
    assert not any("finished" in t for t in h.bot_texts(bob_ts))

    again = await amigo(h, f"finish {link}", user=ADMIN)
    assert "already finished" in again.text
    assert len(h.amigo.calls_named("finish")) == 1


async def test_finish_without_an_active_conversation_explains_and_calls_nothing(
    harness: Harness,
) -> None:
    h = harness
    said = await amigo(h, "finish")
    assert said.answer_seconds < 3
    assert "no active Amigo conversation" in said.text
    assert "Mention me" in said.text
    unknown = await amigo(h, "finish https://fake.slack.test/archives/C0CHAN/p1700000000000100")
    assert "no Amigo conversation in that thread" in unknown.text
    await h.settle()
    assert h.amigo.calls == []


async def test_finish_waits_for_a_streaming_reply(harness: Harness) -> None:
    h = harness
    held = h.amigo.queue_reply(Reply(text="A slow answer", pieces=2, hold_after=1, kind="create"))
    ts = await start_thread(h)
    await h.amigo.wait_for(lambda: held.held)
    said = await amigo(h, "finish")
    assert "still answering" in said.text
    assert h.amigo.calls_named("finish") == []
    held.release()
    await wait_reply_done(h, ts)
    assert "Finished" in (await amigo(h, "finish")).text
    assert len(h.amigo.calls_named("finish")) == 1
    assert h.amigo.conflicts == 0


# -- tags --------------------------------------------------------------------


async def test_tags_are_set_removed_and_listed(harness: Harness) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)

    said = await amigo(h, "tag team:sales priority:high")
    assert said.answer_seconds < 3
    assert "`team`: sales" in said.text and "`priority`: high" in said.text
    (set_call,) = h.amigo.calls_named("tags")
    assert set_call.json == {"updates": {"team": "sales", "priority": "high"}, "deletes": []}

    await amigo(h, 'tag "support tier":"gold plus" vip')
    assert h.amigo.calls_named("tags")[-1].json == {
        "updates": {"support tier": "gold plus", "vip": None},
        "deletes": [],
    }

    removed = await amigo(h, "untag team")
    assert "Removed `team`" in removed.text
    assert h.amigo.calls_named("tags")[-1].json == {"updates": {}, "deletes": ["team"]}

    listed = await amigo(h, "tags")
    assert "`priority`: high" in listed.text
    assert "`support tier`: gold plus" in listed.text
    assert "`vip`" in listed.text
    assert "`team`" not in listed.text
    assert spec_problems(h) == []


async def test_invalid_tags_are_refused_naming_the_rule_without_calling_amigo(
    harness: Harness,
) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    h.amigo.clear_calls()

    bad = await amigo(h, "tag bad-key!:x")
    assert "No tags were changed" in bad.text
    assert "Tag names may contain only letters, digits, underscores and spaces" in bad.text
    assert "`bad-key!`" in bad.text
    too_many = await amigo(h, "tag " + " ".join(f"k{i}:v" for i in range(21)))
    assert "at most 20 tags; with this change it would have 21" in too_many.text
    await h.settle()
    assert h.amigo.calls == []

    # 18 tags already: three more would make 21, refused after reading them back.
    await amigo(h, "tag " + " ".join(f"old{i}" for i in range(18)))
    h.amigo.clear_calls()
    over = await amigo(h, "tag new1 new2 new3")
    assert "at most 20 tags; with this change it would have 21" in over.text
    assert h.amigo.calls_named("tags") == []
    assert "Set" in (await amigo(h, "tag new1 old0:again")).text


async def test_amigo_errors_become_specific_answers(harness: Harness) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)

    h.amigo.fail_next(
        "tags", status=400, body={"detail": "The conversation cannot contain more than 20 tags."}
    )
    assert "cannot have more than 20 tags" in (await amigo(h, "tag a:b")).text
    h.amigo.fail_next("tags", status=503)
    assert "maintenance" in (await amigo(h, "untag a")).text
    h.amigo.fail_next("finish", status=429, retry_after=7)
    assert "Amigo is busy" in (said := await amigo(h, "finish")).text
    assert "in 7 s" in said.text
    assert "(active)" in (await amigo(h, "status")).text
    h.amigo.fail_next("finish", status=503)
    assert "maintenance" in (await amigo(h, "finish")).text

    # 409 "already finished": the conversation is finished here too.
    h.amigo.fail_next("finish", status=409, body={"detail": ALREADY_FINISHED})
    assert "Finished the conversation" in (await amigo(h, "finish")).text
    assert "no active Amigo conversation" in (await amigo(h, "status")).text


# -- status, help and bad input --------------------------------------------------


async def test_status_shows_the_active_conversation_or_how_to_start_one(
    harness: Harness,
) -> None:
    h = harness
    none = await amigo(h, "status")
    assert "no active Amigo conversation" in none.text and "Mention me" in none.text

    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    await amigo(h, "tag team:sales")
    said = await amigo(h, "status")
    assert said.answer_seconds < 3
    assert h.slack.permalink(CHANNEL, ts) in said.text
    assert amigo_conversation_id(h, "alice@example.com") in said.text
    assert "Turns: 1" in said.text
    assert "<!date^" in said.text
    assert "`team`: sales" in said.text


async def test_help_unknown_commands_and_garbage_are_answered_at_once(
    harness: Harness,
) -> None:
    h = harness
    for text, says in [
        ("", "/amigo status"),
        ("help", "/amigo finish [thread link]"),
        ("nonsense", "I don't know `/amigo nonsense`"),
        ("tag", "Which tags should I set"),
        ("untag", "Which tags should I remove"),
        ("x" * 10_240, "I don't know `/amigo xxxx"),
        ("tag " + "k-" * 5_120, "Tag names may contain only letters"),
        ('tag "unclosed', "A quote is not closed"),
    ]:
        said = await amigo(h, text)
        assert said.http_seconds < 3, text[:20]
        assert says in said.text, (text[:20], said.text[:200])
        assert len(said.text) < 3_000
    async with httpx.AsyncClient() as client:
        health = await client.get(f"{h.url}/healthz")
    assert health.status_code == 200 and health.json()["ok"] is True
    assert "no active Amigo conversation" in (await amigo(h, "status")).text
    assert h.amigo.calls == []


# -- who may act -------------------------------------------------------------------


async def test_only_the_owner_or_an_admin_may_act(harness: Harness) -> None:
    h = harness
    h.slack.add_user(ADMIN, real_name="Ada Admin", is_admin=True)
    ts = await thread_with_reply(h, ALICE)
    link = h.slack.permalink(CHANNEL, ts)

    for text in (f"finish {link}", f"tag {link} team:x", f"untag team {link}", f"tags {link}"):
        refused = await amigo(h, text, user=BOB)
        assert f"Only <@{ALICE}>" in refused.text, text
    refused = await choose_in_menu(h, BOB, latest_reply(h, ts), blocks.MENU_FINISH)
    assert f"Only <@{ALICE}>" in await private_answer(h, refused)
    await h.settle()
    assert h.amigo.calls_named("finish") == [] and h.amigo.calls_named("tags") == []

    assert "Set" in (await amigo(h, f"tag {link} team:x", user=ADMIN)).text
    assert "Finished" in (await amigo(h, f"finish {link}", user=ADMIN)).text


@pytest.mark.parametrize(
    "extra_settings", [{"slack_admin_user_ids": f"UX, {CAROL}"}], indirect=True
)
async def test_configured_admins_may_act_on_any_conversation(harness: Harness) -> None:
    h = harness
    h.slack.add_user(CAROL, real_name="Carol Config")
    ts = await thread_with_reply(h, ALICE)
    said = await amigo(h, f"finish {h.slack.permalink(CHANNEL, ts)}", user=CAROL)
    assert "Finished" in said.text
    assert len(h.amigo.calls_named("finish")) == 1


# -- the reply menu and the message shortcuts ----------------------------------------


async def test_the_latest_reply_carries_a_menu_that_acts_on_its_thread(harness: Harness) -> None:
    h = harness
    alice_ts = await thread_with_reply(h, ALICE)
    bob_ts = await thread_with_reply(h, BOB)
    await amigo(h, "tag team:sales", user=BOB)

    bob_reply = latest_reply(h, bob_ts)
    options = [o["value"] for o in menu_of(bob_reply)["options"]]
    assert options == [blocks.MENU_SUGGEST, blocks.MENU_FINISH, blocks.MENU_TAGS]
    labels = [o["text"]["text"] for o in menu_of(bob_reply)["options"]]
    assert labels == ["Suggest replies", "Finish conversation", "Show tags"]

    tags = await private_answer(h, await choose_in_menu(h, BOB, bob_reply, blocks.MENU_TAGS))
    assert "`team`: sales" in tags

    finished = await choose_in_menu(h, BOB, bob_reply, blocks.MENU_FINISH)
    assert "Finished" in await private_answer(h, finished)
    (finish,) = h.amigo.calls_named("finish")
    assert amigo_conversation_id(h, "slack-t0test-ubob@example.com") in finish.path
    assert any(f"<@{BOB}> finished" in t for t in h.bot_texts(bob_ts))
    assert not any("finished" in t for t in h.bot_texts(alice_ts))
    assert "(active)" in (await amigo(h, "status", user=ALICE)).text


async def test_the_finish_shortcut_acts_on_the_thread_of_its_message(harness: Harness) -> None:
    h = harness
    alice_ts = await thread_with_reply(h, ALICE)
    bob_ts = await thread_with_reply(h, BOB)
    # Used on Bob's own message at the top of his thread.
    root = FakeMessage(channel=CHANNEL, ts=bob_ts, user=BOB, text="<@UBOT> hello")

    token = await shortcut(h, blocks.SHORTCUT_FINISH, BOB, root)
    assert "Finished" in await private_answer(h, token)
    (finish,) = h.amigo.calls_named("finish")
    assert amigo_conversation_id(h, "slack-t0test-ubob@example.com") in finish.path

    # On a reply inside Alice's thread, by Alice.
    token = await shortcut(h, blocks.SHORTCUT_FINISH, ALICE, latest_reply(h, alice_ts))
    assert "Finished" in await private_answer(h, token)
    assert len(h.amigo.calls_named("finish")) == 2
    assert any(f"<@{ALICE}> finished" in t for t in h.bot_texts(alice_ts))
