"""The client, the fake and the Amigo OpenAPI specs agree.

A tour drives every AmigoClient method against the fake through scripted
scenarios (agent first, user first, error, cut, auto-completion, 401 retry,
external events, a voice message and its source, insights, starters).
Then: (a) every event the fake streamed validates against the response schema
of its operation; (b) every request the client sent has a body valid for its
operation; (c) every path and method exists in the spec with exact trailing
slashes, with valid path, query and header parameters; and the fake's JSON
answers validate against the spec's response schemas.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from slackbot.amigo import (
    AmigoBadRequest,
    AmigoClient,
    AmigoNotFound,
    AmigoStreamCut,
    ConversationCreated,
    InteractionComplete,
    UserMessageAvailable,
)
from slackbot.sandbox.amigo_fake import (
    ENDPOINT_NAMES,
    STORAGE_PREFIX,
    FakeAmigo,
    Reply,
    silent_mp3,
)

from .amigo_spec import FAKE_OPERATIONS, STREAMING, AmigoSpec, is_valid

SERVICE_ID = "6a7b8c9d0e1f2a3b4c5d6e7f"
EVENT_TYPES = {
    "conversation-created",
    "user-message-available",
    "current-agent-action",
    "new-message",
    "interaction-complete",
    "error",
}


async def _drain(client: AmigoClient, user: str, conversation_id: str, text: str) -> None:
    async for _ in client.interact(user, conversation_id, text):
        pass


async def _interaction_id(client: AmigoClient, user: str, conversation_id: str, text: str) -> str:
    last = None
    async for event in client.interact(user, conversation_id, text):
        last = event
    assert isinstance(last, InteractionComplete)
    return last.interaction_id


def _tool_call(tool_id: str, result: str, duration: float) -> list[dict[str, Any]]:
    started = {
        "type": "tool-call-started",
        "tool_round_index": 0,
        "tool_id": tool_id,
        "tool_version": "1",
        "input_params": {"q": tool_id},
    }
    ended = {
        "type": "tool-call-ended",
        "tool_round_index": 0,
        "tool_id": tool_id,
        "tool_version": "1",
        "input_parameters": {"q": tool_id},
        "result": result,
        "duration": duration,
    }
    return [started, ended]


EXPLAINED_ACTIONS: list[dict[str, Any]] = [
    {
        "type": "select-dynamic-behavior-completed",
        "selected_dynamic_behavior_set_version_info": ["a" * 24, 2],
        "previous_selected_dynamic_behavior_set_version_info": None,
    },
    *_tool_call("order_lookup", "order 42 shipped", 0.25),
    {
        "type": "navigate-state-machine-exit-condition-selected",
        "exit_condition": "The user asks about an order.",
        "next_state_state_machine_version_info": ["fake-state-machine", 1],
        "next_state_name": "orders",
    },
    {
        "type": "navigate-state-machine-state-transitioned",
        "prev_state": "engage",
        "prev_state_state_machine_version_info": ["fake-state-machine", 1],
        "next_state": "orders",
        "next_state_state_machine_version_info": ["fake-state-machine", 1],
    },
    *_tool_call("weather", "sunny", 1.5),
]
"""Agent actions whose insights have a behavior set, a transition and two tool calls."""


async def _new_features(
    fake: FakeAmigo, client: AmigoClient, user: str, conversation_id: str
) -> str:
    """Insights, external events, a voice message and its source, starters; returns the
    id of the last interaction."""
    fake.queue_reply(Reply(text="Order 42 shipped; sunny.", actions=EXPLAINED_ACTIONS))
    explained = await _interaction_id(client, user, conversation_id, "Where is my order?")
    insights = await client.interaction_insights(user, conversation_id, explained)
    assert [t.next_state for t in insights.state_transitions] == ["orders"]
    with pytest.raises(AmigoNotFound):
        await client.interaction_insights(user, conversation_id, "0" * 24)

    first = datetime.now(UTC)
    events = [("The user opened the app.", first), ("The user viewed order 42.", datetime.now(UTC))]
    await _drain_events(client, user, conversation_id, "Thanks", external_events=events)

    fake.transcripts.append("What Amigo heard")
    voice_message_id = None
    last = None
    async for event in client.interact(user, conversation_id, audio=silent_mp3()):
        if isinstance(event, UserMessageAvailable):
            voice_message_id = event.message_id
        last = event
    assert isinstance(last, InteractionComplete) and voice_message_id is not None
    audio, content_type = await client.message_source(user, conversation_id, voice_message_id)
    assert audio == silent_mp3() and content_type == "audio/mpeg"
    link = await client.message_source_link(
        user, conversation_id, voice_message_id, long_lived=True
    )
    assert link.content_type == "audio/mpeg"
    with pytest.raises(AmigoBadRequest):
        await client.message_source(user, conversation_id, last.message_id)

    starters = await client.conversation_starters(
        user, service_id=SERVICE_ID, facets=["orders", "shipping"], min_count=2, max_count=4
    )
    assert len(starters) == 2
    await client.conversation_starters(
        user,
        service_id=SERVICE_ID,
        facets=["billing"],
        instructions="Questions a new customer asks.",
        min_count=1,
        max_count=1,
        version_set="edge",
    )
    return last.interaction_id


async def _drain_events(
    client: AmigoClient,
    user: str,
    conversation_id: str,
    text: str,
    *,
    external_events: list[tuple[str, datetime]],
) -> None:
    async for _ in client.interact(user, conversation_id, text, external_events=external_events):
        pass


async def run_tour(fake: FakeAmigo) -> None:
    """Call every client method, in every streaming scenario the fake scripts."""
    admin = fake.admin_user_id
    async with AmigoClient(fake.url, fake.organization_id, fake.api_key, fake.api_key_id) as client:
        email = "tour@example.test"
        user = await client.create_user(
            admin, first_name="Tour", last_name="Guide", email=email, role_name="DefaultUserRole"
        )
        assert await client.find_user_by_email(admin, email) == user

        # Agent first, with a tag set at creation.
        conversation_id = None
        async for event in client.create_conversation(
            user, service_id=SERVICE_ID, tags={"source": "slack"}
        ):
            if isinstance(event, ConversationCreated):
                conversation_id = event.conversation_id
        assert conversation_id is not None

        fake.queue_reply(
            Reply(
                text="Several pieces, and a tool call.",
                pieces=6,
                actions=[
                    {
                        "type": "tool-call-started",
                        "tool_round_index": 0,
                        "tool_id": "lookup",
                        "tool_version": "1",
                        "input_params": {"q": "x"},
                    },
                    {"type": "select-dynamic-behavior-vector-generated"},
                ],
            )
        )
        interaction_id = await _interaction_id(client, user, conversation_id, "Hello there")
        fake.queue_reply(Reply(text="broken answer", error_after=1))
        await _drain(client, user, conversation_id, "This one fails")
        fake.queue_reply(Reply(text="cut answer", cut_after=1))
        with contextlib.suppress(AmigoStreamCut):
            await _drain(client, user, conversation_id, "again")
        fake.fail_next("interact", status=401)
        interaction_id = await _interaction_id(client, user, conversation_id, "After a 401")
        interaction_id = await _new_features(fake, client, user, conversation_id)

        await client.modify_tags(
            user, conversation_id, updates={"thread": "T 1", "flag": None}, deletes=["source"]
        )
        await client.recommend_responses(user, conversation_id, interaction_id)
        await client.recommend_responses(
            user, conversation_id, interaction_id, context="A curious user"
        )
        await client.get_conversations(
            user,
            user_ids=[user],
            service_ids=[SERVICE_ID],
            ids=[conversation_id],
            is_finished=False,
            limit=5,
            continuation_token=0,
            sort_by=["-created_at"],
            tags=["thread:*"],
        )
        await client.get_messages(
            user,
            conversation_id,
            limit=20,
            continuation_token=0,
            message_types=["user-message", "agent-message"],
            sort_by=["+created_at"],
        )
        await client.finish_conversation(user, conversation_id)

        # User first, completed by the agent.
        fake.queue_reply(Reply(text="Hi! And goodbye.", conversation_completed=True))
        async for _ in client.create_conversation(
            user, service_id=SERVICE_ID, version_set="release", initial_message="Hi, just one thing"
        ):
            pass
        # An error while creating.
        fake.queue_reply(Reply(text="no", error_after=0, kind="create"))
        async for _ in client.create_conversation(user, service_id=SERVICE_ID):
            pass


@pytest.fixture(scope="module")
def toured() -> Iterator[FakeAmigo]:
    spec = AmigoSpec()
    fake = FakeAmigo(event_validator=spec.check_event).start()
    try:
        asyncio.run(run_tour(fake))
        yield fake
    finally:
        fake.stop()


# (a) events ----------------------------------------------------------------------


def test_every_streamed_event_matches_the_spec(toured: FakeAmigo, spec: AmigoSpec) -> None:
    emitted = [e for e in toured.emitted if e.generated]
    seen_types = set()
    for item in emitted:
        assert isinstance(item.event, dict)
        operation = FAKE_OPERATIONS[item.name]
        errors = list(spec.event_validator(operation).iter_errors(item.event))
        assert errors == [], f"{item.name}: {item.event}: {[e.message for e in errors]}"
        seen_types.add(item.event["type"])
    assert seen_types == EVENT_TYPES
    assert toured.contract_violations == []


def test_each_operation_streams_only_its_own_event_types(toured: FakeAmigo) -> None:
    by_name: dict[str, set[str]] = {}
    for item in toured.emitted:
        if item.generated and isinstance(item.event, dict):
            by_name.setdefault(item.name, set()).add(item.event["type"])
    assert "user-message-available" not in by_name["create_conversation"]
    assert "conversation-created" not in by_name["interact"]


# (b) and (c) requests ------------------------------------------------------------


def test_every_request_matches_the_spec(toured: FakeAmigo, spec: AmigoSpec) -> None:
    problems = []
    for call in toured.calls:
        problems += spec.request_problems(
            call.method, call.path, call.query, call.headers, call.json, call.form, call.files
        )
    assert problems == []


def test_the_tour_covers_every_operation_the_client_uses(
    toured: FakeAmigo, spec: AmigoSpec
) -> None:
    operations = set()
    for call in toured.calls:
        matched = spec.match(call.method, call.path)
        assert matched is not None, call.path
        operation, _ = matched
        assert FAKE_OPERATIONS[call.name] == operation.operation_id
        operations.add(operation.operation_id)
    assert operations == set(FAKE_OPERATIONS.values())


def test_authorization_headers(toured: FakeAmigo) -> None:
    for call in toured.calls:
        if call.name == "signin":
            assert "authorization" not in call.headers
            assert {"x-api-key", "x-api-key-id", "x-user-id"} <= set(call.headers)
        else:
            assert call.headers["authorization"].startswith("Bearer ")
            assert "x-api-key" not in call.headers


def test_recommend_bodies(toured: FakeAmigo) -> None:
    assert [c.json for c in toured.calls_named("recommend")] == [{}, {"context": "A curious user"}]


# answers ------------------------------------------------------------------------------


def test_every_json_answer_matches_the_spec(toured: FakeAmigo, spec: AmigoSpec) -> None:
    checked = 0
    for call in toured.calls:
        operation = FAKE_OPERATIONS[call.name]
        if operation in STREAMING or call.response is None:
            continue
        schema = spec.response_schema(operation, call.status)
        if schema is None:
            continue
        errors = [e.message for e in spec.validator(schema).iter_errors(call.response)]
        assert errors == [], f"{call.name} {call.status}: {errors}"
        checked += 1
    assert checked >= 9
    assert {c.name for c in toured.calls if c.response is not None and c.status == 200} >= {
        "conversation_starter",
        "insights",
        "message_source",
    }


def test_new_feature_requests(toured: FakeAmigo) -> None:
    """What the tour's voice, external-event and starter requests carried."""
    voice = [c for c in toured.calls_named("interact") if c.query["request_format"] == ["voice"]]
    [call] = voice
    assert call.query["response_format"] == ["text"]
    assert json.loads(call.query["request_audio_config"][0]) == {"type": "mp3"}
    assert call.audio == silent_mp3()
    assert call.files["recorded_message"].content_type == "audio/mpeg"
    assert "recorded_message" not in (call.form or {})
    [with_events] = [c for c in toured.calls_named("interact") if c.external_events]
    assert [content for content, _ in with_events.external_events] == [
        "The user opened the app.",
        "The user viewed order 42.",
    ]
    starters = [c.json for c in toured.calls_named("conversation_starter")]
    assert starters[0] == {
        "service_id": SERVICE_ID,
        "service_version_set_name": "release",
        "facets": ["orders", "shipping"],
        "min_count": 2,
        "max_count": 4,
        "generation_instructions": starters[0]["generation_instructions"],
    }
    assert starters[1]["generation_instructions"] == "Questions a new customer asks."
    assert [c.query["long_lived"] for c in toured.calls_named("message_source")] == [
        ["false"],
        ["true"],
        ["false"],
    ]


