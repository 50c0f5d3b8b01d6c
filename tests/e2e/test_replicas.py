"""Two app processes on one database: the same guarantees as one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from slackbot.sandbox.amigo_fake import FakeAmigo, Reply
from slackbot.sandbox.slack_fake import FakeSlack, message_text
from slackbot.sandbox.slack_sender import SlackSender
from tests.databases import query
from tests.e2e.apps import App
from tests.e2e.conftest import CHANNEL, SIGNING_SECRET

THREADS = 50
MESSAGES = 4  # the mention and three replies


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeSlack, FakeAmigo]]:
    with FakeSlack() as slack, FakeAmigo() as amigo:
        amigo.default_pieces = 4
        amigo.default_delay = 0.05
        yield slack, amigo


@pytest.fixture
def lease_seconds() -> float:
    """Short, so that a killed replica's threads move on quickly."""
    return 4.0


@pytest.fixture
async def replicas(
    fakes: tuple[FakeSlack, FakeAmigo], database_url: str, tmp_path: Path, lease_seconds: float
) -> AsyncIterator[list[App]]:
    slack, amigo = fakes
    apps = [App(slack, amigo, database_url, tmp_path) for _ in range(2)]
    for app in apps:
        app.env["THREAD_LEASE_SECONDS"] = f"{lease_seconds:g}"
    try:
        for app in apps:  # one after the other: the first applies the migrations
            await app.start()
        yield apps
    finally:
        await asyncio.gather(*(app.stop() for app in apps))


def user_texts(amigo: FakeAmigo) -> dict[str, list[str]]:
    """What each Amigo conversation received from its user, message by message."""
    received: dict[str, list[str]] = {}
    for call in amigo.calls:
        if call.status >= 300:
            continue
        if call.name == "create_conversation" and call.json:
            text = str(call.json["initial_message"])
            received[text.split()[0]] = [text]
        elif call.name == "interact" and call.form:
            parts = call.form["recorded_message"].split("\n\n")
            received.setdefault(parts[0].split()[0], []).extend(parts)
    return received


# Nobody dies here: a lease as long as the default keeps a replica slowed down by a busy
# machine from having its threads taken over while it still runs them.
@pytest.mark.parametrize("lease_seconds", [15.0])
async def test_two_replicas_relay_every_message_once_in_order(
    fakes: tuple[FakeSlack, FakeAmigo], replicas: list[App]
) -> None:
    slack, amigo = fakes
    senders = [SlackSender(app.url, SIGNING_SECRET, team_id=slack.team_id) for app in replicas]
    expected: dict[str, list[str]] = {}
    roots: dict[str, tuple[str, str]] = {}

    async def converse(i: int) -> None:
        user, tag, channel = f"U{i:04d}", f"t{i:03d}", f"C{i:04d}"
        slack.add_user(user, name=user.lower(), real_name=f"User {i}")
        texts = [f"{tag} message {k}" for k in range(MESSAGES)]
        expected[tag] = texts
        first, other = senders[i % 2], senders[(i + 1) % 2]
        mention = first.mention(user, f"<@UBOT> {texts[0]}", channel=channel)
        await first.event(mention, event_id=f"Ev{tag}m")
        await other.event(mention, event_id=f"Ev{tag}m", retry_num=1)  # redelivered elsewhere
        ts = mention["ts"]
        roots[tag] = (channel, ts)
        for k, text in enumerate(texts[1:], start=1):
            event = first.message(user, text, channel=channel, thread_ts=ts)
            target, again = (first, other) if k % 2 else (other, first)
            await target.event(event, event_id=f"Ev{tag}{k}")
            await again.event(event, event_id=f"Ev{tag}{k}", retry_num=1)

    try:
        await asyncio.gather(*(converse(i) for i in range(THREADS)))

        def all_sent() -> bool:
            received = user_texts(amigo)
            return all(len(received.get(tag, [])) == MESSAGES for tag in expected)

        await slack.wait_for(lambda _: all_sent(), timeout=120, description="all messages sent")
        await slack.wait_for(
            lambda _: not query_running(replicas[0]), timeout=60, description="replies done"
        )
    finally:
        await asyncio.gather(*(s.aclose() for s in senders))

    assert user_texts(amigo) == expected  # each message once, in order, per thread
    assert amigo.conflicts == 0
    assert not [c for c in amigo.calls if c.status == 409]
    completes = [e for e in amigo.emitted if isinstance(e.event, dict)]
    finals = {
        str(e.event["full_message"])
        for e in completes
        if e.event.get("type") == "interaction-complete"
    }
    shown = {
        message_text(m)
        for channel, ts in roots.values()
        for m in slack.thread(channel, ts, include_root=False)
    }
    logs = "\n".join(line for app in replicas for line in app.output().splitlines()[-40:])
    assert finals <= shown, logs  # every reply complete in its thread


def query_running(app: App) -> list[tuple[Any, ...]]:
    return query(
        app.database_url,
        "SELECT id FROM turns WHERE state IN ('queued', 'sending', 'streaming', 'unsure') "
        "OR (reply_text IS NOT NULL AND NOT shown)",
    )


async def test_a_killed_replica_s_threads_move_to_the_other_within_the_lease(
    fakes: tuple[FakeSlack, FakeAmigo], replicas: list[App]
) -> None:
    slack, amigo = fakes
    slack.add_user("UKAT", name="kat", real_name="Kat")
    doomed, survivor = replicas
    async with (
        SlackSender(doomed.url, SIGNING_SECRET, team_id=slack.team_id) as to_doomed,
        SlackSender(survivor.url, SIGNING_SECRET, team_id=slack.team_id) as to_survivor,
    ):
        amigo.queue_reply(Reply(text="slow " * 20, pieces=20, delay=0.4, kind="create"))
        ts = await to_doomed.post_mention("UKAT", "<@UBOT> start slowly")
        await slack.wait_for(
            lambda s: "slow" in message_text(s.thread(CHANNEL, ts, include_root=False)[0]),
            description="streaming on the doomed replica",
        )
        # The survivor claims a reply, but the doomed replica holds the thread.
        await to_survivor.post_message("UKAT", "a waiting reply", thread_ts=ts)
        await slack.wait_for(
            lambda _: query(doomed.database_url, "SELECT id FROM turns WHERE state = 'queued'"),
            description="the reply is queued",
        )
        await doomed.kill()
        lease = float(doomed.env["THREAD_LEASE_SECONDS"])
        # The survivor asks Amigo about the cut start: Amigo created the conversation but
        # kept no message, so the first message goes again, as a reply, together with the
        # one that waited behind it; the answer takes the place of the cut one.
        both = "start slowly\n\na waiting reply"
        await slack.wait_for(
            lambda s: (
                [message_text(m) for m in s.thread(CHANNEL, ts, include_root=False)]
                == [f"Echo: {both}"]
            ),
            timeout=lease + 10,
            description="the survivor answers both messages",
        )
        assert len(amigo.calls_named("create_conversation")) == 1
        sent = [c.form["recorded_message"] for c in amigo.calls_named("interact") if c.form]
        assert sent == [both]
