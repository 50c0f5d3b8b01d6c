"""FakeSlack driven through slack_sdk's real AsyncWebClient."""

from __future__ import annotations

import asyncio
import json
import re
import time
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from slackbot.sandbox.slack_fake import (
    MAX_MARKDOWN_CHARS,
    FakeSlack,
    _TokenBucket,
    message_text,
)

TS_RE = re.compile(r"^\d{10}\.\d{6}$")


def md(text: str) -> dict[str, str]:
    return {"type": "markdown", "text": text}


async def test_api_url_and_auth_test(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    assert fake_slack.api_url.startswith("http://127.0.0.1:")
    assert fake_slack.api_url.endswith("/api/")
    resp = await web_client.auth_test()
    assert resp["ok"] is True
    assert resp["user_id"] == "UBOT"
    assert resp["bot_id"] == "BBOT"
    assert resp["team_id"] == "T0TEST"
    assert resp["url"].startswith("https://")
    [call] = fake_slack.calls
    assert call.method == "auth.test"
    assert call.status == 200
    assert call.token == "xoxb-test-token"


async def test_post_update_and_read_back(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    posted = await web_client.chat_postMessage(
        channel="C1", text="thinking…", thread_ts="1700000000.000005", mrkdwn=True
    )
    ts = posted["ts"]
    assert TS_RE.match(ts)
    assert posted["channel"] == "C1"
    assert posted["message"]["user"] == "UBOT"
    assert posted["message"]["bot_id"] == "BBOT"
    assert posted["message"]["thread_ts"] == "1700000000.000005"

    updated = await web_client.chat_update(
        channel="C1", ts=ts, text="fallback", blocks=[md("**Final** answer")]
    )
    assert updated["ts"] == ts
    assert updated["text"] == "fallback"

    msg = fake_slack.message("C1", ts)
    assert msg is not None
    assert msg.user == "UBOT"
    assert msg.text == "fallback"
    assert msg.blocks == [md("**Final** answer")]
    assert msg.visible_text == "**Final** answer"
    assert message_text(msg) == fake_slack.message_text(msg) == "**Final** answer"
    assert [v.text for v in msg.history] == ["thinking…", "fallback"]
    assert [v.text for v in msg.edits] == ["fallback"]
    assert msg.history[0].at <= msg.history[1].at
    assert [m.ts for m in fake_slack.thread("C1", "1700000000.000005")] == [ts]

    # Updating text only keeps the blocks; an empty blocks list removes them.
    await web_client.chat_update(channel="C1", ts=ts, text="v3")
    assert fake_slack.message("C1", ts).blocks == [md("**Final** answer")]  # type: ignore[union-attr]
    await web_client.chat_update(channel="C1", ts=ts, text="v4", blocks=[])
    msg = fake_slack.message("C1", ts)
    assert msg is not None and msg.blocks is None and msg.visible_text == "v4"
    assert len(fake_slack.calls_named("chat.update")) == 3


async def test_ts_unique_and_increasing_under_concurrency(
    fake_slack: FakeSlack, web_client: AsyncWebClient
) -> None:
    results = await asyncio.gather(
        *(web_client.chat_postMessage(channel="C1", text=f"m{i}") for i in range(20))
    )
    ts_list = [r["ts"] for r in results]
    assert len(set(ts_list)) == 20
    stored = [m.ts for m in fake_slack.messages("C1")]
    assert stored == sorted(ts_list, key=lambda t: tuple(int(p) for p in t.split(".")))
    assert all(ts.endswith("0") for ts in ts_list)


async def test_form_and_json_bodies(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    blocks = [md("hello *form*")]
    # Form-encoded, with blocks as a JSON string, as slack_sdk does for data=.
    form = await web_client.api_call(
        "chat.postMessage",
        data={"channel": "C1", "text": "fallback", "blocks": json.dumps(blocks)},
    )
    # JSON body (slack_sdk's chat_postMessage uses json=).
    js = await web_client.chat_postMessage(channel="C1", text="json", blocks=blocks)
    # Query-string only (users.info is a GET with params).
    fake_slack.add_user("U1", real_name="Ada Lovelace")
    await web_client.users_info(user="U1")

    form_call, json_call, get_call = fake_slack.calls
    assert form_call.encoding == "form"
    assert form_call.args["blocks"] == blocks  # decoded from the JSON string
    assert json_call.encoding == "json"
    assert json_call.args["blocks"] == blocks
    assert get_call.encoding == "none"
    assert get_call.args == {"user": "U1"}
    assert fake_slack.message("C1", form["ts"]).blocks == blocks  # type: ignore[union-attr]
    assert fake_slack.message("C1", js["ts"]).visible_text == "hello *form*"  # type: ignore[union-attr]

    # A token in a form field works too (no Authorization header).
    async with httpx.AsyncClient() as http:
        r = await http.post(fake_slack.api_url + "auth.test", data={"token": fake_slack.bot_token})
        assert r.status_code == 200 and r.json()["ok"] is True
        r = await http.post(
            fake_slack.api_url + "chat.postMessage",
            content=b"{not json",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {fake_slack.bot_token}",
            },
        )
        assert r.json() == {"ok": False, "error": "invalid_json"}


async def test_invalid_auth(fake_slack: FakeSlack) -> None:
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=fake_slack.api_url)
    with pytest.raises(SlackApiError) as err:
        await wrong.chat_postMessage(channel="C1", text="hi")
    assert err.value.response.status_code == 200
    assert err.value.response["error"] == "invalid_auth"

    missing = AsyncWebClient(base_url=fake_slack.api_url)
    with pytest.raises(SlackApiError) as err:
        await missing.auth_test()
    assert err.value.response["error"] == "invalid_auth"
    assert fake_slack.messages() == []
    assert [c.status for c in fake_slack.calls] == [200, 200]


async def test_unknown_method(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        await web_client.api_call("reactions.add", json={"channel": "C1", "name": "eyes"})
    assert err.value.response["error"] == "unknown_method"
    assert fake_slack.calls_named("reactions.add")[0].status == 200


async def test_injected_429_surfaces_then_retry_handler_recovers(
    fake_slack: FakeSlack, web_client: AsyncWebClient
) -> None:
    fake_slack.fail_next("chat.postMessage", "ratelimited", retry_after=7)
    with pytest.raises(SlackApiError) as err:
        await web_client.chat_postMessage(channel="C1", text="hi")
    assert err.value.response.status_code == 429
    assert err.value.response["error"] == "ratelimited"
    assert err.value.response.headers["retry-after"] in ("7", ["7"])
    assert fake_slack.rate_limited_count("chat.postMessage") == 1

    retrying = AsyncWebClient(
        token=fake_slack.bot_token,
        base_url=fake_slack.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    fake_slack.fail_next("chat.postMessage", "ratelimited")  # Retry-After: 1
    started = time.monotonic()
    resp = await retrying.chat_postMessage(channel="C1", text="eventually")
    assert resp["ok"] is True
    assert time.monotonic() - started >= 1.0
    statuses = [c.status for c in fake_slack.calls_named("chat.postMessage")]
    assert statuses == [429, 429, 200]
    assert [m.text for m in fake_slack.messages("C1")] == ["eventually"]


async def test_fail_next_other_errors(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    fake_slack.fail_next("chat.update", status=500, times=2)
    fake_slack.fail_next("chat.update", "channel_not_found")
    posted = await web_client.chat_postMessage(channel="C1", text="a")
    for expected_status, expected_error in [
        (500, "internal_error"),
        (500, "internal_error"),
        (200, "channel_not_found"),
    ]:
        with pytest.raises(SlackApiError) as err:
            await web_client.chat_update(channel="C1", ts=posted["ts"], text="b")
        assert err.value.response.status_code == expected_status
        assert err.value.response["error"] == expected_error
    await web_client.chat_update(channel="C1", ts=posted["ts"], text="b")
    assert fake_slack.message("C1", posted["ts"]).text == "b"  # type: ignore[union-attr]

    fake_slack.fail_next("*", "fatal_error")
    with pytest.raises(SlackApiError) as err:
        await web_client.auth_test()
    assert err.value.response["error"] == "fatal_error"
    await web_client.auth_test()


async def test_token_bucket(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    posted = await web_client.chat_postMessage(channel="C1", text="0")
    fake_slack.set_rate_limit("chat.update", per_minute=6, burst=3)
    for i in range(3):
        await web_client.chat_update(channel="C1", ts=posted["ts"], text=str(i + 1))
    with pytest.raises(SlackApiError) as err:
        await web_client.chat_update(channel="C1", ts=posted["ts"], text="4")
    assert err.value.response.status_code == 429
    assert err.value.response["error"] == "ratelimited"
    # 6/minute is one token per 10 s.
    assert err.value.response.headers["retry-after"] in ("10", ["10"])
    assert fake_slack.rate_limited_count("chat.update") == 1
    assert fake_slack.rate_limited_count() == 1
    assert fake_slack.message("C1", posted["ts"]).text == "3"  # type: ignore[union-attr]
    # Other methods are not limited.
    await web_client.chat_postMessage(channel="C1", text="still fine")

    fake_slack.set_rate_limit("chat.update", per_minute=None)
    await web_client.chat_update(channel="C1", ts=posted["ts"], text="5")


def test_token_bucket_refill() -> None:
    bucket = _TokenBucket(capacity=2, per_second=1.0, tokens=2, updated=100.0)
    assert bucket.take(100.0) is None
    assert bucket.take(100.0) is None
    assert bucket.take(100.0) == 1  # whole seconds, at least 1
    assert bucket.take(100.2) == 1
    assert bucket.take(101.0) is None  # refilled
    assert bucket.take(130.0) is None
    assert bucket.take(130.0) is None  # capped at capacity 2
    assert bucket.take(130.0) == 1
    slow = _TokenBucket(capacity=1, per_second=50 / 60, tokens=0, updated=0.0)
    assert slow.take(0.0) == 2  # 1.2 s rounded up


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_block_limits(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    ok = await web_client.chat_postMessage(channel="C1", text="x", blocks=[md("a" * 12000)])

    async def error_of(**kwargs: object) -> str:
        with pytest.raises(SlackApiError) as err:
            await web_client.chat_postMessage(channel="C1", text="x", **kwargs)  # type: ignore[arg-type]
        return str(err.value.response["error"])

    assert await error_of(blocks=[md("a" * (MAX_MARKDOWN_CHARS + 1))]) == "invalid_blocks"
    assert await error_of(blocks=[md("a" * 7000), md("b" * 7000)]) == "invalid_blocks"
    assert await error_of(blocks=[md("a")] * 51) == "invalid_blocks"
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}}
    assert await error_of(blocks=[section]) == "invalid_blocks"
    assert await error_of(blocks=[{"text": "no type"}]) == "invalid_blocks"

    with pytest.raises(SlackApiError) as err:
        await web_client.chat_update(channel="C1", ts=ok["ts"], blocks=[md("z" * 12001)])
    assert err.value.response["error"] == "invalid_blocks"
    assert "response_metadata" in err.value.response.data
    with pytest.raises(SlackApiError) as err:
        await web_client.chat_update(channel="C1", ts=ok["ts"], text="t" * 40001)
    assert err.value.response["error"] == "msg_too_long"
    with pytest.raises(SlackApiError) as err:
        await web_client.api_call(
            "chat.postMessage", data={"channel": "C1", "text": "x", "blocks": "[not json"}
        )
    assert err.value.response["error"] == "invalid_blocks_format"

    # Rejected calls change nothing.
    [only] = fake_slack.messages("C1")
    assert only.ts == ok["ts"] and only.edits == []
    await web_client.chat_update(channel="C1", ts=ok["ts"], text="t" * 40000)


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_update_errors(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        await web_client.chat_update(channel="C1", ts="1700000000.000100", text="x")
    assert err.value.response["error"] == "message_not_found"
    human = fake_slack.add_message("C1", "mine", user="U1")
    with pytest.raises(SlackApiError) as err:
        await web_client.chat_update(channel="C1", ts=human.ts, text="x")
    assert err.value.response["error"] == "cant_update_message"
    with pytest.raises(SlackApiError) as err:
        await web_client.chat_postMessage(channel="C1")
    assert err.value.response["error"] == "no_text"


async def test_permalink_shape(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    root = await web_client.chat_postMessage(channel="C1", text="root")
    reply = await web_client.chat_postMessage(channel="C1", text="reply", thread_ts=root["ts"])

    top = (await web_client.chat_getPermalink(channel="C1", message_ts=root["ts"]))["permalink"]
    assert top == f"https://fake.slack.test/archives/C1/p{root['ts'].replace('.', '')}"

    link = (await web_client.chat_getPermalink(channel="C1", message_ts=reply["ts"]))["permalink"]
    parsed = urlparse(link)
    assert parsed.path == f"/archives/C1/p{reply['ts'].replace('.', '')}"
    assert parse_qs(parsed.query) == {"thread_ts": [root["ts"]], "cid": ["C1"]}
    assert fake_slack.permalink("C1", reply["ts"]) == link

    # Unknown messages (e.g. a human post the fake never saw) still get a link.
    unknown = await web_client.chat_getPermalink(channel="C1", message_ts="1700000000.000105")
    assert unknown["permalink"].endswith("/archives/C1/p1700000000000105")


async def test_threads_delete_and_replies(
    fake_slack: FakeSlack, web_client: AsyncWebClient
) -> None:
    root = fake_slack.add_message("C1", "<@UBOT> help", user="U1")
    fake_slack.ingest_event(
        {"type": "message", "channel": "C1", "user": "U2", "text": "me too", "ts": "1.000005"}
    )
    r1 = await web_client.chat_postMessage(channel="C1", text="one", thread_ts=root.ts)
    fake_slack.ingest_event(
        {
            "type": "message",
            "channel": "C1",
            "user": "U1",
            "text": "thanks",
            "ts": fake_slack._clock.next(),
            "thread_ts": root.ts,
        }
    )
    r2 = await web_client.chat_postMessage(channel="C1", text="two", thread_ts=root.ts)
    await web_client.chat_postMessage(channel="C2", text="elsewhere", thread_ts=root.ts)

    thread = fake_slack.thread("C1", root.ts)
    assert [m.text for m in thread] == ["<@UBOT> help", "one", "thanks", "two"]
    assert [m.user for m in thread] == ["U1", "UBOT", "U1", "UBOT"]
    replies = fake_slack.thread("C1", root.ts, include_root=False)
    assert [m.ts for m in replies if m.user == "UBOT"] == [r1["ts"], r2["ts"]]

    api = await web_client.conversations_replies(channel="C1", ts=root.ts)
    assert [m["text"] for m in api["messages"]] == ["<@UBOT> help", "one", "thanks", "two"]
    history = await web_client.conversations_history(channel="C1")
    assert [m["text"] for m in history["messages"]] == ["<@UBOT> help", "me too"]

    await web_client.chat_delete(channel="C1", ts=r1["ts"])
    assert [m.text for m in fake_slack.thread("C1", root.ts)] == ["<@UBOT> help", "thanks", "two"]
    assert [m.text for m in fake_slack.deleted_messages()] == ["one"]
    with pytest.raises(SlackApiError) as err:
        await web_client.chat_delete(channel="C1", ts=r1["ts"])
    assert err.value.response["error"] == "message_not_found"

    # Reading returns copies: mutating them does not touch the fake.
    thread[0].text = "changed"
    assert fake_slack.message("C1", root.ts).text == "<@UBOT> help"  # type: ignore[union-attr]


async def test_ephemeral_users_conversations_views(
    fake_slack: FakeSlack, web_client: AsyncWebClient
) -> None:
    resp = await web_client.chat_postEphemeral(
        channel="C1", user="U1", text="only you", thread_ts="1700000000.000005"
    )
    assert TS_RE.match(resp["message_ts"])
    [eph] = fake_slack.ephemerals(user="U1")
    assert (eph.channel, eph.text, eph.thread_ts) == ("C1", "only you", "1700000000.000005")
    assert fake_slack.ephemerals(channel="C2") == []
    assert fake_slack.messages() == []

    fake_slack.add_user(
        "U1", name="ada", real_name="Ada Lovelace", email="ada@example.com", is_admin=True
    )
    user = (await web_client.users_info(user="U1"))["user"]
    assert user["id"] == "U1" and user["name"] == "ada" and user["is_admin"] is True
    assert user["is_owner"] is False and user["is_bot"] is False
    assert user["profile"]["email"] == "ada@example.com"
    assert user["profile"]["first_name"] == "Ada" and user["profile"]["last_name"] == "Lovelace"
    assert user["profile"]["real_name"] == "Ada Lovelace"
    bot = (await web_client.users_info(user="UBOT"))["user"]
    assert bot["is_bot"] is True
    with pytest.raises(SlackApiError) as err:
        await web_client.users_info(user="U404")
    assert err.value.response["error"] == "user_not_found"

    info = (await web_client.conversations_info(channel="C1"))["channel"]
    assert info["id"] == "C1" and info["is_channel"] is True and info["is_im"] is False
    fake_slack.add_channel("D1", user="U1")
    assert (await web_client.conversations_info(channel="D1"))["channel"]["is_im"] is True

    view = {"type": "modal", "title": {"type": "plain_text", "text": "Hi"}, "blocks": []}
    opened = await web_client.views_open(trigger_id="123.456.abc", view=view)
    assert opened["view"]["id"].startswith("V")
    await web_client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
    assert [v.method for v in fake_slack.views()] == ["views.open", "views.publish"]
    assert fake_slack.views("views.open")[0].view == view


async def test_streaming(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    started = await web_client.chat_startStream(
        channel="C1",
        thread_ts="1700000000.000005",
        markdown_text="Hel",
        recipient_user_id="U1",
        recipient_team_id="T0TEST",
    )
    ts = started["ts"]
    await web_client.chat_appendStream(channel="C1", ts=ts, markdown_text="lo ")
    msg = fake_slack.message("C1", ts)
    assert msg is not None and msg.streaming and msg.text == "Hello "
    await web_client.chat_stopStream(
        channel="C1", ts=ts, markdown_text="world", blocks=[{"type": "divider"}]
    )
    msg = fake_slack.message("C1", ts)
    assert msg is not None and not msg.streaming and msg.streamed
    assert msg.visible_text == "Hello world"
    assert msg.blocks == [{"type": "divider"}]
    assert [v.text for v in msg.history] == ["Hel", "Hello ", "Hello world"]
    with pytest.raises(SlackApiError) as err:
        await web_client.chat_appendStream(channel="C1", ts=ts, markdown_text="more")
    assert err.value.response["error"] == "message_not_in_streaming_state"

    # slack_sdk's buffered helper (sends markdown_text chunks).
    stream = await web_client.chat_stream(
        channel="C1",
        thread_ts=ts,
        buffer_size=8,
        recipient_user_id="U1",
        recipient_team_id="T0TEST",
    )
    await stream.append(markdown_text="chunk one, ")
    await stream.append(markdown_text="two")
    await stream.stop(markdown_text=".")
    assert stream.ts is not None
    assert fake_slack.message("C1", stream.ts).visible_text == "chunk one, two."  # type: ignore[union-attr]


async def test_latency_and_wait_for(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    fake_slack.set_latency("chat.postMessage", 0.2)
    task = asyncio.create_task(web_client.chat_postMessage(channel="C1", text="slow"))
    assert fake_slack.messages("C1") == []
    msgs = await fake_slack.wait_for(lambda f: f.messages("C1"), timeout=5)
    assert [m.text for m in msgs] == ["slow"]
    resp = await task
    [call] = fake_slack.calls_named("chat.postMessage")
    assert call.response["ts"] == resp["ts"]

    last = await fake_slack.wait_for(lambda f: f.calls_named("chat.postMessage")[-1])
    assert last.ok

    with pytest.raises(AssertionError) as err:
        await fake_slack.wait_for(lambda f: f.calls_named("chat.update")[0], timeout=0.05)
    text = str(err.value)
    assert "chat.update" in text  # the predicate's source
    assert "IndexError" in text
    assert "chat.postMessage -> 200 ok" in text

    with pytest.raises(AssertionError, match="the bot replied"):
        await fake_slack.wait_for(lambda f: False, timeout=0.02, description="the bot replied")


def test_wait_for_sync() -> None:
    with FakeSlack() as fake:
        client = httpx.Client()
        try:
            client.post(
                fake.api_url + "chat.postMessage",
                json={"channel": "C1", "text": "sync"},
                headers={"Authorization": f"Bearer {fake.bot_token}"},
            )
        finally:
            client.close()
        [msg] = fake.wait_for_sync(lambda f: f.messages("C1"), timeout=2)
        assert msg.text == "sync"
        with pytest.raises(AssertionError):
            fake.wait_for_sync(lambda f: f.messages("C2"), timeout=0.03)


async def test_response_url_endpoint(fake_slack: FakeSlack) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.post(
            fake_slack.response_url_base + "/abc123",
            json={"text": "done", "response_type": "ephemeral"},
        )
    assert r.status_code == 200
    [resp] = fake_slack.responses()
    assert resp.args == {"text": "done", "response_type": "ephemeral", "_id": "abc123"}


def test_message_text_helper() -> None:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "sec"}}
    fields = {"type": "section", "fields": [{"type": "mrkdwn", "text": "f1"}]}
    assert message_text({"text": "plain"}) == "plain"
    assert message_text({"text": "fb", "blocks": [section, fields]}) == "sec\nf1"
    assert message_text({"text": "fb", "blocks": [section, md("m1"), md("m2")]}) == "m1\nm2"
    assert message_text({"text": "fb", "blocks": [{"type": "divider"}]}) == "fb"


async def test_reset(fake_slack: FakeSlack, web_client: AsyncWebClient) -> None:
    fake_slack.add_user("U1", real_name="Ada")
    fake_slack.set_rate_limit("chat.postMessage", per_minute=1, burst=1)
    await web_client.chat_postMessage(channel="C1", text="a")
    fake_slack.fail_next("auth.test")
    fake_slack.reset()
    assert fake_slack.calls == [] and fake_slack.messages() == []
    await web_client.auth_test()
    await web_client.chat_postMessage(channel="C1", text="b")
    await web_client.chat_postMessage(channel="C1", text="c")
    assert (await web_client.users_info(user="UBOT"))["user"]["is_bot"] is True
    with pytest.raises(SlackApiError):
        await web_client.users_info(user="U1")


async def test_workspaces_each_have_their_token_budget_and_revocation(
    fake_slack: FakeSlack, web_client: AsyncWebClient
) -> None:
    """Slack counts limits per workspace: one workspace's 429s leave another's calls alone;
    a revoked token is refused, the other workspace's token still works."""
    token = fake_slack.add_workspace("T0OTHER", enterprise_id="E0ORG", bot_user_id="UBOT2")
    other = AsyncWebClient(token=token, base_url=fake_slack.api_url)
    me = await other.auth_test()
    assert (me["team_id"], me["user_id"], me["enterprise_id"]) == ("T0OTHER", "UBOT2", "E0ORG")
    assert fake_slack.workspace_of(token) is not None

    fake_slack.set_rate_limit("chat.update", per_minute=1, burst=1)
    posted = await web_client.chat_postMessage(channel="C1", text="x")
    mine = await other.chat_postMessage(channel="C2", text="y")
    await web_client.chat_update(channel="C1", ts=posted["ts"], text="x2")
    with pytest.raises(SlackApiError):
        await web_client.chat_update(channel="C1", ts=posted["ts"], text="x3")
    await other.chat_update(channel="C2", ts=mine["ts"], text="y2")  # its own budget
    assert len(fake_slack.calls_in("T0OTHER", "chat.update")) == 1

    fake_slack.revoke_token(token)
    with pytest.raises(SlackApiError) as refused:
        await other.auth_test()
    assert refused.value.response["error"] == "token_revoked"
    assert (await web_client.auth_test())["team_id"] == "T0TEST"