def test_source_downloads_carry_no_token(toured: FakeAmigo) -> None:
    downloads = toured.downloads
    assert [d.status for d in downloads] == [200]
    assert all("authorization" not in d.headers for d in downloads)
    assert all(d.path.startswith(STORAGE_PREFIX + "/") for d in downloads)


def test_fake_serves_the_spec_paths(spec: AmigoSpec) -> None:
    fake = FakeAmigo()
    served = set()
    for route in fake.app.routes:
        path = getattr(route, "path", "")
        if path.startswith(STORAGE_PREFIX + "/"):
            continue  # the signed links' storage, not Amigo's API
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                served.add((method, path))
    expected = {
        (spec.operations[op].method, spec.operations[op].path) for op in FAKE_OPERATIONS.values()
    }
    assert served == expected
    assert set(FAKE_OPERATIONS) == set(ENDPOINT_NAMES)


# the checks themselves catch mistakes ------------------------------------------------------


def test_event_checks_reject_bad_events(spec: AmigoSpec) -> None:
    interact = spec.event_validator("interact-with-conversation")
    create = spec.event_validator("create-conversation")
    good = {
        "type": "new-message",
        "message": "x",
        "transcript_alignment": None,
        "stop": False,
        "sequence_number": 0,
        "message_id": "m",
    }
    assert is_valid(interact, good) and is_valid(create, good)
    assert not is_valid(interact, {k: v for k, v in good.items() if k != "stop"})
    assert not is_valid(interact, {"type": "made-up"})
    assert not is_valid(create, {"type": "user-message-available", "message_id": "m"})
    action = {"type": "current-agent-action", "action": {"type": "not-an-action"}}
    assert not is_valid(interact, action)


