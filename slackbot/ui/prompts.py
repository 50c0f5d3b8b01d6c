"""The app's DM as Slack's agent view: suggested prompts and thread titles, shaped as
Slack takes them (short titles to click; the whole message each sends)."""

from __future__ import annotations

PROMPT_TITLE_CHARS = 40
THREAD_TITLE_CHARS = 60


def _shortened(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def prompt_items(prompts: list[str]) -> list[dict[str, str]]:
    """Slack's suggested prompts: a short title to click, the whole message it sends."""
    return [{"title": _shortened(p, PROMPT_TITLE_CHARS), "message": p} for p in prompts]


PROMPTS_TITLE = "Try asking"


def thread_title(first_message: str) -> str:
    """A thread's title in the app's DM: its first message, on one short line."""
    return _shortened(first_message, THREAD_TITLE_CHARS)
