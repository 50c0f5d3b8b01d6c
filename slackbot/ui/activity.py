"""What the agent is doing, in a few plain words: Amigo's ``current-agent-action`` events
as a thread status (and, in native streams, as task updates).

Amigo names its steps for engineers (``navigate-state-machine-recall-state-…``); a person
waiting in Slack needs to know only that the agent is working and roughly on what.
Steps nobody needs to see map to nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slackbot.ui.escape import escape

MAX_WORDS = 60
"""Slack shows a status on one line."""


@dataclass(frozen=True, slots=True)
class Task:
    """One step shown in a native stream's task timeline."""

    id: str
    title: str
    state: str
    """pending, in_progress, complete or error (Slack's task states)."""


@dataclass(frozen=True, slots=True)
class Activity:
    words: str
    """A short phrase, e.g. "Using a tool…" (plain text)."""
    task: Task | None = None


_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("select-dynamic-behavior", "Choosing how to respond…"),
    ("check-if-active-memory-needed", "Checking what it remembers…"),
    ("extract-active-memories", "Recalling what it knows…"),
    ("navigate-state-machine-recall-state", "Recalling what it knows…"),
    ("navigate-state-machine-reflection-state", "Thinking it over…"),
    ("navigate-state-machine-decision-state", "Deciding what to do next…"),
    ("navigate-state-machine-exit-condition", "Moving on to the next step…"),
    ("navigate-state-machine-state-transitioned", "Moving on to the next step…"),
    ("navigate-state-machine-annotation-state", "Looking at its notes…"),
    ("navigate-state-machine-action-state", "Choosing its next step…"),
    ("generate-tool-params", "Preparing a tool call…"),
    ("navigate-state-machine-tool-call-state", "Reading a tool's answer…"),
    ("engage-user", "Writing…"),
)

_TOOL_STARTED = "tool-call-started"
_TOOL_ENDED = "tool-call-ended"
_TOO_LONG = "action-too-long"


def _tool_task(action: Mapping[str, Any], state: str) -> Task:
    round_index = action.get("tool_round_index")
    tool = action.get("tool_id")
    task_id = f"tool-{round_index if isinstance(round_index, int) else 0}-{tool or 'tool'}"
    return Task(id=task_id[:64], title="Using a tool", state=state)


def _filler(action: Mapping[str, Any]) -> str | None:
    """The text of an ``action-too-long`` filler; None when it is audio (base64 WAV)."""
    filler = action.get("filler")
    if not isinstance(filler, str) or not filler.strip() or filler.startswith("UklGR"):
        return None
    text = " ".join(filler.split())
    return text if len(text) <= MAX_WORDS else text[: MAX_WORDS - 1] + "…"


def describe(action: Mapping[str, Any]) -> Activity | None:
    """What to show for one ``current-agent-action`` (its ``action`` object)."""
    kind = action.get("type")
    if not isinstance(kind, str):
        return None
    if kind == _TOOL_STARTED:
        return Activity("Using a tool…", _tool_task(action, "in_progress"))
    if kind == _TOOL_ENDED:
        return Activity("Reading a tool's answer…", _tool_task(action, "complete"))
    if kind == _TOO_LONG:
        filler = _filler(action)
        return Activity(filler or "Still working on it…")
    for prefix, words in _BY_PREFIX:
        if kind.startswith(prefix):
            return Activity(words)
    return None


def placeholder(activity: Activity) -> str:
    """The activity as the reply placeholder's text (Slack markup)."""
    return f"_{escape(activity.words)}_"