def test_request_checks_reject_bad_requests(spec: AmigoSpec) -> None:
    org = "/v1/test-org"
    cid = "a" * 24
    form = {"initial_message_type": "user-message", "recorded_message": "hi"}
    multipart = {"content-type": "multipart/form-data; boundary=xyz"}
    query = {"request_format": ["text"], "response_format": ["text"]}
    interact = f"{org}/conversation/{cid}/interact"
    assert spec.request_problems("POST", interact, query, multipart, None, form) == []
    assert spec.request_problems("POST", interact + "/", query, multipart, None, form)
    assert spec.request_problems("POST", f"{org}/conversation/{cid}/finish", {}, {}, None, None)
    assert spec.request_problems("GET", interact, query, multipart, None, form)
    assert spec.request_problems(
        "POST", interact, {"response_format": ["text"]}, multipart, None, form
    )
    assert spec.request_problems("POST", interact, query, {}, None, form)
    assert spec.request_problems(
        "POST", interact, query, multipart, None, {"recorded_message": "hi"}
    )
    assert spec.request_problems("POST", f"{org}/conversation/not-hex/finish/", {}, {}, None, None)
    assert spec.request_problems(
        "GET", f"{org}/conversation/", {"is_finished": ["maybe"], "bogus": ["1"]}, {}, None, None
    )
    assert spec.request_problems(
        "POST", f"{org}/conversation/{cid}/tags/", {}, {}, {"updates": {"k": "a/b"}}, None
    )
    assert spec.request_problems(
        "POST", f"{org}/conversation/", {"response_format": ["text"]}, {}, {}, None
    )


