"""What the edge lets through to Bolt: a signed request Bolt can read without tripping.

Bolt's own middleware reads a few fields of every request before any listener runs, and
a wrong type there (a ``team_id`` that is a list) would be a traceback and a 500. These
shapes are checked first, so such a request gets a clear 400 instead.
"""

from __future__ import annotations

import json
from typing import Any, Literal
from urllib.parse import parse_qsl

from pydantic import ValidationError

from slackbot.slack.payloads import (
    BlockActions,
    MessageShortcut,
    SlackModel,
    SlashCommand,
    ViewSubmission,
    field_errors,
)


class _Authorization(SlackModel):
    team_id: str | None = None
    enterprise_id: str | None = None
    user_id: str | None = None
    is_enterprise_install: bool | None = None


class _EventShape(SlackModel):
    """The event fields Bolt's own middleware reads, with the types it expects."""

    type: str
    user: str | None = None
    bot_id: str | None = None
    subtype: str | None = None
    channel: str | None = None
    ts: str | None = None
    thread_ts: str | None = None
    text: str | None = None


class EventEnvelope(SlackModel):
    """What Bolt reads of an Events API request before any listener runs."""

    type: Literal["event_callback"]
    team_id: str | None = None
    enterprise_id: str | None = None
    api_app_id: str | None = None
    authorizations: list[_Authorization] | None = None
    is_enterprise_install: bool | None = None
    event: _EventShape


class _UrlVerification(SlackModel):
    type: Literal["url_verification"]
    challenge: str


class _Command(SlashCommand):
    command: str


_INTERACTIONS: dict[str, type[SlackModel]] = {
    "block_actions": BlockActions,
    "message_action": MessageShortcut,
    "view_submission": ViewSubmission,
}


def read_body(raw: str, content_type: str) -> dict[str, Any]:
    """The body as Bolt will read it (JSON, a form, or a form's JSON ``payload``);
    raises ``ValueError`` when it cannot be read."""
    if content_type == "application/json" or raw.startswith("{"):
        body = json.loads(raw)
    elif "payload" in raw:
        body = json.loads(dict(parse_qsl(raw, keep_blank_values=True)).get("payload") or "{}")
    else:
        body = dict(parse_qsl(raw, keep_blank_values=True))
    if not isinstance(body, dict):
        raise ValueError("not an object")
    return body


def admission_problem(body: dict[str, Any]) -> str | None:
    """Why Bolt should not see a (signed, readable) request, or None when it may."""
    kind = body.get("type")
    if "ssl_check" in body:
        return None
    model: type[SlackModel] | None
    if kind == "event_callback":
        model = EventEnvelope
    elif kind == "url_verification":
        model = _UrlVerification
    elif "command" in body and kind is None:
        model = _Command
    else:
        model = _INTERACTIONS.get(str(kind))
    if model is None:
        return f"a kind the app does not handle ({str(kind)[:40]})"
    try:
        model.model_validate(body)
    except ValidationError as exc:
        return f"malformed {kind or 'command'} ({field_errors(exc)})"
    return None
