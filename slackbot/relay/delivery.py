"""Making a finished reply visible, whatever Slack says: the reply's last word is saved
before this runs, and a turn is marked shown only once it is.

In order: the reply's own message (and continuations), tried again after short waits
while Slack is unreachable or busy; when Slack refuses the message itself, plain text
in smaller new messages; when Slack refuses the channel, the person's DM with the app,
with a word on why. A write that still fails stays owed, and the sweep tries again
later (after a restart too).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slackbot.relay.ports import Blocks, SlackPort, SlackRefused, SlackUnreachable
from slackbot.ui import messages
from slackbot.ui.render import fallback_text, markdown_blocks
from slackbot.ui.split import split_reply

log = logging.getLogger("slackbot.delivery")

CHANNEL_REFUSED = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "team_access_not_granted",
        "ekm_access_denied",
    }
)
"""Slack will not take messages in this channel: the person must read it elsewhere."""

TRANSIENT = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable"})
"""Slack may take the same write a little later."""

PLAIN_PART_CHARS = 2000
WAITS = (1.0, 4.0)


@dataclass(frozen=True, slots=True)
class Where:
    """Where a reply goes: its thread, its message (if one was posted) and its reader."""

    channel: str
    thread_ts: str
    reply_ts: str | None
    user: str


class Delivery:
    def __init__(
        self,
        slack: SlackPort,
        *,
        waits: tuple[float, ...] = WAITS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._slack = slack
        self._waits = waits
        self._sleep = sleep

    async def show(self, where: Where, body: str, footer: Blocks | None) -> str | None:
        """Make ``body`` (Slack markup) visible; the ts of the message that holds its
        start, "" when it went to the person's DM, None when it could not be shown."""
        for wait in (*self._waits, None):
            try:
                return await self._in_thread(where, body, footer)
            except SlackUnreachable as exc:
                log.warning("could not reach Slack to show a reply: %s", exc)
            except SlackRefused as exc:
                if exc.error in CHANNEL_REFUSED:
                    return await self._elsewhere(where, body, exc.error)
                if exc.error not in TRANSIENT:
                    log.warning("Slack refused a reply (%s); posting it as plain text", exc)
                    return await self._plain(where, body)
                log.warning("Slack is busy (%s); trying the reply again", exc)
            if wait is not None:
                await self._sleep(wait)
        return None

    async def _in_thread(self, where: Where, body: str, footer: Blocks | None) -> str:
        parts = split_reply(body)
        first = where.reply_ts
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            blocks = markdown_blocks(part) + ((footer or []) if last else [])
            if i == 0 and first is not None:
                await self._update(where.channel, first, fallback_text(part), blocks)
            else:
                ts = await self._slack.post_message(
                    where.channel, where.thread_ts, fallback_text(part), blocks
                )
                first = first or ts
        assert first is not None
        return first

    async def _update(self, channel: str, ts: str, text: str, blocks: Blocks) -> None:
        try:
            await self._slack.update_message(channel, ts, text, blocks, final=True)
        except SlackRefused as exc:
            if exc.error != "streaming_state_conflict":
                raise
            # A native stream cut short (the process died mid-reply) is still open:
            # end it, then write the answer into it.
            await self._slack.end_stream(channel, ts)
            await self._slack.update_message(channel, ts, text, blocks, final=True)

    async def _plain(self, where: Where, body: str) -> str | None:
        """Smaller messages of plain text: what Slack takes when it refused the layout."""
        try:
            ts = await self._post_parts(where.channel, where.thread_ts, body)
        except SlackRefused as exc:
            if exc.error in CHANNEL_REFUSED:
                return await self._elsewhere(where, body, exc.error)
            log.warning("Slack refused the plain reply too: %s", exc)
            return None
        except SlackUnreachable:
            return None
        if where.reply_ts is not None:
            try:
                await self._slack.update_message(
                    where.channel, where.reply_ts, messages.REPLY_BELOW, None
                )
            except (SlackRefused, SlackUnreachable):
                log.info("could not point the placeholder at the reply below")
        return ts

    async def _post_parts(self, channel: str, thread_ts: str | None, body: str) -> str:
        first: str | None = None
        for part in split_reply(body, PLAIN_PART_CHARS):
            ts = await self._slack.post_message(channel, thread_ts, part, None)
            first = first or ts
        assert first is not None
        return first

    async def _elsewhere(self, where: Where, body: str, error: str) -> str | None:
        """The channel is closed to the app: the person reads the reply in their DM."""
        log.warning(
            "Slack will not take replies in %s (%s); sending it by DM", where.channel, error
        )
        notice = messages.reply_sent_by_dm(where.channel, error)
        try:
            dm = await self._slack.direct_message(where.user, notice)
            await self._post_parts(dm, None, body)
        except (SlackRefused, SlackUnreachable) as exc:
            log.warning("could not send the reply by DM either: %s", exc)
            return None
        return ""
