"""A reply streamed natively (`chat.startStream`, `appendStream`, `stopStream`) through
slack_sdk's streaming helper, each call taken from the workspace's budget first."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.messages.chunk import Chunk, TaskUpdateChunk
from slack_sdk.web.async_chat_stream import AsyncChatStream

from slackbot.relay.budgets import SlackBudgets
from slackbot.relay.ports import Blocks
from slackbot.slack.failures import failures
from slackbot.ui.activity import Task


def _task_chunks(tasks: Sequence[Task]) -> list[Chunk]:
    return [TaskUpdateChunk(id=t.id, title=t.title, status=t.state) for t in tasks]


class NativeStream:
    """One reply message streamed with slack_sdk's :class:`AsyncChatStream`.

    The helper buffers text until ``buffer_size`` characters; the reply's writer already
    paces its appends by the budget, so each append here is sent at once (size 1).
    ``reserved``: the caller already took the start and stop calls from the budget.
    """

    def __init__(
        self, stream: AsyncChatStream, budgets: SlackBudgets, channel: str, *, reserved: bool
    ) -> None:
        self._stream = stream
        self._budgets = budgets
        self._channel = channel
        self._reserved = reserved

    @property
    def ts(self) -> str | None:
        return self._stream.ts

    async def append(self, markdown: str, tasks: Sequence[Task] = ()) -> None:
        method = "chat.appendStream" if self._stream.ts else "chat.startStream"
        if method == "chat.appendStream" or not self._reserved:
            await self._budgets.acquire(method, self._channel)
        with failures(method):
            await self._stream.append(
                markdown_text=markdown, chunks=_task_chunks(tasks) if tasks else None
            )

    async def stop(
        self, markdown: str = "", blocks: Blocks | None = None, tasks: Sequence[Task] = ()
    ) -> None:
        if not self._reserved:
            await self._budgets.acquire("chat.stopStream", self._channel, final=True)
        with failures("chat.stopStream"):
            await self._stream.stop(
                markdown_text=markdown or None,
                blocks=blocks or None,
                chunks=_task_chunks(tasks) if tasks else None,
            )
