"""Replies that need no placeholder: the thread's status shows the agent working, then

* :class:`GrowingReply`: the text is posted as soon as it starts and grows by edits only
  while the edit budget has calls to spare (never waiting for one); the final edit goes
  first in the budget's queue;
* :class:`PostingReply`: the whole answer is posted once Amigo is done, so that a reply
  costs one status and one post however long Amigo writes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from slackbot.relay.budgets import Budgets
from slackbot.relay.first_status import EarlyStatus
from slackbot.relay.ports import Blocks, SlackPort, SlackRefused, SlackUnreachable
from slackbot.relay.stream import EditingReply
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
        budgets: Budgets,
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
        self._status_sending = False
        self._text_started = False
        self.reply_ts: str | None = None
        self.first_text_at: float | None = None
        self.on_message: Callable[[str], Awaitable[None]] | None = None
        self.early: EarlyStatus | None = None
        """The status set when the person's message was saved, adopted as this reply's first."""

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
        before Slack drops it; one call at a time, so quick changes coalesce).

        The first status is the reply's sign of life: it waits for the channel's status
        budget, ahead of later statuses. Those are extras: sent only when the budget has a
        call to spare right now beyond two kept for other replies' first statuses (a burst
        of new messages in a channel), else the next change or refresh tries again."""
        method = "assistant.threads.setStatus"
        while not self._text_started:
            self._words_changed.clear()
            due = self._clock() >= self._status_at + self._refresh
            if self._words != self._status_set or due:
                if self._status_set is None and await self._adopted():
                    continue
                if self._status_set is None:
                    await self._budgets.acquire(method, self._channel, first=True)
                    paid = True
                else:
                    # An extra keeps two calls in hand for other replies' first statuses.
                    spare = self._budgets.available(method, self._channel) >= 3.0
                    paid = spare and self._budgets.try_take(method, self._channel)
                words = self._words
                if paid and not self._text_started:
                    self._status_sending = True
                    try:
                        await self._slack.set_status(
                            self._channel, self._thread_ts, STATUS, (words,), prepaid=True
                        )
                    except (SlackRefused, SlackUnreachable) as exc:
                        log.info("no status in %s: %s", self._channel, exc)
                        return
                    finally:
                        self._status_sending = False
                    self._status_set, self._status_at = words, self._clock()
            retry = min(1.0, self._refresh)  # words not shown yet: try again soon
            until_due = self._status_at + self._refresh - self._clock()
            wait = retry if self._words != self._status_set else max(until_due, retry)
            try:
                await asyncio.wait_for(self._words_changed.wait(), wait)
            except TimeoutError:
                pass

    async def _adopted(self) -> bool:
        """Whether the status set when the message was saved shows (it is this reply's
        first: the thinking words); later words go as extras."""
        early = self.early
        shown_at = None if early is None else await early.shown()
        self.early = None  # kept while on its way, for the text to settle
        if shown_at is None:
            return False
        self._status_set, self._status_at = THINKING_WORDS, shown_at
        return True

    async def _text_starts(self) -> None:
        """The text is about to appear: end the status first. Slack clears a status when
        the app posts, but one set after that would stay until Slack's timeout."""
        self._text_started = True
        if self.early is not None:
            await self.early.settle()
        task = self._status_task
        if task is None or task.done():
            return
        if not self._status_sending:
            task.cancel()  # waiting for budget or for a change: nothing sent yet
        self._words_changed.set()
        await asyncio.wait([task])  # a status on its way reaches Slack before the text

    async def _first_message(self, ts: str | None) -> None:
        """The reply's first message appeared: keep it, and have it saved."""
        if ts is None or self.reply_ts is not None:
            return
        self.reply_ts = ts
        if self.on_message is not None:
            try:
                await self.on_message(ts)
            except Exception:
                log.exception("could not save the reply's message %s", ts)

    async def _post(self, body: str, footer: Blocks | None) -> bool:
        """Post ``body`` as the reply's messages (the footer under the last)."""
        await self._text_starts()
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


