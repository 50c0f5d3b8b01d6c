"""A reply streamed with Slack's native streaming (`chat.startStream` / `appendStream` /
`stopStream`), the thread's status showing the agent at work until the text starts.

A native stream that Slack stops taking (closed it, refused an append, or the text no
longer fits what was streamed) is handed over to an :class:`EditingReply` on the same
messages, which ends the reply by editing them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from slackbot.relay.budgets import Budgets
from slackbot.relay.ports import Blocks, ReplyStream, SlackPort, SlackRefused, SlackUnreachable
from slackbot.relay.posting import StatusReply
from slackbot.relay.stream import EditingReply
from slackbot.ui.activity import Activity, Task
from slackbot.ui.render import reply_body
from slackbot.ui.split import split_reply

log = logging.getLogger("slackbot.stream")


class StreamRefused(Protocol):
    def __call__(self, error: str) -> None:
        """Slack refused native streaming in this workspace (``error``)."""
        ...


STREAMING_OFF = frozenset(
    {
        "feature_not_enabled",
        "method_deprecated",
        "unknown_method",
        "not_allowed_token_type",
        "missing_scope",
        "no_permission",
        "messages_tab_disabled",
        "channel_type_not_supported",
    }
)
"""Errors of `chat.startStream` that say the workspace does not stream; not tried again."""


class StreamingReply(StatusReply):
    """A reply streamed natively, appends at most every ``min_interval`` seconds and
    within the workspace's `chat.appendStream` budget (an append that waited carries
    everything that arrived meanwhile). The start and stop calls of the first message
    were taken from the budget when this writer was chosen."""

    writer = "stream"

    def __init__(
        self,
        slack: SlackPort,
        channel: str,
        thread_ts: str,
        recipient: str,
        *,
        budgets: Budgets,
        open_stream: Callable[[bool], ReplyStream],
        on_refused: StreamRefused,
        editor: Callable[[list[str]], EditingReply],
        min_interval: float = 1.0,
        show_tasks: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(slack, channel, thread_ts, budgets=budgets, clock=clock)
        self._recipient = recipient
        self._open_stream = open_stream
        self._on_refused = on_refused
        self._editor = editor
        self._min_interval = min_interval
        self._show_tasks = show_tasks
        self._stream: ReplyStream | None = None
        self._streamed = ""
        """What the current (last) message holds so far."""
        self._messages: list[str] = []
        self._tasks: dict[str, Task] = {}
        self._dirty = asyncio.Event()
        self._lock = asyncio.Lock()
        self._writer: asyncio.Task[None] | None = None
        self._handed: EditingReply | None = None
        self._last = 0.0
        self.appends = 0

    async def open(self) -> str | None:
        self._want_status()
        self._writer = asyncio.create_task(self._write_loop(), name="reply-stream")
        return None

    async def status(self, text: str) -> None:
        if self._handed is not None:
            await self._handed.status(text)
        else:
            await super().status(text)

    async def activity(self, activity: Activity) -> None:
        if self._handed is not None:
            await self._handed.activity(activity)
            return
        if self._show_tasks and activity.task is not None:
            self._tasks[activity.task.id] = activity.task
            self._dirty.set()
        await super().activity(activity)

    async def append(self, piece: str) -> None:
        if self._handed is not None:
            await self._handed.append(piece)
            return
        self._text += piece
        self._dirty.set()

    async def complete(self, full_message: str, footer: Blocks | None = None) -> bool:
        self._text = full_message
        return await self._finish(reply_body(full_message), footer, full_message, "")

    async def close_with_notice(self, notice: str, footer: Blocks | None = None) -> bool:
        return await self._finish(reply_body(self._text, notice), footer, None, notice)

    # -- while Amigo writes ------------------------------------------------------------

    async def _write_loop(self) -> None:
        while self._handed is None:
            await self._dirty.wait()
            wait = self._last + self._min_interval - self._clock()
            if wait > 0 and self._stream is not None:
                await asyncio.sleep(wait)
            async with self._lock:
                if self._handed is not None:
                    return
                if self._stream is not None and self._stream.ts is not None:
                    await self._budgets.acquire("chat.appendStream", self._channel)
                self._dirty.clear()
                await self._write(reply_body(self._text))
                self._last = self._clock()

    async def _write(self, body: str) -> None:
        """Stream what is new of the current message (the last of ``body``'s chunks)."""
        chunks = split_reply(body) if body else [""]
        index = len(self._messages)
        target = chunks[index] if index < len(chunks) else ""
        if not target.startswith(self._streamed):
            return  # the text changed under what was streamed: the end sorts it out
        if len(chunks) > index + 1 and self._stream is not None:
            await self._roll_over(target)  # this message is full: the rest goes on in a new one
            return
        tasks = list(self._tasks.values())
        delta = target[len(self._streamed) :]
        if not delta and not tasks:
            return
        self._tasks.clear()
        await self._send(delta, tasks)

    async def _send(self, delta: str, tasks: list[Task]) -> None:
        if self._stream is None:
            self._stream = self._open_stream(not self._messages)
        starting = self._stream.ts is None
        if starting:
            await self._text_starts()
        try:
            await self._stream.append(delta, tasks)
        except (SlackRefused, SlackUnreachable) as exc:
            await self._append_failed(exc, starting)
            return
        self.appends += 1
        if starting:
            await self._first_message(self._stream.ts)
        self._streamed += delta
        if self._streamed and self.first_text_at is None:
            self.first_text_at = time.time()

    async def _roll_over(self, whole: str) -> None:
        assert self._stream is not None
        try:
            await self._stream.stop(whole[len(self._streamed) :])
        except (SlackRefused, SlackUnreachable) as exc:
            await self._append_failed(exc, self._stream.ts is None)
            return
        if self._stream.ts:
            self._messages.append(self._stream.ts)
        self._stream, self._streamed = None, ""
        self._dirty.set()

    async def _append_failed(self, exc: SlackRefused | SlackUnreachable, starting: bool) -> None:
        if starting and isinstance(exc, SlackRefused) and exc.error in STREAMING_OFF:
            log.info("Slack does not stream here (%s); editing the reply instead", exc.error)
            self._on_refused(exc.error)
        else:
            log.warning("reply stream in %s: %s; editing it from here", self._channel, exc)
        await self._hand_over(stop=not starting and not _closed(exc))

    async def _hand_over(self, *, stop: bool) -> EditingReply:
        """Go on by editing the messages streamed so far (or a new placeholder)."""
        if self._handed is None:
            await self._text_starts()  # the editor's placeholder takes over from the status
            if stop:
                await self._stop_quietly()
            current = self._stream.ts if self._stream is not None else None
            messages = [*self._messages, *([current] if current else [])]
            self._handed = self._editor(messages)
            self._handed.take_over(self._text, self._words and f"_{self._words}_")
            try:
                await self._handed.open()
            except (SlackRefused, SlackUnreachable) as exc:
                # The editor tries again at the end, and the delivery after it.
                log.warning(
                    "no placeholder in %s (%s); the reply comes at the end", self._channel, exc
                )
        return self._handed

    async def _stop_quietly(self) -> None:
        if self._stream is not None and self._stream.ts is not None:
            try:
                await self._stream.stop()
            except (SlackRefused, SlackUnreachable) as exc:
                log.info("could not stop a reply stream in %s: %s", self._channel, exc)

    # -- the end -----------------------------------------------------------------------

    async def _finish(
        self, body: str, footer: Blocks | None, full_message: str | None, notice: str
    ) -> bool:
        if self._writer is not None:
            self._dirty.set()
        async with self._lock:
            if self._writer is not None:
                self._writer.cancel()
            if self._handed is None:
                done = await self._final_write(body, footer)
                if done is not None:
                    return done
            handed = await self._hand_over(stop=False)
        if full_message is not None:
            return await handed.complete(full_message, footer)
        return await handed.close_with_notice(notice, footer)

    async def _final_write(self, body: str, footer: Blocks | None) -> bool | None:
        """End the stream with the rest of ``body``; None: editing must end it instead."""
        chunks = split_reply(body)
        index = len(self._messages)
        if index >= len(chunks) or not chunks[index].startswith(self._streamed):
            await self._stop_quietly()
            return None
        if self._stream is None:
            self._stream = self._open_stream(not self._messages)
        last = index == len(chunks) - 1
        tasks = list(self._tasks.values())
        self._tasks.clear()
        await self._text_starts()
        try:
            await self._stream.stop(
                chunks[index][len(self._streamed) :], footer if last else None, tasks
            )
        except (SlackRefused, SlackUnreachable) as exc:
            log.warning("could not end the reply stream in %s: %s", self._channel, exc)
            if self._stream.ts is None:
                if isinstance(exc, SlackRefused) and exc.error in STREAMING_OFF:
                    self._on_refused(exc.error)
                return await self._post(body, footer)
            return None
        self.reply_ts = self.reply_ts or self._stream.ts
        if self.first_text_at is None and body:
            self.first_text_at = time.time()
        if self._stream.ts:
            self._messages.append(self._stream.ts)
        self._streamed = chunks[index]
        posted = await self._post_chunks(chunks[index + 1 :], footer)
        self._messages += posted or []
        return posted is not None


def _closed(exc: SlackRefused | SlackUnreachable) -> bool:
    return isinstance(exc, SlackRefused) and exc.error == "message_not_in_streaming_state"
