"""Two replicas on PostgreSQL answer in one channel within Slack's budget for it: they
book their calls together, so that the channel's posting budget is spent once, not
once per replica."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from slackbot.sandbox.amigo_fake import FakeAmigo
from slackbot.sandbox.slack_fake import FakeSlack, message_text
from slackbot.sandbox.slack_sender import SlackSender
from tests.e2e.apps import App
from tests.e2e.conftest import CHANNEL, SIGNING_SECRET

THREADS = 16


@pytest.fixture
async def replicas(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[FakeSlack, list[App]]]:
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share Slack's budgets on PostgreSQL")
    with FakeSlack() as slack, FakeAmigo() as amigo:
        amigo.default_pieces, amigo.default_delay = 3, 0.05
        # Slack's posting budget for a channel: about one a second, with short bursts.
        slack.set_rate_limit("chat.postMessage", 60, 3, per_channel=True)
        apps = [App(slack, amigo, database_url, tmp_path) for _ in range(2)]
        for app in apps:
            app.env["SLACK_REPLY_WRITER"] = "post"  # one post per reply, after its status
        try:
            for app in apps:  # one after the other: the first applies the migrations
                await app.start()
            yield slack, apps
        finally:
            await asyncio.gather(*(app.stop() for app in apps))


async def test_two_replicas_spend_a_channels_posting_budget_once(
    replicas: tuple[FakeSlack, list[App]],
) -> None:
    slack, apps = replicas
    senders = [SlackSender(app.url, SIGNING_SECRET, team_id=slack.team_id) for app in apps]
    roots: list[str] = []
    try:
        for i in range(THREADS):
            user = f"U{i:04d}"
            slack.add_user(user, name=user.lower(), real_name=f"Person {i}")
            roots.append(await senders[i % 2].post_mention(user, f"<@UBOT> question {i}"))

        def answered() -> bool:
            return all(
                any(m.user == slack.bot_user_id for m in slack.thread(CHANNEL, ts)) for ts in roots
            )

        await slack.wait_for(lambda _: answered(), timeout=90, description="every answer")
    finally:
        await asyncio.gather(*(s.aclose() for s in senders))

    logs = "\n".join(app.output()[-3000:] for app in apps)
    assert slack.rate_limited_count() == 0, logs
    for ts in roots:
        [reply] = [m for m in slack.thread(CHANNEL, ts) if m.user == slack.bot_user_id]
        assert message_text(reply).startswith("Echo: ")
