"""The naive writer: one `chat.update` per piece of the reply, no pacing, no budget.

Not part of the app: it exists so that the benchmark can show, in one run, what
pacing saves. ``python -m benchmarks.naive_writer run`` is `amigo-slack run` with
replies written this way.
"""

from __future__ import annotations

import sys

from slackbot import cli
from slackbot.config import Settings
from slackbot.relay.ports import Blocks
from slackbot.relay.stream import EditingReply
from slackbot.runtime import Runtime


class EditPerPieceReply(EditingReply):
    """Edits the message for every piece Amigo streams, as soon as it arrives."""

    async def open(self) -> str:
        return await self._post_placeholder()  # no background writer: edits go inline

    async def append(self, piece: str) -> None:
        if piece:
            self._text += piece
            await self._show(self._body(), final=False)
            self.edits += 1

    async def _finish(self, footer: Blocks | None) -> bool:
        await self.open()
        self._footer = footer
        return await self._show(self._body(), final=True)


def build(settings: Settings) -> Runtime:
    runtime: Runtime

    def naive(channel: str, thread_ts: str, reply_ts: str | None) -> EditPerPieceReply:
        return EditPerPieceReply(runtime.port, channel, thread_ts, reply_ts=reply_ts)

    runtime = Runtime(settings, replies=naive)
    return runtime


if __name__ == "__main__":
    if sys.argv[1:] != ["run"]:
        raise SystemExit("usage: python -m benchmarks.naive_writer run")
    raise SystemExit(cli.run(build))
