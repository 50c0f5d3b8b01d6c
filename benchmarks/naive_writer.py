"""The naive writer: one `chat.update` per piece of the reply, no pacing, no budget.

Not part of the app: it exists so that the benchmark can show, in one run, what the
app's writers save. ``python -m benchmarks.naive_writer run`` is `amigo-slack run` with
every reply written this way (``SLACK_REPLY_WRITER`` is not read).

Each reply posts its "Thinking…" placeholder and then edits it once for every piece
Amigo streams, inline and at once, and once more at the end (the whole answer with its
menu). Its Slack calls go through a port of their own whose budgets hold nothing back
(:class:`NoBudgets`: every method as if Slack documented no limit for it), so the only
thing between these calls and Slack's 429s is slack_sdk's own retry handler (it waits
each refused request's Retry-After, up to five times). The rest of the app (profiles,
menus, Delivery's fallbacks) keeps the app's own port and budgets.
"""

from __future__ import annotations

import sys

from slackbot import cli
from slackbot.config import Settings
from slackbot.relay.budgets import Budget, SlackBudgets
from slackbot.relay.ports import Blocks, SlackRefused, SlackUnreachable
from slackbot.relay.stream import EditingReply
from slackbot.runtime import Runtime
from slackbot.slack.web_port import WebApiPort


class NoBudgets(SlackBudgets):
    """Budgets that never hold a call back: no method has a budget."""

    def budget(self, method: str, channel: str | None = None) -> Budget | None:
        return None


class EditPerPieceReply(EditingReply):
    """Edits the message for every piece Amigo streams, as soon as it arrives.

    No background writer and no least interval between edits: :meth:`append` makes the
    edit itself. Statuses and the agent's activity are not shown (nothing would write
    them); ``writer`` stays "edit", the kind of writer it is."""

    async def open(self) -> str:
        return await self._post_placeholder()  # no background writer: edits go inline

    async def append(self, piece: str) -> None:
        if piece:
            self._text += piece
            await self._show(self._body(), final=False)

    async def _finish(self, footer: Blocks | None) -> bool:
        try:
            await self.open()
        except (SlackRefused, SlackUnreachable):
            return False  # Delivery shows it instead, as for the app's writers
        self._footer = footer
        return await self._show(self._body(), final=True)


def build(settings: Settings) -> Runtime:
    runtime: Runtime
    ports: list[WebApiPort] = []

    def naive(channel: str, thread_ts: str, reply_ts: str | None, *who: str) -> EditPerPieceReply:
        """The executor's reply factory; ``who``: the person answered (and their workspace),
        which an edited reply does not need."""
        if not ports:  # the app's Slack client (and its retry handlers), without budgets
            ports.append(WebApiPort(runtime.port.client, NoBudgets()))
        return EditPerPieceReply(ports[0], channel, thread_ts, reply_ts=reply_ts)

    runtime = Runtime(settings, replies=naive)
    return runtime


if __name__ == "__main__":
    if sys.argv[1:] != ["run"]:
        raise SystemExit("usage: python -m benchmarks.naive_writer run")
    raise SystemExit(cli.run(build))
