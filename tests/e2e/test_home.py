"""The app's Home tab: the person's conversations with the agent (Amigo's list, joined
with the threads the app knows), Finish on the active ones, refreshed when one changes;
for admins, how the app is doing."""

from __future__ import annotations

from typing import Any

from slackbot.sandbox.slack_fake import FakeView
from slackbot.ui import home as ui_home
from tests.contract.amigo_spec import AmigoSpec
from tests.e2e.conftest import ALICE, BOB, CHANNEL, Harness
from tests.e2e.test_commands import amigo, thread_with_reply

DM = "D" + ALICE[1:]


def link_to(thread_ts: str) -> str:
    """The thread's address: the workspace's (from auth.test), as Slack's permalinks are."""
    plain = thread_ts.replace(".", "")
    return (
        f"https://fake.slack.test/archives/{CHANNEL}/p{plain}?thread_ts={thread_ts}&cid={CHANNEL}"
    )


def homes(h: Harness, user: str = ALICE) -> list[FakeView]:
    return [v for v in h.slack.views("views.publish") if v.user_id == user]


def rows(view: FakeView) -> list[dict[str, Any]]:
    """The listed conversations: sections with a state, newest first."""
    return [
        b for b in view.view["blocks"] if b["type"] == "section" and "started" in b["text"]["text"]
    ]


