"""SIGKILL at random moments while many people talk; after each restart nothing is lost.

A seeded run: messages in many threads, the app killed at random points (while it saves,
looks people up, creates conversations, streams, writes the final text) and started
again; Slack's deliveries that got no answer are delivered again, as Slack does. In the
end every message Slack got an ack for reached Amigo exactly once (Amigo kept it once),
in its thread's order; every thread shows its answer; and no thread is left with work
nobody does. (Fewer kills than the app's automatic sends of one message: it never
needs a person's Retry here.)
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from slackbot.relay.executor import MAX_SENDS
from slackbot.sandbox.amigo_fake import FakeAmigo
from slackbot.sandbox.slack_fake import FakeSlack, message_text
from slackbot.sandbox.slack_sender import SlackSender
from slackbot.ui.blocks import RETRY_ACTION
from tests.databases import query
from tests.e2e.apps import App
from tests.e2e.conftest import CHANNEL, SIGNING_SECRET

THREADS = 8
MESSAGES = 3
KILLS = 3
assert KILLS < MAX_SENDS


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeSlack, FakeAmigo]]:
    with FakeSlack() as slack, FakeAmigo() as amigo:
        amigo.default_pieces, amigo.default_delay = 6, 0.15  # each answer streams ~1 s
        slack.set_latency("users.info", 0.3)  # looking people up takes a while
        slack.set_latency("chat.update", 0.05)
        yield slack, amigo


class Person:
    """Writes one thread's messages, and delivers each until Slack's ack arrives."""

    def __init__(self, index: int, rng: random.Random, up: asyncio.Event) -> None:
        self.user = f"U{index:04d}"
        self.texts = [f"t{index}-m{k}" for k in range(MESSAGES)]
        self.rng = rng
        self.up = up
        self.root: str | None = None

    async def deliver(self, sender: SlackSender, event: dict[str, object]) -> None:
        event_id = sender.new_event_id()
        attempt = 0
        while True:
            await self.up.wait()
            try:
                retry = attempt or None
                response = await sender.event(event, event_id=event_id, retry_num=retry)
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code < 300:
                return
            attempt += 1
            await asyncio.sleep(0.05)  # Slack's redelivery, compressed in time

    async def talk(self, sender: SlackSender) -> None:
        for k, text in enumerate(self.texts):
            await asyncio.sleep(self.rng.uniform(0.0, 1.2))
            if k == 0:
                event = sender.mention(self.user, f"<@UBOT> {text}", channel=CHANNEL)
                self.root = str(event["ts"])
            else:
                event = sender.message(self.user, text, channel=CHANNEL, thread_ts=self.root)
            await self.deliver(sender, event)


def kept_by_amigo(amigo: FakeAmigo, user_texts: set[str]) -> list[str]:
    """The person's messages Amigo kept, one per message (replies sent as one split)."""
    kept: list[str] = []
    for conversation in amigo.conversations.values():
        for m in conversation.messages:
            if m.message_type == "user-message":
                kept += [part for part in m.message.split("\n\n") if part in user_texts]
    return kept


def conversations_with(amigo: FakeAmigo, texts: list[str]) -> list[str]:
    """The Amigo conversations that kept any of ``texts`` (one thread's messages)."""
    return [
        conversation.id
        for conversation in amigo.conversations.values()
        if any(
            part in texts
            for m in conversation.messages
            if m.message_type == "user-message"
            for part in m.message.split("\n\n")
        )
    ]


def work_left(database_url: str) -> list[tuple[object, ...]]:
    """The turns with work left: id, text, state, attempt, error, reply_text, shown."""
    return query(
        database_url,
        "SELECT id, text, state, attempt, error, reply_text, shown FROM turns"
        " WHERE state IN ('queued', 'sending', 'streaming', 'unsure')"
        " OR (reply_text IS NOT NULL AND NOT shown)",
    )


def sends_of(amigo: FakeAmigo, text: str) -> list[str]:
    """Every call that sent ``text`` to Amigo (alone or joined): its name, status and path
    (which names the conversation)."""
    sent: list[str] = []
    for call in amigo.calls:
        body = call.json if isinstance(call.json, dict) else call.form or {}
        message = str(body.get("initial_message") or body.get("recorded_message") or "")
        if text in message.split("\n\n"):
            sent.append(f"{call.name} {call.status} {call.path}")
    return sent


@pytest.mark.parametrize(("seed", "writer"), [(7, "edit"), (11, "auto")])
async def test_kills_at_random_moments_lose_nothing_and_double_nothing(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeAmigo], database_url: str, seed: int, writer: str
) -> None:
    """``auto``: replies streamed natively (cut streams are ended after a restart), edited
    or posted whole, as the budgets allow."""
    slack, amigo = fakes
    rng = random.Random(seed)
    app = App(slack, amigo, database_url, tmp_path)
    app.env["SLACK_REPLY_WRITER"] = writer
    up = asyncio.Event()
    people = [Person(i, rng, up) for i in range(THREADS)]
    for person in people:
        slack.add_user(person.user, name=person.user.lower(), real_name=f"Person {person.user}")
    await app.start()
    up.set()
    try:
        async with SlackSender(app.url, SIGNING_SECRET, team_id=slack.team_id) as sender:
            talking = asyncio.gather(*(p.talk(sender) for p in people))
            for _ in range(KILLS):
                await asyncio.sleep(rng.uniform(0.3, 1.5))
                up.clear()
                await app.kill()
                await app.start()
                up.set()
            await talking

            try:
                await slack.wait_for(
                    lambda _: not work_left(database_url), timeout=60, description="work done"
                )
            except AssertionError as exc:
                raise AssertionError(f"work left: {work_left(database_url)}") from exc
    finally:
        await app.stop()

    every_text = {t for p in people for t in p.texts}
    kept = kept_by_amigo(amigo, every_text)
    twice = {t: sends_of(amigo, t) for t in every_text if kept.count(t) > 1}
    assert not twice, f"kept twice: {twice}"
    assert sorted(kept) == sorted(every_text)  # each message once
    for person in people:
        # One thread is one Amigo conversation, whatever was killed when.
        assert len(conversations_with(amigo, person.texts)) == 1, person.texts
        mine = [t for t in kept if t in person.texts]
        assert mine == person.texts  # in its thread's order
        assert person.root is not None
        shown = [
            message_text(m)
            for m in slack.thread(CHANNEL, person.root, include_root=False)
            if m.user == slack.bot_user_id
        ]
        assert shown and shown[-1].startswith("Echo: "), shown  # the last answer is visible
        answers = [t for t in shown if t.startswith("Echo: ")]
        assert len(answers) == len(set(answers)), shown  # no answer shown twice
        assert RETRY_ACTION not in str([m.blocks for m in slack.messages(CHANNEL)])
