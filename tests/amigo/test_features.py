"""Conversation starters, interaction insights, external events, voice messages and
message sources: the client against the fake, and the fake's own rules."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from slackbot.amigo import (
    AmigoAuthError,
    AmigoBadRequest,
    AmigoClient,
    AmigoNotFound,
    AmigoProtocolError,
    AmigoRateLimited,
    AmigoUnavailable,
    InteractionComplete,
    InteractionInsights,
    UserMessageAvailable,
)
from slackbot.sandbox.amigo_fake import (
    DEFAULT_TRANSCRIPT,
    INCONSISTENT_EVENTS,
    NOT_IN_THE_PAST,
    TEXT_MESSAGE,
    FakeAmigo,
    Reply,
    is_mp3,
    silent_mp3,
)

from .helpers import SERVICE_ID, collect, start_conversation

# -- conversation starters -------------------------------------------------------


async def test_starters_are_parsed_and_the_body_is_the_spec_s(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    starters = await client.conversation_starters(
        user, service_id=SERVICE_ID, facets=["billing", "refunds"], min_count=3, max_count=5
    )
    assert len(starters) == 3 and len(set(starters)) == 3
    assert "billing" in starters[0] and "refunds" in starters[1] and "billing" in starters[2]
    [call] = fake.calls_named("conversation_starter")
    assert call.path == f"/v1/{fake.organization_id}/conversation/conversation_starter"
    assert call.json is not None
    assert call.json["facets"] == ["billing", "refunds"]
    assert (call.json["min_count"], call.json["max_count"]) == (3, 5)
    assert call.json["generation_instructions"].strip()
    assert [p["prompt"] for p in call.response["prompts"]] == starters  # type: ignore[index]
    # Deterministic: the same question gets the same answer.
    again = await client.conversation_starters(
        user, service_id=SERVICE_ID, facets=["billing", "refunds"], min_count=3, max_count=5
    )
    assert again == starters
    assert fake.starter_calls == 2


async def test_scripted_starters_are_cut_to_max_count(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    fake.starters = ["One?", "Two?", "Three?"]
    assert await client.conversation_starters(
        user, service_id=SERVICE_ID, facets=["x"], max_count=2
    ) == ["One?", "Two?"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"facets": []},
        {"facets": ["ok", "  "]},
        {"facets": ["ok"], "instructions": " "},
        {"facets": ["ok"], "min_count": 0},
        {"facets": ["ok"], "max_count": 11},
        {"facets": ["ok"], "min_count": 4, "max_count": 3},
    ],
)
async def test_starter_requests_amigo_would_refuse_raise_at_once(
    fake: FakeAmigo, client: AmigoClient, user: str, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        await client.conversation_starters(user, service_id=SERVICE_ID, **kwargs)
    assert fake.starter_calls == 0


async def test_starters_are_limited_to_10_a_minute(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    for _ in range(10):
        await client.conversation_starters(user, service_id=SERVICE_ID, facets=["x"])
    with pytest.raises(AmigoRateLimited) as caught:
        await client.conversation_starters(user, service_id=SERVICE_ID, facets=["x"])
    assert caught.value.retry_after is not None and 1 <= caught.value.retry_after <= 60
    assert fake.starter_calls == 11
    # The limit is per user.
    other = fake.add_user(email="other@example.test")
    assert await client.conversation_starters(other, service_id=SERVICE_ID, facets=["x"])


async def test_starter_failures(fake: FakeAmigo, client: AmigoClient, user: str) -> None:
    fake.fail_next("conversation_starter", status=503, retry_after=7)
    with pytest.raises(AmigoUnavailable) as caught:
        await client.conversation_starters(user, service_id=SERVICE_ID, facets=["x"])
    assert caught.value.retry_after == 7.0
    fake.service_ids = {"b" * 24}
    with pytest.raises(AmigoNotFound):
        await client.conversation_starters(user, service_id=SERVICE_ID, facets=["x"])
    assert fake.starter_calls == 2


# -- insights -------------------------------------------------------------------------


def _tool(kind: str, tool_id: str, round_index: int = 0, **fields: Any) -> dict[str, Any]:
    action: dict[str, Any] = {
        "type": kind,
        "tool_round_index": round_index,
        "tool_id": tool_id,
        "tool_version": "3",
    }
    if kind == "tool-call-started":
        action["input_params"] = fields.get("inputs", {})
    else:
        action["input_parameters"] = fields.get("inputs", {})
        action["result"] = fields["result"]
        action["duration"] = fields["duration"]
    return action


def _transition(previous: str, following: str) -> dict[str, Any]:
    return {
        "type": "navigate-state-machine-state-transitioned",
        "prev_state": previous,
        "prev_state_state_machine_version_info": ["sm", 1],
        "next_state": following,
        "next_state_state_machine_version_info": ["sm", 1],
    }


async def test_insights_reflect_what_the_interaction_did(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)
    fake.queue_reply(
        Reply(
            text="Your order shipped.",
            actions=[
                {
                    "type": "select-dynamic-behavior-completed",
                    "selected_dynamic_behavior_set_version_info": ["c" * 24, 4],
                    "previous_selected_dynamic_behavior_set_version_info": None,
                },
                _tool("tool-call-started", "orders", inputs={"id": 42}),
                _tool("tool-call-ended", "orders", inputs={"id": 42}, result="shipped", duration=2),
                {
                    "type": "navigate-state-machine-exit-condition-selected",
                    "exit_condition": "Asked about an order",
                    "next_state_state_machine_version_info": ["sm", 1],
                    "next_state_name": "orders",
                },
                _transition("engage", "orders"),
                _tool("tool-call-started", "tracking", 1),
                {
                    "type": "navigate-state-machine-action-state-action-selected",
                    "action": "Tell the user where the order is.",
                },
            ],
        )
    )
    [*_, complete] = await collect(client.interact(user, conversation_id, "Where is it?"))
    assert isinstance(complete, InteractionComplete)

    insights = await client.interaction_insights(user, conversation_id, complete.interaction_id)
    assert insights.current_state_name == "orders"
    assert insights.current_state_action == "Tell the user where the order is."
    assert insights.dynamic_behavior_set == ("c" * 24, 4)
    [transition] = insights.state_transitions
    assert (transition.previous_state, transition.next_state) == ("engage", "orders")
    assert transition.exit_condition == "Asked about an order"
    tools = insights.tool_calls
    assert [(t.tool_id, t.output, t.duration) for t in tools] == [
        ("orders", "shipped", 2.0),
        ("tracking", None, 0.0),  # started, never ended: no result
    ]
    assert tools[0].input == {"id": 42} and tools[0].tool_name == "orders"
    assert [call.tool_id for call in transition.tool_calls] == ["orders"]
    assert [[c.tool_id for c in r] for r in insights.engage_user_tool_calls] == [["tracking"]]
    [call] = fake.calls_named("insights")
    path = f"/conversation/{conversation_id}/interaction/{complete.interaction_id}/insights"
    assert call.method == "GET" and call.path.endswith(path)


async def test_insights_follow_the_agent_state_across_interactions(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)  # default: start -> engage
    fake.queue_reply(Reply(text="Nothing moved.", actions=[]))
    [*_, complete] = await collect(client.interact(user, conversation_id, "Hi"))
    assert isinstance(complete, InteractionComplete)
    insights = await client.interaction_insights(user, conversation_id, complete.interaction_id)
    assert insights.current_state_name == "engage"
    assert insights.state_transitions == [] and insights.tool_calls == []
    assert insights.dynamic_behavior_set is None


async def test_unknown_or_void_interaction_insights_are_not_found(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)
    with pytest.raises(AmigoNotFound):
        await client.interaction_insights(user, conversation_id, "d" * 24)
    with pytest.raises(AmigoNotFound):
        await client.interaction_insights(user, "e" * 24, "d" * 24)
    # An interaction that ended in an error never happened: it has no insights.
    fake.queue_reply(Reply(text="abc", error_after=1))
    events = await collect(client.interact(user, conversation_id, "fails"))
    assert not any(isinstance(e, InteractionComplete) for e in events)
    assert len(fake.conversation(conversation_id).interaction_log) == 1  # the greeting
    with pytest.raises(AmigoBadRequest):
        await client.interaction_insights(user, conversation_id, "not-an-id")


def test_insights_ignore_unknown_fields_and_accept_every_transition_kind() -> None:
    tool = {
        "tool_name": "Lookup",
        "tool_id": "lookup",
        "tool_version": "1",
        "input": {},
        "output": None,
        "duration": 0.5,
        "brand_new": True,
    }
    data = {
        "current_state_name": "done",
        "current_state_action": "a",
        "current_state_objective": "o",
        "state_transition_logs": [
            {
                "type": "tool-call",
                "previous_state": "call",
                "next_state": "done",
                "previous_service_hierarchical_state_machine_version_info": ["sm", 1],
                "next_service_hierarchical_state_machine_version_info": ["sm", 1],
                "tool_call_logs": [],
                "designated_tool_call_log": tool,
            },
            {"type": "recall", "previous_state": "r", "next_state": "call",
             "performed_queries": ["q"]},
        ],
        "working_memory": [{"content": "likes tea", "context": "drinks"}],
        "reflections": ["The user is in a hurry."],
        "triggered_dynamic_behavior_set_version_info": None,
        "select_next_action_tool_call_logs": [[tool]],
        "engage_user_tool_call_logs": [],
        "something_new": {"x": 1},
    }  # fmt: skip
    insights = InteractionInsights.model_validate_json(json.dumps(data))
    assert [t.tool_name for t in insights.tool_calls] == ["Lookup", "Lookup"]
    assert insights.state_transitions[1].performed_queries == ["q"]
    assert insights.working_memory[0].content == "likes tea"
    assert insights.reflections == ["The user is in a hurry."]


# -- external events ---------------------------------------------------------------------


async def test_external_events_are_encoded_in_order_and_saved_before_the_message(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)
    first = datetime.now(UTC)
    # A different offset, converted to UTC on the wire.
    second = datetime.now(timezone(timedelta(hours=-5)))
    events = [("Order 42 was shipped.", first), ("The courier called.", second)]
    await collect(client.interact(user, conversation_id, "Any news?", external_events=events))

    [call] = fake.calls_named("interact")
    assert call.status == 200
    assert call.form is not None
    assert call.form["external_event_message_content"] == [
        "Order 42 was shipped.",
        "The courier called.",
    ]
    stamps = call.form["external_event_message_timestamp"]
    assert stamps == [first.isoformat(), second.astimezone(UTC).isoformat()]
    assert call.external_events == [
        ("Order 42 was shipped.", first.isoformat()),
        ("The courier called.", second.astimezone(UTC).isoformat()),
    ]
    assert call.form["recorded_message"] == "Any news?"

    page = await client.get_messages(user, conversation_id)
    assert [(m.message_type, m.message) for m in page.messages][1:] == [
        ("external-event", "Order 42 was shipped."),
        ("external-event", "The courier called."),
        ("user-message", "Any news?"),
        ("agent-message", "Echo: Any news?"),
    ]
    assert [m.created_at for m in page.messages[1:3]] == [first, second]


@pytest.mark.parametrize(
    "events",
    [
        [("", datetime.now(UTC))],
        [("  ", datetime.now(UTC))],
        [("naive", datetime.now())],
        [("b", datetime.now(UTC)), ("a", datetime.now(UTC) - timedelta(seconds=1))],
    ],
)
async def test_bad_external_events_raise_before_calling(
    fake: FakeAmigo, client: AmigoClient, user: str, events: list[tuple[str, datetime]]
) -> None:
    with pytest.raises(ValueError):
        client.interact(user, "a" * 24, "hi", external_events=events)
    assert fake.calls_named("interact") == []


# -- voice --------------------------------------------------------------------------------


async def test_voice_message_is_sent_as_mp3_and_transcribed(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)
    audio = silent_mp3(frames=3)
    fake.transcripts.append("Where is my parcel?")
    events = await collect(client.interact(user, conversation_id, audio=audio))
    assert isinstance(events[0], UserMessageAvailable)
    assert events[0].user_message == "Where is my parcel?"
    complete = events[-1]
    assert isinstance(complete, InteractionComplete)
    assert complete.full_message == "Echo: Where is my parcel?"

    [call] = fake.calls_named("interact")
    assert call.query["request_format"] == ["voice"]
    assert call.query["response_format"] == ["text"]
    assert json.loads(call.query["request_audio_config"][0]) == {"type": "mp3"}
    part = call.files["recorded_message"]
    assert part.data == audio == call.audio
    assert part.content_type == "audio/mpeg" and part.filename.endswith(".mp3")
    assert call.form == {"initial_message_type": "user-message"}

    # With no transcript queued, the fake hears a placeholder.
    events = await collect(client.interact(user, conversation_id, audio=b"ID3" + audio))
    assert isinstance(events[0], UserMessageAvailable)
    assert events[0].user_message == DEFAULT_TRANSCRIPT
    page = await client.get_messages(user, conversation_id, message_types=["user-message"])
    assert [(m.message, m.format) for m in page.messages] == [
        ("Where is my parcel?", "voice"),
        (DEFAULT_TRANSCRIPT, "voice"),
    ]


@pytest.mark.parametrize(
    ("text", "audio"), [("words too", silent_mp3()), ("", b""), ("", None), (" ", None)]
)
async def test_voice_arguments_amigo_would_refuse_raise_at_once(
    client: AmigoClient, user: str, text: str, audio: bytes | None
) -> None:
    with pytest.raises(ValueError):
        client.interact(user, "a" * 24, text, audio=audio)


def test_silent_mp3_is_an_mp3() -> None:
    audio = silent_mp3(frames=2)
    assert is_mp3(audio) and len(audio) == 2 * 417
    assert audio[417:421] == audio[:4]  # the next frame starts where the first one ends
    assert not is_mp3(b"RIFF....WAVEfmt ") and not is_mp3(b"") and is_mp3(b"ID3\x04")


# -- message sources -----------------------------------------------------------------------


async def _voice_turn(
    client: AmigoClient, user: str, conversation_id: str, audio: bytes
) -> tuple[str, str]:
    """The ids of the user's voice message and the agent's answer."""
    events = await collect(client.interact(user, conversation_id, audio=audio))
    assert isinstance(events[0], UserMessageAvailable)
    assert isinstance(events[-1], InteractionComplete)
    return events[0].message_id, events[-1].message_id


async def test_message_source_is_the_recorded_audio(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)
    audio = silent_mp3(frames=5)
    voice_id, answer_id = await _voice_turn(client, user, conversation_id, audio)

    data, content_type = await client.message_source(user, conversation_id, voice_id)
    assert data == audio and content_type == "audio/mpeg"
    [source] = fake.calls_named("message_source")
    assert source.query == {"long_lived": ["false"]}
    assert source.path.endswith(f"/conversation/{conversation_id}/messages/{voice_id}/source")
    [download] = fake.downloads
    assert download.status == 200 and "authorization" not in download.headers

    link = await client.message_source_link(user, conversation_id, voice_id, long_lived=True)
    assert link.expires_at is not None
    assert link.expires_at - datetime.now(UTC) > timedelta(hours=11)
    assert link.url not in repr(link)

    with pytest.raises(AmigoBadRequest) as caught:  # the agent's answer was text
        await client.message_source(user, conversation_id, answer_id)
    assert caught.value.detail == TEXT_MESSAGE
    with pytest.raises(AmigoNotFound):
        await client.message_source(user, conversation_id, "f" * 24)


async def test_an_expired_source_link_fails_as_a_download_error(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)
    voice_id, _ = await _voice_turn(client, user, conversation_id, silent_mp3())
    fake.source_link_seconds = -1
    with pytest.raises(AmigoAuthError) as caught:
        await client.message_source(user, conversation_id, voice_id)
    assert caught.value.status == 403 and caught.value.operation == "message_source_download"
    assert [d.status for d in fake.downloads] == [403]


def _mock_client(
    opened: list[httpx.AsyncClient], source: Callable[[httpx.Request], httpx.Response]
) -> AmigoClient:
    """A client whose Amigo answers retrieve-message-source with ``source``."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/signin_with_api_key"):
            return httpx.Response(200, json={"id_token": "t", "expires_at": "2999-01-01T00:00:00Z"})
        if request.url.host == "storage.test":
            assert "authorization" not in request.headers
            return httpx.Response(200, content=b"\xff\xfb" + bytes(100))
        return source(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    opened.append(http)
    return AmigoClient("https://amigo.test", "org", "key", "key-id", http=http)


@pytest.fixture
async def opened() -> AsyncIterator[list[httpx.AsyncClient]]:
    clients: list[httpx.AsyncClient] = []
    yield clients
    for client in clients:
        await client.aclose()


async def test_message_source_takes_a_bare_link_or_the_bytes_themselves(
    opened: list[httpx.AsyncClient],
) -> None:
    ids = ("a" * 24, "b" * 24)
    bare = _mock_client(opened, lambda _: httpx.Response(200, json="https://storage.test/x?sig=1"))
    data, content_type = await bare.message_source("u", *ids)
    assert data == b"\xff\xfb" + bytes(100) and content_type == "application/octet-stream"
    with pytest.raises(AmigoProtocolError):
        await bare.message_source("u", *ids, max_bytes=50)

    direct = _mock_client(
        opened,
        lambda _: httpx.Response(200, content=b"ID3abc", headers={"content-type": "audio/mpeg"}),
    )
    assert await direct.message_source("u", *ids) == (b"ID3abc", "audio/mpeg")
    with pytest.raises(AmigoProtocolError):
        await direct.message_source_link("u", *ids)

    for answer in ({"url": "file:///etc/passwd"}, {"no_url": 1}, "not a url"):
        odd = _mock_client(opened, lambda _, answer=answer: httpx.Response(200, json=answer))
        with pytest.raises(AmigoProtocolError) as caught:
            await odd.message_source("u", *ids)
        assert "passwd" not in str(caught.value) and caught.value.body == ""


# -- the fake's rules, over plain HTTP --------------------------------------------------------


@pytest.fixture
async def http(fake: FakeAmigo) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{fake.url}/v1/{fake.organization_id}") as http:
        yield http


async def _auth(http: httpx.AsyncClient, fake: FakeAmigo, user: str) -> dict[str, str]:
    response = await http.post(
        "/user/signin_with_api_key",
        headers={"x-api-key": fake.api_key, "x-api-key-id": fake.api_key_id, "x-user-id": user},
    )
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['id_token']}"}


