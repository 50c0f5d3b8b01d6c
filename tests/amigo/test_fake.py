"""The fake Amigo's own rules, checked with plain HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from slackbot.amigo import AmigoClient, InteractionComplete, NewMessage
from slackbot.sandbox.amigo_fake import (
    FakeAmigo,
    Reply,
    UploadedFile,
    _files,
    _form_fields,
    _parse_multipart,
    split_text,
)

from .helpers import SERVICE_ID, collect, start_conversation


@pytest.fixture
async def http(fake: FakeAmigo) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{fake.url}/v1/{fake.organization_id}") as http:
        yield http


async def sign_in(http: httpx.AsyncClient, fake: FakeAmigo, user: str) -> dict[str, str]:
    response = await http.post(
        "/user/signin_with_api_key",
        headers={"x-api-key": fake.api_key, "x-api-key-id": fake.api_key_id, "x-user-id": user},
    )
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['id_token']}"}


@pytest.mark.parametrize(
    ("text", "pieces"), [("", 3), ("a", 5), ("hello world", 3), ("abcdefgh", 8), ("xyz" * 50, 7)]
)
def test_split_text_keeps_every_character(text: str, pieces: int) -> None:
    parts = split_text(text, pieces)
    assert "".join(parts) == text
    assert len(parts) == max(1, min(pieces, len(text)))
    if text:
        sizes = [len(p) for p in parts]
        assert max(sizes) - min(sizes) <= 1


def test_multipart_parser_reads_httpx_bodies() -> None:
    text = 'line one\r\nline "two" é\n'
    audio = b"\xff\xfb\x90\xc4\r\n--not-a-boundary\x00\xff"
    request = httpx.Request(
        "POST",
        "http://x/",
        files=[
            ("a", (None, "user-message")),
            ("external_event_message_content", (None, "one")),
            ("b", (None, text)),
            ("repeated", (None, "1")),
            ("repeated", (None, "2")),
            ("file", ("a.mp3", audio, "audio/mpeg")),
        ],
    )
    body = request.read()
    parts = _parse_multipart(request.headers["content-type"], body)
    assert parts is not None
    assert _form_fields(parts) == {
        "a": "user-message",
        "external_event_message_content": ["one"],
        "b": text,
        "repeated": ["1", "2"],
    }
    assert _files(parts) == {"file": UploadedFile("a.mp3", "audio/mpeg", audio)}
    assert _files(parts)["file"].data == audio
    assert _parse_multipart(request.headers["content-type"], body[:-10]) is None
    assert _parse_multipart("application/json", body) is None
    latin = httpx.Request("POST", "http://x/", files={"a": (None, "é".encode("latin-1"))})
    latin_parts = _parse_multipart(latin.headers["content-type"], latin.read())
    assert latin_parts is not None and _form_fields(latin_parts) is None


async def test_paths_are_exact(fake: FakeAmigo, http: httpx.AsyncClient) -> None:
    auth = await sign_in(http, fake, fake.admin_user_id)
    assert (await http.get("/conversation", headers=auth)).status_code == 404
    assert (await http.get("/conversation/", headers=auth)).status_code == 200
    cid = "a" * 24
    assert (await http.post(f"/conversation/{cid}/finish", headers=auth)).status_code == 404
    assert (await http.post(f"/conversation/{cid}/interact/", headers=auth)).status_code == 404


async def test_bearer_token_required(fake: FakeAmigo, http: httpx.AsyncClient) -> None:
    assert (await http.get("/conversation/")).status_code == 401
    bad = {"Authorization": "Bearer made-up"}
    assert (await http.get("/conversation/", headers=bad)).status_code == 401
    fake.token_lifetime = -1
    expired = await sign_in(http, fake, fake.admin_user_id)
    assert (await http.get("/conversation/", headers=expired)).status_code == 401
    assert [c.status for c in fake.calls_named("get_conversations")] == [401, 401, 401]


async def test_sign_in_errors(fake: FakeAmigo, http: httpx.AsyncClient) -> None:
    headers = {"x-api-key": fake.api_key, "x-api-key-id": fake.api_key_id}
    unknown = await http.post(
        "/user/signin_with_api_key", headers={**headers, "x-user-id": "nobody"}
    )
    assert unknown.status_code == 401
    wrong = await http.post(
        "/user/signin_with_api_key",
        headers={**headers, "x-api-key": "nope", "x-user-id": fake.admin_user_id},
    )
    assert wrong.status_code == 401
    missing = await http.post("/user/signin_with_api_key", headers=headers)
    assert missing.status_code == 422
    other_org = await http.post(
        f"{fake.url}/v1/other-org/user/signin_with_api_key",
        headers={**headers, "x-user-id": fake.admin_user_id},
    )
    assert other_org.status_code == 404


async def test_only_admins_create_users(fake: FakeAmigo, http: httpx.AsyncClient) -> None:
    member = fake.add_user(email="m@example.test")
    auth = await sign_in(http, fake, member)
    body = {"first_name": "a", "last_name": "b", "email": "n@example.test", "role_name": "r"}
    assert (await http.post("/user/", json=body, headers=auth)).status_code == 403
    admin = await sign_in(http, fake, fake.admin_user_id)
    assert (await http.post("/user/", json={"first_name": "a"}, headers=admin)).status_code == 422
    created = await http.post("/user/", json=body, headers=admin)
    assert created.status_code == 201
    fake.roles = {"r"}
    body["email"] = "other@example.test"
    body["role_name"] = "unknown-role"
    assert (await http.post("/user/", json=body, headers=admin)).status_code == 404


async def test_request_validation(fake: FakeAmigo, http: httpx.AsyncClient) -> None:
    auth = await sign_in(http, fake, fake.admin_user_id)
    conv = "/conversation/"
    missing_format = await http.post(conv, json={"service_id": SERVICE_ID}, headers=auth)
    assert missing_format.status_code == 422
    bad_service = await http.post(
        conv, params={"response_format": "text"}, json={"service_id": "svc"}, headers=auth
    )
    assert bad_service.status_code == 422
    voice = await http.post(
        conv, params={"response_format": "voice"}, json={"service_id": SERVICE_ID}, headers=auth
    )
    assert voice.status_code == 400
    fake.service_ids = {"b" * 24}
    unknown = await http.post(
        conv, params={"response_format": "text"}, json={"service_id": SERVICE_ID}, headers=auth
    )
    assert unknown.status_code == 404
    not_form = await http.post(
        f"/conversation/{'a' * 24}/interact",
        params={"request_format": "text", "response_format": "text"},
        data={"initial_message_type": "user-message", "recorded_message": "x"},
        headers=auth,
    )
    assert not_form.status_code == 422
    bad_id = await http.post("/conversation/not-hex/finish/", headers=auth)
    assert bad_id.status_code == 422


async def test_tag_rules(fake: FakeAmigo, client: AmigoClient, http: httpx.AsyncClient) -> None:
    user = fake.add_user(email="t@example.test")
    conversation_id = await start_conversation(client, user)
    auth = await sign_in(http, fake, user)
    url = f"/conversation/{conversation_id}/tags/"
    bad_value = await http.post(url, json={"updates": {"k": "no/slash"}}, headers=auth)
    assert bad_value.status_code == 422
    many = {f"t{i}": None for i in range(20)}
    assert (await http.post(url, json={"updates": many}, headers=auth)).status_code == 204
    over = await http.post(url, json={"updates": {"one_more": "x"}}, headers=auth)
    assert over.status_code == 400
    swap = await http.post(
        url, json={"updates": {"one_more": "x"}, "deletes": ["t0"]}, headers=auth
    )
    assert swap.status_code == 204
    assert len(fake.conversation(conversation_id).tags) == 20


async def test_replies_match_in_order(fake: FakeAmigo, client: AmigoClient) -> None:
    user = fake.add_user(email="r@example.test")
    conversation_id = await start_conversation(client, user)
    fake.queue_reply(text="for the other", conversation_id="c" * 24)
    fake.queue_reply(text="for pong", user_text="ping")
    fake.queue_reply(text="first general")
    fake.queue_reply(text="second general")
    texts = []
    for message in ["hello", "ping", "hello"]:
        events = await collect(client.interact(user, conversation_id, message))
        assert isinstance(events[-1], InteractionComplete)
        texts.append(events[-1].full_message)
    assert texts == ["first general", "for pong", "second general"]
    assert [r.text for r in fake.pending_replies()] == ["for the other"]
    with pytest.raises(TypeError):
        fake.queue_reply(Reply(), text="both")


async def test_release_before_the_hold_does_not_block(fake: FakeAmigo, client: AmigoClient) -> None:
    user = fake.add_user(email="h@example.test")
    conversation_id = await start_conversation(client, user)
    reply = fake.queue_reply(text="quick", hold_after=0)
    reply.release()
    events = await collect(client.interact(user, conversation_id, "go"))
    assert isinstance(events[-1], InteractionComplete)


async def test_delay_paces_the_pieces(fake: FakeAmigo, client: AmigoClient) -> None:
    user = fake.add_user(email="d@example.test")
    conversation_id = await start_conversation(client, user)
    fake.queue_reply(text="abcd", pieces=4, delay=0.02)
    events = await collect(client.interact(user, conversation_id, "go"))
    assert [e.message for e in events if isinstance(e, NewMessage)] == ["a", "b", "c", "d"]


async def test_fake_controls(fake: FakeAmigo) -> None:
    with pytest.raises(ValueError):
        fake.fail_next("no-such-endpoint", status=500)
    with pytest.raises(TimeoutError):
        await fake.wait_for(lambda: False, timeout=0.05)
    assert fake.admin_user_id in fake.users
    assert fake.calls == [] and fake.emitted == [] and fake.conflicts == 0