def text_of(view: FakeView) -> str:
    parts = []
    for block in view.view["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts += [e.get("text", "") for e in block.get("elements", [])]
    return "\n".join(parts)


async def open_home(h: Harness, user: str = ALICE) -> FakeView:
    """Open the Home tab as ``user``; the view the app published for it."""
    before = len(homes(h, user))
    response = await h.sender.event(
        {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": "home"}
    )
    assert response.status_code == 200
    await h.wait_for(lambda: len(homes(h, user)) > before, what="the Home tab published")
    return homes(h, user)[-1]


async def test_the_home_tab_lists_the_persons_conversations_with_state_and_link(
    harness: Harness,
) -> None:
    h = harness
    first = await thread_with_reply(h, ALICE)
    second = await thread_with_reply(h, ALICE)  # finishes the first (finish-previous)
    bobs = await thread_with_reply(h, BOB)
    alice = next(u.user_id for u in h.amigo.users.values() if u.email == "alice@example.com")
    mine = [c for c in h.amigo.conversations.values() if c.user_id == alice]
    active = next(c for c in mine if not c.is_finished)
    active.tags["team"] = "<!channel> & co"  # as anyone with Amigo's API could set it

    view = await open_home(h)
    assert view.view["type"] == "home"
    newest, oldest = rows(view)
    assert "*Active*" in newest["text"]["text"] and link_to(second) in newest["text"]["text"]
    assert "*Finished*" in oldest["text"]["text"] and link_to(first) in oldest["text"]["text"]
    assert newest["accessory"]["action_id"] == ui_home.HOME_FINISH_ACTION
    assert "accessory" not in oldest
    # anyone's text is escaped: no live @channel from a tag
    assert "&lt;!channel&gt; &amp; co" in newest["text"]["text"]
    assert "<!channel>" not in text_of(view)
    assert bobs.replace(".", "") not in text_of(view)

    [listed] = [c for c in h.amigo.calls_named("get_conversations") if "sort_by" in c.query]
    assert listed.query["user_id"] == [alice] and listed.user_id == alice
    assert listed.query["service_id"] == ["0123456789abcdef01234567"]
    spec = AmigoSpec()
    assert (
        spec.request_problems(
            listed.method, listed.path, listed.query, listed.headers, listed.json, listed.form
        )
        == []
    )


async def test_finish_from_the_home_tab_finishes_and_the_tab_shows_it(harness: Harness) -> None:
    h = harness
    ts = await thread_with_reply(h, ALICE)
    view = await open_home(h)
    [row] = rows(view)
    button = row["accessory"]
    published = len(homes(h))

    payload = h.sender.home_action_payload(
        ALICE, button["action_id"], button["value"], view=view.view
    )
    assert (await h.sender.send_payload(payload)).status_code == 200
    await h.wait_for(lambda: h.amigo.calls_named("finish"), what="Amigo's finish")
    await h.wait_for(
        lambda: any(f"<@{ALICE}> finished this conversation" in t for t in h.bot_texts(ts)),
        what="the thread told",
    )
    await h.wait_for(lambda: len(homes(h)) > published, what="the Home tab republished")
    await h.settle()
    latest = homes(h)[-1]
    [row] = rows(latest)
    assert "*Finished*" in row["text"]["text"] and "accessory" not in row
    assert "Finished the conversation" in text_of(latest)
    assert len(homes(h)) == published + 1  # one publish, not one per change
    [conversation] = h.amigo.conversations.values()
    assert conversation.is_finished


async def test_finish_from_home_keeps_the_permission_rules(harness: Harness) -> None:
    h = harness
    ts = await thread_with_reply(h, ALICE)
    value = ui_home.finish_value(CHANNEL, ts)  # a forged click by Bob on Alice's thread
    payload = h.sender.home_action_payload(BOB, ui_home.HOME_FINISH_ACTION, value, view={})
    assert (await h.sender.send_payload(payload)).status_code == 200
    await h.wait_for(lambda: homes(h, BOB), what="Bob's Home tab")
    await h.settle()
    assert f"Only <@{ALICE}>" in text_of(homes(h, BOB)[-1])
    assert h.amigo.calls_named("finish") == []


async def test_the_home_tab_follows_changes_while_it_is_looked_at(harness: Harness) -> None:
    h = harness
    view = await open_home(h)
    assert ui_home.NONE_YET in text_of(view)
    ts = await thread_with_reply(h, ALICE)
    await h.wait_for(
        lambda: link_to(ts) in text_of(homes(h)[-1]), what="the new conversation shown"
    )
    await amigo(h, "tag priority:high", user=ALICE)
    await h.wait_for(lambda: "priority" in text_of(homes(h)[-1]), what="the tag shown")
    assert homes(h, BOB) == []  # Bob never looked: nothing published for him


async def test_only_admins_see_how_the_app_is_doing(harness: Harness) -> None:
    h = harness
    h.slack.add_user(BOB, name="bob", real_name="Bob Builder", is_admin=True)
    alices = await open_home(h, ALICE)
    bobs = await open_home(h, BOB)
    assert "How the app is doing" not in text_of(alices)
    shown = text_of(bobs)
    assert "How the app is doing" in shown
    assert "*Database:* takes writes" in shown and "*Amigo:* answers" in shown
    assert "within Slack's limits" in shown


async def test_amigo_failing_is_said_in_plain_words_and_the_database_still_shows(
    harness: Harness,
) -> None:
    h = harness
    h.slack.add_user(ALICE, name="alice", real_name="Alice Liddell", is_admin=True)
    ts = await thread_with_reply(h, ALICE)
    h.amigo.fail_next("get_conversations", status=503)
    view = await open_home(h)
    shown = text_of(view)
    assert ui_home.AMIGO_DOWN in shown
    [row] = rows(view)
    assert "*Active*" in row["text"]["text"] and link_to(ts) in row["text"]["text"]
    assert "*Amigo:* is unavailable (503)" in shown
    assert "Traceback" not in shown and "Error" not in shown


async def test_without_the_workspace_address_links_are_slacks_permalinks_asked_once(
    harness: Harness,
) -> None:
    h = harness
    h.runtime.port.workspace_url = None  # auth.test did not say
    ts = await thread_with_reply(h, ALICE)
    asked = len(h.slack.calls_named("chat.getPermalink"))
    for _ in range(2):
        [row] = rows(await open_home(h))
        assert f"<{h.slack.permalink(CHANNEL, ts)}|open the thread>" in row["text"]["text"]
    assert len(h.slack.calls_named("chat.getPermalink")) == asked + 1
