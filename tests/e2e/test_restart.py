"""A process killed mid-reply: after a restart nothing is lost and nothing doubled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from slackbot.sandbox.amigo_fake import FakeAmigo, Reply
from slackbot.sandbox.slack_fake import FakeSlack, message_text
from slackbot.sandbox.slack_sender import SlackSender
from slackbot.ui import messages
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


def committed_user_messages(amigo: FakeAmigo) -> list[str]:
    """What Amigo kept of the person's messages, in every conversation."""
    return [
        m.message
        for conversation in amigo.conversations.values()
        for m in conversation.messages
        if m.message_type == "user-message"
    ]


@pytest.mark.parametrize("writer", ["edit", "stream"])
async def test_sigkill_mid_reply_then_restart_recovers_exactly_once(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeAmigo], database_url: str, writer: str
) -> None:
    """A stream cut by the kill is still open in Slack: it is ended, then answered."""
    slack, amigo = fakes
    db = database_url
    app = App(slack, amigo, db, tmp_path)
    app.env["SLACK_REPLY_WRITER"] = writer
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
        cut = slack.thread(CHANNEL, ts, include_root=False)[-1]

        # After the restart Amigo is asked about the cut reply: it kept nothing of it, so
        # the question goes again, in its place before the waiting message (both as one).
        amigo.queue_reply(Reply(text="Answer to both.", pieces=2))
        await app.start()
        await slack.wait_for(lambda _: turn_states(db).get("waiting message") == "done", timeout=20)
        await slack.wait_for(
            lambda s: message_text(s.message(CHANNEL, cut.ts)) == "Answer to both."
        )
        replies = slack.thread(CHANNEL, ts, include_root=False)
        assert len(replies) == 2  # the cut reply was answered in place
        assert sent_texts(amigo) == ["question", "question\n\nwaiting message"]
        assert committed_user_messages(amigo) == ["hello", "question\n\nwaiting message"]
        assert RETRY_ACTION not in str(replies[-1].blocks)
    finally:
        await app.stop()


async def test_sigterm_past_the_grace_period_pauses_the_reply_and_the_restart_finishes_it(
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
        assert message_text(reply).endswith(messages.REPLY_PAUSED)
        states = turn_states(database_url)
        assert states["hello"] == "unsure"  # the next start asks Amigo before sending
        assert states["queued behind it"] == "queued"

        # Amigo had created the conversation but kept no message: the first message goes
        # again (as a reply, with the one that waited), and the paused reply is answered.
        amigo.queue_reply(Reply(text="Sent after the restart.", pieces=1))
        await app.start()
        await slack.wait_for(
            lambda s: (
                [message_text(m) for m in s.thread(CHANNEL, ts, include_root=False)]
                == ["Sent after the restart."]
            ),
            timeout=20,
        )
        assert len(amigo.calls_named("create_conversation")) == 1
        assert sent_texts(amigo) == ["hello\n\nqueued behind it"]
    finally:
        await app.stop()
