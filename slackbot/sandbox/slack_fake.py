"""A loopback fake of Slack's Web API, for tests and local sandboxes.

``FakeSlack`` serves ``POST|GET /api/<method>`` on ``127.0.0.1:<random port>`` (through
:class:`slackbot.sandbox.server.BackgroundServer`) and speaks Slack's wire format closely
enough for ``slack_sdk``'s ``AsyncWebClient(base_url=fake.api_url)`` and slack-bolt:

* arguments are read from the query string and from a form-encoded
  (``application/x-www-form-urlencoded``; JSON-valued fields such as ``blocks`` may be
  JSON strings) or JSON body; the token from ``Authorization: Bearer ...`` or a ``token``
  argument;
* answers are HTTP 200 with ``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``, except
  rate limits (HTTP 429, ``Retry-After: <whole seconds>``, ``{"ok": false, "error":
  "ratelimited"}``) and injected faults with an explicit status.

Implemented methods: ``auth.test``, ``chat.postMessage``, ``chat.update``, ``chat.delete``,
``chat.postEphemeral``, ``chat.getPermalink``, ``chat.startStream``, ``chat.appendStream``,
``chat.stopStream``, ``assistant.threads.setStatus``, ``assistant.threads.setTitle`` and
``assistant.threads.setSuggestedPrompts`` (the last two recorded only), ``users.info``,
``bots.info``, ``conversations.info``, ``conversations.open``, ``conversations.replies``,
``conversations.history``, ``views.open|publish|update|push`` (recorded only),
``apps.connections.open`` (Socket Mode, below), ``oauth.v2.access`` and the install page
``GET /oauth/v2/authorize`` (:mod:`slackbot.sandbox.slack_oauth`). Anything else answers
``unknown_method``.

Agent features follow Slack's published documents:

* ``assistant.threads.setStatus`` keeps one status per ``(channel_id, thread_ts)``
  (:meth:`FakeSlack.status`, :meth:`FakeSlack.status_history`); ``status=""`` clears it, and
  so does the app's next post in that thread (``chat.postMessage`` or ``chat.startStream``
  with that ``thread_ts``), as Slack does.
* Streams (``chat.startStream`` / ``appendStream`` / ``stopStream``): outside a DM (a
  channel id not starting with ``D``) ``recipient_user_id`` and ``recipient_team_id`` are
  required; ``markdown_text`` is at most 12,000 characters a call; ``chunks`` are checked
  (``markdown_text``, ``task_update``, ``plan_update``, ``blocks``; else ``invalid_chunks``)
  and task updates kept on the message (:attr:`FakeMessage.tasks`); ``chat.update`` on a
  message still streaming answers ``streaming_state_conflict``.
  :meth:`FakeSlack.refuse_streaming` makes ``chat.startStream`` fail as in a workspace
  without the feature, and :meth:`FakeSlack.end_stream` ends a stream from Slack's side (as
  Slack does with an idle one).
* Rate limits: :meth:`FakeSlack.set_rate_limit` (per method, or per method and channel) and
  :meth:`FakeSlack.enforce_documented_limits`, which installs :data:`DOCUMENTED_LIMITS`,
  Slack's published tiers.

Files: :meth:`FakeSlack.add_file` keeps a file's bytes and returns Slack's file object
(``url_private``, ``url_private_download``, ``subtype: slack_audio`` for a recorded clip,
...), for a ``file_share`` message event (``SlackSender.post_file``). ``GET
/files-pri/<team>-<file id>/[download/]<name>`` serves the bytes to a request with a known
token in ``Authorization: Bearer ...``, as Slack does; without one, Slack's answer is a
redirect to its sign-in page, and so is the fake's. :meth:`FakeSlack.downloads` lists the
requests, :meth:`FakeSlack.fail_downloads` makes the next ones fail.

It also serves ``POST /response/<id>`` so that interactivity ``response_url`` values can
point at it (see :attr:`FakeSlack.response_url_base`); those posts are recorded as calls
named ``"response_url"``.

Socket Mode: ``apps.connections.open`` takes only the app-level token :attr:`FakeSlack.app_token`
(``xapp-...``), and no other method takes it (``not_allowed_token_type``); it answers
``{"ok": true, "url": "ws://127.0.0.1:<port>/socket-mode?ticket=...&app_id=..."}``. That
websocket (unknown tickets are refused with HTTP 403; pings are answered by the server) speaks
Socket Mode's wire format: a ``hello`` on connect, then the envelopes a test pushes
(:meth:`FakeSlack.push_socket_event`). Every message a client sends back is recorded;
acknowledgements (``{"envelope_id": ...}``, maybe with a ``payload``) as :class:`SocketAck`.
:meth:`FakeSlack.disconnect_socket` asks clients to reconnect, as Slack does before it recycles
a connection, and :meth:`FakeSlack.close_socket_connections` drops them.

Timestamps (``ts``) are epoch-based like Slack's, ``"<seconds>.<6 digits>"``, strictly
increasing, and always end in ``0`` (``slack_sender`` makes ones ending in ``5`` so the two
never collide while still ordering by wall-clock time).

All state lives behind one lock: the server thread writes, tests read. Readers get copies.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import copy
import inspect
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Any, Final, TypeVar
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from slackbot.sandbox.server import BackgroundServer
from slackbot.sandbox.slack_oauth import FakeInstall, OAuthDesk, OAuthRefused
from slackbot.sandbox.ts import TsClock

__all__ = [
    "DOCUMENTED_LIMITS",
    "MAX_BLOCKS",
    "MAX_HEADER_TEXT_CHARS",
    "MAX_LOADING_MESSAGES",
    "MAX_MARKDOWN_CHARS",
    "MAX_SECTION_TEXT_CHARS",
    "MAX_TEXT_CHARS",
    "PERMALINK_BASE",
    "STREAMING_REFUSALS",
    "TASK_STATUSES",
    "FakeEphemeral",
    "FakeMessage",
    "FakePrompt",
    "FakeSlack",
    "FakeStatus",
    "FakeSuggestedPrompts",
    "FakeTask",
    "FakeThreadTitle",
    "FakeView",
    "MessageVersion",
    "RecordedCall",
    "SocketAck",
    "SocketEnvelope",
    "message_text",
]

MAX_TEXT_CHARS = 40_000
"""``text`` longer than this -> ``msg_too_long``."""
MAX_MARKDOWN_CHARS = 12_000
"""A ``markdown`` block, or all of them together, longer than this -> ``invalid_blocks``."""
MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT_CHARS = 3_000
MAX_HEADER_TEXT_CHARS = 150
PERMALINK_BASE = "https://fake.slack.test"
MAX_LOADING_MESSAGES = 10
"""``assistant.threads.setStatus`` takes at most this many ``loading_messages``."""
MAX_SUGGESTED_PROMPTS = 4
TASK_STATUSES = frozenset({"pending", "in_progress", "complete", "error"})
"""The ``status`` values a ``task_update`` chunk may carry."""
STREAMING_REFUSALS = frozenset(
    {
        "feature_not_enabled",
        "method_deprecated",
        "unknown_method",
        "not_allowed_token_type",
        "missing_scope",
    }
)
"""Errors with which Slack refuses ``chat.startStream`` in a workspace or for an app that
cannot stream (see :meth:`FakeSlack.refuse_streaming`); the app must fall back on posting."""

_TIER_2 = (20.0, 5)
_TIER_3 = (50.0, 10)
_TIER_4 = (100.0, 20)

DOCUMENTED_LIMITS: Final[Mapping[str, tuple[float, int, bool]]] = MappingProxyType(
    {
        "chat.startStream": (*_TIER_2, False),
        "chat.stopStream": (*_TIER_2, False),
        "chat.appendStream": (*_TIER_4, False),
        "chat.update": (*_TIER_3, False),
        "chat.delete": (*_TIER_3, False),
        "chat.postEphemeral": (*_TIER_4, False),
        "users.info": (*_TIER_4, False),
        "users.list": (*_TIER_2, False),
        "conversations.replies": (*_TIER_3, False),
        "conversations.open": (*_TIER_3, False),
        "conversations.info": (*_TIER_3, False),
        "views.open": (*_TIER_4, False),
        "views.publish": (*_TIER_4, False),
        "views.update": (*_TIER_4, False),
        "views.push": (*_TIER_4, False),
        "assistant.threads.setTitle": (*_TIER_4, False),
        "assistant.threads.setSuggestedPrompts": (*_TIER_4, False),
        # "Special": one message a second per channel, short bursts allowed.
        "chat.postMessage": (60.0, 3, True),
        # "Special" too, but Slack publishes no number for it: this mirrors the app's
        # assumption (twice posting's pace; see slackbot/relay/budgets.py).
        "assistant.threads.setStatus": (120.0, 5, True),
    }
)
"""Slack's published limit of each method as ``method -> (per_minute, burst, per_channel)``
(Tier 2: 20 a minute, Tier 3: 50, Tier 4: 100; bursts 5, 10, 20). ``per_channel``: the
budget is kept per channel (``channel`` or ``channel_id`` argument) rather than per
workspace. See :meth:`FakeSlack.enforce_documented_limits`."""

_JSON_FIELDS = frozenset(
    {"blocks", "attachments", "metadata", "view", "chunks", "loading_messages", "prompts"}
)

T = TypeVar("T")
Json = dict[str, Any]


# --------------------------------------------------------------------------- records

LIVE_BROADCASTS: list[str] = []
"""Every ``<!channel>``, ``<!here>`` or ``<!everyone>`` any fake in this process was asked
to post, as "method: excerpt" (the tests fail on any: the app must never send one)."""

_BROADCAST = re.compile(r"<!(channel|here|everyone)(\|[^>]*)?>")


def markup_of(value: Any) -> list[str]:
    """Every string in a call's arguments that Slack reads as markup: not ``plain_text``
    objects (shown as they are) and not a button's ``value`` (never shown)."""
    found: list[str] = []
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, list):
        for item in value:
            found += markup_of(item)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key == "value" or (key == "text" and value.get("type") == "plain_text"):
                continue
            found += markup_of(item)
    return found


def _broadcasts(method: str, args: Any) -> list[str]:
    return [f"{method}: {m.group(0)}" for s in markup_of(args) for m in _BROADCAST.finditer(s)]


@dataclass(frozen=True)
class FileDownload:
    """One request for a file's bytes: which file, the token it came with, the status."""

    file_id: str
    token: str | None
    status: int