def test_request_checks_reject_bad_new_feature_requests(spec: AmigoSpec) -> None:
    org = "/v1/test-org"
    starter = f"{org}/conversation/conversation_starter"
    body = {
        "service_id": "a" * 24,
        "facets": ["x"],
        "min_count": 1,
        "max_count": 3,
        "generation_instructions": "go",
    }
    assert spec.request_problems("POST", starter, {}, {}, body, None) == []
    for broken in (
        {k: v for k, v in body.items() if k != "generation_instructions"},
        {**body, "facets": []},
        {**body, "max_count": 11},
        {**body, "min_count": 0},
    ):
        assert spec.request_problems("POST", starter, {}, {}, broken, None)

    interact = f"{org}/conversation/{'a' * 24}/interact"
    multipart = {"content-type": "multipart/form-data; boundary=xyz"}
    query = {"request_format": ["text"], "response_format": ["text"]}
    form: dict[str, Any] = {
        "initial_message_type": "user-message",
        "recorded_message": "hi",
        "external_event_message_content": ["opened"],
        "external_event_message_timestamp": ["2024-05-01T10:00:00+00:00"],
    }
    assert spec.request_problems("POST", interact, query, multipart, None, form) == []
    for name, value in (
        ("external_event_message_timestamp", ["yesterday"]),
        ("external_event_message_timestamp", ["2024-05-01T10:00:00"]),
        ("external_event_message_content", [""]),
        ("external_event_message_content", "opened"),
    ):
        assert spec.request_problems(
            "POST", interact, query, multipart, None, {**form, name: value}
        )

    voice = {**query, "request_format": ["voice"], "request_audio_config": ['{"type":"mp3"}']}
    audio_form = {"initial_message_type": "user-message"}

    class Part:
        data = b"\xff\xfb"

    assert (
        spec.request_problems(
            "POST", interact, voice, multipart, None, audio_form, {"recorded_message": Part()}
        )
        == []
    )
    assert spec.request_problems("POST", interact, voice, multipart, None, audio_form)
    bad_config = {**voice, "request_audio_config": ['{"type":"wav"}']}
    assert spec.request_problems(
        "POST", interact, bad_config, multipart, None, audio_form, {"recorded_message": Part()}
    )
    source = f"{org}/conversation/{'a' * 24}/messages/{'b' * 24}/source"
    assert spec.request_problems("GET", source, {"long_lived": ["true"]}, {}, None, None) == []
    assert spec.request_problems("GET", source, {"long_lived": ["maybe"]}, {}, None, None)
    insights = f"{org}/conversation/{'a' * 24}/interaction/not-hex/insights"
    assert spec.request_problems("GET", insights, {}, {}, None, None)
