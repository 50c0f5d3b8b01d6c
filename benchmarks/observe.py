"""Which Slack call belongs to which reply, and what each reply showed when.

:class:`Observer` reads the fakes' call records as they grow (both fakes run in the
benchmark's process and stamp every call with ``time.monotonic()``) and files each call
under its :class:`ReplyRecord`: a sign of life, the first text, the whole answer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.script import ThreadScript, TurnScript
from slackbot.sandbox.amigo_fake import FakeAmigo
from slackbot.sandbox.slack_fake import FakeSlack, RecordedCall, message_text
from slackbot.ui.escape import unescape

SET_STATUS = "assistant.threads.setStatus"
POST = "chat.postMessage"
UPDATE = "chat.update"
START = "chat.startStream"
APPEND = "chat.appendStream"
STOP = "chat.stopStream"
DELETE = "chat.delete"
REPLY_METHODS = (SET_STATUS, POST, START, APPEND, STOP, UPDATE, DELETE)
"""The methods a reply is written with, in the order the report lists them."""
STREAM_METHODS = frozenset({START, APPEND, STOP})

POLL_SECONDS = 0.1
"""How often the fakes' records are read to notice that a reply is complete."""
SETTLE_SECONDS = 10.0
"""A reply whose ending write (the answer with its menu, or a notice) was refused with a
429 and that then saw no call for this long is taken as ended without it: the app gave
up retrying (slack_sdk waits at most Retry-After + 1 s between attempts)."""


@dataclass
class ReplyRecord:
    """What was seen of one turn: the person's message and the app's reply to it.

    Every time is ``time.monotonic()`` in this process (the fakes run here too).
    """

    thread: ThreadScript
    turn: int
    script: TurnScript
    sent_at: float | None = None
    acks: list[float] = field(default_factory=list)
    """Seconds each event POST of this message took to be answered."""
    ack_failures: int = 0
    messages: list[str] = field(default_factory=list)
    """The ts of the reply's messages in the thread (posted or streamed), in order."""
    alive_at: float | None = None
    """The first sign of life: a status, a post or a stream in the thread."""
    amigo_opened_at: float | None = None
    """Amigo's first event of the answer's stream (it had the request)."""
    amigo_first_piece_at: float | None = None
    amigo_complete_at: float | None = None
    first_text_at: float | None = None
    final_at: float | None = None
    """The whole answer visible, with the menu under it."""
    notice_at: float | None = None
    """The reply ended with a notice instead (failed or interrupted turn)."""
    ended_other_at: float | None = None
    """The reply ended (its menu came) showing neither the answer nor a notice."""
    last_activity: float | None = None
    ending_refused_at: float | None = None
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(method, "ok" | "429" | "error") of the calls made for this reply."""
    settled: bool = False
    """Taken as ended although its ending write was refused (see SETTLE_SECONDS)."""
    timed_out: bool = False
    alive: asyncio.Event = field(default_factory=asyncio.Event)
    """Set at the first sign of life."""
    done: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the reply has ended: whole answer, notice, or given up (settled)."""

    @property
    def writer(self) -> str:
        """How the reply reached Slack, as seen from its calls: "stream" (it started a
        native stream), "edit" (it edited a message), "post", or "none"."""
        methods = {method for method, _ in self.calls}
        if START in methods:
            return "stream"
        if UPDATE in methods:
            return "edit"
        if POST in methods:
            return "post"
        return "none"

    def seen_alive(self, at: float) -> None:
        if self.alive_at is None:
            self.alive_at = at
        self.alive.set()


def _has_footer(args: dict[str, Any]) -> bool:
    """Whether a write carries the buttons the app puts under a reply that has ended
    (the ⋯ menu, or a Retry button)."""
    blocks = args.get("blocks")
    return isinstance(blocks, list) and any(
        isinstance(b, dict) and b.get("type") == "actions" for b in blocks
    )


def _is_status(text: str) -> bool:
    """The placeholder and other statuses shown before the answer: one italic line."""
    text = text.strip()
    return text.startswith("_") and text.endswith("_") and "\n" not in text


def _shows_agent_text(text: str, answer: str) -> bool:
    """Whether a message reading ``text`` shows some of the agent's answer."""
    head = text.strip()[:40]
    return bool(head) and not _is_status(text) and head in answer


def _is_notice(text: str, answer: str) -> bool:
    """A text that is neither empty, a status, nor part of the answer: a notice (alone,
    or after the part of the answer that arrived), such as "could not start"."""
    body = text.strip()
    return bool(body) and not _is_status(body) and body not in answer


def reads_as(texts: Sequence[str], answer: str) -> bool:
    """Whether a reply's messages (in order) read as ``answer``: one message exactly;
    several (a long answer split) the same but for the whitespace where they split."""
    texts = [t for t in texts if t]
    if len(texts) == 1:
        return texts[0] == answer
    joined = "".join("".join(t.split()) for t in texts)
    return bool(texts) and joined == "".join(answer.split())


def _streamed(args: dict[str, Any]) -> str:
    """The markdown a stream call adds (``markdown_text`` and ``markdown_text`` chunks),
    escaped as sent."""
    parts: list[str] = []
    if isinstance(args.get("markdown_text"), str):
        parts.append(args["markdown_text"])
    chunks = args.get("chunks")
    if isinstance(chunks, str) and chunks:
        try:
            chunks = json.loads(chunks)
        except ValueError:
            chunks = None
    for chunk in chunks if isinstance(chunks, list) else []:
        if isinstance(chunk, dict) and chunk.get("type") == "markdown_text":
            text = chunk.get("text")
            parts.append(text if isinstance(text, str) else "")
    return "".join(parts)


