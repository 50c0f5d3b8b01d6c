""" "Why this answer?": what Amigo says the agent did for one answer, as a window, in
plain words.

Amigo explains an answer in its own terms (states, exit conditions, dynamic behaviour
sets, tool call logs); a person in Slack reads where the agent was, which steps it took
and why, and which tools it used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slackbot.ui.escape import escape

TITLE = "Why this answer?"
LOADING = "_Asking Amigo why it answered this way…_"
NOT_AN_ANSWER = "That message is not one of the agent's answers, so there is nothing to explain."
NO_ANSWER_YET = "The agent has not answered in this conversation yet."
TURNED_OFF = "Explanations of answers are turned off in this workspace."
ONLY_ADMINS = "Only workspace admins may see why the agent answered as it did."
MAX_ITEMS = 10
MAX_CHARS = 2900
"""A section's text may hold 3,000 characters."""


@dataclass(frozen=True, slots=True)
class Explanation:
    """What Amigo says about one answer, as the window shows it."""

    state: str
    objective: str = ""
    steps: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(from state, to state, why it left) for each step."""
    behaviour: tuple[str, int] | None = None
    tools: list[tuple[str, float]] = field(default_factory=list)
    """(tool, seconds it took) for each call."""


def _section(text: str) -> dict[str, Any]:
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def view(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": TITLE},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": blocks,
    }


def message_view(text: str) -> dict[str, Any]:
    """A window that only says ``text`` (Slack markup): loading, or why not."""
    return view([_section(text)])


def _listed(title: str, items: list[str]) -> str:
    if not items:
        return f"*{title}* none"
    shown = items[:MAX_ITEMS]
    more = len(items) - len(shown)
    lines = [f"• {item}" for item in shown] + ([f"• …and {more} more"] if more else [])
    return f"*{title}*\n" + "\n".join(lines)


def insights_view(
    explained: Explanation,
    *,
    votes: dict[str, int] | None = None,
    comments: list[str] | None = None,
) -> dict[str, Any]:
    """What the agent did to reach the answer; and, for one reply, what people said of
    it (``votes``: up and down counts; their comments)."""
    state = f"*Where the agent was:* {escape(explained.state)}"
    if explained.objective:
        state += f"\n_{escape(explained.objective)}_"
    steps = []
    for before, after, because in explained.steps:
        step = f"from {escape(before)} to {escape(after)}"
        steps.append(step + (f", because {escape(because)}" if because else ""))
    behaviour = "none"
    if explained.behaviour is not None:
        name, version = explained.behaviour
        behaviour = f"{escape(name)} (version {version})"
    tools = [f"{escape(tool)} ({seconds:.1f} s)" for tool, seconds in explained.tools]
    blocks = [
        _section(state),
        _section(_listed("Steps it took:", steps)),
        _section(f"*Behaviour that fired:* {behaviour}"),
        _section(_listed("Tools it used:", tools)),
    ]
    if votes is not None:
        said = f"*What people said:* :+1: {votes.get('up', 0)}  :-1: {votes.get('down', 0)}"
        if comments:
            said += "\n" + "\n".join(f"• “{escape(c)}”" for c in comments[:MAX_ITEMS])
        blocks.append(_section(said))
    return view(blocks)
