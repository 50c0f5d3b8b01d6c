""" "Why this answer?": an interaction's insights as a modal, in plain words.

Amigo explains an answer in its own terms (states, exit conditions, dynamic behaviour
sets, tool call logs); a person in Slack reads where the agent was, which steps it took
and why, and which tools it used.
"""

from __future__ import annotations

from typing import Any

from slackbot.amigo.models import InteractionInsights
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
    """A modal that only says ``text`` (Slack markup): loading, or why not."""
    return view([_section(text)])


def _listed(items: list[str]) -> str:
    shown = items[:MAX_ITEMS]
    more = len(items) - len(shown)
    return "\n".join(f"• {item}" for item in shown) + (f"\n• …and {more} more" if more else "")


def insights_view(
    insights: InteractionInsights,
    *,
    votes: dict[str, int] | None = None,
    comments: list[str] | None = None,
) -> dict[str, Any]:
    """What the agent did to reach the answer, from Amigo's insights; and, for one reply,
    what people said of it (``votes``: up and down counts; their comments)."""
    state = f"*Where the agent was:* {escape(insights.current_state_name)}"
    if insights.current_state_objective:
        state += f"\n_{escape(insights.current_state_objective)}_"
    blocks = [_section(state)]
    steps = []
    for move in insights.state_transitions:
        step = f"from {escape(move.previous_state)} to {escape(move.next_state)}"
        if move.exit_condition:
            step += f", because {escape(move.exit_condition)}"
        steps.append(step)
    blocks.append(
        _section("*Steps it took:*\n" + _listed(steps) if steps else "*Steps it took:* none")
    )
    if insights.dynamic_behavior_set is not None:
        name, version = insights.dynamic_behavior_set
        blocks.append(_section(f"*Behaviour that fired:* {escape(name)} (version {version})"))
    else:
        blocks.append(_section("*Behaviour that fired:* none"))
    tools = [f"{escape(call.tool_name)} ({call.duration:.1f} s)" for call in insights.tool_calls]
    blocks.append(
        _section("*Tools it used:*\n" + _listed(tools) if tools else "*Tools it used:* none")
    )
    if votes is not None:
        said = f"*What people said:* :+1: {votes.get('up', 0)}  :-1: {votes.get('down', 0)}"
        if comments:
            said += "\n" + _listed([f"“{escape(c)}”" for c in comments])
        blocks.append(_section(said))
    return view(blocks)