class GrowingReply(StatusReply):
    """Status, then the first text posted at once (when ``may_grow`` says an edit is free
    for the end; else the whole answer is posted at the end), then edits the budget can
    spare; the end is written by an :class:`~slackbot.relay.stream.EditingReply` on the
    same messages (the answer, continuations, the footer)."""

    writer = "edit"

    def __init__(
        self,
        slack: SlackPort,
        channel: str,
        thread_ts: str,
        *,
        budgets: Budgets,
        editor: Callable[[list[str]], EditingReply],
        min_interval: float = 1.0,
        may_grow: Callable[[], bool] = lambda: True,
        on_done: Callable[[], None] | None = None,
        may_edit: Callable[[], bool] = lambda: True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(slack, channel, thread_ts, budgets=budgets, clock=clock)
        self._editor = editor
        self._may_grow = may_grow
        self._growing = False
        self._may_edit = may_edit
        self._min_interval = min_interval
        self._on_done = on_done
        self._shown = ""
        self._dirty = asyncio.Event()
        self._lock = asyncio.Lock()
        self._writer: asyncio.Task[None] | None = None

    async def open(self) -> str | None:
        self._want_status()
        self._writer = asyncio.create_task(self._write_loop(), name="reply-growing")
        return None

    async def append(self, piece: str) -> None:
        self._text += piece
        self._dirty.set()

    async def _write_loop(self) -> None:
        last = 0.0
        while True:
            await self._dirty.wait()
            if self.reply_ts is not None:
                wait = last + self._min_interval - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)
            async with self._lock:
                self._dirty.clear()
                chunks = split_reply(reply_body(self._text))
                if len(chunks) > 1 or chunks[0] == self._shown:
                    continue  # a full message waits for the end; nothing new
                if self.reply_ts is None:
                    # Growing costs an edit at the end: only when one is free for it now;
                    # else the next piece asks again, and the end posts the whole answer.
                    self._growing = self._growing or self._may_grow()
                    if self._growing:
                        await self._first_post(chunks[0])
                elif self._may_edit() and self._budgets.try_take("chat.update", self._channel):
                    await self._edit(chunks[0])
                last = self._clock()

    async def _first_post(self, chunk: str) -> None:
        await self._budgets.acquire("chat.postMessage", self._channel, first=True)
        await self._text_starts()
        try:
            ts = await self._slack.post_message(
                self._channel,
                self._thread_ts,
                fallback_text(chunk),
                markdown_blocks(chunk),
                prepaid=True,
            )
        except (SlackRefused, SlackUnreachable) as exc:
            log.warning("could not post a reply's first text in %s: %s", self._channel, exc)
            return
        self._shown, self.first_text_at = chunk, time.time()
        await self._first_message(ts)

    async def _edit(self, chunk: str) -> None:
        assert self.reply_ts is not None
        try:
            await self._slack.update_message(
                self._channel,
                self.reply_ts,
                fallback_text(chunk),
                markdown_blocks(chunk),
                prepaid=True,
            )
        except (SlackRefused, SlackUnreachable) as exc:
            log.info("a partial edit in %s failed (%s); the end writes it all", self._channel, exc)
            return
        self._shown = chunk

    async def complete(self, full_message: str, footer: Blocks | None = None) -> bool:
        self._text = full_message
        editor = await self._end()
        if editor is None:
            return await self._post(reply_body(full_message), footer)
        return await editor.complete(full_message, footer)

    async def close_with_notice(self, notice: str, footer: Blocks | None = None) -> bool:
        editor = await self._end()
        if editor is None:
            return await self._post(reply_body(self._text, notice), footer)
        return await editor.close_with_notice(notice, footer)

    async def _end(self) -> EditingReply | None:
        """Stop the partial writes; the editor that ends the reply, or None when nothing
        was posted yet (then the whole answer is posted)."""
        async with self._lock:
            if self._writer is not None:
                self._writer.cancel()
        if self._on_done is not None and self._growing:
            self._on_done()
            self._on_done = None
        if self.reply_ts is None:
            return None
        editor = self._editor([self.reply_ts])
        editor.take_over(self._text, "", shown=self._shown)
        await editor.open()
        return editor
