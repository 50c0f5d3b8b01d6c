"""A fake Amigo API: a real HTTP server for end-to-end tests.

It serves the conversation and user endpoints the client uses, at the spec's
exact paths (trailing slashes included; no redirects), with Amigo's rules:
bearer tokens from ``signin_with_api_key`` (5 sign-ins per user per minute),
one unfinished conversation per user and service, 409 while a stream of the
conversation is open or once it is finished, at most 20 tags.

By default the agent answers ``Echo: <user text>`` (or :attr:`FakeAmigo.greeting`
when it speaks first). Voice messages (MP3) are "transcribed" from
:attr:`FakeAmigo.transcripts`, external events are saved before the user
message, each completed interaction has insights derived from the agent actions
it streamed, and the audio of a voice message is served back through a signed
link (:func:`silent_mp3` makes a small valid MP3). Conversation starters are
generated from the service and facets, within Amigo's 10 calls a minute. A service
or version set it does not know (:attr:`FakeAmigo.service_ids`,
:attr:`FakeAmigo.version_sets`) is a 404, for a new conversation and for starters.

Tests script answers with :meth:`FakeAmigo.queue_reply` and failures with
:meth:`FakeAmigo.fail_next`, read what was asked in :attr:`FakeAmigo.calls` and
what was streamed in :attr:`FakeAmigo.emitted`, and wait for a state with
:meth:`FakeAmigo.wait_for` (no sleeping). The server runs in its own thread;
everything here is safe to use from the test's thread.

A stream's user and agent messages are saved only when its
``interaction-complete`` is sent; an ``error``, a cut or a client that goes
away voids the interaction (the conversation created by create-conversation
stays, as it does in Amigo once ``conversation-created`` was sent).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import logging
import math
import re
import secrets
import threading
import time
import wave
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from slackbot.sandbox.server import BackgroundServer

ENDPOINT_NAMES = (
    "signin",
    "create_user",
    "get_users",
    "create_conversation",
    "interact",
    "finish",
    "tags",
    "recommend",
    "get_conversations",
    "get_messages",
    "conversation_starter",
    "insights",
    "message_source",
)
"""The names that :meth:`FakeAmigo.fail_next` and :attr:`RecordedCall.name` use."""

ALREADY_FINISHED = "The conversation is already finished."
IN_PROGRESS = "A related operation is in progress."
UNFINISHED_EXISTS = (
    "Cannot start a conversation: the user has an unfinished conversation of this service."
)
DEFAULT_ACTION: dict[str, Any] = {
    "type": "navigate-state-machine-state-transitioned",
    "prev_state": "start",
    "prev_state_state_machine_version_info": ["fake-state-machine", 1],
    "next_state": "engage",
    "next_state_state_machine_version_info": ["fake-state-machine", 1],
}

STORAGE_PREFIX = "/_fake_storage"
"""Where the signed links of message sources point (not part of Amigo's API)."""
LONG_LIVED_LINK = timedelta(hours=12)
NOT_IN_THE_PAST = "The timestamps for external event messages are not in the past."
INCONSISTENT_EVENTS = (
    "The timestamps for external event messages are inconsistent with the conversation."
)
TEXT_MESSAGE = "The message is a text message."
DEFAULT_TRANSCRIPT = "(voice message)"
DEFAULT_RATE_LIMITS: dict[str, int | None] = {
    "conversation_starter": 10,
    "insights": 20,
    "message_source": 30,
}
"""Calls per user per 60 s before 429, as the spec documents them (sign-in has its own)."""
STARTER_TEMPLATES = (
    "What can you tell me about {facet}?",
    "How do I get started with {facet}?",
    "What should I know first about {facet}?",
    "Can you help me with {facet}?",
    "What are common questions about {facet}?",
    "Where do I find out more about {facet}?",
    "What is the best way to handle {facet}?",
    "Could you explain {facet} simply?",
    "What mistakes should I avoid with {facet}?",
    "What are my options for {facet}?",
)
_ARRAY_FIELDS = ("external_event_message_content", "external_event_message_timestamp")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_HEX24 = re.compile(r"^[a-f0-9]{24}$")
_TAG_TEXT = re.compile(r"^[\w\s]+$")
_REASONS = {
    400: "Bad request.",
    401: "Invalid authorization credentials.",
    403: "Missing required permissions.",
    404: "Not found.",
    408: "The request body stream timed out.",
    409: IN_PROGRESS,
    422: "Request failed validation.",
    429: "The user has exceeded the rate limit for this endpoint.",
    500: "Internal server error.",
    502: "Bad gateway.",
    503: "The service is going through temporary maintenance.",
    504: "Gateway timeout.",
}
_CUT_LOG = "ASGI callable returned without completing response."

EventValidator = Callable[[str, dict[str, Any]], None]
"""Called with (endpoint name, event) for each event the fake makes; raises if invalid."""


def _new_id() -> str:
    return secrets.token_hex(12)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def silent_mp3(frames: int = 4) -> bytes:
    """A tiny valid MP3: ``frames`` silent MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz,
    mono, about 26 ms each)."""
    header = bytes([0xFF, 0xFB, 0x90, 0xC4])
    frame_length = 144 * 128_000 // 44_100  # 417 bytes, without padding
    return (header + bytes(frame_length - len(header))) * max(1, frames)


def is_mp3(data: bytes) -> bool:
    """An ID3 tag or an MPEG audio frame sync (11 set bits) at the start."""
    if data.startswith(b"ID3"):
        return True
    return len(data) >= 4 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0


def parse_datetime(value: str) -> datetime | None:
    """An RFC 3339 date-time with its offset (as Amigo requires), else None."""
    if not _RFC3339.match(value):
        return None
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError:
        return None


def _listed(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def split_text(text: str, pieces: int) -> list[str]:
    """``text`` in ``pieces`` roughly equal parts (fewer if it is shorter), losing nothing."""
    count = max(1, min(pieces, len(text)))
    bounds = [round(i * len(text) / count) for i in range(count + 1)]
    return [text[bounds[i] : bounds[i + 1]] for i in range(count)]


@dataclass(eq=False)
class Reply:
    """A scripted agent answer, consumed by the next matching interaction (FIFO).

    ``text`` None means the default answer. After ``k`` pieces (0 = before the
    first): ``hold_after`` pauses the stream until :meth:`release`;
    ``error_after`` sends an ``error`` event and closes; ``cut_after`` drops
    the connection (``cut_clean=True`` ends the body cleanly instead, still
    without ``interaction-complete``). ``delay`` is the pause between pieces and
    ``think`` the pause before the first. ``extra_lines`` are sent as they are
    right after the first event (dicts as JSON, strings verbatim) and are not
    checked against the spec. ``conversation_id``, ``user_text`` and ``kind``
    restrict which interaction takes this reply.
    """

    text: str | None = None
    pieces: int = 3
    delay: float = 0.0
    think: float = 0.0
    conversation_completed: bool = False
    error_after: int | None = None
    error_code: int = 500
    error_description: str = "The agent could not complete the interaction."
    cut_after: int | None = None
    cut_clean: bool = False
    hold_after: int | None = None
    silent_after_commit: bool = False
    """Commit the interaction, then send nothing more (the answer is lost on the way):
    the stream stays open until the client gives up."""
    actions: list[dict[str, Any]] | None = None
    extra_lines: list[str | dict[str, Any]] = field(default_factory=list)
    conversation_id: str | None = None
    user_text: str | None = None
    kind: Literal["any", "create", "interact"] = "any"
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _released: bool = field(default=False, init=False, repr=False)
    _waker: Callable[[], None] | None = field(default=None, init=False, repr=False)
    held: bool = field(default=False, init=False)
    """True while a stream is paused at ``hold_after``."""

    def release(self) -> None:
        """Let a stream paused (or about to pause) at ``hold_after`` go on."""
        with self._lock:
            self._released = True
            waker = self._waker
        if waker is not None:
            waker()

    def _matches(self, kind: str, conversation_id: str, user_text: str | None) -> bool:
        if self.kind not in ("any", kind):
            return False
        if self.conversation_id is not None and self.conversation_id != conversation_id:
            return False
        return self.user_text is None or self.user_text == user_text


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str
    content_type: str | None
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class RecordedCall:
    """One request the fake answered (``status`` is the HTTP status it sent)."""

    name: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any | None
    form: dict[str, str | list[str]] | None
    """The text fields of a multipart body; the external-event fields are lists."""
    status: int
    user_id: str | None = None
    """The Amigo user its bearer token belonged to, when it had a valid one."""
    response: Any | None = None
    """The JSON body the fake answered with (None for streams and empty bodies)."""
    files: dict[str, UploadedFile] = field(default_factory=dict)
    """The file parts of a multipart body (a voice message's ``recorded_message``)."""

    @property
    def external_events(self) -> list[tuple[str, str]]:
        """The (content, timestamp) pairs of an interact call, in the order sent."""
        form = self.form or {}
        contents = _listed(form.get("external_event_message_content"))
        stamps = _listed(form.get("external_event_message_timestamp"))
        return list(zip(contents, stamps, strict=False))

    @property
    def audio(self) -> bytes | None:
        """The recorded audio of a voice interact call."""
        part = self.files.get("recorded_message")
        return part.data if part is not None else None


@dataclass(frozen=True)
class EmittedEvent:
    """One NDJSON line the fake streamed; ``generated`` is False for ``extra_lines``;
    ``at`` is ``time.monotonic()`` just before the line was written."""

    name: str
    conversation_id: str
    event: dict[str, Any] | str
    generated: bool = True
    at: float = field(default_factory=time.monotonic)


@dataclass
class FakeUser:
    user_id: str
    email: str
    first_name: str
    last_name: str
    role: str
    is_admin: bool = False
    created_at: datetime = field(default_factory=_now)


@dataclass
class FakeMessage:
    id: str
    interaction_id: str
    created_at: datetime
    sender: str
    message: str
    message_type: str
    format: str = "text"
    """``voice`` for a user message sent as audio."""
    audio: bytes | None = field(default=None, repr=False)
    """The source of a message that was not text (served by retrieve-message-source)."""
    audio_type: str | None = None


@dataclass
class FakeInteraction:
    """A completed interaction, as :meth:`FakeAmigo` keeps it for its insights."""

    id: str
    request_format: str
    actions: list[dict[str, Any]]
    """The ``current-agent-action`` actions that were streamed."""
    state_before: str
    state_after: str
    user_message_id: str | None
    agent_message_id: str
    external_events: list[tuple[str, datetime]] = field(default_factory=list)
    audio: bytes | None = field(default=None, repr=False)
    transcript: str | None = None


@dataclass
class FakeConversation:
    id: str
    user_id: str
    service_id: str
    version_set: str
    created_at: datetime
    is_finished: bool = False
    tags: dict[str, str | None] = field(default_factory=dict)
    messages: list[FakeMessage] = field(default_factory=list)
    interactions: list[str] = field(default_factory=list)
    """Ids of completed interactions, oldest first."""
    interaction_log: dict[str, FakeInteraction] = field(default_factory=dict)
    """Completed interactions by id."""
    state: str = "start"
    """The agent's state, moved by the ``navigate-state-machine-state-transitioned`` actions."""
    streaming: bool = False


@dataclass
class _Fault:
    status: int
    retry_after: float | str | None
    body: Any


class _Fail(Exception):
    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.detail = detail
        self.headers = headers


def _invalid(where: str, name: str, message: str = "Field required") -> _Fail:
    return _Fail(422, [{"loc": [where, name], "msg": message, "type": "value_error"}])


@dataclass(frozen=True)
class _Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def _parse_multipart(content_type: str, body: bytes) -> list[_Part] | None:
    """The parts of a multipart/form-data body, in order; None if malformed."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or match is None:
        return None
    delimiter = b"--" + match.group(1).encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 2 or not chunks[-1].startswith(b"--"):
        return None
    parts: list[_Part] = []
    for chunk in chunks[1:-1]:
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            return None
        head, sep, content = chunk[2:-2].partition(b"\r\n\r\n")
        if not sep:
            return None
        name = re.search(rb'(?i)content-disposition:[^\r\n]*\bname="([^"]*)"', head)
        if name is None:
            return None
        filename = re.search(rb'(?i)content-disposition:[^\r\n]*\bfilename="([^"]*)"', head)
        part_type = re.search(rb"(?im)^content-type:[ \t]*([^\r\n]+)", head)
        try:
            parts.append(
                _Part(
                    name.group(1).decode(),
                    filename.group(1).decode() if filename else None,
                    part_type.group(1).decode().strip() if part_type else None,
                    content,
                )
            )
        except UnicodeDecodeError:
            return None
    return parts


def _form_fields(parts: list[_Part]) -> dict[str, str | list[str]] | None:
    """The text fields (parts without a filename); None if one is not UTF-8.

    The external-event fields, and any field sent more than once, are lists.
    """
    fields: dict[str, str | list[str]] = {}
    for part in parts:
        if part.filename is not None:
            continue
        try:
            value = part.data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if part.name in fields or part.name in _ARRAY_FIELDS:
            fields[part.name] = [*_listed(fields.get(part.name)), value]
        else:
            fields[part.name] = value
    return fields


def _files(parts: list[_Part]) -> dict[str, UploadedFile]:
    return {
        part.name: UploadedFile(part.filename, part.content_type, part.data)
        for part in parts
        if part.filename is not None
    }


class _DropCutLog(logging.Filter):
    """Hides uvicorn's error line for the streams this fake cut on purpose (only those)."""

    def __init__(self) -> None:
        super().__init__()
        self._expected = 0
        self._lock = threading.Lock()

    def expect(self) -> None:
        with self._lock:
            self._expected += 1

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() != _CUT_LOG:
            return True
        with self._lock:
            if self._expected == 0:
                return True
            self._expected -= 1
            return False


Emit = Callable[[dict[str, Any] | str, bool], Awaitable[None]]


class _Stream:
    """An NDJSON response whose producer may end it cleanly or drop the connection."""

    def __init__(
        self,
        status: int,
        produce: Callable[[Emit], Awaitable[bool]],
        on_close: Callable[[bool], None],
        on_emit: Callable[[dict[str, Any] | str, bool], None],
        on_cut: Callable[[], None] | None = None,
    ) -> None:
        self.status_code = status
        self._produce = produce
        self._on_close = on_close
        self._on_emit = on_emit
        self._on_cut = on_cut

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": [(b"content-type", b"application/x-ndjson")],
            }
        )

        async def emit(item: dict[str, Any] | str, generated: bool) -> None:
            line = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
            self._on_emit(item, generated)
            body = (line + "\n").encode("utf-8")
            await send({"type": "http.response.body", "body": body, "more_body": True})

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        producer = asyncio.ensure_future(self._produce(emit))
        watcher = asyncio.ensure_future(watch())
        complete = cut = False
        try:
            await asyncio.wait({producer, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if producer.done():
                complete = producer.result()
                cut = not complete
        finally:
            for task in (producer, watcher):
                task.cancel()
            try:
                await asyncio.wait({producer, watcher})
            finally:
                # Released before the body ends, so a client that read to the end
                # never finds the conversation still busy.
                self._on_close(complete)
        if complete:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        elif cut and self._on_cut is not None:
            self._on_cut()


class FakeAmigo:
    """A fake Amigo organization served over HTTP on 127.0.0.1."""

    def __init__(
        self,
        *,
        organization_id: str = "test-org",
        api_key: str = "fake-api-key-for-tests",
        api_key_id: str = "fake-api-key-id",
        token_lifetime: float = 3600.0,
        event_validator: EventValidator | None = None,
    ) -> None:
        self.organization_id = organization_id
        self.api_key = api_key
        self.api_key_id = api_key_id
        self.event_validator = event_validator
        self._token_lifetime = token_lifetime
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self.admin_user_id = _new_id()
        """The pre-seeded provisioning admin (kept across :meth:`reset`)."""
        self._held: list[Reply] = []
        self._link_key = secrets.token_bytes(32)
        self.reset()
        self._server: BackgroundServer | None = None
        self._log_filter = _DropCutLog()
        self.app = self._build_app()

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> FakeAmigo:
        logging.getLogger("uvicorn.error").addFilter(self._log_filter)
        server = BackgroundServer(self.app, name="fake-amigo")
        self._server = server.start()
        return self

    def stop(self) -> None:
        for reply in self.replies_held():
            reply.release()
        if self._server is not None:
            self._server.stop()
            self._server = None
        logging.getLogger("uvicorn.error").removeFilter(self._log_filter)

    def __enter__(self) -> FakeAmigo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeAmigo is not started")
        return self._server.url

    def app_settings(self, service_id: str) -> dict[str, str]:
        """The app's Amigo settings (lower-case names) that point it at this fake."""
        return {
            "amigo_base_url": self.url,
            "amigo_organization_id": self.organization_id,
            "amigo_api_key": self.api_key,
            "amigo_api_key_id": self.api_key_id,
            "amigo_user_id": self.admin_user_id,
            "amigo_service_id": service_id,
            "amigo_user_role": "DefaultUserRole",
        }

    # -- test controls -----------------------------------------------------

    def reset(self) -> None:
        """Forget all state and settings (except the organization, keys and admin).

        Lets one running fake serve many tests; held streams are released.
        """
        with self._changed:
            for reply in self._held:
                reply.release()
            self.token_lifetime = self._token_lifetime
            self.signin_limit_per_minute: int | None = 5
            """Sign-ins per user per 60 s before 429, as Amigo does; None for no limit."""
            self.greeting = "Hello! I am the fake Amigo agent. How can I help?"
            self.recommendations: list[str] = [
                "Tell me more.",
                "Thanks!",
                "What should I do next?",
            ]
            self.default_pieces = 3
            self.default_delay = 0.0
            self.service_ids: set[str] | None = None
            """Known services; None accepts any well-formed id."""
            self.version_sets: dict[str, set[str]] = {}
            """Known version sets by service; a service not named here has any."""
            self.roles: set[str] | None = None
            """Known role names; None accepts any."""
            self.transcripts: deque[str] = deque()
            """What the next voice messages "say", in order; then :data:`DEFAULT_TRANSCRIPT`."""
            self.starters: list[str] | None = None
            """Scripted conversation starters (at most ``max_count`` are sent); None
            generates them from the service and facets."""
            self.rate_limits: dict[str, int | None] = dict(DEFAULT_RATE_LIMITS)
            """Calls per user per 60 s of an endpoint before 429; None for no limit."""
            self.source_link_seconds = 300.0
            """How long a short-lived message-source link lasts (negative: expired at once)."""
            self._rate: dict[tuple[str, str], deque[float]] = {}
            self._links: dict[str, tuple[bytes, str, float]] = {}
            self._downloads: list[RecordedCall] = []
            self._calls: list[RecordedCall] = []
            self._emitted: list[EmittedEvent] = []
            self._violations: list[str] = []
            self._conflicts = 0
            self._faults: dict[str, deque[_Fault]] = {}
            self._replies: list[Reply] = []
            self._held = []
            self._tokens: dict[str, tuple[str, float]] = {}
            self._signins: dict[str, deque[float]] = {}
            self._users: dict[str, FakeUser] = {}
            self._conversations: dict[str, FakeConversation] = {}
            admin = FakeUser(
                self.admin_user_id,
                "provisioning@fake-amigo.test",
                "Provisioning",
                "Admin",
                "admin",
                is_admin=True,
            )
            self._users[admin.user_id] = admin
            self._changed.notify_all()

    def add_user(
        self,
        *,
        email: str,
        first_name: str = "Test",
        last_name: str = "User",
        role: str = "DefaultUserRole",
        is_admin: bool = False,
    ) -> str:
        """Seed a user (known to sign-in and get-users); returns its id."""
        user = FakeUser(_new_id(), email, first_name, last_name, role, is_admin)
        with self._changed:
            self._users[user.user_id] = user
            self._changed.notify_all()
        return user.user_id

    def queue_reply(self, reply: Reply | None = None, /, **fields: Any) -> Reply:
        """Queue a scripted reply (a :class:`Reply` or its fields); returns it."""
        if reply is None:
            reply = Reply(**fields)
        elif fields:
            raise TypeError("pass a Reply or its fields, not both")
        with self._changed:
            self._replies.append(reply)
        return reply

    def fail_next(
        self,
        name: str,
        *,
        status: int,
        retry_after: float | str | None = None,
        times: int = 1,
        body: Any = None,
    ) -> None:
        """Answer the next ``times`` calls of endpoint ``name`` with ``status``.

        ``body`` defaults to ``{"detail": <reason>}``; a str body is sent as is.
        ``retry_after`` becomes the ``Retry-After`` header (a str verbatim, e.g.
        an HTTP date). Injected answers come before any authentication.
        """
        if name not in ENDPOINT_NAMES:
            raise ValueError(f"unknown endpoint name {name!r}; one of {ENDPOINT_NAMES}")
        with self._changed:
            queue = self._faults.setdefault(name, deque())
            queue.extend(_Fault(status, retry_after, body) for _ in range(times))

    def revoke_tokens(self, user_id: str | None = None) -> None:
        """Make issued tokens (of one user, or all) invalid: their next call gets 401."""
        with self._changed:
            for token, (owner, _) in list(self._tokens.items()):
                if user_id is None or owner == user_id:
                    del self._tokens[token]

    def clear_calls(self) -> None:
        with self._changed:
            self._calls.clear()
            self._emitted.clear()
            self._downloads.clear()

    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls)

    def calls_named(self, name: str) -> list[RecordedCall]:
        with self._lock:
            return [call for call in self._calls if call.name == name]

    @property
    def starter_calls(self) -> int:
        """How many conversation-starter requests arrived (whatever the answer)."""
        return len(self.calls_named("conversation_starter"))

    @property
    def downloads(self) -> list[RecordedCall]:
        """Requests to the signed message-source links (not Amigo API calls)."""
        with self._lock:
            return list(self._downloads)

    def interaction(self, interaction_id: str) -> FakeInteraction:
        """A completed interaction of any conversation (KeyError if none)."""
        with self._lock:
            for conv in self._conversations.values():
                if interaction_id in conv.interaction_log:
                    return conv.interaction_log[interaction_id]
        raise KeyError(interaction_id)

    @property
    def emitted(self) -> list[EmittedEvent]:
        with self._lock:
            return list(self._emitted)

    @property
    def contract_violations(self) -> list[str]:
        """Events that the ``event_validator`` refused (should stay empty)."""
        with self._lock:
            return list(self._violations)

    @property
    def conflicts(self) -> int:
        """How many 409s the conversation endpoints answered by their own rules.

        Counts "already finished" and "a related operation is in progress", not
        409s injected with :meth:`fail_next` nor the user endpoint's email 409.
        """
        with self._lock:
            return self._conflicts

    @property
    def users(self) -> dict[str, FakeUser]:
        with self._lock:
            return dict(self._users)

    @property
    def conversations(self) -> dict[str, FakeConversation]:
        """Live conversation objects by id (read them; change them only under care)."""
        with self._lock:
            return dict(self._conversations)

    def conversation(self, conversation_id: str) -> FakeConversation:
        with self._lock:
            return self._conversations[conversation_id]

    def open_streams(self, conversation_id: str | None = None) -> int:
        """Streams open now (of one conversation, or in all)."""
        with self._lock:
            return sum(
                1
                for conv in self._conversations.values()
                if conv.streaming and conversation_id in (None, conv.id)
            )

    def pending_replies(self) -> list[Reply]:
        with self._lock:
            return list(self._replies)

    def replies_held(self) -> list[Reply]:
        with self._lock:
            return [reply for reply in self._held if reply.held]

    def wait_for_sync(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Block until ``predicate()`` is true (checked on every change); TimeoutError if not."""
        with self._changed:
            if not self._changed.wait_for(predicate, timeout):
                raise TimeoutError("FakeAmigo: condition not reached in time")

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - it bounds a wait in a worker thread
    ) -> None:
        """Await until ``predicate()`` is true, without blocking the caller's loop."""
        await asyncio.to_thread(self.wait_for_sync, predicate, timeout)

    # -- app ---------------------------------------------------------------

    def _build_app(self) -> Starlette:
        org = "/v1/{organization}"
        conv = org + "/conversation/{conversation_id}"
        routes = [
            Route(org + "/user/signin_with_api_key", self._endpoint("signin"), methods=["POST"]),
            Route(org + "/user/", self._endpoint("create_user"), methods=["POST"]),
            Route(org + "/user/", self._endpoint("get_users"), methods=["GET"]),
            Route(org + "/conversation/", self._endpoint("create_conversation"), methods=["POST"]),
            Route(org + "/conversation/", self._endpoint("get_conversations"), methods=["GET"]),
            Route(conv + "/interact", self._endpoint("interact"), methods=["POST"]),
            Route(conv + "/finish/", self._endpoint("finish"), methods=["POST"]),
            Route(conv + "/tags/", self._endpoint("tags"), methods=["POST"]),
            Route(conv + "/messages/", self._endpoint("get_messages"), methods=["GET"]),
            Route(
                conv + "/interaction/{interaction_id}/recommend_responses",
                self._endpoint("recommend"),
                methods=["POST"],
            ),
            Route(
                org + "/conversation/conversation_starter",
                self._endpoint("conversation_starter"),
                methods=["POST"],
            ),
            Route(
                conv + "/interaction/{interaction_id}/insights",
                self._endpoint("insights"),
                methods=["GET"],
            ),
            Route(
                conv + "/messages/{message_id}/source",
                self._endpoint("message_source"),
                methods=["GET"],
            ),
            Route(STORAGE_PREFIX + "/{token}", self._storage, methods=["GET"]),
        ]
        app = Starlette(routes=routes)
        app.router.redirect_slashes = False
        return app

    def _endpoint(self, name: str) -> Callable[[Request], Awaitable[Response | _Stream]]:
        handler: Callable[[_Ctx], Awaitable[Response | _Stream]] = getattr(self, "_op_" + name)

        async def endpoint(request: Request) -> Response | _Stream:
            ctx = _Ctx(name, request, await request.body())
            fault = self._take_fault(name)
            try:
                if fault is not None:
                    response: Response | _Stream = self._fault_response(fault)
                else:
                    response = await handler(ctx)
            except _Fail as fail:
                response = JSONResponse(
                    {"detail": fail.detail}, status_code=fail.status, headers=fail.headers
                )
            self._record(ctx, response)
            return response

        return endpoint

    def _take_fault(self, name: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(name)
            return queue.popleft() if queue else None

    @staticmethod
    def _fault_response(fault: _Fault) -> Response:
        headers = {}
        if fault.retry_after is not None:
            value = fault.retry_after
            headers["Retry-After"] = value if isinstance(value, str) else f"{value:g}"
        if isinstance(fault.body, str):
            return Response(fault.body, status_code=fault.status, headers=headers)
        body = fault.body
        if body is None:
            body = {"detail": _REASONS.get(fault.status, "Injected failure.")}
        return JSONResponse(body, status_code=fault.status, headers=headers)

    def _record(self, ctx: _Ctx, response: Response | _Stream) -> None:
        request = ctx.request
        answer = None
        if isinstance(response, JSONResponse):
            answer = json.loads(bytes(response.body))
        call = RecordedCall(
            name=ctx.name,
            method=request.method,
            path=request.url.path,
            query={key: request.query_params.getlist(key) for key in request.query_params},
            headers=dict(request.headers),
            json=ctx.json_body(),
            form=ctx.form_body(),
            status=response.status_code,
            user_id=ctx.user_id,
            response=answer,
            files=ctx.files(),
        )
        with self._changed:
            self._calls.append(call)
            self._changed.notify_all()

    # -- helpers -----------------------------------------------------------

    def _check_org(self, ctx: _Ctx) -> None:
        if ctx.request.path_params["organization"] != self.organization_id:
            raise _Fail(404, "Specified organization is not found.")

    def _authenticate(self, ctx: _Ctx) -> FakeUser:
        header = ctx.request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        with self._lock:
            entry = self._tokens.get(token) if scheme.lower() == "bearer" else None
            if entry is None or entry[1] <= time.time():
                raise _Fail(401, "Invalid authorization credentials.")
            user = self._users[entry[0]]
        ctx.user_id = user.user_id
        self._check_org(ctx)
        return user

    def _path_id(self, ctx: _Ctx, name: str) -> str:
        value = str(ctx.request.path_params[name])
        if not _HEX24.match(value):
            raise _invalid("path", name, "String should match pattern '^[a-f0-9]{24}$'")
        return value

    def _owned_conversation(self, ctx: _Ctx, user: FakeUser) -> FakeConversation:
        """The path's conversation, if the user may act on it (call under the lock)."""
        conversation_id = self._path_id(ctx, "conversation_id")
        conv = self._conversations.get(conversation_id)
        if conv is None:
            raise _Fail(404, "Specified conversation is not found.")
        if conv.user_id != user.user_id and not user.is_admin:
            raise _Fail(403, "Missing required permissions.")
        return conv

    def _conflict(self, detail: str) -> _Fail:
        self._conflicts += 1
        return _Fail(409, detail)

    def _not_busy(self, conv: FakeConversation) -> None:
        if conv.streaming:
            raise self._conflict(IN_PROGRESS)

    def _not_finished(self, conv: FakeConversation) -> None:
        if conv.is_finished:
            raise self._conflict(ALREADY_FINISHED)

    @staticmethod
    def _format(ctx: _Ctx, name: str) -> str:
        """A ``request_format``/``response_format`` query value.

        A voice response is refused: the spec has no parameter for its audio
        format, and Amigo answers 400 without one.
        """
        value = ctx.request.query_params.get(name)
        if value is None:
            raise _invalid("query", name)
        if value not in ("text", "voice"):
            raise _invalid("query", name, "Input should be 'text' or 'voice'")
        if value == "voice" and name == "response_format":
            raise _Fail(
                400,
                "The `response_audio_format` field is not set when voice output is requested.",
            )
        return value

    @staticmethod
    def _audio_config(ctx: _Ctx) -> dict[str, Any]:
        """The ``request_audio_config`` query parameter (JSON), checked as the spec says."""
        raw = ctx.request.query_params.get("request_audio_config")
        if raw is None:
            raise _invalid("query", "request_audio_config", "Required for voice requests")
        try:
            config = json.loads(raw)
        except ValueError:
            raise _invalid("query", "request_audio_config", "Invalid JSON") from None
        if not isinstance(config, dict):
            raise _invalid("query", "request_audio_config", "Input should be an object")
        kind = config.get("type", "mp3")
        if kind == "mp3":
            return {"type": "mp3"}
        if kind != "pcm":
            raise _invalid("query", "request_audio_config", "Input tag should be 'mp3' or 'pcm'")
        rate, channels, width = (
            config.get(k) for k in ("frame_rate", "n_channels", "sample_width")
        )
        if not isinstance(rate, int) or isinstance(rate, bool) or not 4000 <= rate <= 44100:
            raise _invalid("query", "request_audio_config", "frame_rate: 4000 to 44100")
        if channels != 1 or width not in (2, 4):
            raise _invalid("query", "request_audio_config", "n_channels: 1; sample_width: 2 or 4")
        return {"type": "pcm", "frame_rate": rate, "n_channels": 1, "sample_width": width}

    def _rate_limit(self, ctx: _Ctx, user: FakeUser) -> None:
        limit = self.rate_limits.get(ctx.name)
        if limit is None:
            return
        now = time.time()
        with self._lock:
            recent = self._rate.setdefault((ctx.name, user.user_id), deque())
            while recent and recent[0] <= now - 60:
                recent.popleft()
            if len(recent) >= limit:
                wait = math.ceil(recent[0] + 60 - now)
                raise _Fail(
                    429,
                    f"The user has exceeded the rate limit of {limit} requests per minute "
                    "for this endpoint.",
                    {"Retry-After": str(max(1, wait))},
                )
            recent.append(now)

    @staticmethod
    def _int_query(ctx: _Ctx, name: str, default: int, low: int, high: int) -> int:
        raw = ctx.request.query_params.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise _invalid("query", name, "Input should be a valid integer") from None
        if not low <= value <= high:
            raise _invalid("query", name, f"Input should be between {low} and {high}")
        return value

    @staticmethod
    def _hex_list(ctx: _Ctx, name: str) -> list[str]:
        values = ctx.request.query_params.getlist(name)
        for value in values:
            if not _HEX24.match(value):
                raise _invalid("query", name, "String should match pattern '^[a-f0-9]{24}$'")
        return values

    @staticmethod
    def _sort(ctx: _Ctx, allowed: tuple[str, ...]) -> list[tuple[str, bool]]:
        keys = []
        for raw in ctx.request.query_params.getlist("sort_by"):
            descending = raw.startswith("-")
            name = raw.lstrip("+-")
            if name not in allowed:
                raise _invalid("query", "sort_by", f"Unsupported sort field {name!r}")
            keys.append((name, descending))
        return keys

    def _has_version_set(self, service_id: str, version_set: str) -> bool:
        with self._lock:
            known = self.version_sets.get(service_id)
        return known is None or version_set in known

    def _take_reply(self, kind: str, conversation_id: str, user_text: str | None) -> Reply | None:
        with self._lock:
            for index, reply in enumerate(self._replies):
                if reply._matches(kind, conversation_id, user_text):
                    del self._replies[index]
                    self._held.append(reply)
                    return reply
        return None

    # -- users -------------------------------------------------------------

    async def _op_signin(self, ctx: _Ctx) -> Response:
        self._check_org(ctx)
        headers = ctx.request.headers
        for name in ("x-api-key", "x-api-key-id", "x-user-id"):
            if name not in headers:
                raise _invalid("header", name)
        user_id = headers["x-user-id"]
        now = time.time()
        with self._changed:
            if self.signin_limit_per_minute is not None:
                recent = self._signins.setdefault(user_id, deque())
                while recent and recent[0] <= now - 60:
                    recent.popleft()
                if len(recent) >= self.signin_limit_per_minute:
                    wait = math.ceil(recent[0] + 60 - now)
                    raise _Fail(
                        429,
                        "The user has exceeded the rate limit of "
                        f"{self.signin_limit_per_minute} requests per minute for this endpoint.",
                        {"Retry-After": str(max(1, wait))},
                    )
                recent.append(now)
            good_key = secrets.compare_digest(
                headers["x-api-key"], self.api_key
            ) and secrets.compare_digest(headers["x-api-key-id"], self.api_key_id)
            if not good_key or user_id not in self._users:
                raise _Fail(
                    401, "API key not found, is incorrect, or the requested user is not found."
                )
            token = "fake-token-" + secrets.token_urlsafe(24)
            expires_at = now + self.token_lifetime
            self._tokens[token] = (user_id, expires_at)
        ctx.user_id = user_id
        return JSONResponse(
            {
                "id_token": token,
                "expires_at": _iso(datetime.fromtimestamp(expires_at, UTC)),
            }
        )

    def _user_json(self, user: FakeUser) -> dict[str, Any]:
        with self._lock:
            convs = [c for c in self._conversations.values() if c.user_id == user.user_id]
        messages = [m for c in convs for m in c.messages]
        last = max((m.created_at for m in messages), default=None)
        return {
            "org_id": self.organization_id,
            "user_id": user.user_id,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "email": user.email,
            "user_stats": {
                "num_conversations": len(convs),
                "num_messages": len(messages),
                "last_message_time": _iso(last) if last else None,
            },
            "role": user.role,
            "preferences": {
                "enable_response_recommendation": False,
                "preferred_language": None,
                "conversations_visible_to_admins": True,
                "user_model_visible_to_admins": True,
                "timezone": None,
                "audio_keyterms": [],
            },
            "nonsensitive_variables": {},
            "sensitive_variables": [],
        }

    async def _op_create_user(self, ctx: _Ctx) -> Response:
        user = self._authenticate(ctx)
        body = ctx.json_object()
        for name in ("first_name", "last_name", "email", "role_name"):
            value = body.get(name)
            if not isinstance(value, str) or not value.strip():
                raise _invalid("body", name)
        email: str = body["email"]
        if "@" not in email:
            raise _invalid("body", "email", "value is not a valid email address")
        if not user.is_admin:
            raise _Fail(403, "Missing required permissions.")
        if self.roles is not None and body["role_name"] not in self.roles:
            raise _Fail(404, "Specified role is not found.")
        with self._changed:
            if any(u.email.casefold() == email.casefold() for u in self._users.values()):
                raise _Fail(409, "User with the same email already exists in this organization.")
            created = FakeUser(
                _new_id(),
                email,
                body["first_name"].strip(),
                body["last_name"].strip(),
                body["role_name"],
            )
            self._users[created.user_id] = created
        return JSONResponse({"user_id": created.user_id, "verify_link": None}, status_code=201)

    async def _op_get_users(self, ctx: _Ctx) -> Response:
        user = self._authenticate(ctx)
        params = ctx.request.query_params
        emails = {e.casefold() for e in params.getlist("email")}
        ids = set(params.getlist("user_id"))
        limit = self._int_query(ctx, "limit", 100, 0, 100)
        offset = self._int_query(ctx, "continuation_token", 0, 0, 10**9)
        with self._lock:
            found = [
                u
                for u in self._users.values()
                if (not emails or u.email.casefold() in emails)
                and (not ids or u.user_id in ids)
                and (user.is_admin or u.user_id == user.user_id)
            ]
        page = found[offset : offset + limit]
        more = offset + limit < len(found)
        return JSONResponse(
            {
                "users": [self._user_json(u) for u in page],
                "has_more": more,
                "continuation_token": offset + limit if more else None,
            }
        )

    # -- conversations -----------------------------------------------------

    def _conversation_json(self, conv: FakeConversation) -> dict[str, Any]:
        return {
            "id": conv.id,
            "user_id": conv.user_id,
            "created_at": _iso(conv.created_at),
            "is_finished": conv.is_finished,
            "is_analyzed": False,
            "completed_post_processings": [],
            "final_message": conv.messages[-1].message if conv.messages else "",
            "service_id": conv.service_id,
            "version_set_info": None,
            "num_messages": len(conv.messages),
            "tags": dict(conv.tags),
        }

    async def _op_get_conversations(self, ctx: _Ctx) -> Response:
        user = self._authenticate(ctx)
        params = ctx.request.query_params
        user_ids = set(params.getlist("user_id"))
        service_ids = set(self._hex_list(ctx, "service_id"))
        ids = set(self._hex_list(ctx, "id"))
        finished_raw = params.get("is_finished")
        finished: bool | None = None
        if finished_raw is not None:
            if finished_raw.lower() not in ("true", "false", "1", "0"):
                raise _invalid("query", "is_finished", "Input should be a valid boolean")
            finished = finished_raw.lower() in ("true", "1")
        tags = [t.partition(":") for t in params.getlist("tag")]
        limit = self._int_query(ctx, "limit", 150, 1, 150)
        offset = self._int_query(ctx, "continuation_token", 0, 0, 10**9)
        order = self._sort(ctx, ("created_at",))

        def tag_ok(conv: FakeConversation) -> bool:
            for key, _, value in tags:
                if key not in conv.tags:
                    return False
                if value == "*":
                    continue
                if (conv.tags[key] or "") != value:
                    return False
            return True

        with self._lock:
            found = [
                c
                for c in self._conversations.values()
                if (not user_ids or c.user_id in user_ids)
                and (not service_ids or c.service_id in service_ids)
                and (not ids or c.id in ids)
                and (finished is None or c.is_finished == finished)
                and (user.is_admin or c.user_id == user.user_id)
                and tag_ok(c)
            ]
            for _, descending in reversed(order):
                found.sort(key=lambda c: c.created_at, reverse=descending)
            page = [self._conversation_json(c) for c in found[offset : offset + limit]]
        more = offset + limit < len(found)
        return JSONResponse(
            {
                "conversations": page,
                "has_more": more,
                "continuation_token": offset + limit if more else None,
            }
        )

    async def _op_get_messages(self, ctx: _Ctx) -> Response:
        user = self._authenticate(ctx)
        params = ctx.request.query_params
        allowed_types = ("user-message", "agent-message", "agent-inner-thought", "external-event")
        types = params.getlist("message_type") or [
            "external-event",
            "agent-message",
            "user-message",
        ]
        for kind in types:
            if kind not in allowed_types:
                raise _invalid("query", "message_type", "Input should be a message type")
        ids = set(self._hex_list(ctx, "id"))
        interaction_ids = set(self._hex_list(ctx, "interaction_id"))
        limit = self._int_query(ctx, "limit", 500, 1, 500)
        offset = self._int_query(ctx, "continuation_token", 0, 0, 10**9)
        order = self._sort(ctx, ("created_at", "interaction_id"))
        with self._lock:
            conv = self._owned_conversation(ctx, user)
            found = [
                m
                for m in conv.messages
                if m.message_type in types
                and (not ids or m.id in ids)
                and (not interaction_ids or m.interaction_id in interaction_ids)
            ]
        for name, descending in reversed(order):
            found.sort(key=lambda m: str(getattr(m, name)), reverse=descending)
        page = found[offset : offset + limit]
        more = offset + limit < len(found)
        return JSONResponse(
            {
                "messages": [
                    {
                        "id": m.id,
                        "interaction_id": m.interaction_id,
                        "created_at": _iso(m.created_at),
                        "sender": m.sender,
                        "message": m.message,
                        "format": m.format,
                        "message_type": m.message_type,
                    }
                    for m in page
                ],
                "has_more": more,
                "continuation_token": offset + limit if more else None,
            }
        )

    async def _op_finish(self, ctx: _Ctx) -> Response:
        user = self._authenticate(ctx)
        with self._changed:
            conv = self._owned_conversation(ctx, user)
            self._not_busy(conv)
            self._not_finished(conv)
            conv.is_finished = True
            self._changed.notify_all()
        return Response(status_code=204)

    async def _op_tags(self, ctx: _Ctx) -> Response:
        user = self._authenticate(ctx)
        body = ctx.json_object()
        updates = body.get("updates", {})
        deletes = body.get("deletes", [])
        if not isinstance(updates, dict) or len(updates) > 20:
            raise _invalid("body", "updates", "Input should be an object of at most 20 tags")
        for key, value in updates.items():
            if not _TAG_TEXT.match(key.strip() or "-"):
                raise _invalid("body", "updates", f"Invalid tag key {key!r}")
            if value is not None and (not isinstance(value, str) or not _TAG_TEXT.match(value)):
                raise _invalid("body", "updates", f"Invalid value for tag {key!r}")
        if not isinstance(deletes, list) or not all(
            isinstance(d, str) and d.strip() for d in deletes
        ):
            raise _invalid("body", "deletes", "Input should be a list of tag names")
        with self._changed:
            conv = self._owned_conversation(ctx, user)
            self._not_busy(conv)
            tags = dict(conv.tags)
            tags.update(updates)
            for name in deletes:
                tags.pop(name, None)
            if len(tags) > 20:
                raise _Fail(400, "The conversation cannot contain more than 20 tags.")
            conv.tags = tags
            self._changed.notify_all()
        return Response(status_code=204)

    async def _op_recommend(self, ctx: _Ctx) -> Response:
        user = self._authenticate(ctx)
        interaction_id = self._path_id(ctx, "interaction_id")
        body = ctx.json_object() if ctx.body.strip() else {}
        if "context" in body and (
            not isinstance(body["context"], str) or not body["context"].strip()
        ):
            raise _invalid("body", "context", "String should have at least 1 character")
        with self._lock:
            conv = self._owned_conversation(ctx, user)
            self._not_busy(conv)
            if conv.is_finished:
                raise _Fail(400, "The conversation is finished.")
            if not conv.interactions or conv.interactions[-1] != interaction_id:
                raise _Fail(
                    400,
                    "The supplied interaction ID doesn't correspond to the latest, "
                    "completed interaction.",
                )
            suggestions = list(self.recommendations)
        return JSONResponse({"recommended_responses": suggestions})

    async def _op_create_conversation(self, ctx: _Ctx) -> _Stream:
        user = self._authenticate(ctx)
        self._format(ctx, "response_format")
        body = ctx.json_object()
        service_id = body.get("service_id")
        if not isinstance(service_id, str) or not _HEX24.match(service_id):
            raise _invalid("body", "service_id", "String should match pattern '^[a-f0-9]{24}$'")
        version_set = body.get("service_version_set_name", "release")
        if not isinstance(version_set, str):
            raise _invalid("body", "service_version_set_name", "Input should be a string")
        initial = body.get("initial_message")
        initial_type = body.get("initial_message_type")
        if initial is not None and (not isinstance(initial, str) or not initial.strip()):
            raise _invalid("body", "initial_message", "String should have at least 1 character")
        if initial_type is not None and (
            initial is None or initial_type not in ("user-message", "external-event")
        ):
            raise _invalid("body", "initial_message_type", "Invalid initial message type")
        tags = body.get("tags", {})
        if not isinstance(tags, dict) or len(tags) > 20:
            raise _invalid("body", "tags", "Input should be an object of at most 20 tags")
        if self.service_ids is not None and service_id not in self.service_ids:
            raise _Fail(404, "Specified service is not found.")
        if not self._has_version_set(service_id, version_set):
            raise _Fail(404, "Specified version set is not found.")
        with self._changed:
            for other in self._conversations.values():
                if (
                    other.user_id == user.user_id
                    and other.service_id == service_id
                    and not other.is_finished
                ):
                    raise _Fail(400, UNFINISHED_EXISTS)
            conv = FakeConversation(
                id=_new_id(),
                user_id=user.user_id,
                service_id=service_id,
                version_set=version_set,
                created_at=_now(),
                tags=dict(tags),
                streaming=True,
            )
            self._conversations[conv.id] = conv
            self._changed.notify_all()
        text = initial.strip() if isinstance(initial, str) else None
        reply = self._take_reply("create", conv.id, text)
        message_type = initial_type or "user-message"
        return self._stream(ctx, 201, conv, reply, text, message_type, created=True)

    async def _op_interact(self, ctx: _Ctx) -> _Stream:
        user = self._authenticate(ctx)
        conversation_id = self._path_id(ctx, "conversation_id")
        request_format = self._format(ctx, "request_format")
        self._format(ctx, "response_format")
        audio_config = self._audio_config(ctx) if request_format == "voice" else None
        form = ctx.form_body()
        if form is None:
            raise _invalid("header", "content-type", "Expected multipart/form-data")
        kind = form.get("initial_message_type")
        if kind not in ("user-message", "external-event", "skip"):
            raise _invalid("body", "initial_message_type")
        recorded = ctx.files().get("recorded_message")
        text = form.get("recorded_message")
        if isinstance(text, list):
            raise _invalid("body", "recorded_message", "Input should be a valid string")
        if request_format == "voice":
            if recorded is None:
                raise _invalid("body", "recorded_message", "Expected an audio file")
            text = ""
        elif text is None and recorded is not None:
            try:  # a text message may come as a file too
                text = recorded.data.decode("utf-8")
            except UnicodeDecodeError:
                raise _invalid("body", "recorded_message", "Invalid UTF-8") from None
        if text is None:
            raise _invalid("body", "recorded_message")
        if kind == "skip" and (text or recorded is not None):
            raise _invalid("body", "recorded_message", "Must be empty for a skip")
        events = self._external_events(form, skip=kind == "skip")
        audio: bytes | None = None
        audio_type: str | None = None
        with self._changed:
            conv = self._owned_conversation(ctx, user)
            self._not_busy(conv)
            self._not_finished(conv)
            if recorded is not None and audio_config is not None:
                audio, audio_type = self._check_audio(recorded.data, audio_config)
            elif kind != "skip" and not text.strip():
                raise _Fail(400, "The user message is empty.")
            self._check_event_times(conv, events)
            transcript = None
            if audio is not None:
                transcript = self.transcripts.popleft() if self.transcripts else DEFAULT_TRANSCRIPT
            conv.streaming = True
            self._changed.notify_all()
        user_text = transcript if transcript is not None else text if kind != "skip" else None
        reply = self._take_reply("interact", conversation_id, user_text)
        turn = _Turn(request_format, events, audio, audio_type)
        return self._stream(ctx, 200, conv, reply, user_text, kind, created=False, turn=turn)

    @staticmethod
    def _external_events(
        form: dict[str, str | list[str]], *, skip: bool
    ) -> list[tuple[str, datetime]]:
        """The external events of an interact form, checked as the spec's body schema says."""
        contents = _listed(form.get("external_event_message_content"))
        stamps = _listed(form.get("external_event_message_timestamp"))
        if skip and (contents or stamps):
            raise _invalid("body", "external_event_message_content", "Must be empty for a skip")
        if len(contents) != len(stamps):
            raise _invalid(
                "body",
                "external_event_message_timestamp",
                "Each external event message needs exactly one timestamp",
            )
        events = []
        for content, stamp in zip(contents, stamps, strict=True):
            if not content:
                raise _invalid(
                    "body",
                    "external_event_message_content",
                    "String should have at least 1 character",
                )
            moment = parse_datetime(stamp)
            if moment is None:
                raise _invalid(
                    "body", "external_event_message_timestamp", "Input should be a valid datetime"
                )
            events.append((content, moment))
        return events

    @staticmethod
    def _check_event_times(conv: FakeConversation, events: list[tuple[str, datetime]]) -> None:
        """Past, in order, not before the conversation's latest message (call under the lock)."""
        now = _now()
        latest = max((m.created_at for m in conv.messages), default=conv.created_at)
        previous = latest
        for _, moment in events:
            if moment > now:
                raise _Fail(400, NOT_IN_THE_PAST)
            if moment < previous:
                raise _Fail(400, INCONSISTENT_EVENTS)
            previous = moment

    @staticmethod
    def _check_audio(data: bytes, config: dict[str, Any]) -> tuple[bytes, str]:
        """The audio to keep as the message's source, and its content type."""
        if not data:
            raise _Fail(400, "The user message is empty.")
        if config["type"] == "mp3":
            if not is_mp3(data):
                raise _Fail(415, "The format of the supplied audio file is not supported.")
            return data, "audio/mpeg"
        width = config["sample_width"]
        if len(data) % width:
            raise _Fail(415, "The format of the supplied audio file is not supported.")
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(width)
            out.setframerate(config["frame_rate"])
            out.writeframes(data)
        return buffer.getvalue(), "audio/wav"

    # -- starters, insights, sources ------------------------------------------

    async def _op_conversation_starter(self, ctx: _Ctx) -> Response:
        user = self._authenticate(ctx)
        self._rate_limit(ctx, user)
        body = ctx.json_object()
        service_id = body.get("service_id")
        if not isinstance(service_id, str) or not _HEX24.match(service_id):
            raise _invalid("body", "service_id", "String should match pattern '^[a-f0-9]{24}$'")
        if not isinstance(body.get("service_version_set_name", "release"), str):
            raise _invalid("body", "service_version_set_name", "Input should be a string")
        facets = body.get("facets")
        if not isinstance(facets, list) or not facets:
            raise _invalid("body", "facets", "List should have at least 1 item")
        if not all(isinstance(f, str) and f.strip() for f in facets):
            raise _invalid("body", "facets", "String should have at least 1 character")
        counts = []
        for name in ("min_count", "max_count"):
            value = body.get(name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 10:
                raise _invalid("body", name, "Input should be an integer from 1 to 10")
            counts.append(value)
        low, high = counts
        if low > high:
            raise _invalid("body", "max_count", "max_count should not be less than min_count")
        instructions = body.get("generation_instructions")
        if not isinstance(instructions, str) or not instructions.strip():
            raise _invalid("body", "generation_instructions")
        version_set = body.get("service_version_set_name", "release")
        if self.service_ids is not None and service_id not in self.service_ids:
            raise _Fail(404, "Service not found.")
        if not self._has_version_set(service_id, version_set):
            raise _Fail(404, "Service not found.")  # the spec's one 404 here
        stripped = [f.strip() for f in facets]
        with self._lock:
            scripted = None if self.starters is None else list(self.starters)
        if scripted is not None:
            texts = scripted[:high]
        else:
            count = min(high, max(low, len(stripped)))
            offset = int(service_id, 16) % len(STARTER_TEMPLATES)
            texts = [
                STARTER_TEMPLATES[(offset + i) % len(STARTER_TEMPLATES)].format(
                    facet=stripped[i % len(stripped)]
                )
                for i in range(count)
            ]
        prompts = [
            {"prompt": text, "facets": [stripped[i % len(stripped)]]}
            for i, text in enumerate(texts)
        ]
        return JSONResponse({"prompts": prompts})

    async def _op_insights(self, ctx: _Ctx) -> Response:
        user = self._authenticate(ctx)
        self._rate_limit(ctx, user)
        interaction_id = self._path_id(ctx, "interaction_id")
        with self._lock:
            conv = self._owned_conversation(ctx, user)
            record = conv.interaction_log.get(interaction_id)
            if record is None:
                raise _Fail(
                    404, "Specified organization, conversation, or interaction is not found."
                )
        return JSONResponse(_insights(record))

    async def _op_message_source(self, ctx: _Ctx) -> Response:
        user = self._authenticate(ctx)
        self._rate_limit(ctx, user)
        message_id = self._path_id(ctx, "message_id")
        raw = ctx.request.query_params.get("long_lived", "false").lower()
        if raw not in ("true", "false", "1", "0"):
            raise _invalid("query", "long_lived", "Input should be a valid boolean")
        long_lived = raw in ("true", "1")
        with self._lock:
            conv = self._owned_conversation(ctx, user)
            message = next((m for m in conv.messages if m.id == message_id), None)
            if message is None:
                raise _Fail(404, "Specified organization or message is not found.")
            if message.audio is None:
                raise _Fail(400, TEXT_MESSAGE)
            lifetime = LONG_LIVED_LINK.total_seconds() if long_lived else self.source_link_seconds
            expires = time.time() + lifetime
            token = secrets.token_urlsafe(16)
            content_type = message.audio_type or "application/octet-stream"
            self._links[token] = (message.audio, content_type, expires)
        signature = self._sign(token, expires)
        base = str(ctx.request.base_url).rstrip("/")
        url = f"{base}{STORAGE_PREFIX}/{token}?expires={expires:.0f}&signature={signature}"
        return JSONResponse(
            {
                "url": url,
                "expires_at": _iso(datetime.fromtimestamp(expires, UTC)),
                "content_type": content_type,
            }
        )

    def _sign(self, token: str, expires: float) -> str:
        message = f"{token}:{expires:.0f}".encode()
        return hmac.new(self._link_key, message, hashlib.sha256).hexdigest()

    async def _storage(self, request: Request) -> Response:
        """A signed link's download, as a storage service would serve it (not an Amigo API)."""
        token = str(request.path_params["token"])
        expires = request.query_params.get("expires", "")
        signature = request.query_params.get("signature", "")
        with self._lock:
            link = self._links.get(token)
        if link is None:
            response = Response("NoSuchKey", status_code=404, media_type="text/plain")
        elif "authorization" in request.headers:
            response = Response(
                "Only one auth mechanism allowed", status_code=400, media_type="text/plain"
            )
        elif not secrets.compare_digest(signature, self._sign(token, link[2])) or expires != (
            f"{link[2]:.0f}"
        ):
            response = Response("SignatureDoesNotMatch", status_code=403, media_type="text/plain")
        elif link[2] <= time.time():
            response = Response("Request has expired", status_code=403, media_type="text/plain")
        else:
            response = Response(link[0], media_type=link[1])
        call = RecordedCall(
            name="source_download",
            method=request.method,
            path=request.url.path,
            query={key: request.query_params.getlist(key) for key in request.query_params},
            headers=dict(request.headers),
            json=None,
            form=None,
            status=response.status_code,
        )
        with self._changed:
            self._downloads.append(call)
            self._changed.notify_all()
        return response

    # -- streaming ---------------------------------------------------------

    def _stream(
        self,
        ctx: _Ctx,
        status: int,
        conv: FakeConversation,
        reply: Reply | None,
        user_text: str | None,
        message_type: str,
        *,
        created: bool,
        turn: _Turn | None = None,
    ) -> _Stream:
        script = reply or Reply(pieces=self.default_pieces, delay=self.default_delay)
        actions = list(script.actions) if script.actions is not None else [DEFAULT_ACTION]
        if script.text is not None:
            text = script.text
        elif user_text is not None:
            text = f"Echo: {user_text}"
        else:
            text = self.greeting
        pieces = split_text(text, script.pieces)
        interaction_id = _new_id()
        user_message_id = _new_id()
        agent_message_id = _new_id()
        name = ctx.name

        async def hold() -> None:
            loop = asyncio.get_running_loop()
            wake = asyncio.Event()
            with script._lock:
                if script._released:
                    return

                def wake_up() -> None:
                    loop.call_soon_threadsafe(wake.set)

                script._waker = wake_up
            self._set_held(script, True)
            try:
                await wake.wait()
            finally:
                self._set_held(script, False)

        async def checkpoint(sent: int, emit: Emit) -> bool | None:
            """None to go on; else end here: True ends the body cleanly, False drops it."""
            last = len(pieces)
            if script.hold_after is not None and min(script.hold_after, last) == sent:
                await hold()
            if script.error_after is not None and min(script.error_after, last) == sent:
                error = {
                    "type": "error",
                    "http_error_code": script.error_code,
                    "error_description": script.error_description,
                }
                await emit(error, True)
                return True
            if script.cut_after is not None and min(script.cut_after, last) == sent:
                return script.cut_clean
            return None

        async def produce(emit: Emit) -> bool:
            if created:
                await emit({"type": "conversation-created", "conversation_id": conv.id}, True)
            elif user_text is not None:
                event: dict[str, Any] = {
                    "type": "user-message-available",
                    "message_id": user_message_id,
                    "user_message": user_text,
                }
                await emit(event, True)
            for line in script.extra_lines:
                await emit(line, False)
            for action in actions:
                await emit({"type": "current-agent-action", "action": action}, True)
            if script.think:
                await asyncio.sleep(script.think)
            if (end := await checkpoint(0, emit)) is not None:
                return end
            for index, piece in enumerate(pieces):
                if index and script.delay:
                    await asyncio.sleep(script.delay)
                event = {
                    "type": "new-message",
                    "message": piece,
                    "transcript_alignment": None,
                    "stop": index == len(pieces) - 1,
                    "sequence_number": index,
                    "message_id": agent_message_id,
                }
                await emit(event, True)
                if (end := await checkpoint(index + 1, emit)) is not None:
                    return end
            self._commit(
                conv,
                interaction_id,
                user_message_id if user_text is not None else None,
                user_text,
                message_type,
                agent_message_id,
                text,
                script.conversation_completed,
                actions,
                turn or _Turn(),
            )
            if script.silent_after_commit:
                await hold()
                return False
            complete = {
                "type": "interaction-complete",
                "message_id": agent_message_id,
                "interaction_id": interaction_id,
                "full_message": "".join(pieces),
                "conversation_completed": script.conversation_completed,
            }
            await emit(complete, True)
            return True

        def on_emit(item: dict[str, Any] | str, generated: bool) -> None:
            problem = None
            if generated and self.event_validator is not None and isinstance(item, dict):
                try:
                    self.event_validator(name, item)
                except Exception as exc:
                    problem = f"{name}: {item.get('type')}: {exc}"
            with self._changed:
                self._emitted.append(EmittedEvent(name, conv.id, item, generated))
                if problem is not None:
                    self._violations.append(problem)
                self._changed.notify_all()

        def on_close(complete: bool) -> None:
            with self._changed:
                conv.streaming = False
                if reply is not None and reply in self._held:
                    self._held.remove(reply)
                self._changed.notify_all()

        return _Stream(status, produce, on_close, on_emit, self._log_filter.expect)

    def _set_held(self, reply: Reply, held: bool) -> None:
        with self._changed:
            reply.held = held
            self._changed.notify_all()

    def _commit(
        self,
        conv: FakeConversation,
        interaction_id: str,
        user_message_id: str | None,
        user_text: str | None,
        message_type: str,
        agent_message_id: str,
        text: str,
        completed: bool,
        actions: list[dict[str, Any]],
        turn: _Turn,
    ) -> None:
        """Save a completed interaction: its messages and what its insights tell."""
        now = _now()
        with self._changed:
            for content, moment in turn.external_events:
                conv.messages.append(
                    FakeMessage(
                        _new_id(), interaction_id, moment, "external", content, "external-event"
                    )
                )
            if user_message_id is not None and user_text is not None:
                sender = "external" if message_type == "external-event" else "user"
                conv.messages.append(
                    FakeMessage(
                        user_message_id,
                        interaction_id,
                        now,
                        sender,
                        user_text,
                        message_type,
                        format="voice" if turn.audio is not None else "text",
                        audio=turn.audio,
                        audio_type=turn.audio_type,
                    )
                )
            conv.messages.append(
                FakeMessage(agent_message_id, interaction_id, now, "agent", text, "agent-message")
            )
            state_before = conv.state
            for action in actions:
                if action.get("type") == "navigate-state-machine-state-transitioned":
                    conv.state = str(action.get("next_state", conv.state))
            conv.interaction_log[interaction_id] = FakeInteraction(
                id=interaction_id,
                request_format=turn.request_format,
                actions=[dict(action) for action in actions],
                state_before=state_before,
                state_after=conv.state,
                user_message_id=user_message_id,
                agent_message_id=agent_message_id,
                external_events=list(turn.external_events),
                audio=turn.audio,
                transcript=user_text if turn.audio is not None else None,
            )
            conv.interactions.append(interaction_id)
            if completed:
                conv.is_finished = True
            self._changed.notify_all()


@dataclass(frozen=True)
class _Turn:
    """What an interact request brought besides its text."""

    request_format: str = "text"
    external_events: list[tuple[str, datetime]] = field(default_factory=list)
    audio: bytes | None = None
    audio_type: str | None = None


_VERSION_INFO = ["fake-state-machine", 1]


def _tool_rounds(rounds: dict[int, list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    return [rounds[index] for index in sorted(rounds)]


def _insights(record: FakeInteraction) -> dict[str, Any]:
    """The get-interaction-insights answer for what the interaction's actions showed.

    Tool calls (``tool-call-started``/``-ended``, tool outputs of tool-call
    states) go to the state transition that follows them, or, after the last
    one, to the engage-user logs, by ``tool_round_index``; a call that never
    ended has no output. ``select-dynamic-behavior-completed`` names the
    triggered behavior set; exit conditions, selected actions, reflections and
    extracted memories are kept too.
    """
    transitions: list[dict[str, Any]] = []
    rounds: dict[int, list[dict[str, Any]]] = {}
    started: dict[tuple[int, str], dict[str, Any]] = {}
    exit_condition: str | None = None
    selected_action: str | None = None
    behavior: Any = None
    reflections: list[str] = []
    memories: list[dict[str, str]] = []

    def tool_log(action: dict[str, Any], inputs: Any) -> dict[str, Any]:
        tool_id = str(action.get("tool_id", "tool"))
        return {
            "tool_name": tool_id,
            "tool_id": tool_id,
            "tool_version": str(action.get("tool_version", "1")),
            "input": dict(inputs) if isinstance(inputs, dict) else {},
            "output": None,
            "duration": 0.0,
        }

    for action in record.actions:
        kind = action.get("type")
        round_index = action.get("tool_round_index", 0)
        round_index = round_index if isinstance(round_index, int) else 0
        key = (round_index, str(action.get("tool_id")))
        if kind == "tool-call-started":
            log = tool_log(action, action.get("input_params"))
            started[key] = log
            rounds.setdefault(round_index, []).append(log)
        elif kind == "tool-call-ended":
            found = started.pop(key, None)
            if found is not None:
                log = found
            else:
                log = tool_log(action, action.get("input_parameters"))
                rounds.setdefault(round_index, []).append(log)
            if isinstance(action.get("input_parameters"), dict):
                log["input"] = dict(action["input_parameters"])
            log["output"] = str(action.get("result", ""))
            log["duration"] = float(action.get("duration", 0.0))
        elif kind == "navigate-state-machine-tool-call-state-tool-output-available":
            log = tool_log(action, action.get("input_arguments"))
            log["output"] = str(action.get("tool_output", ""))
            log["duration"] = float(action.get("duration", 0.0))
            rounds.setdefault(len(rounds), []).append(log)
        elif kind == "navigate-state-machine-exit-condition-selected":
            exit_condition = str(action.get("exit_condition", ""))
        elif kind == "navigate-state-machine-action-state-action-selected":
            selected_action = str(action.get("action", ""))
        elif kind == "select-dynamic-behavior-completed":
            behavior = action.get("selected_dynamic_behavior_set_version_info")
        elif kind == "navigate-state-machine-reflection-state-reflection-generated":
            reflections.append(str(action.get("reflection", "")))
        elif kind == "extract-active-memories-completed":
            for pair in action.get("queries_and_responses", []):
                memories.append({"content": str(pair[1]), "context": str(pair[0])})
        elif kind == "navigate-state-machine-state-transitioned":
            previous = str(action.get("prev_state", ""))
            transitions.append(
                {
                    "type": "action",
                    "previous_state": previous,
                    "previous_service_hierarchical_state_machine_version_info": action.get(
                        "prev_state_state_machine_version_info", _VERSION_INFO
                    ),
                    "next_state": str(action.get("next_state", "")),
                    "next_service_hierarchical_state_machine_version_info": action.get(
                        "next_state_state_machine_version_info", _VERSION_INFO
                    ),
                    "previous_state_exit_condition_description": exit_condition
                    or f"The {previous} state was done.",
                    "tool_call_logs": _tool_rounds(rounds),
                }
            )
            rounds = {}
            started = {}
            exit_condition = None
    state = record.state_after
    return {
        "current_state_name": state,
        "current_state_action": selected_action or "Engage the user.",
        "current_state_objective": f"The objective of the fake {state} state.",
        "state_transition_logs": transitions,
        "working_memory": memories,
        "reflections": reflections,
        "triggered_dynamic_behavior_set_version_info": behavior,
        "select_next_action_tool_call_logs": [],
        "engage_user_tool_call_logs": _tool_rounds(rounds),
    }


class _Ctx:
    """One request: its endpoint name, raw body and authenticated user."""

    def __init__(self, name: str, request: Request, body: bytes) -> None:
        self.name = name
        self.request = request
        self.body = body
        self.user_id: str | None = None

    def json_body(self) -> Any | None:
        if "json" not in self.request.headers.get("content-type", "") or not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def json_object(self) -> dict[str, Any]:
        try:
            data = json.loads(self.body)
        except ValueError:
            raise _invalid("body", "", "JSON decode error") from None
        if not isinstance(data, dict):
            raise _invalid("body", "", "Input should be a valid dictionary")
        return data

    @cached_property
    def parts(self) -> list[_Part] | None:
        content_type = self.request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return None
        return _parse_multipart(content_type, self.body)

    def form_body(self) -> dict[str, str | list[str]] | None:
        return _form_fields(self.parts) if self.parts is not None else None

    def files(self) -> dict[str, UploadedFile]:
        return _files(self.parts) if self.parts is not None else {}