@dataclass(frozen=True)
class RecordedCall:
    """One request the fake answered.

    ``args`` merges query-string and body arguments (without ``token``); JSON-valued
    form fields (``blocks``, ``attachments``, ``metadata``, ``view``, ``chunks``,
    ``loading_messages``, ``prompts``) are decoded when they parse. ``at`` is
    ``time.monotonic()`` when the request arrived; :attr:`FakeSlack.calls` is in the order
    the answers were produced.
    """

    method: str
    args: Json
    status: int
    at: float
    response: Json = field(default_factory=dict)
    encoding: str = "none"
    """``"json"``, ``"form"`` or ``"none"`` (no body: query string only)."""
    token: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        err = self.response.get("error")
        return err if isinstance(err, str) else None


@dataclass(frozen=True)
class MessageVersion:
    """A message's content at one point in time (``at`` is ``time.monotonic()``)."""

    text: str
    blocks: list[Json] | None
    at: float


@dataclass(frozen=True)
class FakeTask:
    """One ``task_update`` chunk of a stream (``at``: ``time.monotonic()`` when applied)."""

    id: str
    title: str
    status: str
    """``pending``, ``in_progress``, ``complete`` or ``error``."""
    details: str | None
    at: float
    output: str | None = None


@dataclass(frozen=True)
class FakeStatus:
    """A thread's assistant status as set (or cleared) at ``at`` (``time.monotonic()``).

    ``status == ""`` is a clear: explicit (``cleared_by is None``) or automatic, when the app
    posted in the thread (``cleared_by`` names the method: ``"chat.postMessage"`` or
    ``"chat.startStream"``)."""

    status: str
    loading_messages: tuple[str, ...]
    at: float
    cleared_by: str | None = None


@dataclass(frozen=True)
class FakeThreadTitle:
    """An ``assistant.threads.setTitle`` call (recorded only)."""

    channel: str
    thread_ts: str
    title: str
    at: float


@dataclass(frozen=True)
class FakePrompt:
    title: str
    message: str


@dataclass(frozen=True)
class FakeSuggestedPrompts:
    """An ``assistant.threads.setSuggestedPrompts`` call (recorded only); ``thread_ts``
    is optional (Slack's agent view takes prompts for the whole DM)."""

    channel: str
    thread_ts: str | None
    prompts: tuple[FakePrompt, ...]
    title: str | None
    at: float


@dataclass
class FakeMessage:
    """A message in a channel: posted by the bot, or seeded/ingested for a human."""

    channel: str
    ts: str
    user: str
    text: str
    blocks: list[Json] | None = None
    thread_ts: str | None = None
    bot_id: str | None = None
    metadata: Json | None = None
    streamed: bool = False
    """Created by ``chat.startStream``; ``text`` is the streamed markdown."""
    streaming: bool = False
    """``True`` between ``chat.startStream`` and ``chat.stopStream`` (or
    :meth:`FakeSlack.end_stream`)."""
    replaced_by_update: bool = False
    """A streamed message whose content ``chat.update`` replaced once the stream ended: it
    reads like any other message (blocks, then ``text``) rather than as the stream."""
    tasks: dict[str, FakeTask] = field(default_factory=dict)
    """The latest ``task_update`` of each task id the stream carried."""
    task_history: list[FakeTask] = field(default_factory=list)
    """Every ``task_update``, in order."""
    plan_title: str | None = None
    """The latest ``plan_update`` title the stream carried."""
    history: list[MessageVersion] = field(default_factory=list)
    """Every version, the original post first (stream appends add versions too)."""

    @property
    def edits(self) -> list[MessageVersion]:
        """Versions after the original post."""
        return self.history[1:]

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    @property
    def visible_text(self) -> str:
        return message_text(self)

    def to_api(self, team_id: str) -> Json:
        out: Json = {"type": "message", "user": self.user, "text": self.text, "ts": self.ts}
        out["team"] = team_id
        if self.bot_id:
            out["bot_id"] = self.bot_id
        if self.blocks is not None:
            out["blocks"] = copy.deepcopy(self.blocks)
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.metadata is not None:
            out["metadata"] = copy.deepcopy(self.metadata)
        if len(self.history) > 1 and (not self.streamed or self.replaced_by_update):
            out["edited"] = {"user": self.user, "ts": self.ts}
        return out


@dataclass(frozen=True)
class FakeEphemeral:
    channel: str
    user: str
    text: str
    blocks: list[Json] | None
    thread_ts: str | None
    message_ts: str
    at: float

    @property
    def visible_text(self) -> str:
        return message_text(self)


@dataclass(frozen=True)
class FakeView:
    method: str
    view: Json
    view_id: str
    trigger_id: str | None
    user_id: str | None
    at: float


@dataclass(frozen=True)
class SocketEnvelope:
    """An envelope the fake sent over a Socket Mode connection (``at``: ``time.monotonic()``
    just before it was written). ``body`` is the whole envelope as sent."""

    envelope_id: str
    type: str
    payload: Json
    retry_attempt: int | None
    connection_id: int
    at: float
    body: Json


@dataclass(frozen=True)
class SocketAck:
    """An acknowledgement a Socket Mode client sent back (``at``: ``time.monotonic()``)."""

    envelope_id: str
    at: float
    payload: Json | None
    connection_id: int


def message_text(msg: FakeMessage | FakeEphemeral | Mapping[str, Any]) -> str:
    """The text a person would read.

    Streamed messages: the streamed markdown (until ``chat.update`` replaces it, see
    :attr:`FakeMessage.replaced_by_update`). Otherwise the ``markdown`` blocks' text (joined
    by newlines, Slack's escapes ``&amp;``, ``&lt;``, ``&gt;`` shown as the characters they
    stand for) when there are any, else the ``section`` blocks' text (and fields), else
    ``text`` (both as sent).
    """
    if isinstance(msg, Mapping):
        text = str(msg.get("text") or "")
        raw_blocks = msg.get("blocks")
        streamed = False
    else:
        text = msg.text
        raw_blocks = msg.blocks
        streamed = isinstance(msg, FakeMessage) and msg.streamed and not msg.replaced_by_update
    if streamed:
        return _shown(text)
    blocks = [b for b in raw_blocks or [] if isinstance(b, Mapping)]
    markdown = [str(b.get("text") or "") for b in blocks if b.get("type") == "markdown"]
    if markdown:
        return _shown("\n".join(markdown))
    sections: list[str] = []
    for b in blocks:
        if b.get("type") != "section":
            continue
        t = b.get("text")
        if isinstance(t, Mapping) and t.get("text"):
            sections.append(str(t["text"]))
        for f in b.get("fields") or []:
            if isinstance(f, Mapping) and f.get("text"):
                sections.append(str(f["text"]))
    if sections:
        return "\n".join(sections)
    return text


def _shown(text: str) -> str:
    return _ESCAPED.sub(lambda m: _CHARACTERS[m.group(1)], text)


_ESCAPED = re.compile(r"&(amp|lt|gt);")
_CHARACTERS = {"amp": "&", "lt": "<", "gt": ">"}


# --------------------------------------------------------------------------- internals


class _SlackError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class _Fault:
    error: str
    status: int
    retry_after: int | None
    remaining: int
    html: bool = False


@dataclass
class _TokenBucket:
    capacity: float
    per_second: float
    tokens: float
    updated: float

    def take(self, now: float) -> int | None:
        """Take a token; ``None`` when granted, else whole seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        if self.per_second <= 0:
            return 60
        return max(1, math.ceil((1.0 - self.tokens) / self.per_second))


_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
"""Methods that take the app-level token (and only it)."""


@dataclass(eq=False)
class _SocketConnection:
    """One Socket Mode websocket; used on the server's loop only (``ready``/``open`` are
    read under the fake's lock)."""

    id: int
    ws: WebSocket
    send_lock: asyncio.Lock
    ready: bool = False
    """``hello`` sent: envelopes may go out."""
    open: bool = True

    async def send(self, message: Json) -> None:
        async with self.send_lock:
            await self.ws.send_text(json.dumps(message))


def _ts_key(ts: str) -> tuple[int, int]:
    sec, _, frac = ts.partition(".")
    try:
        return int(sec), int((frac + "000000")[:6])
    except ValueError:
        return 0, 0


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _str_arg(args: Mapping[str, Any], name: str) -> str | None:
    value = args.get(name)
    if value is None or value == "":
        return None
    return str(value)


def _text_arg(args: Mapping[str, Any]) -> str | None:
    text = args.get("text")
    if text is None:
        return None
    text = str(text)
    if len(text) > MAX_TEXT_CHARS:
        raise _SlackError("msg_too_long")
    return text


def _blocks_error(message: str, pointer: str) -> _SlackError:
    return _SlackError(
        "invalid_blocks",
        response_metadata={"messages": [f"[ERROR] {message} [json-pointer:{pointer}]"]},
    )


def _validate_blocks(raw: Any) -> list[Json] | None:
    """Parse and check ``blocks`` the way Slack does for the limits that matter here."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise _SlackError("invalid_blocks_format") from None
    if not isinstance(raw, list):
        raise _SlackError("invalid_blocks_format")
    if len(raw) > MAX_BLOCKS:
        raise _blocks_error(f"must provide an array of no more than {MAX_BLOCKS} items", "/blocks")
    total_markdown = 0
    for i, block in enumerate(raw):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _blocks_error("must provide an object with a type", f"/blocks/{i}")
        kind = block["type"]
        if kind == "markdown":
            text = block.get("text")
            if not isinstance(text, str):
                raise _blocks_error("must provide a string", f"/blocks/{i}/text")
            if len(text) > MAX_MARKDOWN_CHARS:
                raise _blocks_error(
                    f"must be less than {MAX_MARKDOWN_CHARS + 1} characters", f"/blocks/{i}/text"
                )
            total_markdown += len(text)
        elif kind == "context_actions":
            for j, element in enumerate(block.get("elements") or []):
                where = f"/blocks/{i}/elements/{j}"
                if not isinstance(element, dict) or element.get("type") not in (
                    "feedback_buttons",
                    "icon_button",
                ):
                    raise _blocks_error("must be feedback_buttons or icon_button", where)
                if element["type"] == "feedback_buttons":
                    for side in ("positive_button", "negative_button"):
                        button = element.get(side)
                        if (
                            not isinstance(button, dict)
                            or not button.get("text")
                            or not (isinstance(button.get("value"), str) and button["value"])
                        ):
                            raise _blocks_error("must provide text and a value", f"{where}/{side}")
        elif kind in ("section", "header"):
            limit = MAX_SECTION_TEXT_CHARS if kind == "section" else MAX_HEADER_TEXT_CHARS
            text_obj = block.get("text")
            if isinstance(text_obj, dict) and len(str(text_obj.get("text") or "")) > limit:
                raise _blocks_error(
                    f"must be less than {limit + 1} characters", f"/blocks/{i}/text"
                )
    if total_markdown > MAX_MARKDOWN_CHARS:
        raise _blocks_error(
            f"markdown blocks must total no more than {MAX_MARKDOWN_CHARS} characters", "/blocks"
        )
    return raw


def _dict_arg(value: Any, error: str) -> Json | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _SlackError(error) from None
    if not isinstance(value, dict):
        raise _SlackError(error)
    return value


@dataclass
class _Chunks:
    """A stream call's content, checked: nothing is applied until all of it is valid."""

    text: str = ""
    tasks: list[tuple[str, str, str, str | None, str | None]] = field(default_factory=list)
    """``(id, title, status, details, output)`` per ``task_update`` chunk, in order."""
    plan_title: str | None = None
    blocks: list[Json] = field(default_factory=list)
    given: bool = False
    """``markdown_text`` or at least one chunk was sent."""


