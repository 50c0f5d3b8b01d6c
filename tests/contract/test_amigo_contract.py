"""The client, the fake and the Amigo OpenAPI specs agree.

A tour drives every AmigoClient method against the fake through scripted
scenarios (agent first, user first, error, cut, auto-completion, 401 retry).
Then: (a) every event the fake streamed validates against the response schema
of its operation; (b) every request the client sent has a body valid for its
operation; (c) every path and method exists in the spec with exact trailing
slashes, with valid path, query and header parameters; and the fake's JSON
answers validate against the spec's response schemas.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest

from slackbot.amigo import AmigoClient, AmigoStreamCut, ConversationCreated, InteractionComplete
from slackbot.sandbox.amigo_fake import ENDPOINT_NAMES, FakeAmigo, Reply

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
            call.method, call.path, call.query, call.headers, call.json, call.form
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
    assert checked >= 6


def test_fake_serves_the_spec_paths(spec: AmigoSpec) -> None:
    fake = FakeAmigo()
    served = set()
    for route in fake.app.routes:
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                served.add((method, getattr(route, "path", "")))
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
