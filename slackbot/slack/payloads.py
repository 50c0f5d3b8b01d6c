"""Typed views of the Slack payloads the app acts on, and the checks they must pass.

Whatever does not fit (a missing ``user``, a ``ts`` that is a list, a workspace the app
is not installed in) is refused with one WARNING line and never reaches the relay.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from slackbot.slack.files import attachment_of
from slackbot.store.repo import IncomingMessage
from slackbot.ui.markup import strip_bot_mention

log = logging.getLogger("slackbot.payloads")

MAX_TEXT_CHARS = 16_000
"""The longest message the app relays to the agent; longer ones get an explanation."""

RELAYED_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})
"""Message subtypes that are still a person talking in the thread."""

_ID = r"^[A-Z0-9]{2,32}$"
_TS = r"^\d{1,12}\.\d{1,9}$"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class SlackModel(BaseModel):
    """A Slack payload as the app reads it: types strict, fields it does not use ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


M = TypeVar("M", bound=SlackModel)


class MessageEvent(SlackModel):
    type: Literal["message", "app_mention"]
    user: str = Field(pattern=_ID)
    channel: str = Field(pattern=_ID)
    ts: str = Field(pattern=_TS)
    thread_ts: str | None = Field(default=None, pattern=_TS)
    text: str = ""
    channel_type: str | None = None
    parent_user_id: str | None = None  # on thread replies: who began the thread


class EventCallback(SlackModel):
    type: Literal["event_callback"]
    team_id: str = Field(pattern=_ID)
    api_app_id: str | None = None
    event_id: str | None = Field(default=None, max_length=64)
    event: MessageEvent


@dataclass(frozen=True, slots=True)
class Refused:
    """Why an event is not relayed (``warn``: it was malformed or not ours, not just
    something the app ignores, like a bot's message)."""

    reason: str
    warn: bool = False


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the app is in the workspace a request came from, as Slack said (unknown
    fields are not checked)."""

    bot_user_id: str = ""
    team_id: str | None = None
    app_id: str | None = None


def workspace_of(
    body: dict[str, Any], team_id: str | None, enterprise_id: str | None
) -> tuple[str | None, str | None]:
    """The workspace (team, Grid org) a request is for: an event's own ``team_id`` (its
    thread's workspace, as the relay keys threads), else the team Bolt read from the
    request (``team_id``); the org as Bolt read it (from the event's ``authorizations``
    first: an org-wide install speaks for every workspace of the org)."""
    own = body.get("team_id") if body.get("type") == "event_callback" else None
    return (own if isinstance(own, str) and own else team_id), enterprise_id


def field_errors(exc: ValidationError) -> str:
    return ", ".join(sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()}))


def clean_text(text: str) -> str:
    """Text a database can store and a person meant: no NUL or other control characters
    (newlines and tabs stay)."""
    return _CONTROL.sub("", text)


def _in_a_thread_the_app_began(message: MessageEvent) -> bool:
    """A reply in the app's DM, in a thread the person did not begin, is addressed to the
    app as much as a mention is: Slack's older assistant view opens each thread with the
    app's own message, and the person's first words there are a reply to it."""
    return (
        message.channel_type == "im"
        and message.thread_ts not in (None, message.ts)
        and message.parent_user_id not in (None, message.user)
    )


def not_a_person(body: dict[str, Any]) -> Refused | None:
    """Why an event is not a person's new message (a bot's, an edit, a join), if it is not."""
    event = body.get("event")
    if isinstance(event, dict) and (
        event.get("bot_id") or event.get("subtype") not in RELAYED_SUBTYPES
    ):
        return Refused("not a person's new message")
    return None


def incoming_message(body: dict[str, Any], me: Identity) -> IncomingMessage | Refused:
    """The person's message in an ``event_callback``, or why it is not relayed."""
    event = body.get("event")
    if (refused := not_a_person(body)) is not None:
        return refused
    try:
        callback = EventCallback.model_validate(body)
    except ValidationError as exc:
        return Refused(f"malformed event ({field_errors(exc)})", warn=True)
    if me.team_id is not None and callback.team_id != me.team_id:
        return Refused(f"event of another workspace ({callback.team_id})", warn=True)
    if me.app_id is not None and callback.api_app_id not in (None, me.app_id):
        return Refused(f"event of another app ({callback.api_app_id})", warn=True)
    message = callback.event
    if message.user == me.bot_user_id:
        return Refused("the app's own message")
    raw = clean_text(message.text)
    mentions_bot = (
        message.type == "app_mention"
        or (bool(me.bot_user_id) and f"<@{me.bot_user_id}" in raw)
        or _in_a_thread_the_app_began(message)
    )
    text = strip_bot_mention(raw, me.bot_user_id) if me.bot_user_id else raw
    return IncomingMessage(
        team_id=callback.team_id,
        channel_id=message.channel,
        user_id=message.user,
        ts=message.ts,
        thread_ts=message.thread_ts,
        text=text,
        mentions_bot=mentions_bot,
        is_dm=message.channel_type == "im",
        event_id=callback.event_id,
        attachment=attachment_of(event.get("files") if isinstance(event, dict) else None, text),
    )


