"""How an agent reply appears in Slack while Amigo is still writing it.

:class:`ReplySink` is the seam: the turn runner feeds it statuses, the agent's
activity, pieces and the final message, and does not care how they reach Slack.
:class:`EditingReply` posts a placeholder and edits it in place (`chat.update`);
:mod:`slackbot.relay.streaming` has the writer on Slack's native streaming and the
one that posts the whole answer at the end; :mod:`slackbot.relay.writers` picks one
per reply.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from slackbot.relay.budgets import Budgets
from slackbot.relay.ports import Blocks, SlackPort, SlackRefused, SlackUnreachable
from slackbot.ui import messages
from slackbot.ui.activity import Activity, placeholder
from slackbot.ui.render import fallback_text, markdown_blocks, reply_body
from slackbot.ui.split import split_reply

log = logging.getLogger("slackbot.stream")


class ReplySink(Protocol):
    reply_ts: str | None
    first_text_at: float | None
    """When (epoch seconds) the reply's first text became visible, if it did."""
    writer: str
    """How it reaches Slack: "stream", "edit" or "post"."""
    on_message: Callable[[str], Awaitable[None]] | None
    """Told the ts of the reply's first message when it appears after :meth:`open`
    (a native stream starts with its first text), so that it is saved."""

    @property
    def text(self) -> str:
        """The agent's text that arrived so far."""
        ...

    async def open(self) -> str | None:
        """Show a sign of life (a placeholder, or the thread's status) or take over the
        reply's message, when it has one; returns the ts of the reply's first message
        when there is one yet. Raises when Slack refuses the placeholder."""
        ...

    async def status(self, text: str) -> None:
        """A short status from the app (Slack markup), shown until the text starts."""
        ...

    async def activity(self, activity: Activity) -> None:
        """What the agent is doing now, shown until the text starts."""
        ...

    async def append(self, piece: str) -> None: ...

    async def complete(self, full_message: str, footer: Blocks | None = None) -> bool:
        """Make the reply equal ``full_message``; the last message gets ``footer``.
        False when Slack did not take the final write."""
        ...

    async def close_with_notice(self, notice: str, footer: Blocks | None = None) -> bool:
        """End the reply with what arrived so far followed by ``notice``.
        False when Slack did not take the final write."""
        ...


