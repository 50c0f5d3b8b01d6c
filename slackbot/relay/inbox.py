"""Where a user's Slack message enters the relay, and what becomes of it.

The message is claimed in the database (by team, channel and ts) before
anything is sent to Amigo: a redelivered event, or the `app_mention` and
`message` pair Slack sends for one post, finds the claim taken and stops.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from slackbot.relay.ports import SlackPort
from slackbot.relay.turns import TurnRunner
from slackbot.slack import messages
from slackbot.store.models import ConversationState
from slackbot.store.repo import Store, ThreadKey

log = logging.getLogger("slackbot.inbox")


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A person's message, with Slack markup already turned into plain text."""

    team_id: str
    channel_id: str
    user_id: str
    ts: str
    thread_ts: str | None
    text: str
    mentions_bot: bool
    is_dm: bool
    event_id: str | None = None

    @property
    def thread(self) -> ThreadKey:
        return ThreadKey(self.team_id, self.channel_id, self.thread_ts or self.ts)

    @property
    def top_level(self) -> bool:
        return self.thread_ts is None or self.thread_ts == self.ts


class Routed(StrEnum):
    """What happened to a message (returned for logs and tests)."""

    DUPLICATE = "duplicate"
    STARTED = "started"
    QUEUED = "queued"
    NOT_OWNER = "not-owner"
    THREAD_FINISHED = "thread-finished"
    IGNORED = "ignored"


class Inbox:
    def __init__(self, store: Store, slack: SlackPort, runner: TurnRunner) -> None:
        self._store = store
        self._slack = slack
        self._runner = runner

    async def receive(self, message: IncomingMessage) -> Routed:
        if message.event_id is not None and not await self._store.claim_event(message.event_id):
            return Routed.DUPLICATE
        thread = message.thread
        conversation = await self._store.open_conversation(thread)
        if conversation is None and self._starts_conversation(message):
            claimed = await self._store.claim_start(
                thread, ts=message.ts, user_id=message.user_id, text=message.text
            )
            if claimed is not None:
                self._runner.kick(thread)
                return Routed.STARTED
            # Lost a race: the message was claimed, or the thread was just opened.
            conversation = await self._store.open_conversation(thread)
        if conversation is None:
            return await self._outside_conversation(message)
        if message.user_id != conversation.owner_user_id:
            if await self._store.claim_hint(thread, message.user_id, "not-owner"):
                await self._slack.post_ephemeral(
                    message.channel_id,
                    message.user_id,
                    messages.not_owner_hint(conversation.owner_user_id),
                    thread.thread_ts,
                )
            return Routed.NOT_OWNER
        turn = await self._store.claim_reply(
            conversation, ts=message.ts, user_id=message.user_id, text=message.text
        )
        if turn is None:
            return Routed.DUPLICATE
        self._runner.kick(thread)
        return Routed.QUEUED

    @staticmethod
    def _starts_conversation(message: IncomingMessage) -> bool:
        return message.mentions_bot or (message.is_dm and message.top_level)

    async def _outside_conversation(self, message: IncomingMessage) -> Routed:
        """A reply in a thread with no open conversation."""
        if message.top_level:
            return Routed.IGNORED
        latest = await self._store.latest_conversation(message.thread)
        if latest is None or latest.state != ConversationState.FINISHED:
            return Routed.IGNORED
        await self._slack.post_ephemeral(
            message.channel_id,
            message.user_id,
            messages.thread_finished_hint(),
            message.thread.thread_ts,
        )
        return Routed.THREAD_FINISHED
