"""A service per channel: admins map channels to Amigo services (`/amigo config`, or the
form in the Home tab); a channel's new conversations start in its service, DMs and other
channels in the default one, and a conversation keeps the service it started in."""

from __future__ import annotations

from typing import Any

from slackbot.sandbox.amigo_fake import FakeConversation
from slackbot.sandbox.slack_fake import FakeView
from slackbot.ui import services as ui
from tests.e2e.conftest import ALICE, BOB, CHANNEL, SERVICE_ID, Harness
from tests.e2e.test_commands import ADMIN, amigo
from tests.e2e.test_home import open_home

SUPPORT = "C0SUPPORT"
SERVICE_B = "0123456789abcdef0123456b"
SERVICE_C = "0123456789abcdef0123456c"
DM = "D" + ALICE[1:]


def text_of(view: FakeView) -> str:
    """Every text of the view's blocks (buttons' labels too)."""
    parts: list[str] = []
    for block in view.view["blocks"]:
        for item in [block, *block.get("elements", [])]:
            text = item.get("text")
            parts.append(text.get("text", "") if isinstance(text, dict) else str(text or ""))
    return "\n".join(parts)


def created(h: Harness) -> list[tuple[str, str]]:
    """(service, version set) of every conversation the app asked Amigo to create."""
    return [
        (c.json["service_id"], c.json.get("service_version_set_name", "release"))
        for c in h.amigo.calls_named("create_conversation")
        if c.status < 300
    ]


async def start_in(h: Harness, channel: str, user: str = ALICE, dm: bool = False) -> str:
    """A mention (or a DM) that starts a conversation; waits for its reply."""
    before = len(created(h))
    if dm:
        ts = await h.sender.post_message(user, "hello", channel=channel, channel_type="im")
    else:
        ts = await h.sender.post_mention(user, "<@UBOT> hello", channel=channel)
    await h.wait_for(lambda: len(created(h)) > before, what="a conversation created")
    await h.wait_for(lambda: h.bot_replies(ts, channel), what="the reply")
    await h.settle()
    return ts


def conversation_in(h: Harness, service: str) -> FakeConversation:
    [found] = [c for c in h.amigo.conversations.values() if c.service_id == service]
    return found


async def map_channel(h: Harness, words: str, user: str = ADMIN) -> str:
    said = await amigo(h, f"config channel {words}", user=user)
    await h.settle()
    return said.text


async def test_a_mapped_channel_starts_in_its_service_and_the_rest_in_the_default(
    harness: Harness,
) -> None:
    h = harness
    h.slack.add_user(ADMIN, real_name="Ada Admin", is_admin=True)
    said = await map_channel(h, f"<#{SUPPORT}|support> service {SERVICE_B} beta")
    assert f"New conversations in <#{SUPPORT}> now start in service `{SERVICE_B}`" in said
    [check] = h.amigo.calls_named("conversation_starter")
    assert check.json["service_id"] == SERVICE_B
    assert check.json["service_version_set_name"] == "beta"

    await start_in(h, SUPPORT)
    assert created(h) == [(SERVICE_B, "beta")]
    await start_in(h, CHANNEL, user=BOB)
    assert created(h)[-1] == (SERVICE_ID, "release")
    await start_in(h, DM, dm=True)
    assert created(h)[-1] == (SERVICE_ID, "release")
    # Alice's conversation in the support channel is another service's: it goes on.
    assert not conversation_in(h, SERVICE_B).is_finished

    listed = (await amigo(h, "config", user=ADMIN)).text
    assert f"<#{SUPPORT}>: service `{SERVICE_B}`, version set `beta`" in listed
    assert f"set by <@{ADMIN}>" in listed
    assert f"service `{SERVICE_ID}`, version set `release`" in listed  # the default


async def test_a_conversation_keeps_the_service_it_started_in(harness: Harness) -> None:
    h = harness
    h.slack.add_user(ADMIN, real_name="Ada Admin", is_admin=True)
    first = await start_in(h, CHANNEL)
    assert created(h) == [(SERVICE_ID, "release")]
    await map_channel(h, f"<#{CHANNEL}|general> service {SERVICE_B}")

    # Her thread goes on in the service it started in.
    await h.sender.post_message(ALICE, "and another thing", thread_ts=first)
    await h.wait_for(lambda: h.amigo.calls_named("interact"), what="the reply sent")
    await h.settle()
    [interact] = h.amigo.calls_named("interact")
    assert conversation_in(h, SERVICE_ID).id in interact.path
    assert len(created(h)) == 1

    # A new thread starts in the channel's new service; the first, of another
    # service, is not finished for it.
    await start_in(h, CHANNEL)
    assert created(h)[-1] == (SERVICE_B, "release")
    assert not conversation_in(h, SERVICE_ID).is_finished

    # Back to the default: a new thread there finishes her conversation of that service
    # (the first), not the one of service B.
    said = await map_channel(h, f"<#{CHANNEL}|general> default")
    assert "now start in the default service" in said
    await start_in(h, CHANNEL)
    assert created(h)[-1] == (SERVICE_ID, "release")
    originals = [
        c for c in h.amigo.conversations.values() if c.service_id == SERVICE_ID and c.is_finished
    ]
    assert len(originals) == 1
    assert not conversation_in(h, SERVICE_B).is_finished
    changes = await h.runtime.store.channel_service_changes(h.slack.team_id)
    assert [(c.service_id, c.changed_by) for c in changes] == [(SERVICE_B, ADMIN), (None, ADMIN)]


