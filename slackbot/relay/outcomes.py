"""One table: what each Amigo failure means for a turn, for a control, and for the person.

A turn (a message on its way to Amigo) and a control (finish, tags, suggestions) read
the same rows, so one Amigo answer never gets two different explanations.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from slackbot.amigo.errors import (
    AmigoAuthError,
    AmigoBadRequest,
    AmigoConflict,
    AmigoError,
    AmigoNotFound,
    AmigoRateLimited,
    AmigoStreamCut,
    AmigoTransportError,
    AmigoUnavailable,
)
from slackbot.store.models import TurnState
from slackbot.ui import messages

Operation = Literal["turn", "finish", "tags", "recommend", "insights"]


class Effect(StrEnum):
    """What an Amigo answer means for the conversation."""

    NONE = "none"
    FINISHED = "finished"  # Amigo says it is finished: it is finished here too
    GONE = "gone"  # Amigo does not know it: it is over here too


@dataclass(frozen=True, slots=True)
class Context:
    operation: Operation
    sent: bool = False
    """Whether Amigo may have received the request (a stream began, or bytes left)."""
    starting: bool = False
    """Whether the turn creates the conversation."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """A row of the table.

    ``turn`` is the turn's next state; None means Amigo asked to come back later, so the
    turn is retried, and ``notice`` is what the person reads once the retries run out;
    UNSURE means the app lost track and asks Amigo what it has before anything else.
    ``answer`` is what a person who used a control reads; ``retry``: whether the reply
    offers a Retry button (sending the same message again could help).
    """

    error: type[AmigoError]
    turn: TurnState | None
    notice: str
    answer: str | Callable[[AmigoError], str]
    effect: Effect = Effect.NONE
    retry: bool = True
    busy: bool = False
    level: int = logging.WARNING
    when: Callable[[AmigoError, Context], bool] = lambda _e, _c: True

    def answer_for(self, exc: AmigoError) -> str:
        return self.answer(exc) if callable(self.answer) else self.answer


def _busy(exc: AmigoError) -> str:
    return messages.amigo_busy(getattr(exc, "retry_after", None))


def _finished(exc: AmigoError, _: Context) -> bool:
    return isinstance(exc, AmigoConflict) and exc.already_finished


UNSURE = TurnState.UNSURE
FAILED = TurnState.FAILED

TABLE: tuple[Outcome, ...] = (
    # The answer was lost on the way: Amigo may or may not have the message.
    Outcome(AmigoStreamCut, UNSURE, messages.REPLY_INTERRUPTED, messages.AMIGO_UNREACHABLE),
    Outcome(
        AmigoTransportError,
        UNSURE,
        messages.REPLY_INTERRUPTED,
        messages.AMIGO_UNREACHABLE,
        when=lambda e, c: c.sent or (isinstance(e, AmigoTransportError) and e.request_sent),
    ),
    # Nothing left this process: safe to send again.
    Outcome(
        AmigoTransportError,
        None,
        messages.REPLY_FAILED_UNREACHABLE,
        messages.AMIGO_UNREACHABLE,
    ),
    Outcome(AmigoRateLimited, None, messages.REPLY_FAILED_BUSY, _busy, busy=True),
    Outcome(
        AmigoUnavailable, None, messages.REPLY_FAILED_BUSY, messages.AMIGO_UNAVAILABLE, busy=True
    ),
    Outcome(
        AmigoConflict,
        FAILED,
        messages.CONVERSATION_COMPLETED,
        messages.CONVERSATION_COMPLETED,
        effect=Effect.FINISHED,
        retry=False,
        when=_finished,
    ),
    # "A related operation is in progress": another action on the conversation runs.
    Outcome(AmigoConflict, None, messages.REPLY_FAILED_BUSY, messages.CONVERSATION_BUSY, busy=True),
    Outcome(
        AmigoAuthError,
        FAILED,
        messages.REPLY_FAILED_MISCONFIGURED,
        messages.REPLY_FAILED_MISCONFIGURED,
        level=logging.ERROR,
    ),
    Outcome(
        AmigoBadRequest,
        FAILED,
        messages.REPLY_FAILED_REJECTED,
        messages.AMIGO_TOO_MANY_TAGS,
        retry=False,
        when=lambda _e, c: c.operation == "tags",
    ),
    Outcome(
        AmigoBadRequest,
        FAILED,
        messages.REPLY_FAILED_REJECTED,
        messages.SUGGESTIONS_NOT_LATEST,
        retry=False,
        when=lambda _e, c: c.operation == "recommend",
    ),
    Outcome(
        AmigoNotFound,
        FAILED,
        messages.REPLY_FAILED_START,
        messages.CONVERSATION_GONE,
        when=lambda _e, c: c.starting,
    ),
    # An answer Amigo keeps no explanation for says nothing about the conversation.
    Outcome(
        AmigoNotFound,
        FAILED,
        messages.REPLY_FAILED_REJECTED,
        messages.NO_INSIGHTS,
        retry=False,
        when=lambda _e, c: c.operation == "insights",
    ),
    Outcome(
        AmigoNotFound,
        FAILED,
        messages.CONVERSATION_GONE,
        messages.CONVERSATION_GONE,
        Effect.GONE,
        retry=False,
    ),
    Outcome(
        AmigoError, FAILED, messages.REPLY_FAILED_REJECTED, messages.AMIGO_REFUSED, retry=False
    ),
)


def outcome_of(exc: AmigoError, context: Context) -> Outcome:
    """The first row of :data:`TABLE` that matches the error in its context."""
    for row in TABLE:
        if isinstance(exc, row.error) and row.when(exc, context):
            return row
    raise AssertionError("the last row matches every AmigoError")  # pragma: no cover


def answer_for(exc: AmigoError, operation: Operation) -> str:
    """What a person who used a control reads when Amigo failed it."""
    return outcome_of(exc, Context(operation)).answer_for(exc)
