"""EditingReply: ordered, spaced, one-at-a-time edits that end on the full text."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from slackbot.relay.ports import Blocks, Profile
from slackbot.relay.stream import EditingReply
from slackbot.ui.split import MESSAGE_CHAR_LIMIT


class RecordingPort:
    """A SlackPort that records writes and can make each one slow."""

    def __init__(self, write_delay: float = 0.0) -> None:
        self.write_delay = write_delay
        self.messages: dict[str, str] = {}
        self.writes: list[tuple[str, str, str, float]] = []  # (kind, ts, text, at)
        self.in_flight = 0
        self.max_in_flight = 0
        self._next = 0

    async def _write(self, kind: str, ts: str, text: str) -> None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.write_delay)
            self.messages[ts] = text
            self.writes.append((kind, ts, text, time.monotonic()))
        finally:
            self.in_flight -= 1

    @staticmethod
    def _body(text: str, blocks: Blocks | None) -> str:
        for block in blocks or []:
            if block.get("type") == "markdown":
                return str(block["text"])
        return text

    async def post_message(
        self,
        channel: str,
        thread_ts: str | None,
        text: str,
        blocks: Blocks | None = None,
        **_: Any,
    ) -> str:
        self._next += 1
        ts = f"1700000000.{self._next:06d}"
        await self._write("post", ts, self._body(text, blocks))
        return ts

    async def update_message(
        self, channel: str, ts: str, text: str, blocks: Blocks | None = None, **_: Any
    ) -> None:
        await self._write("update", ts, self._body(text, blocks))

    async def delete_message(self, channel: str, ts: str) -> None:
        self.messages.pop(ts, None)

    async def post_ephemeral(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def permalink(self, channel: str, ts: str) -> str:
        return f"https://example.slack.com/archives/{channel}/p{ts.replace('.', '')}"

    async def profile(self, user_id: str) -> Profile:
        return Profile(user_id, "First", "Last", "Display", None)


async def test_edits_are_spaced_ordered_and_never_overlap() -> None:
    port = RecordingPort(write_delay=0.02)
    reply = EditingReply(port, "C1", "1.0", min_interval=0.1)
    await reply.open()
    words = [f"word{i} " for i in range(60)]
    for word in words:
        await reply.append(word)
        await asyncio.sleep(0.005)  # the pace at which pieces arrive, not a wait
    await reply.complete("".join(words))

    updates = [w for w in port.writes if w[0] == "update"]
    assert port.max_in_flight == 1
    assert 2 <= len(updates) < len(words) / 2
    gaps = [b[3] - a[3] for a, b in itertools.pairwise(updates)]
    assert all(gap >= 0.1 - 0.005 for gap in gaps), gaps
    texts = [u[2] for u in updates]
    assert all(len(a) < len(b) for a, b in itertools.pairwise(texts))
    assert port.messages[reply.reply_ts or ""] == "".join(words)


async def test_the_final_text_replaces_what_streamed() -> None:
    port = RecordingPort()
    reply = EditingReply(port, "C1", "1.0", min_interval=0.01)
    await reply.open()
    await reply.append("draft tex")
    await reply.complete("Final text.")
    assert list(port.messages.values()) == ["Final text."]


async def test_a_reply_longer_than_one_message_continues_in_new_messages() -> None:
    port = RecordingPort()
    reply = EditingReply(port, "C1", "1.0", min_interval=0.01)
    await reply.open()
    paragraph = "x" * 1000
    text = "\n\n".join([paragraph] * 9)
    for i in range(0, len(text), 700):
        await reply.append(text[i : i + 700])
    await reply.complete(text)
    parts = list(port.messages.values())
    assert len(parts) == 3
    assert all(len(p) <= MESSAGE_CHAR_LIMIT for p in parts)
    assert "\n\n".join(parts) == text


async def test_a_notice_ends_the_partial_text() -> None:
    port = RecordingPort()
    reply = EditingReply(port, "C1", "1.0", min_interval=0.01)
    await reply.open()
    await reply.append("half of")
    await reply.close_with_notice("It stopped.")
    assert list(port.messages.values()) == ["half of\n\nIt stopped."]


async def test_a_status_shows_only_before_the_text_starts() -> None:
    port = RecordingPort()
    reply = EditingReply(port, "C1", "1.0", min_interval=0.01)
    await reply.open()
    await reply.status("_Thinking… (searching)_")
    await reply.append("Answer")
    await reply.status("_Thinking… (late)_")
    await reply.complete("Answer")
    assert not any("late" in w[2] for w in port.writes)
