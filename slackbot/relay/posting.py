"""Replies that need no placeholder: the thread's status shows the agent working, and
(:class:`PostingReply`) the whole answer is posted once Amigo is done, so that a reply
costs one status and one post however long Amigo writes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from slackbot.relay.budgets import SlackBudgets
from slackbot.relay.ports import Blocks, SlackPort, SlackRefused, SlackUnreachable
from slackbot.ui.activity import Activity
from slackbot.ui.render import fallback_text, markdown_blocks, reply_body
from slackbot.ui.split import split_reply

log = logging.getLogger("slackbot.stream")

STATUS = "is thinking…"
"""The thread's status while the agent works (Slack shows it after the app's name)."""
THINKING_WORDS = "Thinking…"
STATUS_REFRESH_SECONDS = 90.0
"""Slack drops a status after two minutes without a message; it is set again before."""


class StatusReply:
    """The thread's status as the reply's sign of life, until its text starts."""

    writer = "post"

    def __init__(
        self,
        slack: SlackPort,
        channel: str,
        thread_ts: str,
        *,
        budgets: SlackBudgets,
        clock: Callable[[], float] = time.monotonic,
        status_refresh: float = STATUS_REFRESH_SECONDS,
    ) -> None:
        self._slack = slack
        self._refresh = status_refresh
        self._words_changed = asyncio.Event()
        self._channel = channel
        self._thread_ts = thread_ts
        self._budgets = budgets
        self._clock = clock
        self._text = ""
        self._words = THINKING_WORDS
        self._status_set: str | None = None
        self._status_at = 0.0
        self._status_task: asyncio.Task[None] | None = None
        self._text_started = False
        self.reply_ts: str | None = None
        self.first_text_at: float | None = None
        self.on_message: Callable[[str], Awaitable[None]] | None = None

    @property
    def text(self) -> str:
        return self._text

    async def open(self) -> str | None:
        self._want_status()
        return None

    async def status(self, text: str) -> None:
        self._words = text.strip("_ ") or THINKING_WORDS
        self._want_status()

    async def activity(self, activity: Activity) -> None:
        await self.status(activity.words)

    async def append(self, piece: str) -> None:
        self._text += piece

    def _want_status(self) -> None:
        """Show the latest words soon, without holding up the turn."""
        if self._text_started:
            return
        self._words_changed.set()
        if self._status_task is None or self._status_task.done():
            self._status_task = asyncio.create_task(self._keep_status(), name="reply-status")

    async def _keep_status(self) -> None:
        """Keep the status showing the latest words until the text starts (set again
        before Slack drops it; one call at a time, so quick changes coalesce)."""
        while not self._text_started:
            self._words_changed.clear()
            words = self._words
            if words != self._status_set or self._clock() >= self._status_at + self._refresh:
                try:
                    await self._slack.set_status(self._channel, self._thread_ts, STATUS, (words,))
                except (SlackRefused, SlackUnreachable) as exc:
                    log.info("no status in %s: %s", self._channel, exc)
                    return
                self._status_set, self._status_at = words, self._clock()
            wait = self._status_at + self._refresh - self._clock()
            try:
                await asyncio.wait_for(self._words_changed.wait(), max(wait, 0.0))
            except TimeoutError:
                pass

    def _text_starts(self) -> None:
        """Slack clears the status when the app writes in the thread."""
        self._text_started = True
        if self._status_task is not None:
            self._status_task.cancel()

    async def _post(self, body: str, footer: Blocks | None) -> bool:
        """Post ``body`` as the reply's messages (the footer under the last)."""
        self._text_starts()
        posted = await self._post_chunks(split_reply(body), footer)
        if posted:
            self.reply_ts = self.reply_ts or posted[0]
            if self.first_text_at is None and self._text:
                self.first_text_at = time.time()
        return posted is not None

    async def _post_chunks(self, chunks: list[str], footer: Blocks | None) -> list[str] | None:
        """Post each chunk as a message (the footer under the last); their ts, or None
        when Slack refused one (what is missing is the delivery's to show)."""
        posted: list[str] = []
        for i, chunk in enumerate(chunks):
            blocks = markdown_blocks(chunk) + ((footer or []) if i == len(chunks) - 1 else [])
            try:
                posted.append(
                    await self._slack.post_message(
                        self._channel, self._thread_ts, fallback_text(chunk), blocks, final=True
                    )
                )
            except (SlackRefused, SlackUnreachable) as exc:
                log.warning("could not post reply part %d in %s: %s", i, self._channel, exc)
                return None
        return posted


class PostingReply(StatusReply):
    """No partial text at all: the status shows the agent working, and the whole
    answer is posted once it is complete (within the channel's posting budget)."""

    async def complete(self, full_message: str, footer: Blocks | None = None) -> bool:
        self._text = full_message
        return await self._post(reply_body(full_message), footer)

    async def close_with_notice(self, notice: str, footer: Blocks | None = None) -> bool:
        return await self._post(reply_body(self._text, notice), footer)
