"""The NDJSON events that Amigo streams from create-conversation and interact.

Parsing never raises. A line that is not a JSON object with a string ``type``
is skipped (``parse_event`` returns None and logs a warning). A known type
whose fields fail validation becomes an :class:`UnknownEvent` with
``invalid=True``, so its data is kept but nobody mistakes it for a good event;
any type this module does not know becomes an :class:`UnknownEvent` too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger("slackbot.amigo")

_LOG_CHARS = 200


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ConversationCreated(_Event):
    type: Literal["conversation-created"] = "conversation-created"
    conversation_id: str


class UserMessageAvailable(_Event):
    type: Literal["user-message-available"] = "user-message-available"
    message_id: str
    user_message: str


class CurrentAgentAction(_Event):
    type: Literal["current-agent-action"] = "current-agent-action"
    action: dict[str, Any]

    @property
    def label(self) -> str | None:
        """The action's own ``type`` (e.g. ``tool-call-started``), if it has one."""
        kind = self.action.get("type")
        return kind if isinstance(kind, str) else None


class NewMessage(_Event):
    """One piece of the agent's message; fields other than ``message`` may be absent."""

    type: Literal["new-message"] = "new-message"
    message: str = ""
    stop: bool = False
    sequence_number: int | None = None
    message_id: str | None = None


class InteractionComplete(_Event):
    type: Literal["interaction-complete"] = "interaction-complete"
    message_id: str
    interaction_id: str
    full_message: str
    conversation_completed: bool = False


class ErrorEvent(_Event):
    """Amigo reports an error mid-stream and closes it.

    Before ``interaction-complete`` the interaction is void; after it, the
    interaction was saved and only post-processing failed.
    """

    type: Literal["error"] = "error"
    http_error_code: int | None = None
    error_description: str = ""


class UnknownEvent(_Event):
    """An event of a type this client does not know, or a known one that failed validation."""

    type: str
    data: dict[str, Any] = Field(default_factory=dict)
    invalid: bool = False


AmigoEvent = (
    ConversationCreated
    | UserMessageAvailable
    | CurrentAgentAction
    | NewMessage
    | InteractionComplete
    | ErrorEvent
    | UnknownEvent
)

_KnownModel = (
    type[ConversationCreated]
    | type[UserMessageAvailable]
    | type[CurrentAgentAction]
    | type[NewMessage]
    | type[InteractionComplete]
    | type[ErrorEvent]
)

_KNOWN: dict[str, _KnownModel] = {
    "conversation-created": ConversationCreated,
    "user-message-available": UserMessageAvailable,
    "current-agent-action": CurrentAgentAction,
    "new-message": NewMessage,
    "interaction-complete": InteractionComplete,
    "error": ErrorEvent,
}

TERMINAL_EVENTS = (InteractionComplete, ErrorEvent)
"""Events after which Amigo closes the stream; ending without one is a cut."""


def _preview(line: str) -> str:
    return repr(line[:_LOG_CHARS]) + ("..." if len(line) > _LOG_CHARS else "")


def parse_event(line: bytes | str) -> AmigoEvent | None:
    """Parse one NDJSON line; None (and a warning) for a line that is not an event."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    try:
        data = json.loads(text)
    except ValueError:
        log.warning("skipping an Amigo stream line that is not JSON: %s", _preview(text))
        return None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        log.warning("skipping an Amigo stream line without a type: %s", _preview(text))
        return None
    kind: str = data["type"]
    model = _KNOWN.get(kind)
    if model is None:
        return UnknownEvent(type=kind, data=data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        log.warning(
            "Amigo %s event failed validation (%d errors); passing it on as unknown: %s",
            kind,
            exc.error_count(),
            _preview(text),
        )
        return UnknownEvent(type=kind, data=data, invalid=True)


async def split_lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Split a byte stream on ``\\n`` only.

    httpx's ``aiter_lines`` also splits on U+2028, U+0085 and other Unicode
    line breaks, which JSON may carry unescaped inside a string; NDJSON lines
    end only at ``\\n``.
    """
    pending: list[bytes] = []
    async for chunk in chunks:
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            pending.append(chunk[start:end])
            line = b"".join(pending)
            pending.clear()
            yield line.rstrip(b"\r")
            start = end + 1
        if start < len(chunk):
            pending.append(chunk[start:])
    if pending:
        yield b"".join(pending).rstrip(b"\r")


async def read_ndjson(lines: AsyncIterable[bytes | str]) -> AsyncIterator[AmigoEvent]:
    """Events from NDJSON lines, skipping blank and malformed ones."""
    async for line in lines:
        if not line.strip():
            continue
        event = parse_event(line)
        if event is not None:
            yield event