def _stamp(moment: datetime) -> str:
    return moment.isoformat()


async def test_fake_checks_external_events(
    fake: FakeAmigo, client: AmigoClient, http: httpx.AsyncClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)
    auth = await _auth(http, fake, user)
    url = f"/conversation/{conversation_id}/interact"
    params = {"request_format": "text", "response_format": "text"}
    now = datetime.now(UTC)
    base = [("initial_message_type", (None, "user-message")), ("recorded_message", (None, "hi"))]

    async def status(*events: tuple[str, str]) -> tuple[int, Any]:
        files: list[tuple[str, Any]] = list(base)
        files += [(name, (None, value)) for name, value in events]
        response = await http.post(url, params=params, files=files, headers=auth)
        return response.status_code, response.json().get("detail")

    content, stamp = "external_event_message_content", "external_event_message_timestamp"
    assert (await status((content, "a")))[0] == 422  # no timestamp
    assert (await status((content, ""), (stamp, _stamp(now))))[0] == 422
    assert (await status((content, "a"), (stamp, "last tuesday")))[0] == 422
    assert (await status((content, "a"), (stamp, "2024-01-01T10:00:00")))[0] == 422
    future = _stamp(now + timedelta(minutes=5))
    assert await status((content, "a"), (stamp, future)) == (400, NOT_IN_THE_PAST)
    too_early = _stamp(now - timedelta(days=1))  # before the greeting
    assert await status((content, "a"), (stamp, too_early)) == (400, INCONSISTENT_EVENTS)
    later = datetime.now(UTC)
    swapped = (content, "a"), (content, "b"), (stamp, _stamp(later)), (stamp, _stamp(now))
    assert await status(*swapped) == (400, INCONSISTENT_EVENTS)
    assert all(c.status in (400, 422) for c in fake.calls_named("interact"))
    assert len(fake.conversation(conversation_id).messages) == 1  # nothing was saved


