"""AmigoClient against the fake Amigo: calls, streams, typed errors."""

from __future__ import annotations

import asyncio
import logging
import socket
from contextlib import aclosing

import pytest

from slackbot.amigo import (
    AmigoBadRequest,
    AmigoClient,
    AmigoConflict,
    AmigoNotFound,
    AmigoRateLimited,
    AmigoStreamCut,
    AmigoTransportError,
    AmigoUnavailable,
    ConversationCreated,
    CurrentAgentAction,
    ErrorEvent,
    InteractionComplete,
    NewMessage,
    UnknownEvent,
    UserMessageAvailable,
)
from slackbot.sandbox.amigo_fake import ALREADY_FINISHED, IN_PROGRESS, FakeAmigo, Reply

from .helpers import SERVICE_ID, collect, collect_until_error, start_conversation

# -- users -------------------------------------------------------------------


async def test_create_and_find_user(fake: FakeAmigo, client: AmigoClient) -> None:
    admin = fake.admin_user_id
    assert await client.find_user_by_email(admin, "new@example.test") is None
    user_id = await client.create_user(
        admin, first_name="Ada", last_name="Lovelace", email="new@example.test", role_name="User"
    )
    assert await client.find_user_by_email(admin, "NEW@example.test") == user_id
    [call] = fake.calls_named("create_user")
    assert call.json == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "new@example.test",
        "role_name": "User",
    }
    assert fake.calls_named("get_users")[0].query == {"email": ["new@example.test"]}


async def test_duplicate_email_is_a_conflict(fake: FakeAmigo, client: AmigoClient) -> None:
    fake.add_user(email="taken@example.test")
    with pytest.raises(AmigoConflict):
        await client.create_user(
            fake.admin_user_id,
            first_name="A",
            last_name="B",
            email="taken@example.test",
            role_name="User",
        )


# -- streams -----------------------------------------------------------------


async def test_agent_first_conversation(fake: FakeAmigo, client: AmigoClient, user: str) -> None:
    events = await collect(client.create_conversation(user, service_id=SERVICE_ID))
    assert isinstance(events[0], ConversationCreated)
    assert isinstance(events[1], CurrentAgentAction)
    assert events[1].label == "navigate-state-machine-state-transitioned"
    pieces = [e for e in events if isinstance(e, NewMessage)]
    complete = events[-1]
    assert isinstance(complete, InteractionComplete)
    assert complete.full_message == fake.greeting == "".join(p.message for p in pieces)
    assert [p.sequence_number for p in pieces] == list(range(len(pieces)))
    assert pieces[-1].stop and not any(p.stop for p in pieces[:-1])
    assert complete.conversation_completed is False
    [call] = fake.calls_named("create_conversation")
    assert call.query == {"response_format": ["text"]}
    assert call.json == {"service_id": SERVICE_ID, "service_version_set_name": "release"}
    assert call.status == 201