class EditingReply:
    """A reply written by editing the placeholder, one edit in flight at a time.

    Edits are at least ``min_interval`` seconds apart and, when budgets are given,
    within the workspace's `chat.update` budget (waited for before the text is read,
    so that an edit that waited carries everything that arrived meanwhile). Text that
    outgrows one message continues in new messages in the same thread. ``existing``:
    the reply already has these messages (a native stream handed over to editing).
    """

    writer = "edit"

    def __init__(
        self,
        slack: SlackPort,
        channel: str,
        thread_ts: str,
        *,
        min_interval: float = 1.0,
        budgets: Budgets | None = None,
        clock: Callable[[], float] = time.monotonic,
        reply_ts: str | None = None,
        existing: list[str] | None = None,
    ) -> None:
        self._slack = slack
        self._channel = channel
        self._thread_ts = thread_ts
        self._min_interval = min_interval
        self._budgets = budgets
        self._clock = clock
        self._text = ""
        self._status = messages.THINKING
        self._notice = ""
        self._footer: Blocks | None = None
        self._closing = False
        self._dirty = asyncio.Event()
        self._last_edit = 0.0
        self._message_ts: list[str] = existing or ([reply_ts] if reply_ts else [])
        self._shown: list[tuple[str, bool]] = [("", False)] * len(self._message_ts)
        reply_ts = reply_ts or (self._message_ts[0] if self._message_ts else None)
        self._writer: asyncio.Task[None] | None = None
        self._final_written = False
        self.reply_ts: str | None = reply_ts
        """The reply's first message: posted by :meth:`open`, or given (a turn sent again)."""
        self.first_text_at: float | None = None
        self.on_message: Callable[[str], Awaitable[None]] | None = None
        self.edits = 0

    @property
    def text(self) -> str:
        return self._text

    async def open(self) -> str | None:
        reply_ts = await self._post_placeholder()
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_loop(), name="reply-writer")
        return reply_ts

    async def _post_placeholder(self) -> str:
        if self.reply_ts is None:
            body = self._status
            self.reply_ts = await self._slack.post_message(
                self._channel, self._thread_ts, fallback_text(body), markdown_blocks(body)
            )
            self._message_ts = [self.reply_ts]
            self._shown = [(body, False)]
            # The placeholder was a post, not an edit: the first edit may follow at once.
        return self.reply_ts

    async def status(self, text: str) -> None:
        if not self._text and text != self._status:
            self._status = text
            self._dirty.set()

    async def activity(self, activity: Activity) -> None:
        await self.status(placeholder(activity))

    async def append(self, piece: str) -> None:
        if piece:
            self._text += piece
            self._dirty.set()

    def take_over(self, text: str, status: str, shown: str | None = None) -> None:
        """Go on from where another writer left the reply (``shown``: what its first
        message reads now, when that is known)."""
        self._text = text
        self._status = status
        if shown is not None and self._shown:
            self._shown[0] = (shown, False)
        if text:
            self._dirty.set()

    async def complete(self, full_message: str, footer: Blocks | None = None) -> bool:
        self._text = full_message
        return await self._finish(footer)

    async def close_with_notice(self, notice: str, footer: Blocks | None = None) -> bool:
        self._notice = notice
        return await self._finish(footer)

    async def _finish(self, footer: Blocks | None) -> bool:
        self._footer = footer
        self._closing = True
        self._dirty.set()
        if self._writer is None:
            try:
                await self.open()
            except (SlackRefused, SlackUnreachable) as exc:
                log.warning("could not post the reply in %s: %s", self._channel, exc)
                return False
        assert self._writer is not None
        await self._writer
        return self._final_written

    def _body(self) -> str:
        """What the messages say: the reply so far (or the status while there is none)."""
        if not self._text and not self._notice:
            return self._status
        return reply_body(self._text, self._notice)

    async def _write_loop(self) -> None:
        while True:
            await self._dirty.wait()
            wait = self._last_edit + self._min_interval - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            prepaid = self._budgets is not None and bool(self._message_ts)
            if self._budgets is not None and self._message_ts:
                first = bool(self._text) and self.first_text_at is None
                await self._budgets.acquire(
                    "chat.update", self._channel, final=self._closing, first=first
                )
            self._dirty.clear()
            closing = self._closing
            shown = await self._show(self._body(), final=closing, prepaid=prepaid)
            if shown and self._text and self.first_text_at is None:
                self.first_text_at = time.time()
            self._last_edit = self._clock()
            if closing:
                self._final_written = shown
                return

    async def _show(self, body: str, *, final: bool, prepaid: bool = False) -> bool:
        """Make the messages read ``body``; False when Slack refused a write.
        ``prepaid``: one `chat.update` was already taken from the budget."""
        chunks = split_reply(body)
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            footer = self._footer if (final and last) else None
            blocks = markdown_blocks(chunk) + (footer or [])
            key = (chunk, bool(footer))
            try:
                if i < len(self._message_ts):
                    if self._shown[i] != key:
                        await self._slack.update_message(
                            self._channel,
                            self._message_ts[i],
                            fallback_text(chunk),
                            blocks,
                            final=final,
                            prepaid=prepaid,
                        )
                        prepaid = False
                        self._shown[i] = key
                        self.edits += 1
                else:
                    ts = await self._slack.post_message(
                        self._channel, self._thread_ts, fallback_text(chunk), blocks, final=final
                    )
                    self._message_ts.append(ts)
                    self._shown.append(key)
            except (SlackRefused, SlackUnreachable) as exc:
                # Slack's own retries (rate limits, connection errors) have run out; the
                # next edit carries the whole text again, and the last one, if it fails,
                # is the delivery's to make.
                log.warning("could not write reply part %d in %s: %s", i, self._channel, exc)
                return False
        # A final text shorter than what streamed (rare) leaves stale continuations.
        while final and len(self._message_ts) > len(chunks):
            ts = self._message_ts.pop()
            self._shown.pop()
            try:
                await self._slack.delete_message(self._channel, ts)
            except (SlackRefused, SlackUnreachable) as exc:
                log.warning("could not delete a stale reply part in %s: %s", self._channel, exc)
        return True
