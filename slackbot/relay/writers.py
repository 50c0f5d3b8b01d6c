"""Which writer shows a reply: chosen per reply from the workspace's live Slack budgets.

In order of preference:

* ``stream`` — Slack's native streaming, while the workspace streams and the budgets of
  `chat.startStream` and `chat.stopStream` (20 a minute each) have a call to spare; both
  are taken at once, so a started stream can always be stopped;
* ``edit`` — the text posted as soon as it starts, then grown by edits the budget can
  spare, while `chat.update` (50 a minute, shared by every reply) has a call free for the
  final edit of each reply already writing this way;
* ``post`` — under heavy load no partial text at all: the thread's status shows the
  agent working, and the whole answer is posted once Amigo is done.

The last two are one writer (:class:`~slackbot.relay.posting.GrowingReply`): whether a
reply grows is settled when its first text arrives, from the edit budget then; "edit" or
"post" is what the budget said when the reply was chosen.

A reply that already has a message (a turn sent again) is always edited, and with
``SLACK_REPLY_WRITER=edit`` every reply is a placeholder edited in place. The choice and
why are logged at DEBUG and counted in /metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from slackbot.relay import workspace
from slackbot.relay.budgets import Budgets
from slackbot.relay.first_status import FirstStatus
from slackbot.relay.options import StepsShown, WriterMode
from slackbot.relay.ports import SlackPort
from slackbot.relay.posting import GrowingReply, PostingReply, StatusReply
from slackbot.relay.stream import EditingReply, ReplySink
from slackbot.relay.streaming import StreamingReply

log = logging.getLogger("slackbot.writers")


class WriterMeter(Protocol):
    def writer_chosen(self, writer: str, reason: str) -> None: ...


class ReplyWriters:
    """Makes the writer of each reply (the executor's reply factory)."""

    def __init__(
        self,
        slack: SlackPort,
        budgets: Budgets,
        *,
        mode: WriterMode = WriterMode.AUTO,
        steps: StepsShown = StepsShown.STATUS,
        edit_interval: float = 1.0,
        meter: WriterMeter | None = None,
        first_status: FirstStatus | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slack = slack
        self._first_status = first_status
        self._budgets = budgets
        self._mode = mode
        self._steps = steps
        self._edit_interval = edit_interval
        self._meter = meter
        self._clock = clock
        self._growing_in: dict[str, int] = {}
        """Replies writing by edits now, per workspace: each still owes one final edit."""
        self._refusals: dict[str, str] = {}

    @property
    def _growing(self) -> int:
        return self._growing_in.get(workspace.key(), 0)

    @property
    def streaming_refused(self) -> str | None:
        """Slack's error when it refused native streaming in the current workspace (not
        tried there again until the app restarts)."""
        return self._refusals.get(workspace.key())

    def _refused(self, error: str) -> None:
        if self.streaming_refused is None:
            log.warning(
                "Slack refused native streaming in this workspace (%s); replies in %s are "
                "edited in place until the app restarts",
                error,
                workspace.key() or "it",
            )
        self._refusals[workspace.key()] = error

    def choose(self, channel: str, reply_ts: str | None) -> tuple[str, str]:
        """(writer, why) for a new reply in ``channel``."""
        if reply_ts is not None:
            return "edit", "the reply already has a message"
        mode = self._mode
        if mode == WriterMode.EDIT:
            return "edit", "SLACK_REPLY_WRITER=edit"
        if mode == WriterMode.POST:
            return "post", "SLACK_REPLY_WRITER=post"
        if self.streaming_refused is not None:
            if mode == WriterMode.STREAM:
                return "edit", f"Slack refused streaming ({self.streaming_refused})"
        elif self._take_stream_calls(channel):
            return "stream", "stream budgets have room"
        elif mode == WriterMode.STREAM:
            return "edit", "stream budgets are spent"
        # Both other writers post the text once; only the edits decide between them.
        edits = self._budgets.available("chat.update", channel) - self._growing
        if edits >= 1.0:
            return "edit", f"edit budget has room ({edits:.0f} free)"
        return "post", f"edit budget is busy ({edits:.0f} free)"

    def _take_stream_calls(self, channel: str) -> bool:
        start = self._budgets.available("chat.startStream", channel)
        stop = self._budgets.available("chat.stopStream", channel)
        if start < 1.0 or stop < 1.0:
            return False
        return self._budgets.try_take("chat.startStream", channel) and self._budgets.try_take(
            "chat.stopStream", channel
        )

    def __call__(
        self, channel: str, thread_ts: str, reply_ts: str | None, recipient: str, team: str
    ) -> ReplySink:
        reply = self._make(channel, thread_ts, reply_ts, recipient, team)
        if isinstance(reply, StatusReply) and self._first_status is not None:
            reply.early = self._first_status.take(team, channel, thread_ts)
        return reply

    def _make(
        self, channel: str, thread_ts: str, reply_ts: str | None, recipient: str, team: str
    ) -> ReplySink:
        writer, why = self.choose(channel, reply_ts)
        log.debug("reply in %s/%s: %s writer, because %s", channel, thread_ts, writer, why)
        if self._meter is not None:
            self._meter.writer_chosen(writer, why.split(" (")[0])
        if writer == "stream":
            return self._streaming(channel, thread_ts, recipient, team)
        if self._mode == WriterMode.POST:
            return PostingReply(self._slack, channel, thread_ts, budgets=self._budgets)
        if reply_ts is None and self._mode != WriterMode.EDIT:
            growing = self._growing_reply(channel, thread_ts)
            growing.writer = writer
            return growing
        return self._editing(channel, thread_ts, reply_ts)

    def _may_grow(self) -> bool:
        """Whether one more reply may grow by edits (holding back one edit for its end)."""
        if self._budgets.available("chat.update") - self._growing < 1.0:
            return False
        here = workspace.key()
        self._growing_in[here] = self._growing_in.get(here, 0) + 1
        return True

    def _growing_reply(self, channel: str, thread_ts: str) -> GrowingReply:
        here = workspace.key()

        def done() -> None:
            left = self._growing_in.get(here, 0) - 1
            if left > 0:
                self._growing_in[here] = left
            else:
                self._growing_in.pop(here, None)

        return GrowingReply(
            self._slack,
            channel,
            thread_ts,
            budgets=self._budgets,
            editor=lambda messages: self._editing(channel, thread_ts, None, messages),
            min_interval=self._edit_interval,
            may_grow=self._may_grow,
            on_done=done,
            # A partial edit leaves each growing reply its final edit, and one more so that
            # the next reply can start growing too.
            may_edit=lambda: self._budgets.available("chat.update") - self._growing >= 2.0,
            clock=self._clock,
        )

    def _editing(
        self, channel: str, thread_ts: str, reply_ts: str | None, messages: list[str] | None = None
    ) -> EditingReply:
        return EditingReply(
            self._slack,
            channel,
            thread_ts,
            min_interval=self._edit_interval,
            budgets=self._budgets,
            reply_ts=reply_ts,
            existing=messages,
            clock=self._clock,
        )

    def _streaming(self, channel: str, thread_ts: str, recipient: str, team: str) -> StreamingReply:
        return StreamingReply(
            self._slack,
            channel,
            thread_ts,
            recipient,
            budgets=self._budgets,
            open_stream=lambda reserved: self._slack.stream(
                channel, thread_ts, recipient, team, reserved=reserved
            ),
            on_refused=self._refused,
            editor=lambda messages: self._editing(channel, thread_ts, None, messages),
            min_interval=self._edit_interval,
            show_tasks=self._steps == StepsShown.TASKS,
            clock=self._clock,
        )