async def test_fake_checks_voice_requests(
    fake: FakeAmigo, client: AmigoClient, http: httpx.AsyncClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)
    auth = await _auth(http, fake, user)
    url = f"/conversation/{conversation_id}/interact"
    mp3 = json.dumps({"type": "mp3"})

    async def send(audio: bytes, **params: str) -> int:
        files = [
            ("initial_message_type", (None, "user-message")),
            ("recorded_message", ("a.mp3", audio, "audio/mpeg")),
        ]
        query = {"request_format": "voice", "response_format": "text", **params}
        response = await http.post(url, params=query, files=files, headers=auth)
        return response.status_code

    assert await send(silent_mp3()) == 422  # no request_audio_config
    assert await send(silent_mp3(), request_audio_config="{not json") == 422
    assert await send(b"RIFF\x00\x00\x00\x00WAVE", request_audio_config=mp3) == 415
    assert await send(b"", request_audio_config=mp3) == 400
    assert await send(silent_mp3(), request_audio_config=mp3, response_format="voice") == 400
    assert fake.open_streams() == 0
    assert len(fake.conversation(conversation_id).messages) == 1
    # PCM is checked against its config and kept as WAV.
    pcm = json.dumps({"type": "pcm", "frame_rate": 16000, "n_channels": 1, "sample_width": 2})
    assert await send(bytes(3), request_audio_config=pcm) == 415
    assert await send(bytes(320), request_audio_config=pcm) == 200
    await fake.wait_for(lambda: fake.open_streams() == 0)
    voice = fake.conversation(conversation_id).messages[-2]
    assert voice.format == "voice" and voice.audio_type == "audio/wav"
    assert voice.audio is not None and voice.audio.startswith(b"RIFF")


async def test_fake_source_links_are_signed_and_refuse_bearer_tokens(
    fake: FakeAmigo, client: AmigoClient, http: httpx.AsyncClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)
    voice_id, _ = await _voice_turn(client, user, conversation_id, silent_mp3())
    auth = await _auth(http, fake, user)
    answer = await http.get(f"/conversation/{conversation_id}/messages/{voice_id}/source",
                            headers=auth)  # fmt: skip
    assert answer.status_code == 200
    link = answer.json()["url"]
    async with httpx.AsyncClient() as storage:
        assert (await storage.get(link)).content == silent_mp3()
        assert (await storage.get(link, headers=auth)).status_code == 400
        assert (await storage.get(link.replace("signature=", "signature=0"))).status_code == 403
    stranger = fake.add_user(email="stranger@example.test")
    with pytest.raises(AmigoAuthError):
        await client.message_source(stranger, conversation_id, voice_id)
