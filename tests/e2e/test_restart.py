"""A process killed mid-reply: after a restart nothing is lost and nothing doubled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from slackbot.sandbox.amigo_fake import FakeAmigo, Reply
from slackbot.sandbox.slack_fake import FakeSlack, message_text
from slackbot.sandbox.slack_sender import SlackSender
from slackbot.ui.blocks import RETRY_ACTION
from tests.databases import query
from tests.e2e.apps import App
from tests.e2e.conftest import ALICE, CHANNEL, SIGNING_SECRET


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeSlack, FakeAmigo]]:
    with FakeSlack() as slack, FakeAmigo() as amigo:
        slack.add_user(ALICE, name="alice", real_name="Alice Liddell", email="alice@example.com")
        yield slack, amigo


def turn_states(database_url: str) -> dict[str, str]:
    return {
        str(text): str(state)
        for text, state in query(database_url, "SELECT text, state FROM turns")
    }


def sent_texts(amigo: FakeAmigo) -> list[str]:
    return [c.form["recorded_message"] for c in amigo.calls_named("interact") if c.form]


async def test_sigkill_mid_reply_then_restart_recovers_exactly_once(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeAmigo], database_url: str
) -> None:
    slack, amigo = fakes
    db = database_url
    app = App(slack, amigo, db, tmp_path)
    await app.start()
    try:
        async with SlackSender(app.url, SIGNING_SECRET, team_id=slack.team_id) as sender:
            ts = await sender.post_mention(ALICE, "<@UBOT> hello")
            await slack.wait_for(lambda s: len(s.thread(CHANNEL, ts, include_root=False)) == 1)
            await slack.wait_for(lambda _: turn_states(db).get("hello") == "done")

            # A slow reply starts streaming, and a second message waits behind it.
            amigo.queue_reply(Reply(text="one two three four five six seven", pieces=7, delay=0.5))
            await sender.post_message(ALICE, "question", thread_ts=ts)
            await slack.wait_for(
                lambda s: "one" in message_text(s.thread(CHANNEL, ts, include_root=False)[-1]),
                description="the slow reply is visible",
            )
            await sender.post_message(ALICE, "waiting message", thread_ts=ts)
            await slack.wait_for(lambda _: turn_states(db).get("waiting message") == "queued")
            await app.kill()

        amigo.queue_reply(Reply(text="Answer to the waiting message.", pieces=2))
        await app.start()
        async with SlackSender(app.url, SIGNING_SECRET, team_id=slack.team_id) as sender:
            await slack.wait_for(
                lambda _: turn_states(db).get("waiting message") == "done", timeout=20
            )
            replies = slack.thread(CHANNEL, ts, include_root=False)
            texts = [message_text(m) for m in replies]
            assert texts[-1] == "Answer to the waiting message."
            interrupted = next(m for m in replies if "interrupted" in message_text(m))
            assert message_text(interrupted).startswith("one")
            assert sent_texts(amigo).count("waiting message") == 1
            assert turn_states(db)["question"] == "interrupted"

            # Its Retry button sends the interrupted message once more, once.
            value = next(
                str(e["value"])
                for b in interrupted.blocks or []
                for e in b.get("elements", [])
                if e.get("action_id") == RETRY_ACTION
            )
            amigo.queue_reply(Reply(text="Answer to the question.", pieces=2))
            payload = sender.block_action_payload(
                ALICE,
                RETRY_ACTION,
                value,
                channel=CHANNEL,
                message_ts=interrupted.ts,
                thread_ts=ts,
            )
            payload["message"] |= {"text": interrupted.text, "blocks": interrupted.blocks}
            await sender.send_payload(payload)
            await sender.send_payload(payload)
            await slack.wait_for(
                lambda s: (
                    message_text(s.thread(CHANNEL, ts, include_root=False)[-1])
                    == "Answer to the question."
                ),
                timeout=20,
            )
            await slack.wait_for(lambda s: s.ephemerals(user=ALICE), description="2nd click")
            assert sent_texts(amigo).count("question") == 2
    finally:
        await app.stop()


async def test_sigterm_past_the_grace_period_marks_the_reply_interrupted(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeAmigo], database_url: str
) -> None:
    slack, amigo = fakes
    app = App(slack, amigo, database_url, tmp_path)
    app.env["SHUTDOWN_GRACE_SECONDS"] = "0.5"
    await app.start()
    try:
        amigo.queue_reply(Reply(text="far too slow " * 10, pieces=10, delay=0.5, kind="create"))
        async with SlackSender(app.url, SIGNING_SECRET, team_id=slack.team_id) as sender:
            ts = await sender.post_mention(ALICE, "<@UBOT> hello")
            await slack.wait_for(
                lambda s: "far" in message_text(s.thread(CHANNEL, ts, include_root=False)[0]),
                description="the reply is streaming",
            )
            await sender.post_message(ALICE, "queued behind it", thread_ts=ts)
            await slack.wait_for(
                lambda _: turn_states(database_url).get("queued behind it") == "queued"
            )
        await app.stop()
        assert app.proc is not None and app.proc.returncode == 0, app.output()
        (reply,) = slack.thread(CHANNEL, ts, include_root=False)
        assert message_text(reply).startswith("far too slow")
        assert "interrupted" in message_text(reply)
        states = turn_states(database_url)
        assert states["hello"] == "interrupted"
        assert states["queued behind it"] == "queued"  # the next start sends it

        amigo.queue_reply(Reply(text="Sent after the restart.", pieces=1))
        await app.start()
        await slack.wait_for(
            lambda s: (
                message_text(s.thread(CHANNEL, ts, include_root=False)[-1])
                == "Sent after the restart."
            ),
            timeout=20,
        )
    finally:
        await app.stop()