# -- slash commands and interactivity --------------------------------------------


class _Ref(SlackModel):
    id: str = Field(pattern=_ID)


class SlashCommand(SlackModel):
    user_id: str = Field(pattern=_ID)
    channel_id: str = Field(pattern=_ID)
    team_id: str = Field(pattern=_ID)
    text: str = Field(default="", max_length=MAX_TEXT_CHARS)
    trigger_id: str | None = None


class ClickedMessage(SlackModel):
    ts: str = Field(pattern=_TS)
    thread_ts: str | None = Field(default=None, pattern=_TS)
    text: str = ""
    blocks: list[dict[str, Any]] = Field(default_factory=list)


class _Container(SlackModel):
    channel_id: str | None = Field(default=None, pattern=_ID)
    message_ts: str | None = Field(default=None, pattern=_TS)
    thread_ts: str | None = Field(default=None, pattern=_TS)


class _Option(SlackModel):
    value: str


class Action(SlackModel):
    action_id: str
    value: str | None = None
    selected_option: _Option | None = None

    @property
    def choice(self) -> str | None:
        """What was picked: an option's value, or the button's."""
        return self.selected_option.value if self.selected_option else self.value


class BlockActions(SlackModel):
    """A click on a button or menu in a message."""

    user: _Ref
    team: _Ref | None = None
    channel: _Ref | None = None
    container: _Container = Field(default_factory=_Container)
    message: ClickedMessage | None = None
    actions: list[Action] = Field(min_length=1)
    trigger_id: str | None = None

    @property
    def action(self) -> Action:
        return self.actions[0]

    @property
    def channel_id(self) -> str | None:
        return self.container.channel_id or (self.channel.id if self.channel else None)

    @property
    def message_ts(self) -> str | None:
        return self.container.message_ts or (self.message.ts if self.message else None)

    @property
    def thread_ts(self) -> str | None:
        """The thread the clicked message is in (its own ts when it is a root)."""
        message_thread = self.message.thread_ts if self.message else None
        return self.container.thread_ts or message_thread or self.message_ts


class MessageShortcut(SlackModel):
    """A message shortcut, chosen from a message's ⋯ menu."""

    callback_id: str
    user: _Ref
    team: _Ref | None = None
    channel: _Ref
    message_ts: str = Field(pattern=_TS)
    message: ClickedMessage | None = None
    trigger_id: str | None = None

    @property
    def thread_ts(self) -> str:
        return (self.message.thread_ts if self.message else None) or self.message_ts


class _SubmittedView(SlackModel):
    id: str = ""
    callback_id: str
    private_metadata: str = ""
    state: dict[str, Any] = Field(default_factory=dict)

    def _input(self, block_id: str, action_id: str) -> dict[str, Any]:
        values = self.state.get("values")
        block = values.get(block_id) if isinstance(values, dict) else None
        found = block.get(action_id) if isinstance(block, dict) else None
        return found if isinstance(found, dict) else {}

    def text(self, block_id: str, action_id: str) -> str:
        """The value typed into one plain-text input ("" when it was left empty)."""
        return str(self._input(block_id, action_id).get("value") or "")

    def selected(self, block_id: str, action_id: str) -> str:
        """The conversation (or channel) picked in a select ("" when none was)."""
        chosen = self._input(block_id, action_id)
        return str(chosen.get("selected_conversation") or chosen.get("selected_channel") or "")


class ViewSubmission(SlackModel):
    """A modal's Submit."""

    user: _Ref
    team: _Ref | None = None
    view: _SubmittedView


class HomeOpened(SlackModel):
    """``app_home_opened``: someone opened a tab of the app (``messages``: its DM,
    ``home``: its Home tab)."""

    user: str = Field(pattern=_ID)
    channel: str
    tab: str


class AssistantThread(SlackModel):
    channel_id: str
    thread_ts: str


class ThreadStarted(SlackModel):
    """``assistant_thread_started``: a thread began in the assistant view."""

    assistant_thread: AssistantThread


def parse(model: type[M], body: dict[str, Any], what: str) -> M | None:
    """``body`` as ``model``, or None (with one WARNING line) when it does not fit."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        log.warning("%s not acted on: malformed (%s)", what, field_errors(exc))
        return None