async def test_someone_who_is_no_admin_changes_nothing(harness: Harness) -> None:
    h = harness
    said = await map_channel(h, f"<#{SUPPORT}|support> service {SERVICE_B}", user=ALICE)
    assert "Only a workspace admin or owner" in said and "Nothing changed" in said
    assert h.amigo.calls_named("conversation_starter") == []
    assert await h.runtime.store.channel_services(h.slack.team_id) == []
    assert await h.runtime.store.channel_service_changes(h.slack.team_id) == []
    listed = (await amigo(h, "config", user=ALICE)).text
    assert "Only a workspace admin or owner" in listed and SERVICE_ID not in listed

    await start_in(h, SUPPORT)
    assert created(h) == [(SERVICE_ID, "release")]


async def test_a_service_amigo_does_not_know_is_refused(harness: Harness) -> None:
    h = harness
    h.slack.add_user(ADMIN, real_name="Ada Admin", is_admin=True)
    h.amigo.service_ids = {SERVICE_ID, SERVICE_B}
    h.amigo.version_sets = {SERVICE_B: {"release"}}
    said = await map_channel(h, f"<#{SUPPORT}|support> service {SERVICE_C}")
    assert f"Amigo knows no service `{SERVICE_C}`" in said and "Nothing changed" in said
    said = await map_channel(h, f"<#{SUPPORT}|support> service {SERVICE_B} beta")
    assert "version set `beta`" in said and "Nothing changed" in said
    assert await h.runtime.store.channel_services(h.slack.team_id) == []
    # A channel typed as plain text cannot be told: refused at once, with what to do.
    said = await map_channel(h, f"#support service {SERVICE_B}")
    assert "as plain text" in said and "Copy link" in said
    assert len(h.amigo.calls_named("conversation_starter")) == 2


# -- the Home tab's form ---------------------------------------------------------


def form_values(channel: str | None, service: str, version_set: str = "") -> dict[str, Any]:
    picked: dict[str, Any] = {"type": "conversations_select", "selected_conversation": channel}
    return {
        ui.CHANNEL_BLOCK: {ui.CHANNEL_BLOCK: picked},
        ui.SERVICE_BLOCK: {ui.SERVICE_BLOCK: service},
        ui.VERSION_BLOCK: {ui.VERSION_BLOCK: version_set},
    }


async def submit(h: Harness, user: str, values: dict[str, Any]) -> dict[str, Any]:
    payload = h.sender.view_submission_payload(user, ui.config_modal(), values)
    response = await h.sender.send_payload(payload)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


async def test_an_admin_maps_a_channel_with_the_home_tab_form(harness: Harness) -> None:
    h = harness
    h.slack.add_user(ADMIN, real_name="Ada Admin", is_admin=True)
    h.amigo.service_ids = {SERVICE_ID, SERVICE_B}
    home = await open_home(h, ADMIN)
    assert "Which agent each channel talks to" in text_of(home)
    assert "No channel has a service of its own" in text_of(home)
    opened_before = len(h.slack.views("views.open"))
    click = h.sender.home_action_payload(ADMIN, ui.HOME_CONFIG_ACTION, "open", view=home.view)
    assert (await h.sender.send_payload(click)).status_code == 200
    await h.wait_for(lambda: len(h.slack.views("views.open")) > opened_before, what="the form")
    form = h.slack.views("views.open")[-1].view
    assert form["callback_id"] == ui.CONFIG_VIEW

    # What is wrong shows in the form, next to its input; nothing is saved.
    answer = await submit(h, ADMIN, form_values(SUPPORT, "not-an-id"))
    assert answer["response_action"] == "errors"
    assert "is not an Amigo service id" in answer["errors"][ui.SERVICE_BLOCK]
    answer = await submit(h, ADMIN, form_values(SUPPORT, SERVICE_C))
    assert answer["response_action"] == "errors"
    assert f"Amigo knows no service '{SERVICE_C}'" in answer["errors"][ui.SERVICE_BLOCK]
    answer = await submit(h, ALICE, form_values(SUPPORT, SERVICE_B))  # no admin
    assert "Only a workspace admin or owner" in answer["errors"][ui.CHANNEL_BLOCK]
    assert await h.runtime.store.channel_services(h.slack.team_id) == []

    published = len(h.slack.views("views.publish"))
    answer = await submit(h, ADMIN, form_values(SUPPORT, SERVICE_B, "release"))
    assert answer["response_action"] == "update"
    assert f"now start in service `{SERVICE_B}`" in answer["view"]["blocks"][0]["text"]["text"]
    await h.wait_for(lambda: len(h.slack.views("views.publish")) > published, what="Home")
    assert f"<#{SUPPORT}>: service `{SERVICE_B}`" in text_of(h.slack.views("views.publish")[-1])

    await start_in(h, SUPPORT, user=BOB)
    assert created(h) == [(SERVICE_B, "release")]
    # People who are no admin see nothing of it.
    assert "Which agent each channel talks to" not in text_of(await open_home(h, ALICE))