def _optional_str(chunk: Mapping[str, Any], name: str) -> str | None:
    value = chunk.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _SlackError("invalid_chunks")
    return value


def _required_str(chunk: Mapping[str, Any], name: str) -> str:
    value = chunk.get(name)
    if not isinstance(value, str) or not value:
        raise _SlackError("invalid_chunks")
    return value


def _stream_content(args: Mapping[str, Any]) -> _Chunks:
    """``markdown_text`` and ``chunks`` of a stream call, checked as Slack documents them:
    ``markdown_text`` at most 12,000 characters (``msg_too_long``, for the call's streamed
    text as a whole too); each chunk an object of a known ``type`` with its fields
    (``invalid_chunks``)."""
    out = _Chunks()
    parts: list[str] = []
    markdown = args.get("markdown_text")
    if markdown is not None and markdown != "":
        markdown = str(markdown)
        if len(markdown) > MAX_MARKDOWN_CHARS:
            raise _SlackError("msg_too_long")
        parts.append(markdown)
        out.given = True
    chunks = args.get("chunks")
    if isinstance(chunks, str):
        if chunks == "":
            chunks = None
        else:
            try:
                chunks = json.loads(chunks)
            except ValueError:
                raise _SlackError("invalid_chunks") from None
    if chunks is not None and not isinstance(chunks, list):
        raise _SlackError("invalid_chunks")
    for chunk in chunks or []:
        if not isinstance(chunk, dict):
            raise _SlackError("invalid_chunks")
        out.given = True
        kind = chunk.get("type")
        if kind == "markdown_text":
            text = chunk.get("text")
            if not isinstance(text, str):
                raise _SlackError("invalid_chunks")
            parts.append(text)
        elif kind == "task_update":
            status = _required_str(chunk, "status")
            if status not in TASK_STATUSES:
                raise _SlackError("invalid_chunks")
            sources = chunk.get("sources")
            if sources is not None and not isinstance(sources, list):
                raise _SlackError("invalid_chunks")
            out.tasks.append(
                (
                    _required_str(chunk, "id"),
                    _required_str(chunk, "title"),
                    status,
                    _optional_str(chunk, "details"),
                    _optional_str(chunk, "output"),
                )
            )
        elif kind == "plan_update":
            out.plan_title = _required_str(chunk, "title")
        elif kind == "blocks":
            blocks = chunk.get("blocks")
            if not isinstance(blocks, list):
                raise _SlackError("invalid_chunks")
            out.blocks += _validate_blocks(blocks) or []
        else:
            raise _SlackError("invalid_chunks")
    out.text = "".join(parts)
    if len(out.text) > MAX_MARKDOWN_CHARS:
        raise _SlackError("msg_too_long")
    return out


_THREAD_TS = re.compile(r"^\d+\.\d+$")


def _thread_ts_arg(args: Mapping[str, Any]) -> str:
    """``thread_ts`` of an ``assistant.threads.*`` call (``invalid_thread_ts`` when missing or
    not shaped like a ts)."""
    thread_ts = _str_arg(args, "thread_ts")
    if thread_ts is None or not _THREAD_TS.match(thread_ts):
        raise _SlackError("invalid_thread_ts")
    return thread_ts


@dataclass
class _RateLimit:
    """One method's budget: a bucket for the whole fake, or one per channel."""

    per_minute: float
    burst: int
    per_channel: bool
    buckets: dict[str, _TokenBucket] = field(default_factory=dict)

    def take(self, args: Mapping[str, Any], now: float, team: str = "") -> int | None:
        """Slack counts per workspace (``team``), and per channel where it says so."""
        key = team
        if self.per_channel:
            key += "/" + str(args.get("channel") or args.get("channel_id") or "")
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = _TokenBucket(
                capacity=float(self.burst),
                per_second=self.per_minute / 60.0,
                tokens=float(self.burst),
                updated=now,
            )
        return bucket.take(now)


@dataclass(frozen=True)
class FakeWorkspace:
    """A workspace the app is installed in: the one a bot token speaks for."""

    team_id: str
    name: str
    domain: str
    bot_user_id: str
    enterprise_id: str | None = None
    is_enterprise_install: bool = False


# --------------------------------------------------------------------------- the fake


