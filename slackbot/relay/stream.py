"""How an agent reply appears in Slack while Amigo is still writing it.

:class:`ReplySink` is the seam: the turn runner feeds it statuses, pieces and
the final message, and does not care how they reach Slack. :class:`EditingReply`
is the implementation that posts a placeholder and edits it in place
(`chat.update`). A writer built on Slack's native streaming methods
(`chat.startStream` / `appendStream` / `stopStream`) would be a second
implementation of the same protocol.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from slackbot.relay.ports import Blocks, SlackPort, SlackRefused, SlackUnreachable
from slackbot.ui import messages
from slackbot.ui.render import fallback_text, markdown_blocks, reply_body
from slackbot.ui.split import split_reply

log = logging.getLogger("slackbot.stream")


class EditPacer(Protocol):
    """Shares a workspace's edit budget among the replies streaming at once."""

    async def acquire(self, *, final: bool) -> None: ...


class ReplySink(Protocol):
    reply_ts: str | None
    first_text_at: float | None
    """When (epoch seconds) the reply's first text became visible, if it did."""

    @property
    def text(self) -> str:
        """The agent's text that arrived so far."""
        ...

    async def open(self) -> str:
        """Show the placeholder (or take over the reply's message, when it has one);
        returns the ts of the reply's first message. Raises when Slack refuses it."""
        ...

    async def status(self, text: str) -> None:
        """A short status, shown only until the reply's text starts."""
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

    Edits are at least ``min_interval`` seconds apart and, when a pacer is
    given, within the workspace's share of the `chat.update` budget. Text that
    outgrows one message continues in new messages in the same thread.
    """

    def __init__(
        self,
        slack: SlackPort,
        channel: str,
        thread_ts: str,
        *,
        min_interval: float = 1.0,
        pacer: EditPacer | None = None,
        clock: Callable[[], float] = time.monotonic,
        reply_ts: str | None = None,
    ) -> None:
        self._slack = slack
        self._channel = channel
        self._thread_ts = thread_ts
        self._min_interval = min_interval
        self._pacer = pacer
        self._clock = clock
        self._text = ""
        self._status = messages.THINKING
        self._notice = ""
        self._footer: Blocks | None = None
        self._closing = False
        self._dirty = asyncio.Event()
        self._last_edit = 0.0
        self._message_ts: list[str] = [reply_ts] if reply_ts else []
        self._shown: list[tuple[str, bool]] = [("", False)] if reply_ts else []
        self._writer: asyncio.Task[None] | None = None
        self._final_written = False
        self.reply_ts: str | None = reply_ts
        """The reply's first message: posted by :meth:`open`, or given (a turn sent again)."""
        self.first_text_at: float | None = None
        self.edits = 0

    @property
    def text(self) -> str:
        return self._text

    async def open(self) -> str:
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

    async def append(self, piece: str) -> None:
        if piece:
            self._text += piece
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
            if self._pacer is not None:
                await self._pacer.acquire(final=self._closing)
            self._dirty.clear()
            closing = self._closing
            shown = await self._show(self._body(), final=closing)
            if shown and self._text and self.first_text_at is None:
                self.first_text_at = time.time()
            self._last_edit = self._clock()
            if closing:
                self._final_written = shown
                return

    async def _show(self, body: str, *, final: bool) -> bool:
        """Make the messages read ``body``; False when Slack refused a write."""
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
                            self._channel, self._message_ts[i], fallback_text(chunk), blocks
                        )
                        self._shown[i] = key
                        self.edits += 1
                else:
                    ts = await self._slack.post_message(
                        self._channel, self._thread_ts, fallback_text(chunk), blocks
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