async def test_conversation_with_initial_message(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    events = await collect(
        client.create_conversation(
            user, service_id=SERVICE_ID, version_set="edge", initial_message="Hi there"
        )
    )
    complete = events[-1]
    assert isinstance(complete, InteractionComplete)
    assert complete.full_message == "Echo: Hi there"
    assert fake.calls_named("create_conversation")[0].json == {
        "service_id": SERVICE_ID,
        "service_version_set_name": "edge",
        "initial_message": "Hi there",
        "initial_message_type": "user-message",
    }


async def test_blank_initial_message_means_agent_first(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    await collect(client.create_conversation(user, service_id=SERVICE_ID, initial_message="  "))
    assert fake.calls_named("create_conversation")[0].json == {
        "service_id": SERVICE_ID,
        "service_version_set_name": "release",
    }


async def test_interact_streams_the_reply(fake: FakeAmigo, client: AmigoClient, user: str) -> None:
    conversation_id = await start_conversation(client, user)
    text = "A scripted answer, long enough for eight pieces \u2028 with a line separator."
    fake.queue_reply(Reply(text=text, pieces=8))
    events = await collect(client.interact(user, conversation_id, "How are you?"))
    assert events[0] == UserMessageAvailable(
        message_id=events[0].message_id,  # type: ignore[union-attr]
        user_message="How are you?",
    )
    pieces = [e.message for e in events if isinstance(e, NewMessage)]
    assert len(pieces) == 8 and "".join(pieces) == text
    complete = events[-1]
    assert isinstance(complete, InteractionComplete) and complete.full_message == text
    [call] = fake.calls_named("interact")
    assert call.query == {"request_format": ["text"], "response_format": ["text"]}
    assert call.form == {"initial_message_type": "user-message", "recorded_message": "How are you?"}
    assert call.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert call.path == f"/v1/{fake.organization_id}/conversation/{conversation_id}/interact"


async def test_blank_message_is_refused_before_calling(client: AmigoClient, user: str) -> None:
    with pytest.raises(ValueError):
        client.interact(user, "a" * 24, " \n ")


async def test_error_event_is_yielded_and_ends_the_stream(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)
    fake.queue_reply(Reply(text="abcdef", pieces=3, error_after=2, error_code=503))
    events = await collect(client.interact(user, conversation_id, "hello"))
    assert [e.message for e in events if isinstance(e, NewMessage)] == ["ab", "cd"]
    assert events[-1] == ErrorEvent(
        http_error_code=503, error_description=Reply().error_description
    )
    # The interaction is void: only the agent's greeting was saved.
    assert [m.sender for m in fake.conversation(conversation_id).messages] == ["agent"]


async def test_abrupt_cut_raises_after_the_pieces_that_arrived(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)
    fake.queue_reply(Reply(text="abcdef", pieces=3, cut_after=2))
    events, error = await collect_until_error(client.interact(user, conversation_id, "hello"))
    assert isinstance(error, AmigoStreamCut)
    assert [e.message for e in events if isinstance(e, NewMessage)] == ["ab", "cd"]
    assert not any(isinstance(e, InteractionComplete) for e in events)


async def test_clean_end_without_completion_is_a_cut(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)
    fake.queue_reply(Reply(text="abcdef", pieces=3, cut_after=1, cut_clean=True))
    events, error = await collect_until_error(client.interact(user, conversation_id, "hello"))
    assert isinstance(error, AmigoStreamCut)
    assert [e.message for e in events if isinstance(e, NewMessage)] == ["ab"]


async def test_cut_before_any_piece(fake: FakeAmigo, client: AmigoClient, user: str) -> None:
    fake.queue_reply(Reply(cut_after=0, kind="create"))
    events, error = await collect_until_error(
        client.create_conversation(user, service_id=SERVICE_ID)
    )
    assert isinstance(error, AmigoStreamCut)
    assert isinstance(events[0], ConversationCreated)
    assert not any(isinstance(e, NewMessage) for e in events)


async def test_unknown_events_pass_through_and_malformed_lines_are_skipped(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)
    fake.queue_reply(
        Reply(
            text="ok",
            extra_lines=[
                {"type": "brand-new-event", "detail": {"x": 1}},
                "this is not json {",
                "",
                '{"no_type": true}',
            ],
        )
    )
    events = await collect(client.interact(user, conversation_id, "hello"))
    unknown = [e for e in events if isinstance(e, UnknownEvent)]
    assert unknown == [
        UnknownEvent(type="brand-new-event", data={"type": "brand-new-event", "detail": {"x": 1}})
    ]
    assert isinstance(events[-1], InteractionComplete) and events[-1].full_message == "ok"


async def test_idle_stream_is_cut(fake: FakeAmigo, user: str) -> None:
    reply = fake.queue_reply(Reply(text="abcdef", hold_after=1, kind="interact"))
    async with AmigoClient(
        fake.url, fake.organization_id, fake.api_key, fake.api_key_id, stream_idle_timeout=0.3
    ) as client:
        conversation_id = await start_conversation(client, user)
        events, error = await collect_until_error(client.interact(user, conversation_id, "hi"))
    assert isinstance(error, AmigoStreamCut)
    assert len([e for e in events if isinstance(e, NewMessage)]) == 1
    reply.release()
    await fake.wait_for(lambda: fake.open_streams() == 0)


async def test_closing_a_stream_early_releases_the_conversation(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)
    reply = fake.queue_reply(Reply(text="abcdef", hold_after=1))
    async with aclosing(client.interact(user, conversation_id, "hello")) as stream:
        async for event in stream:
            if isinstance(event, NewMessage):
                break
    await fake.wait_for(lambda: fake.open_streams(conversation_id) == 0)
    assert reply.held is False
    # The abandoned interaction was not saved, and the conversation takes a new one.
    assert len(fake.conversation(conversation_id).messages) == 1
    events = await collect(client.interact(user, conversation_id, "again"))
    assert isinstance(events[-1], InteractionComplete)


# -- conflicts -----------------------------------------------------------------


async def test_409_while_a_stream_is_open(fake: FakeAmigo, client: AmigoClient, user: str) -> None:
    conversation_id = await start_conversation(client, user)
    reply = fake.queue_reply(Reply(text="slow answer", hold_after=1))
    stream = client.interact(user, conversation_id, "first")
    first = await anext(stream)
    assert isinstance(first, UserMessageAvailable)
    await fake.wait_for(lambda: reply.held)

    with pytest.raises(AmigoConflict) as caught:
        await collect(client.interact(user, conversation_id, "second"))
    assert caught.value.detail == IN_PROGRESS
    with pytest.raises(AmigoConflict):
        await client.finish_conversation(user, conversation_id)
    with pytest.raises(AmigoConflict):
        await client.modify_tags(user, conversation_id, updates={"k": "v"})
    assert fake.conflicts == 3

    reply.release()
    rest = [event async for event in stream]
    assert isinstance(rest[-1], InteractionComplete)
    assert rest[-1].full_message == "slow answer"


async def test_back_to_back_interactions_never_conflict(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)
    for turn in range(5):
        events = await collect(client.interact(user, conversation_id, f"turn {turn}"))
        assert isinstance(events[-1], InteractionComplete)
    await client.finish_conversation(user, conversation_id)
    assert fake.conflicts == 0
    assert len(fake.conversation(conversation_id).messages) == 11


async def test_finished_conversation_is_409(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)
    await client.finish_conversation(user, conversation_id)
    with pytest.raises(AmigoConflict) as caught:
        await collect(client.interact(user, conversation_id, "hello?"))
    assert caught.value.detail == ALREADY_FINISHED
    with pytest.raises(AmigoConflict):
        await client.finish_conversation(user, conversation_id)


async def test_agent_can_complete_the_conversation(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)
    fake.queue_reply(Reply(text="Goodbye!", conversation_completed=True))
    events = await collect(client.interact(user, conversation_id, "bye"))
    assert isinstance(events[-1], InteractionComplete) and events[-1].conversation_completed
    assert fake.conversation(conversation_id).is_finished


async def test_one_unfinished_conversation_per_service(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    first = await start_conversation(client, user)
    with pytest.raises(AmigoBadRequest) as caught:
        await collect(client.create_conversation(user, service_id=SERVICE_ID))
    assert caught.value.status == 400 and "unfinished" in (caught.value.detail or "")
    await client.finish_conversation(user, first)
    assert await start_conversation(client, user) != first


async def test_unknown_conversation_is_404(client: AmigoClient, user: str) -> None:
    with pytest.raises(AmigoNotFound):
        await client.finish_conversation(user, "0" * 24)


# -- retryable errors are raised, not retried -------------------------------------


async def test_429_on_interact_is_typed_and_not_retried(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)
    fake.fail_next("interact", status=429, retry_after=1.0)
    with pytest.raises(AmigoRateLimited) as caught:
        await collect(client.interact(user, conversation_id, "hello"))
    assert caught.value.status == 429 and caught.value.retry_after == 1.0
    assert len(fake.calls_named("interact")) == 1
    events = await collect(client.interact(user, conversation_id, "hello"))
    assert isinstance(events[-1], InteractionComplete)


async def test_503_is_typed_with_retry_after(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    fake.fail_next("get_conversations", status=503, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    with pytest.raises(AmigoUnavailable) as caught:
        await client.get_conversations(user)
    assert caught.value.status == 503 and caught.value.retry_after == 0.0
    fake.fail_next("create_conversation", status=503, retry_after=30)
    with pytest.raises(AmigoUnavailable) as caught:
        await collect(client.create_conversation(user, service_id=SERVICE_ID))
    assert caught.value.retry_after == 30.0
    assert len(fake.calls_named("create_conversation")) == 1


async def test_other_5xx_and_plain_text_bodies(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    fake.fail_next("get_messages", status=502, body="<html>bad gateway</html>")
    with pytest.raises(AmigoUnavailable) as caught:
        await client.get_messages(user, "a" * 24)
    assert caught.value.status == 502 and caught.value.body == "<html>bad gateway</html>"
    assert caught.value.retry_after is None


async def test_no_server_is_a_transport_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with AmigoClient(f"http://127.0.0.1:{port}", "org", "key", "key-id") as client:
        with pytest.raises(AmigoTransportError) as caught:
            await client.get_conversations("someone")
    assert caught.value.request_sent is False
    assert caught.value.status is None


# -- other calls ------------------------------------------------------------------


async def test_tags(fake: FakeAmigo, client: AmigoClient, user: str) -> None:
    conversation_id = await start_conversation(client, user)
    await client.modify_tags(
        user, conversation_id, updates={"slack_channel": "C123", "flag": None}, deletes=[]
    )
    await client.modify_tags(user, conversation_id, updates={"more": "x"}, deletes=["flag"])
    assert fake.conversation(conversation_id).tags == {"slack_channel": "C123", "more": "x"}
    assert fake.calls_named("tags")[1].json == {"updates": {"more": "x"}, "deletes": ["flag"]}
    with pytest.raises(AmigoBadRequest):
        await client.modify_tags(user, conversation_id, updates={f"t{i}": "v" for i in range(19)})
    assert len(fake.conversation(conversation_id).tags) == 2


async def test_recommend_responses(fake: FakeAmigo, client: AmigoClient, user: str) -> None:
    conversation_id = await start_conversation(client, user)
    events = await collect(client.interact(user, conversation_id, "hello"))
    complete = events[-1]
    assert isinstance(complete, InteractionComplete)
    fake.recommendations = ["Yes", "No"]
    assert await client.recommend_responses(user, conversation_id, complete.interaction_id) == [
        "Yes",
        "No",
    ]
    await client.recommend_responses(
        user, conversation_id, complete.interaction_id, context="A busy manager"
    )
    assert [c.json for c in fake.calls_named("recommend")] == [{}, {"context": "A busy manager"}]
    with pytest.raises(AmigoBadRequest):  # not the latest interaction
        await client.recommend_responses(user, conversation_id, "b" * 24)


async def test_get_conversations_filters(fake: FakeAmigo, client: AmigoClient, user: str) -> None:
    conversation_id = await start_conversation(client, user)
    await client.modify_tags(user, conversation_id, updates={"thread": "T1"})
    page = await client.get_conversations(
        user,
        user_ids=[user],
        service_ids=[SERVICE_ID, "0" * 24],
        is_finished=False,
        limit=10,
        sort_by=["-created_at"],
    )
    [info] = page.conversations
    assert info.id == conversation_id and info.user_id == user
    assert info.is_finished is False and info.tags == {"thread": "T1"}
    assert info.num_messages == 1 and info.created_at.tzinfo is not None
    assert page.has_more is False
    call = fake.calls_named("get_conversations")[0]
    assert call.query == {
        "user_id": [user],
        "service_id": [SERVICE_ID, "0" * 24],
        "is_finished": ["false"],
        "limit": ["10"],
        "sort_by": ["-created_at"],
    }
    finished = await client.get_conversations(user, is_finished=True)
    assert finished.conversations == []


async def test_get_messages(fake: FakeAmigo, client: AmigoClient, user: str) -> None:
    conversation_id = await start_conversation(client, user, initial_message="Hello")
    await collect(client.interact(user, conversation_id, "Second"))
    page = await client.get_messages(user, conversation_id, limit=50)
    assert [(m.sender, m.message) for m in page.messages] == [
        ("user", "Hello"),
        ("agent", "Echo: Hello"),
        ("user", "Second"),
        ("agent", "Echo: Second"),
    ]
    assert [m.message_type for m in page.messages][:2] == ["user-message", "agent-message"]
    assert fake.calls_named("get_messages")[0].query == {"limit": ["50"]}


async def test_another_users_conversation_is_forbidden(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    conversation_id = await start_conversation(client, user)
    stranger = fake.add_user(email="stranger@example.test")
    with pytest.raises(Exception) as caught:
        await client.get_messages(stranger, conversation_id)
    assert getattr(caught.value, "status", None) == 403
    # The provisioning admin may act on anyone's conversation.
    await client.finish_conversation(fake.admin_user_id, conversation_id)


# -- secrets stay out of logs and errors --------------------------------------------


async def test_no_secrets_in_logs_or_errors(
    fake: FakeAmigo, client: AmigoClient, user: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    conversation_id = await start_conversation(client, user)
    await collect(client.interact(user, conversation_id, "hello"))
    fake.fail_next("interact", status=401)
    await collect(client.interact(user, conversation_id, "hello"))
    fake.fail_next("finish", status=429, retry_after=3)
    try:
        await client.finish_conversation(user, conversation_id)
    except AmigoRateLimited as exc:
        errors.append(exc)
    fake.queue_reply(Reply(cut_after=1))
    _, cut = await collect_until_error(client.interact(user, conversation_id, "x"))
    assert isinstance(cut, AmigoStreamCut)
    errors.append(cut)
    async with AmigoClient(fake.url, fake.organization_id, "bad-key", "bad-id") as wrong:
        try:
            await wrong.get_conversations(user)
        except Exception as exc:
            errors.append(exc)
    tokens = {
        c.headers["authorization"].split()[1] for c in fake.calls if "authorization" in c.headers
    }
    secrets = {fake.api_key, fake.api_key_id, "bad-key", *tokens}
    assert len(tokens) == 2
    texts = [caplog.text, repr(client), *(str(e) for e in errors), *(repr(e) for e in errors)]
    texts += [getattr(e, "body", "") for e in errors]
    for secret in secrets:
        for text in texts:
            assert secret not in text
    assert "slackbot.amigo" in {r.name for r in caplog.records}


async def test_concurrent_streams_in_different_conversations(
    fake: FakeAmigo, client: AmigoClient
) -> None:
    users = [fake.add_user(email=f"u{i}@example.test") for i in range(4)]
    conversations = await asyncio.gather(*(start_conversation(client, u) for u in users))
    results = await asyncio.gather(
        *(
            collect(client.interact(u, c, f"hi {u}"))
            for u, c in zip(users, conversations, strict=True)
        )
    )
    for u, events in zip(users, results, strict=True):
        assert isinstance(events[-1], InteractionComplete)
        assert events[-1].full_message == f"Echo: hi {u}"
    assert fake.conflicts == 0