class FakeSlack:
    """A Slack Web API fake on a loopback port. ``start()`` it, use :attr:`api_url`."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-token",  # noqa: S107 - a made-up token for the fake
        team_id: str = "T0TEST",
        team_name: str = "Fake Team",
        team_domain: str = "fake",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        bot_name: str = "amigo",
        app_id: str = "A0TEST",
        app_token: str = "xapp-test-token",  # noqa: S107 - a made-up token for the fake
        client_id: str = "1111.2222",
        client_secret: str = "made-up-client-secret",  # noqa: S107 - made up for the fake
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        """The app-level token ``apps.connections.open`` wants (Socket Mode)."""
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.app_id = app_id

        self._lock = threading.RLock()
        self._clock = TsClock(last_digit=0)
        self._tokens: set[str] = {bot_token}
        self._workspaces: dict[str, FakeWorkspace] = {
            bot_token: FakeWorkspace(team_id, team_name, team_domain, bot_user_id)
        }
        """The workspace each bot token speaks for."""
        self._revoked: set[str] = set()
        self._expired: set[str] = set()
        self._calls: list[RecordedCall] = []
        self._messages: dict[str, dict[str, FakeMessage]] = {}
        self._deleted: list[FakeMessage] = []
        self._ephemerals: list[FakeEphemeral] = []
        self._views: list[FakeView] = []
        self._users: dict[str, Json] = {}
        self._channels: dict[str, Json] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._limits: dict[str, _RateLimit] = {}
        self._statuses: dict[tuple[str, str], list[FakeStatus]] = {}
        self._titles: list[FakeThreadTitle] = []
        self._prompts: list[FakeSuggestedPrompts] = []
        self._streaming_refusal: str | None = None
        self._latency: dict[str, float] = {}
        self._server: BackgroundServer | None = None
        self._socket_tickets: set[str] = set()
        self._socket_conns: dict[int, _SocketConnection] = {}
        self._socket_opened = 0
        self._socket_envelopes: list[SocketEnvelope] = []
        self._socket_acks: list[SocketAck] = []
        self._socket_other: list[Json] = []
        self._files: dict[str, tuple[Json, bytes]] = {}
        self._downloads: list[FileDownload] = []
        self._download_faults: list[int] = []
        self.oauth = OAuthDesk(client_id, client_secret, app_id, team_id)
        """Slack's OAuth v2: the install page, ``oauth.v2.access``, token rotation
        (see :mod:`slackbot.sandbox.slack_oauth`)."""

        self._handlers: dict[str, Callable[[Json], Json]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "chat.startStream": self._chat_start_stream,
            "chat.appendStream": self._chat_append_stream,
            "chat.stopStream": self._chat_stop_stream,
            "assistant.threads.setStatus": self._assistant_set_status,
            "assistant.threads.setTitle": self._assistant_set_title,
            "assistant.threads.setSuggestedPrompts": self._assistant_set_suggested_prompts,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "bots.info": self._bots_info,
            "conversations.info": self._conversations_info,
            "conversations.open": self._conversations_open,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "views.open": lambda a: self._views_record("views.open", a),
            "views.publish": lambda a: self._views_record("views.publish", a),
            "views.update": lambda a: self._views_record("views.update", a),
            "views.push": lambda a: self._views_record("views.push", a),
            "apps.connections.open": self._apps_connections_open,
        }
        self.add_user(bot_user_id, name=bot_name, real_name=bot_name, is_bot=True)

        self.app = Starlette(
            routes=[
                Route("/api/{method}", self._endpoint, methods=["GET", "POST"]),
                Route("/oauth/v2/authorize", self._authorize_endpoint, methods=["GET"]),
                Route("/response/{response_id}", self._response_endpoint, methods=["POST"]),
                Route("/files-pri/{ref}/{rest:path}", self._file_endpoint, methods=["GET"]),
                WebSocketRoute("/socket-mode", self._socket_endpoint),
            ]
        )

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> FakeSlack:
        if self._server is None:
            self._server = BackgroundServer(self.app, name="fake-slack").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (requires :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return self._server.url

    @property
    def api_url(self) -> str:
        """Base URL for ``slack_sdk`` (``base_url=``): ``http://127.0.0.1:<port>/api/``."""
        return f"{self.url}/api/"

    @property
    def response_url_base(self) -> str:
        """Prefix for fake ``response_url`` values (``SlackSender(response_url_base=...)``)."""
        return f"{self.url}/response"

    def app_settings(self, signing_secret: str) -> dict[str, str]:
        """The app's Slack settings (lower-case names) for HTTP mode against this fake."""
        return {
            "slack_bot_token": self.bot_token,
            "slack_signing_secret": signing_secret,
            "slack_api_url": self.api_url,
        }

    def reset(self) -> None:
        """Forget everything (calls, messages, thread statuses, titles and prompts, users,
        channels, faults, limits, a streaming refusal, latency, extra tokens, Socket Mode
        envelopes and acks; open Socket Mode connections stay) so one running fake can serve
        many tests."""
        with self._lock:
            self._tokens = {self.bot_token}
            self._workspaces = {self.bot_token: self._workspaces[self.bot_token]}
            self._revoked.clear()
            self._expired.clear()
            self._calls.clear()
            self._messages.clear()
            self._deleted.clear()
            self._ephemerals.clear()
            self._views.clear()
            self._users.clear()
            self._channels.clear()
            self._faults.clear()
            self._limits.clear()
            self._statuses.clear()
            self._titles.clear()
            self._prompts.clear()
            self._streaming_refusal = None
            self._latency.clear()
            self._socket_tickets.clear()
            self._socket_envelopes.clear()
            self._socket_acks.clear()
            self._socket_other.clear()
            self._files.clear()
            self._downloads.clear()
            self._download_faults.clear()
            self.oauth.reset()
        self.add_user(self.bot_user_id, name=self.bot_name, real_name=self.bot_name, is_bot=True)

    # ---------------------------------------------------------------- setup

    def add_workspace(
        self,
        team_id: str,
        *,
        enterprise_id: str | None = None,
        name: str | None = None,
        bot_user_id: str | None = None,
        token: str | None = None,
        org_wide: bool = False,
    ) -> str:
        """Install the app in another workspace (``org_wide``: in the whole Grid org
        ``enterprise_id``, the token then speaking for every workspace of it); returns the
        bot token Slack would issue there."""
        token = token or f"xoxb-{team_id.lower()}-{uuid.uuid4().hex[:12]}"
        workspace = FakeWorkspace(
            team_id,
            name or f"Workspace {team_id}",
            team_id.lower(),
            bot_user_id or self.bot_user_id,
            enterprise_id,
            org_wide,
        )
        with self._lock:
            self._tokens.add(token)
            self._workspaces[token] = workspace
        return token

    def plan_install(
        self,
        team_id: str | None,
        *,
        enterprise_id: str | None = None,
        org_wide: bool = False,
        bot_user_id: str | None = None,
        installer: str = "UINSTALLER",
    ) -> None:
        """The next visit to the install page installs the app in ``team_id`` (or, with
        ``org_wide``, in the whole Grid org ``enterprise_id``)."""
        with self._lock:
            self.oauth.plan(FakeInstall(team_id, enterprise_id, org_wide, installer, bot_user_id))

    def _issue(self, install: FakeInstall, token: str | None) -> str:
        team = install.team_id or install.enterprise_id or self.team_id
        return self.add_workspace(
            team,
            enterprise_id=install.enterprise_id,
            bot_user_id=install.bot_user_id,
            token=token,
            org_wide=install.org_wide,
        )

    async def _authorize_endpoint(self, request: Request) -> Response:
        """Slack's install page: the person approves at once, and is sent back."""
        args = dict(request.query_params)
        with self._lock:
            try:
                target = self.oauth.authorize(args)
            except OAuthRefused as exc:
                page = f"<html><body><h1>Something went wrong</h1><p>{exc.error}</p></body></html>"
                return Response(page, status_code=400, media_type="text/html")
        return RedirectResponse(target, status_code=302)

    def revoke_token(self, token: str) -> None:
        """Slack revoked ``token`` (the app was uninstalled, or its tokens revoked): every
        call with it now answers ``token_revoked``."""
        with self._lock:
            self._revoked.add(token)

    def expire_token(self, token: str) -> None:
        """A rotating ``token`` outlived its 12 hours: every call with it now answers
        ``token_expired``."""
        with self._lock:
            self._expired.add(token)

    def workspace_of(self, token: str | None) -> FakeWorkspace | None:
        """The workspace a token speaks for (None: not a bot token of this fake)."""
        with self._lock:
            return self._workspaces.get(token or "")

    def calls_in(self, team_id: str, method: str | None = None) -> list[RecordedCall]:
        """The calls (of ``method``) made with a token of workspace ``team_id``."""
        with self._lock:
            return [
                c
                for c in self._calls
                if (method is None or c.method == method)
                and (w := self._workspaces.get(c.token or "")) is not None
                and w.team_id == team_id
            ]

    def add_token(self, token: str) -> None:
        """Accept another token (e.g. a user token) besides :attr:`bot_token`."""
        with self._lock:
            self._tokens.add(token)

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        email: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        first_name: str | None = None,
        last_name: str | None = None,
        display_name: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
        tz: str = "America/Los_Angeles",
    ) -> Json:
        """Add (or replace) a user in the directory served by ``users.info``."""
        if real_name is None:
            real_name = " ".join(p for p in (first_name, last_name) if p) or name or user_id
        if first_name is None and last_name is None:
            first, _, last = real_name.partition(" ")
            first_name, last_name = first, last
        name = name or real_name.lower().replace(" ", ".")
        profile: Json = {
            "first_name": first_name or "",
            "last_name": last_name or "",
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": display_name if display_name is not None else name,
            "display_name_normalized": display_name if display_name is not None else name,
            "team": self.team_id,
        }
        if email is not None:
            profile["email"] = email
        if is_bot:
            profile["bot_id"] = self.bot_id if user_id == self.bot_user_id else None
        user: Json = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": deleted,
            "real_name": real_name,
            "tz": tz,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "profile": profile,
        }
        with self._lock:
            self._users[user_id] = user
        return copy.deepcopy(user)

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str | None = None,
        is_private: bool | None = None,
        is_im: bool | None = None,
        user: str | None = None,
    ) -> Json:
        """Describe a channel for ``conversations.info`` (unknown ids are synthesized)."""
        info = self._synth_channel(channel_id)
        if name is not None:
            info["name"] = name
        if is_im is not None:
            info.update(is_im=is_im, is_channel=not is_im and not info["is_private"])
        if is_private is not None:
            info.update(is_private=is_private, is_group=is_private and not info["is_im"])
            info["is_channel"] = not is_private and not info["is_im"]
        if user is not None:
            info["user"] = user
        with self._lock:
            self._channels[channel_id] = info
        return copy.deepcopy(info)

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str,
        ts: str | None = None,
        thread_ts: str | None = None,
        blocks: list[Json] | None = None,
        bot_id: str | None = None,
    ) -> FakeMessage:
        """Seed a message (e.g. a human's post) so threads, history and permalinks know it."""
        with self._lock:
            msg = self._store_message(
                channel=channel,
                ts=ts or self._clock.next(),
                user=user,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                bot_id=bot_id,
            )
            return copy.deepcopy(msg)

    def add_file(
        self,
        data: bytes,
        *,
        name: str,
        mimetype: str,
        user: str,
        filetype: str | None = None,
        subtype: str | None = None,
        size: int | None = None,
        duration_ms: int | None = None,
    ) -> Json:
        """Keep a shared file and return Slack's file object for it (as a ``file_share``
        event carries it). ``subtype="slack_audio"`` makes it a clip recorded in Slack;
        ``size`` may claim another size than ``len(data)`` (what Slack reports is what the
        app sees before it downloads)."""
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        now = int(time.time())
        base = f"{self.url}/files-pri/{self.team_id}-{file_id}"
        info: Json = {
            "id": file_id,
            "created": now,
            "timestamp": now,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": filetype or name.rsplit(".", 1)[-1].lower(),
            "pretty_type": mimetype,
            "user": user,
            "user_team": self.team_id,
            "editable": False,
            "size": len(data) if size is None else size,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": True,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{base}/{name}",
            "url_private_download": f"{base}/download/{name}",
            "permalink": f"https://{self.team_domain}.slack.com/files/{user}/{file_id}/{name}",
            "permalink_public": f"https://slack-files.com/{self.team_id}-{file_id}-0000",
            "has_rich_preview": False,
            "file_access": "visible",
        }
        if subtype is not None:
            info["subtype"] = subtype
        if subtype == "slack_audio" or mimetype.startswith("audio/"):
            info["media_display_type"] = "audio"
            info["duration_ms"] = duration_ms if duration_ms is not None else 0
            if subtype == "slack_audio":
                info["transcription"] = {"status": "processing"}
        with self._lock:
            self._files[file_id] = (copy.deepcopy(info), bytes(data))
        return info

    def downloads(self) -> list[FileDownload]:
        """Every request for a file's bytes, in order."""
        with self._lock:
            return list(self._downloads)

    def fail_downloads(self, *statuses: int) -> None:
        """Answer the next file downloads with these HTTP statuses, one each."""
        with self._lock:
            self._download_faults.extend(statuses)

    def ingest_event(self, event: Mapping[str, Any]) -> None:
        """Store the message carried by an Events API ``message``/``app_mention`` event.

        Idempotent per ``(channel, ts)``; meant as ``SlackSender(on_event=fake.ingest_event)``
        so that human posts appear in threads, history and permalinks.
        """
        if event.get("type") not in ("message", "app_mention"):
            return
        if event.get("subtype") not in (None, "thread_broadcast", "file_share", "bot_message"):
            return
        channel, ts = event.get("channel"), event.get("ts")
        if not isinstance(channel, str) or not isinstance(ts, str):
            return
        with self._lock:
            if ts in self._messages.get(channel, {}):
                return
            blocks, thread_ts, bot_id = (event.get(k) for k in ("blocks", "thread_ts", "bot_id"))
            self._store_message(
                channel=channel,
                ts=ts,
                user=str(event.get("user") or ""),
                text=str(event.get("text") or ""),
                blocks=list(blocks) if isinstance(blocks, list) else None,
                thread_ts=thread_ts if isinstance(thread_ts, str) else None,
                bot_id=bot_id if isinstance(bot_id, str) else None,
            )

    # ---------------------------------------------------------------- faults

    def set_rate_limit(
        self,
        method: str,
        per_minute: float | None = 50,
        burst: int = 10,
        *,
        per_channel: bool = False,
    ) -> None:
        """Token bucket for ``method``: ``burst`` calls at once, refilled at ``per_minute``;
        an empty bucket answers 429 with ``Retry-After`` (whole seconds). One bucket for the
        whole fake, or with ``per_channel`` one per channel (the call's ``channel`` or
        ``channel_id`` argument), as Slack counts ``chat.postMessage``. Replaces any limit
        ``method`` had (full buckets); ``per_minute=None`` removes the limit."""
        with self._lock:
            if per_minute is None:
                self._limits.pop(method, None)
                return
            self._limits[method] = _RateLimit(
                per_minute=float(per_minute), burst=burst, per_channel=per_channel
            )

    def enforce_documented_limits(self, scale: float = 1.0) -> None:
        """Install every limit of :data:`DOCUMENTED_LIMITS` (replacing those methods' own),
        each at ``per_minute * scale`` with a burst of ``max(1, round(burst * scale))``:
        ``scale < 1`` makes budgets tiny, so that tests reach them in a few calls."""
        if scale <= 0:
            raise ValueError("scale must be positive")
        for method, (per_minute, burst, per_channel) in DOCUMENTED_LIMITS.items():
            self.set_rate_limit(
                method,
                per_minute=per_minute * scale,
                burst=max(1, round(burst * scale)),
                per_channel=per_channel,
            )

    def rate_limits(self) -> dict[str, tuple[float, int, bool]]:
        """The limits in force: ``method -> (per_minute, burst, per_channel)``."""
        with self._lock:
            return {m: (r.per_minute, r.burst, r.per_channel) for m, r in self._limits.items()}

    def refuse_streaming(self, error: str | None = "feature_not_enabled") -> None:
        """While set, ``chat.startStream`` (and only it) answers ``{"ok": false, "error":
        error}``, as for a workspace or app that cannot stream (see
        :data:`STREAMING_REFUSALS`; ``missing_scope`` also carries ``needed: "chat:write"``).
        Streams already started go on. ``None`` allows streaming again."""
        with self._lock:
            self._streaming_refusal = error

    def end_stream(self, channel: str, ts: str) -> None:
        """End a stream from Slack's side, as Slack does after a stream has been idle: the
        message stays as streamed so far, and ``chat.appendStream`` / ``chat.stopStream``
        then answer ``message_not_in_streaming_state``. Raises ``KeyError`` for an unknown
        message."""
        with self._lock:
            msg = self._messages.get(channel, {}).get(ts)
            if msg is None:
                raise KeyError(f"no message {ts} in {channel}")
            msg.streaming = False

    def fail_next(
        self,
        method: str,
        error: str = "internal_error",
        *,
        status: int | None = None,
        retry_after: int | None = None,
        times: int = 1,
        html: bool = False,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (``"*"``: any method) fail.

        ``status`` defaults to 429 for ``error="ratelimited"`` and 200 otherwise; a 429
        carries ``Retry-After: retry_after`` (default 1). ``html``: the answer is an HTML
        error page instead of JSON (as a proxy in front of Slack may send). Faults queue
        up in order.
        """
        if status is None:
            status = 429 if error == "ratelimited" else 200
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            self._faults.setdefault(method, []).append(
                _Fault(
                    error=error,
                    status=status,
                    retry_after=retry_after,
                    remaining=times,
                    html=html,
                )
            )

    def reset_faults(self) -> None:
        """Forget every fault still queued (Slack is well again)."""
        with self._lock:
            self._faults.clear()

    def set_latency(self, method: str, seconds: float | None) -> None:
        """Delay answers to ``method`` (``"*"``: any method without its own setting)."""
        with self._lock:
            if seconds is None or seconds <= 0:
                self._latency.pop(method, None)
            else:
                self._latency[method] = seconds

    def rate_limited_count(self, method: str | None = None) -> int:
        """How many calls (of ``method``, or of any) were answered with HTTP 429."""
        with self._lock:
            return sum(
                1 for c in self._calls if c.status == 429 and (method is None or c.method == method)
            )

    # ---------------------------------------------------------------- reading state

    @property
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls)

    def calls_named(self, method: str, *, ok: bool | None = None) -> list[RecordedCall]:
        """Recorded calls of ``method``; ``ok=True/False`` filters on the answer."""
        with self._lock:
            return [c for c in self._calls if c.method == method and (ok is None or c.ok == ok)]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def message(self, channel: str, ts: str) -> FakeMessage | None:
        with self._lock:
            msg = self._messages.get(channel, {}).get(ts)
            return copy.deepcopy(msg) if msg is not None else None

    def messages(self, channel: str | None = None, *, user: str | None = None) -> list[FakeMessage]:
        """All stored (not deleted) messages, optionally filtered, in ts order."""
        with self._lock:
            found = [
                m
                for ch, msgs in self._messages.items()
                if channel is None or ch == channel
                for m in msgs.values()
                if user is None or m.user == user
            ]
            found.sort(key=lambda m: _ts_key(m.ts))
            return copy.deepcopy(found)

    def thread(
        self, channel: str, thread_ts: str, *, include_root: bool = True
    ) -> list[FakeMessage]:
        """The thread rooted at ``thread_ts`` in ts order: the root message first when the
        fake knows it (a bot post, or seeded/ingested) and ``include_root``, then every
        reply (bot's and others'). Deleted messages are left out."""
        with self._lock:
            found = [
                m
                for m in self._messages.get(channel, {}).values()
                if (m.ts == thread_ts and include_root) or (m.thread_ts == thread_ts and m.is_reply)
            ]
            found.sort(key=lambda m: _ts_key(m.ts))
            return copy.deepcopy(found)

    def status(self, channel: str, thread_ts: str) -> FakeStatus | None:
        """The thread's current assistant status (``None``: never set, or cleared)."""
        with self._lock:
            history = self._statuses.get((channel, thread_ts))
            if not history or history[-1].status == "":
                return None
            return history[-1]

    def status_history(self, channel: str, thread_ts: str) -> list[FakeStatus]:
        """Every status the thread had, clears (``status == ""``) included, in order."""
        with self._lock:
            return list(self._statuses.get((channel, thread_ts), []))

    def thread_titles(
        self, channel: str | None = None, thread_ts: str | None = None
    ) -> list[FakeThreadTitle]:
        """``assistant.threads.setTitle`` calls that succeeded, in order."""
        with self._lock:
            return [
                t
                for t in self._titles
                if (channel is None or t.channel == channel)
                and (thread_ts is None or t.thread_ts == thread_ts)
            ]

    def suggested_prompts(
        self, channel: str | None = None, thread_ts: str | None = None
    ) -> list[FakeSuggestedPrompts]:
        """``assistant.threads.setSuggestedPrompts`` calls that succeeded, in order."""
        with self._lock:
            return [
                p
                for p in self._prompts
                if (channel is None or p.channel == channel)
                and (thread_ts is None or p.thread_ts == thread_ts)
            ]

    def deleted_messages(self) -> list[FakeMessage]:
        with self._lock:
            return copy.deepcopy(self._deleted)

    def ephemerals(
        self, user: str | None = None, channel: str | None = None
    ) -> list[FakeEphemeral]:
        with self._lock:
            return [
                e
                for e in self._ephemerals
                if (user is None or e.user == user) and (channel is None or e.channel == channel)
            ]

    def views(self, method: str | None = None) -> list[FakeView]:
        with self._lock:
            return [v for v in self._views if method is None or v.method == method]

    def responses(self) -> list[RecordedCall]:
        """Posts to fake ``response_url`` values (``args`` is the JSON body plus ``_id``)."""
        return self.calls_named("response_url")

    @staticmethod
    def message_text(msg: FakeMessage | FakeEphemeral | Mapping[str, Any]) -> str:
        return message_text(msg)

    def permalink(self, channel: str, ts: str) -> str:
        with self._lock:
            msg = self._messages.get(channel, {}).get(ts)
            link = f"{PERMALINK_BASE}/archives/{channel}/p{ts.replace('.', '')}"
            if msg is not None and msg.is_reply:
                link += f"?thread_ts={msg.thread_ts}&cid={channel}"
            return link

    # ---------------------------------------------------------------- waiting

    async def wait_for(
        self,
        predicate: Callable[[FakeSlack], T],
        timeout: float = 5.0,  # noqa: ASYNC109 - a polling deadline, not an I/O timeout
        *,
        interval: float = 0.01,
        description: str | None = None,
    ) -> T:
        """Poll ``predicate(self)`` until it returns something truthy, and return that.

        Exceptions raised by the predicate count as "not yet" (so ``f.calls_named(m)[-1]``
        is fine); on timeout an ``AssertionError`` describes the predicate, the last
        exception and the latest calls.
        """
        deadline = time.monotonic() + timeout
        last_exc: BaseException | None = None
        while True:
            try:
                result = predicate(self)
                if result:
                    return result
            except Exception as exc:
                last_exc = exc
            if time.monotonic() >= deadline:
                raise AssertionError(
                    self._timeout_message(predicate, timeout, description, last_exc)
                )
            await asyncio.sleep(interval)

    def wait_for_sync(
        self,
        predicate: Callable[[FakeSlack], T],
        timeout: float = 5.0,
        *,
        interval: float = 0.01,
        description: str | None = None,
    ) -> T:
        """Blocking variant of :meth:`wait_for` (for code not running in an event loop)."""
        deadline = time.monotonic() + timeout
        last_exc: BaseException | None = None
        while True:
            try:
                result = predicate(self)
                if result:
                    return result
            except Exception as exc:
                last_exc = exc
            if time.monotonic() >= deadline:
                raise AssertionError(
                    self._timeout_message(predicate, timeout, description, last_exc)
                )
            time.sleep(interval)

    def _timeout_message(
        self,
        predicate: Callable[..., Any],
        timeout: float,
        description: str | None,
        last_exc: BaseException | None,
    ) -> str:
        if description is None:
            try:
                description = inspect.getsource(predicate).strip()
            except (OSError, TypeError):
                description = repr(predicate)
        lines = [f"FakeSlack: condition not met within {timeout}s: {description}"]
        if last_exc is not None:
            lines.append(f"  last exception from the predicate: {last_exc!r}")
        calls = self.calls
        lines.append(f"  {len(calls)} calls recorded; latest:")
        for c in calls[-12:]:
            outcome = "ok" if c.ok else c.error
            lines.append(f"    {c.method} -> {c.status} {outcome}")
        return "\n".join(lines)

    # ---------------------------------------------------------------- Socket Mode

    @property
    def socket_connected(self) -> int:
        """How many Socket Mode connections are open and greeted (``hello`` sent)."""
        with self._lock:
            return sum(1 for c in self._socket_conns.values() if c.ready and c.open)

    @property
    def socket_connections_opened(self) -> int:
        """How many Socket Mode connections the fake has accepted since it started."""
        with self._lock:
            return self._socket_opened

    @property
    def socket_envelopes(self) -> list[SocketEnvelope]:
        """Envelopes sent, in order."""
        with self._lock:
            return list(self._socket_envelopes)

    @property
    def socket_acks(self) -> list[SocketAck]:
        """Acknowledgements, in the order they arrived."""
        with self._lock:
            return list(self._socket_acks)

    @property
    def socket_messages(self) -> list[Json]:
        """What clients sent that is not an acknowledgement (unparsable text as
        ``{"_raw": text}``); Slack ignores such messages, so this should stay empty."""
        with self._lock:
            return copy.deepcopy(self._socket_other)

    def socket_ack(self, envelope_id: str) -> SocketAck | None:
        """The first acknowledgement of ``envelope_id``, if any."""
        with self._lock:
            return next((a for a in self._socket_acks if a.envelope_id == envelope_id), None)

    def socket_ack_delay(self, envelope_id: str) -> float | None:
        """Seconds from sending ``envelope_id`` to its first acknowledgement (None: not yet)."""
        with self._lock:
            sent = next((e for e in self._socket_envelopes if e.envelope_id == envelope_id), None)
            ack = self.socket_ack(envelope_id)
        if sent is None or ack is None:
            return None
        return ack.at - sent.at

    def unacked_socket_envelopes(self) -> list[SocketEnvelope]:
        """Envelopes sent and not (yet) acknowledged."""
        with self._lock:
            acked = {a.envelope_id for a in self._socket_acks}
            return [e for e in self._socket_envelopes if e.envelope_id not in acked]

    @staticmethod
    def socket_envelope(
        envelope_type: str,
        payload: Mapping[str, Any],
        *,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        accepts_response_payload: bool | None = None,
    ) -> Json:
        """A Socket Mode envelope as Slack writes it (see :meth:`push_socket_event`)."""
        if accepts_response_payload is None:
            accepts_response_payload = envelope_type == "slash_commands" or (
                envelope_type == "interactive"
                and payload.get("type") in ("view_submission", "block_suggestion")
            )
        body: Json = {
            "envelope_id": envelope_id or str(uuid.uuid4()),
            "type": envelope_type,
            "payload": copy.deepcopy(dict(payload)),
            "accepts_response_payload": accepts_response_payload,
        }
        if envelope_type == "events_api":
            body["retry_attempt"] = retry_attempt
            body["retry_reason"] = retry_reason
        return body

    async def push_socket_event(
        self,
        envelope_type: str,
        payload: Mapping[str, Any],
        *,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        accepts_response_payload: bool | None = None,
        ingest: bool = True,
    ) -> str:
        """Send an envelope over the newest open Socket Mode connection; return its
        ``envelope_id`` once it is written.

        ``envelope_type`` is ``"events_api"`` (``payload``: an ``event_callback`` body such as
        ``SlackSender.event_envelope(...)``), ``"slash_commands"`` (the command's fields as a
        JSON object, e.g. ``SlackSender.slash_command_form(...)``) or ``"interactive"`` (e.g.
        ``SlackSender.block_action_payload(...)``). ``retry_attempt`` and ``retry_reason``
        are put on ``events_api`` envelopes only, as Slack does (a redelivery has a new
        ``envelope_id`` and the same ``event_id``). ``accepts_response_payload`` defaults to
        Slack's choice: true for slash commands, view submissions and options requests.
        ``ingest`` stores the message of an ``events_api`` payload first
        (:meth:`ingest_event`): in Slack it exists before its event is sent.

        Raises ``RuntimeError`` when no connection is open: wait for :attr:`socket_connected`.
        """
        body = self.socket_envelope(
            envelope_type,
            payload,
            envelope_id=envelope_id,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
            accepts_response_payload=accepts_response_payload,
        )
        self._ingest_envelope(body, ingest)
        await asyncio.wrap_future(self._on_server_loop(lambda: self._deliver(body)))
        return str(body["envelope_id"])

    def push_socket_event_sync(
        self,
        envelope_type: str,
        payload: Mapping[str, Any],
        *,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        accepts_response_payload: bool | None = None,
        ingest: bool = True,
        timeout: float = 5.0,
    ) -> str:
        """Blocking :meth:`push_socket_event`, from any thread but the fake's own."""
        body = self.socket_envelope(
            envelope_type,
            payload,
            envelope_id=envelope_id,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
            accepts_response_payload=accepts_response_payload,
        )
        self._ingest_envelope(body, ingest)
        self._on_server_loop(lambda: self._deliver(body), blocking=True).result(timeout)
        return str(body["envelope_id"])

    async def disconnect_socket(self, reason: str = "refresh_requested") -> int:
        """Send ``{"type": "disconnect", "reason": reason}`` on every open connection, as
        Slack does before it recycles one (slack_sdk then opens a new connection and closes
        the old). Returns how many connections were told."""
        return await asyncio.wrap_future(self._on_server_loop(lambda: self._tell_all(reason)))

    async def close_socket_connections(self, code: int = 1011) -> int:
        """Close every open connection from Slack's side (a dropped link, as far as the
        client can tell). Returns how many were closed."""
        return await asyncio.wrap_future(self._on_server_loop(lambda: self._close_all(code)))

    async def wait_for_socket_ack(
        self,
        envelope_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109 - a polling deadline, not an I/O timeout
    ) -> SocketAck:
        """Wait until ``envelope_id`` is acknowledged; return the (first) ack."""
        ack = await self.wait_for(
            lambda s: s.socket_ack(envelope_id),
            timeout=timeout,
            description=f"Socket Mode ack of envelope {envelope_id}",
        )
        assert ack is not None
        return ack

    def _ingest_envelope(self, body: Json, ingest: bool) -> None:
        event = body["payload"].get("event")
        if ingest and body["type"] == "events_api" and isinstance(event, Mapping):
            self.ingest_event(event)

    def _on_server_loop(
        self, make: Callable[[], Coroutine[Any, Any, T]], *, blocking: bool = False
    ) -> concurrent.futures.Future[T]:
        loop = self._server.loop if self._server is not None else None
        if loop is None:
            raise RuntimeError("FakeSlack is not started")
        if blocking:
            try:
                running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                raise RuntimeError("a blocking call on the fake's own loop would deadlock")
        return asyncio.run_coroutine_threadsafe(make(), loop)

    def _live_sockets(self) -> list[_SocketConnection]:
        with self._lock:
            return [c for c in self._socket_conns.values() if c.ready and c.open]

    async def _deliver(self, body: Json) -> None:
        with self._lock:
            live = self._live_sockets()
            if not live:
                raise RuntimeError("no Socket Mode connection is open")
            conn = live[-1]
            sent = SocketEnvelope(
                envelope_id=body["envelope_id"],
                type=body["type"],
                payload=copy.deepcopy(body["payload"]),
                retry_attempt=body.get("retry_attempt"),
                connection_id=conn.id,
                at=time.monotonic(),
                body=copy.deepcopy(body),
            )
            # Recorded before the write: the ack may be read before the write returns.
            self._socket_envelopes.append(sent)
        try:
            await conn.send(body)
        except BaseException:
            with self._lock:
                self._socket_envelopes.remove(sent)
            raise

    async def _tell_all(self, reason: str) -> int:
        message = {"type": "disconnect", "reason": reason, "debug_info": self._socket_debug_info()}
        told = 0
        for conn in self._live_sockets():
            try:
                await conn.send(message)
                told += 1
            except (WebSocketDisconnect, RuntimeError):
                pass  # it closed meanwhile
        return told

    async def _close_all(self, code: int) -> int:
        closed = 0
        for conn in self._live_sockets():
            with self._lock:
                conn.ready = False
            try:
                async with conn.send_lock:
                    await conn.ws.close(code)
                closed += 1
            except (WebSocketDisconnect, RuntimeError):
                pass
        return closed

    @staticmethod
    def _socket_debug_info() -> Json:
        return {"host": "fake-applink-1", "build_number": 1, "approximate_connection_time": 18060}

    def _apps_connections_open(self, args: Json) -> Json:
        if self._server is None:
            raise _SlackError("internal_error")
        ticket = str(uuid.uuid4())
        self._socket_tickets.add(ticket)
        query = f"ticket={ticket}&app_id={self.app_id}"
        return {"url": f"ws://127.0.0.1:{self._server.port}/socket-mode?{query}"}

    async def _socket_endpoint(self, ws: WebSocket) -> None:
        with self._lock:
            known = ws.query_params.get("ticket", "") in self._socket_tickets
        if not known:
            await ws.close(code=1008)  # before accept: the handshake is refused (HTTP 403)
            return
        await ws.accept()
        with self._lock:
            self._socket_opened += 1
            conn = _SocketConnection(self._socket_opened, ws, asyncio.Lock())
            self._socket_conns[conn.id] = conn
            count = len(self._socket_conns)
        hello = {
            "type": "hello",
            "num_connections": count,
            "debug_info": self._socket_debug_info(),
            "connection_info": {"app_id": self.app_id},
        }
        try:
            await conn.send(hello)
            with self._lock:
                conn.ready = conn.open
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    text = (message.get("bytes") or b"").decode("utf-8", "replace")
                self._socket_received(conn, text)
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client went away; nothing to clean up beyond the bookkeeping below
        finally:
            with self._lock:
                conn.open = conn.ready = False
                self._socket_conns.pop(conn.id, None)

    def _socket_received(self, conn: _SocketConnection, text: str) -> None:
        at = time.monotonic()
        try:
            message: Any = json.loads(text)
        except ValueError:
            message = {"_raw": text}
        with self._lock:
            envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
            if isinstance(envelope_id, str):
                payload = message.get("payload")
                self._socket_acks.append(
                    SocketAck(
                        envelope_id=envelope_id,
                        at=at,
                        payload=payload if isinstance(payload, dict) else None,
                        connection_id=conn.id,
                    )
                )
            else:
                self._socket_other.append(message if isinstance(message, dict) else {"_raw": text})

    # ---------------------------------------------------------------- HTTP

    async def _endpoint(self, request: Request) -> Response:
        arrived = time.monotonic()
        method = request.path_params["method"]
        args: Json = {}
        parse_error: str | None = None
        encoding = "none"
        for key, value in request.query_params.multi_items():
            args[key] = value
        raw = await request.body()
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if raw:
            if ctype == "application/json":
                encoding = "json"
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                if isinstance(body, dict):
                    args.update(body)
                else:
                    parse_error = "invalid_json"
            elif ctype in ("application/x-www-form-urlencoded", ""):
                encoding = "form"
                try:
                    args.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
                except UnicodeDecodeError:
                    parse_error = "invalid_form_data"
            else:
                encoding = ctype
                parse_error = "invalid_form_data"
        if encoding != "json":
            for key in _JSON_FIELDS & args.keys():
                if isinstance(args[key], str) and args[key]:
                    try:
                        args[key] = json.loads(args[key])
                    except ValueError:
                        pass  # left as a string; the handler reports the format error
        token = args.pop("token", None)
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        elif auth.lower().startswith("basic "):  # an app's client id and secret
            try:
                client_id, _, secret = base64.b64decode(auth[6:].strip()).decode().partition(":")
            except ValueError:
                client_id, secret = "", ""
            args.setdefault("client_id", client_id)
            args.setdefault("client_secret", secret)

        with self._lock:
            latency = self._latency.get(method, self._latency.get("*", 0.0))
        if latency:
            await asyncio.sleep(latency)

        with self._lock:
            status, body_out, headers = self._answer(method, args, token, parse_error)
            args.pop("client_secret", None)  # not kept, like a token
            self._calls.append(
                RecordedCall(
                    method=method,
                    args=args,
                    status=status,
                    at=arrived,
                    response=body_out,
                    encoding=encoding,
                    token=token if isinstance(token, str) else None,
                )
            )
        if headers.get("Content-Type") == "text/html":
            page = f"<html><body><h1>{status}</h1><p>{body_out.get('error')}</p></body></html>"
            return Response(page, status_code=status, headers=headers)
        return JSONResponse(copy.deepcopy(body_out), status_code=status, headers=headers)

    async def _file_endpoint(self, request: Request) -> Response:
        """A file's bytes, for a known token only (else Slack's sign-in page)."""
        ref = request.path_params["ref"]
        file_id = ref.split("-", 1)[1] if "-" in ref else ""
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        with self._lock:
            stored = self._files.get(file_id)
            known = token is not None and token in self._tokens
            fault = self._download_faults.pop(0) if self._download_faults and known else None
            status = fault or (302 if not known else 200 if stored else 404)
            self._downloads.append(FileDownload(file_id, token, status))
        if status == 302:
            return RedirectResponse(f"https://{self.team_domain}.slack.com/?redir=%2Ffiles-pri")
        if status != 200 or stored is None:
            page = f"<html><body><h1>{status}</h1></body></html>"
            return Response(page, status_code=status, media_type="text/html")
        info, data = stored
        return Response(data, media_type=str(info["mimetype"]))

    async def _response_endpoint(self, request: Request) -> Response:
        arrived = time.monotonic()
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        args: Json = dict(body) if isinstance(body, dict) else {"_raw": body}
        args["_id"] = request.path_params["response_id"]
        with self._lock:
            LIVE_BROADCASTS.extend(_broadcasts("response_url", args))
            self._calls.append(
                RecordedCall(
                    method="response_url",
                    args=args,
                    status=200,
                    at=arrived,
                    response={"ok": True},
                    encoding="json",
                )
            )
        return JSONResponse({"ok": True})

    def _answer(
        self, method: str, args: Json, token: Any, parse_error: str | None
    ) -> tuple[int, Json, dict[str, str]]:
        """Status, body and headers for one call. Runs under the lock."""
        handler = self._handlers.get(method)
        if handler is None and method != "oauth.v2.access":
            return 200, {"ok": False, "error": "unknown_method"}, {}
        if parse_error is not None:
            return 200, {"ok": False, "error": parse_error}, {}
        if method == "oauth.v2.access":  # the app's client credentials, no token
            try:
                return 200, {"ok": True, **self.oauth.access(args, self._issue)}, {}
            except OAuthRefused as exc:
                return 200, {"ok": False, "error": exc.error}, {}
        if not isinstance(token, str) or (token not in self._tokens and token != self.app_token):
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if token in self._revoked:
            return 200, {"ok": False, "error": "token_revoked"}, {}
        if token in self._expired:
            return 200, {"ok": False, "error": "token_expired"}, {}
        if (token == self.app_token) != (method in _APP_TOKEN_METHODS):
            return 200, {"ok": False, "error": "not_allowed_token_type"}, {}

        for key in (method, "*"):
            queue = self._faults.get(key)
            if queue:
                fault = queue[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.pop(0)
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
                if fault.html:
                    headers["Content-Type"] = "text/html"
                return fault.status, {"ok": False, "error": fault.error}, headers

        limit = self._limits.get(method)
        if limit is not None:
            space = self._workspaces.get(token)
            wait = limit.take(args, time.monotonic(), space.team_id if space else "")
            if wait is not None:
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)}

        if method.startswith("chat."):
            LIVE_BROADCASTS.extend(_broadcasts(method, args))
        try:
            assert handler is not None
            result = handler({**args, "_token": token} if method == "auth.test" else args)
        except _SlackError as exc:
            return 200, {"ok": False, "error": exc.error, **exc.extra}, {}
        return 200, {"ok": True, **result}, {}

    # ---------------------------------------------------------------- storage helpers

    def _store_message(
        self,
        *,
        channel: str,
        ts: str,
        user: str,
        text: str,
        blocks: list[Json] | None,
        thread_ts: str | None = None,
        bot_id: str | None = None,
        metadata: Json | None = None,
        streamed: bool = False,
    ) -> FakeMessage:
        msg = FakeMessage(
            channel=channel,
            ts=ts,
            user=user,
            text=text,
            blocks=copy.deepcopy(blocks),
            thread_ts=thread_ts,
            bot_id=bot_id,
            metadata=metadata,
            streamed=streamed,
            streaming=streamed,
        )
        msg.history.append(MessageVersion(text, copy.deepcopy(blocks), time.monotonic()))
        self._messages.setdefault(channel, {})[ts] = msg
        return msg

    def _add_version(self, msg: FakeMessage) -> None:
        msg.history.append(MessageVersion(msg.text, copy.deepcopy(msg.blocks), time.monotonic()))

    def _channel_arg(self, args: Mapping[str, Any]) -> str:
        channel = _str_arg(args, "channel")
        if channel is None:
            raise _SlackError("channel_not_found")
        if channel[0] in "UW":  # posting to a user id goes to the bot's DM with them
            return "D" + channel[1:]
        return channel

    def _find(self, channel: str, ts: str | None) -> FakeMessage:
        msg = self._messages.get(channel, {}).get(ts or "")
        if msg is None:
            raise _SlackError("message_not_found")
        return msg

    def _synth_channel(self, channel_id: str) -> Json:
        is_im = channel_id.startswith("D")
        is_private = channel_id.startswith("G")
        return {
            "id": channel_id,
            "name": channel_id.lower(),
            "is_channel": not is_im and not is_private,
            "is_group": is_private,
            "is_im": is_im,
            "is_mpim": False,
            "is_private": is_private or is_im,
            "is_archived": False,
            "is_general": False,
            "is_member": True,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_shared": False,
            "context_team_id": self.team_id,
            "created": 1_700_000_000,
            "creator": self.bot_user_id,
        }

    # ---------------------------------------------------------------- methods

    def _auth_test(self, args: Json) -> Json:
        space = self._workspaces.get(str(args.get("_token") or ""))
        if space is not None and space.team_id != self.team_id:
            return {
                "url": f"https://{space.domain}.slack.test/",
                "team": space.name,
                "user": self.bot_name,
                "team_id": space.team_id,
                "user_id": space.bot_user_id,
                "bot_id": self.bot_id,
                "enterprise_id": space.enterprise_id,
                "is_enterprise_install": space.is_enterprise_install,
            }
        return {
            "url": f"https://{self.team_domain}.slack.test/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: Json) -> Json:
        channel = self._channel_arg(args)
        text = _text_arg(args)
        blocks = _validate_blocks(args.get("blocks"))
        if text is None and not blocks and not args.get("attachments"):
            raise _SlackError("no_text")
        metadata = _dict_arg(args.get("metadata"), "invalid_metadata_format")
        msg = self._store_message(
            channel=channel,
            ts=self._clock.next(),
            user=self.bot_user_id,
            text=text or "",
            blocks=blocks,
            thread_ts=_str_arg(args, "thread_ts"),
            bot_id=self.bot_id,
            metadata=metadata,
        )
        if msg.thread_ts is not None:
            self._clear_status(channel, msg.thread_ts, "chat.postMessage")
        return {"channel": channel, "ts": msg.ts, "message": msg.to_api(self.team_id)}

    def _chat_update(self, args: Json) -> Json:
        channel = self._channel_arg(args)
        text = _text_arg(args)
        blocks = _validate_blocks(args.get("blocks"))
        msg = self._find(channel, _str_arg(args, "ts"))
        if msg.user != self.bot_user_id:
            raise _SlackError("cant_update_message")
        if msg.streaming:
            raise _SlackError("streaming_state_conflict")
        if text is None and "blocks" not in args and not args.get("attachments"):
            raise _SlackError("no_text")
        if msg.streamed:
            msg.replaced_by_update = True
        if text is not None:
            msg.text = text
        if "blocks" in args:  # omitted -> kept; [] or "" -> removed
            msg.blocks = copy.deepcopy(blocks) if blocks else None
        if "metadata" in args:
            msg.metadata = _dict_arg(args.get("metadata"), "invalid_metadata_format")
        self._add_version(msg)
        return {
            "channel": channel,
            "ts": msg.ts,
            "text": msg.text,
            "message": msg.to_api(self.team_id),
        }

    def _chat_delete(self, args: Json) -> Json:
        channel = self._channel_arg(args)
        msg = self._find(channel, _str_arg(args, "ts"))
        if msg.user != self.bot_user_id:
            raise _SlackError("cant_delete_message")
        del self._messages[channel][msg.ts]
        self._deleted.append(msg)
        return {"channel": channel, "ts": msg.ts}

    def _chat_post_ephemeral(self, args: Json) -> Json:
        channel = self._channel_arg(args)
        user = _str_arg(args, "user")
        if user is None:
            raise _SlackError("user_not_found")
        text = _text_arg(args)
        blocks = _validate_blocks(args.get("blocks"))
        if text is None and not blocks and not args.get("attachments"):
            raise _SlackError("no_text")
        ts = self._clock.next()
        self._ephemerals.append(
            FakeEphemeral(
                channel=channel,
                user=user,
                text=text or "",
                blocks=copy.deepcopy(blocks),
                thread_ts=_str_arg(args, "thread_ts"),
                message_ts=ts,
                at=time.monotonic(),
            )
        )
        return {"message_ts": ts}

    def _chat_get_permalink(self, args: Json) -> Json:
        channel = self._channel_arg(args)
        ts = _str_arg(args, "message_ts")
        if ts is None:
            raise _SlackError("message_not_found")
        # Unknown ts (e.g. a human post never ingested) still gets a top-level link.
        return {"channel": channel, "permalink": self.permalink(channel, ts)}

    def _chat_start_stream(self, args: Json) -> Json:
        if self._streaming_refusal is not None:
            extra = {"needed": "chat:write"} if self._streaming_refusal == "missing_scope" else {}
            raise _SlackError(self._streaming_refusal, **extra)
        channel = self._channel_arg(args)
        thread_ts = _str_arg(args, "thread_ts")
        if thread_ts is None:
            raise _SlackError("invalid_arguments")
        if not channel.startswith("D"):  # outside a DM, Slack wants the reader named
            if _str_arg(args, "recipient_user_id") is None:
                raise _SlackError("missing_recipient_user_id")
            if _str_arg(args, "recipient_team_id") is None:
                raise _SlackError("missing_recipient_team_id")
        content = _stream_content(args)
        msg = self._store_message(
            channel=channel,
            ts=self._clock.next(),
            user=self.bot_user_id,
            text=content.text,
            blocks=content.blocks or None,
            thread_ts=thread_ts,
            bot_id=self.bot_id,
            streamed=True,
        )
        self._apply_stream_extras(msg, content)
        self._clear_status(channel, thread_ts, "chat.startStream")
        return {"channel": channel, "ts": msg.ts}

    def _streaming_message(self, args: Json) -> FakeMessage:
        msg = self._find(self._channel_arg(args), _str_arg(args, "ts"))
        if not msg.streaming:
            raise _SlackError("message_not_in_streaming_state")
        return msg

    def _apply_stream_extras(self, msg: FakeMessage, content: _Chunks) -> None:
        """Task and plan updates of a stream call (text and blocks are the caller's)."""
        now = time.monotonic()
        for task_id, title, status, details, output in content.tasks:
            task = FakeTask(task_id, title, status, details, now, output)
            msg.tasks[task_id] = task
            msg.task_history.append(task)
        if content.plan_title is not None:
            msg.plan_title = content.plan_title

    def _append_stream_content(self, msg: FakeMessage, content: _Chunks) -> bool:
        """Add a stream call's text and blocks to ``msg``; ``True`` when either changed."""
        self._apply_stream_extras(msg, content)
        msg.text += content.text
        if content.blocks:
            msg.blocks = (msg.blocks or []) + copy.deepcopy(content.blocks)
        return bool(content.text or content.blocks)

    def _chat_append_stream(self, args: Json) -> Json:
        msg = self._streaming_message(args)
        content = _stream_content(args)
        if not content.given:  # markdown_text is required unless chunks are given
            raise _SlackError("invalid_arguments")
        if self._append_stream_content(msg, content):
            self._add_version(msg)
        return {"channel": msg.channel, "ts": msg.ts}

    def _chat_stop_stream(self, args: Json) -> Json:
        msg = self._streaming_message(args)
        content = _stream_content(args)
        blocks = _validate_blocks(args.get("blocks"))
        metadata = _dict_arg(args.get("metadata"), "invalid_metadata_format")
        self._append_stream_content(msg, content)
        if blocks:  # shown under the streamed text
            msg.blocks = (msg.blocks or []) + copy.deepcopy(blocks)
        if metadata is not None:
            msg.metadata = metadata
        msg.streaming = False
        self._add_version(msg)
        return {"channel": msg.channel, "ts": msg.ts, "message": msg.to_api(self.team_id)}

    # ---------------------------------------------------------------- assistant threads

    def _clear_status(self, channel: str, thread_ts: str, method: str) -> None:
        """Slack clears a thread's status when the app posts in it."""
        history = self._statuses.get((channel, thread_ts))
        if history and history[-1].status != "":
            history.append(FakeStatus("", (), time.monotonic(), cleared_by=method))

    @staticmethod
    def _assistant_channel(args: Json) -> str:
        channel = _str_arg(args, "channel_id")
        if channel is None:
            raise _SlackError("channel_not_found")
        return channel

    def _assistant_set_status(self, args: Json) -> Json:
        channel = self._assistant_channel(args)
        thread_ts = _thread_ts_arg(args)
        status = args.get("status")
        if not isinstance(status, str):  # required; "" clears
            raise _SlackError("invalid_arguments")
        loading = args.get("loading_messages")
        if loading is None or loading == "":
            loading = []
        if (
            not isinstance(loading, list)
            or len(loading) > MAX_LOADING_MESSAGES
            or not all(isinstance(m, str) for m in loading)
        ):
            raise _SlackError("invalid_arguments")
        for name in ("icon_emoji", "icon_url", "username"):
            if args.get(name) is not None and not isinstance(args[name], str):
                raise _SlackError("invalid_arguments")
        self._statuses.setdefault((channel, thread_ts), []).append(
            FakeStatus(status, tuple(loading), time.monotonic())
        )
        return {}

    def _assistant_set_title(self, args: Json) -> Json:
        channel = self._assistant_channel(args)
        thread_ts = _thread_ts_arg(args)
        title = _str_arg(args, "title")
        if title is None:
            raise _SlackError("invalid_arguments")
        self._titles.append(FakeThreadTitle(channel, thread_ts, title, time.monotonic()))
        return {}

    def _assistant_set_suggested_prompts(self, args: Json) -> Json:
        channel = self._assistant_channel(args)
        thread_ts = _thread_ts_arg(args) if args.get("thread_ts") is not None else None
        raw = args.get("prompts")
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_SUGGESTED_PROMPTS:
            raise _SlackError("invalid_arguments")
        prompts: list[FakePrompt] = []
        for item in raw:
            if not isinstance(item, dict):
                raise _SlackError("invalid_arguments")
            title, message = item.get("title"), item.get("message")
            if not isinstance(title, str) or not title or not isinstance(message, str):
                raise _SlackError("invalid_arguments")
            if not message:
                raise _SlackError("invalid_arguments")
            prompts.append(FakePrompt(title, message))
        title_arg = args.get("title")
        if title_arg is not None and not isinstance(title_arg, str):
            raise _SlackError("invalid_arguments")
        self._prompts.append(
            FakeSuggestedPrompts(
                channel, thread_ts, tuple(prompts), title_arg or None, time.monotonic()
            )
        )
        return {}

    def _users_info(self, args: Json) -> Json:
        user = self._users.get(_str_arg(args, "user") or "")
        if user is None:
            raise _SlackError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def _users_list(self, args: Json) -> Json:
        """The workspace's members in pages: ``limit`` (none: all at once) and an opaque
        ``cursor``, as Slack pages them."""
        try:
            limit = int(args.get("limit") or 0)
            start = int(base64.b64decode(_str_arg(args, "cursor") or "MA==").decode() or 0)
        except ValueError:
            raise _SlackError("invalid_cursor") from None
        users = list(self._users.values())
        end = len(users) if limit <= 0 else start + limit
        cursor = base64.b64encode(str(end).encode()).decode() if end < len(users) else ""
        return {
            "members": copy.deepcopy(users[start:end]),
            "response_metadata": {"next_cursor": cursor},
        }

    def _bots_info(self, args: Json) -> Json:
        """Only the app's own bot is known: its id, app and user (as Slack answers)."""
        if _str_arg(args, "bot") != self.bot_id:
            raise _SlackError("bot_not_found")
        return {
            "bot": {
                "id": self.bot_id,
                "deleted": False,
                "name": self.bot_name,
                "app_id": self.app_id,
                "user_id": self.bot_user_id,
            }
        }

    def _conversations_open(self, args: Json) -> Json:
        """The app's DM with one user (``users``), made up from the user's id."""
        users = str(args.get("users") or "")
        if not users or "," in users or users not in self._users:
            raise _SlackError("user_not_found")
        channel = "D" + users[1:]
        self._channels.setdefault(channel, self._synth_channel(channel) | {"user": users})
        return {"channel": {"id": channel}}

    def _conversations_info(self, args: Json) -> Json:
        channel = _str_arg(args, "channel")
        if channel is None:
            raise _SlackError("channel_not_found")
        info = self._channels.get(channel)
        if info is None:
            if channel[0] not in "CGD":
                raise _SlackError("channel_not_found")
            info = self._synth_channel(channel)
        return {"channel": copy.deepcopy(info)}

    def _conversations_replies(self, args: Json) -> Json:
        channel = self._channel_arg(args)
        ts = _str_arg(args, "ts")
        msgs = self._messages.get(channel, {})
        found = [m for m in msgs.values() if m.ts == ts or (m.thread_ts == ts and m.is_reply)]
        # People's posts are only known when ingested, so a thread of bot replies
        # under an unknown root is still found.
        if ts is None or not found:
            raise _SlackError("thread_not_found")
        inclusive = str(args.get("inclusive", "")).lower() in ("1", "true")
        for bound, keep in (("oldest", 1), ("latest", -1)):
            if (limit_ts := _str_arg(args, bound)) is not None:
                edge = _ts_key(limit_ts)
                found = [
                    m
                    for m in found
                    if (_ts_key(m.ts) > edge if keep == 1 else _ts_key(m.ts) < edge)
                    or (inclusive and _ts_key(m.ts) == edge)
                ]
        found.sort(key=lambda m: _ts_key(m.ts))
        return {
            "messages": [m.to_api(self.team_id) for m in found],
            "has_more": False,
            "response_metadata": {"next_cursor": ""},
        }

    def _conversations_history(self, args: Json) -> Json:
        channel = self._channel_arg(args)
        found = [m for m in self._messages.get(channel, {}).values() if not m.is_reply]
        found.sort(key=lambda m: _ts_key(m.ts), reverse=True)
        limit = int(args.get("limit") or 100)
        return {
            "messages": [m.to_api(self.team_id) for m in found[:limit]],
            "has_more": len(found) > limit,
            "response_metadata": {"next_cursor": ""},
        }

    def _views_record(self, method: str, args: Json) -> Json:
        view = _dict_arg(args.get("view"), "invalid_arguments")
        if view is None:
            raise _SlackError("invalid_arguments")
        if method in ("views.open", "views.push") and not _str_arg(args, "trigger_id"):
            raise _SlackError("invalid_trigger_id")
        if method == "views.publish" and not _str_arg(args, "user_id"):
            raise _SlackError("invalid_arguments")
        if method == "views.publish" and view.get("type") != "home":
            raise _SlackError("invalid_arguments")
        blocks = view.get("blocks")
        if not isinstance(blocks, list) or len(blocks) > MAX_VIEW_BLOCKS:
            raise _blocks_error(f"no more than {MAX_VIEW_BLOCKS} items", "/view/blocks")
        view_id = _str_arg(args, "view_id") or f"V{uuid.uuid4().hex[:10].upper()}"
        self._views.append(
            FakeView(
                method=method,
                view=copy.deepcopy(view),
                view_id=view_id,
                trigger_id=_str_arg(args, "trigger_id"),
                user_id=_str_arg(args, "user_id"),
                at=time.monotonic(),
            )
        )
        return {"view": {"id": view_id, "team_id": self.team_id, **copy.deepcopy(view)}}