class Observer:
    """Reads the fakes' records as they grow and files each call under its reply.

    A call that names a thread (a post, a stream's start, a status) belongs to the latest
    reply of that thread whose message was sent before the call arrived; a call that names
    a message (an edit, an append, a stop, a delete) to the reply that message belongs to.
    """

    def __init__(self, slack: FakeSlack, amigo: FakeAmigo, records: list[ReplyRecord]) -> None:
        self._slack = slack
        self._amigo = amigo
        self._by_first_piece = {r.script.first_piece: r for r in records}
        self._by_message_id: dict[str, ReplyRecord] = {}
        self._stream_opened: dict[str, float] = {}
        """When the stream now open on each Amigo conversation sent its first event."""
        self._threads: dict[tuple[str, str], list[ReplyRecord]] = {}
        self._by_message: dict[tuple[str, str], ReplyRecord] = {}
        self._raw_stream: dict[tuple[str, str], str] = {}
        """What each streamed message got so far, escaped as sent."""
        self._shown: dict[tuple[str, str], str] = {}
        """What each of the replies' messages reads now."""
        self._records = records
        self._slack_seen = 0
        self._amigo_seen = 0
        self.unmatched: Counter[str] = Counter()
        """Calls of the reply methods that matched no reply, by method."""

    def watch_thread(self, channel: str, root_ts: str, records: list[ReplyRecord]) -> None:
        self._threads[(channel, root_ts)] = records

    async def run(self) -> None:
        while True:
            self.poll()
            await asyncio.sleep(POLL_SECONDS)

    def poll(self) -> None:
        calls = self._slack.calls
        for call in calls[self._slack_seen :]:
            self._on_slack_call(call)
        self._slack_seen = len(calls)
        emitted = self._amigo.emitted
        for item in emitted[self._amigo_seen :]:
            if isinstance(item.event, dict):
                self._on_amigo_event(item.conversation_id, item.event, item.at)
        self._amigo_seen = len(emitted)
        now = time.monotonic()
        for record in self._records:
            if (
                record.ending_refused_at is not None
                and record.last_activity is not None
                and not record.done.is_set()
                and now - record.last_activity > SETTLE_SECONDS
            ):
                record.settled = True
                record.done.set()

    def _in_thread(self, channel: str, thread_ts: str, at: float) -> ReplyRecord | None:
        for record in reversed(self._threads.get((channel, thread_ts), [])):
            if record.sent_at is not None and record.sent_at <= at:
                return record
        return None

    def _reply_of(self, call: RecordedCall) -> tuple[ReplyRecord | None, tuple[str, str] | None]:
        """The reply a call belongs to, and the message it writes (None: not known)."""
        args = call.args
        if call.method == SET_STATUS:
            channel, thread_ts = str(args.get("channel_id")), str(args.get("thread_ts"))
            return self._in_thread(channel, thread_ts, call.at), None
        channel = str(args.get("channel"))
        if call.method in (POST, START):
            record = self._in_thread(channel, str(args.get("thread_ts")), call.at)
            ts = call.response.get("ts") if call.ok else None
            return record, ((channel, str(ts)) if ts else None)
        key = (channel, str(args.get("ts")))
        return self._by_message.get(key), key

    def _on_slack_call(self, call: RecordedCall) -> None:
        if call.method not in REPLY_METHODS:
            return
        record, key = self._reply_of(call)
        if record is None:
            self.unmatched[call.method] += 1
            return
        outcome = "ok" if call.ok else "429" if call.status == 429 else "error"
        record.calls[(call.method, outcome)] += 1
        record.last_activity = call.at
        if call.method == SET_STATUS:
            if call.ok and call.args.get("status"):
                record.seen_alive(call.at)
            return
        answer = record.script.reply_text
        raw = ""
        if call.method in STREAM_METHODS:
            before = self._raw_stream.get(key, "") if key and call.method != START else ""
            raw = before + _streamed(call.args)
            text = unescape(raw)
        elif call.method == DELETE:
            text = ""
        else:
            text = message_text(call.args)
        ending = _has_footer(call.args) or _is_notice(text, answer)
        if not call.ok:
            if call.status == 429 and ending:
                record.ending_refused_at = call.at
            return
        assert key is not None
        if call.method == DELETE:
            if key[1] in record.messages:
                record.messages.remove(key[1])
            self._shown.pop(key, None)
            return
        if call.method in (POST, START):
            record.messages.append(key[1])
            self._by_message[key] = record
            record.seen_alive(call.at)
        if call.method in STREAM_METHODS:
            self._raw_stream[key] = raw
        self._shown[key] = text
        if record.first_text_at is None and _shows_agent_text(text, answer):
            record.first_text_at = call.at
        if ending and not record.done.is_set():
            shown = [self._shown.get((key[0], ts), "") for ts in record.messages]
            if reads_as(shown, answer):
                record.final_at = call.at
            elif _is_notice(text, answer):
                record.notice_at = call.at
            else:
                record.ended_other_at = call.at
            record.done.set()

    def _on_amigo_event(self, conversation_id: str, event: dict[str, Any], at: float) -> None:
        kind = event.get("type")
        message_id = str(event.get("message_id"))
        if kind in ("conversation-created", "user-message-available"):
            self._stream_opened[conversation_id] = at  # one stream at a time per conversation
        elif kind == "new-message" and event.get("sequence_number") == 0:
            record = self._by_first_piece.get(str(event.get("message")))
            if record is not None:
                record.amigo_opened_at = self._stream_opened.get(conversation_id)
                record.amigo_first_piece_at = at
                self._by_message_id[message_id] = record
        elif kind == "interaction-complete":
            record = self._by_message_id.get(message_id)
            if record is not None:
                record.amigo_complete_at = at
