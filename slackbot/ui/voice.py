"""What people read about their voice messages: what the agent heard, and why a
recording was not sent (each refusal says what to do instead).

File names come from people: they are escaped like any text the app shows, so that
``<!channel>`` in a name can never ping anyone.
"""

from __future__ import annotations

import re

from slackbot.ui.escape import escape

HEARD_CHARS = 600
"""The longest transcript shown above a reply (the agent got all of it)."""

_SPACE = re.compile(r"\s+")

VOICE_OFF = (
    ":no_entry_sign: Voice messages are turned off for this app, so nothing was sent to the "
    "agent. Please type your message instead."
)


def heard(transcript: str) -> str:
    """The line above a voice message's reply (Markdown, escaped with the reply)."""
    words = _SPACE.sub(" ", transcript).strip()
    if not words:
        return "_Heard nothing I could make out._\n\n"
    if len(words) > HEARD_CHARS:
        words = words[: HEARD_CHARS - 1].rstrip() + "…"
    return f"_Heard:_ “{words}”\n\n"


def _name(name: str) -> str:
    return f"“{escape(name.strip() or 'the file')}”"


def _mb(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB"


def not_audio(name: str, mimetype: str) -> str:
    kind = escape(mimetype or "an unknown type")
    return (
        f":no_entry_sign: {_name(name)} ({kind}) is not a recording, so nothing was sent to "
        "the agent: it reads text and listens to audio clips. Please type your message, or "
        "record a clip with Slack's microphone button."
    )


def too_big(name: str, limit: int, size: int | None = None) -> str:
    large = f"is {_mb(size)}, more than" if size is not None else "is larger than"
    return (
        f":no_entry_sign: {_name(name)} {large} the {_mb(limit)} the app takes, so nothing "
        "was sent to the agent. Please record a shorter clip, or type your message."
    )


def too_long(name: str, limit_seconds: float) -> str:
    minutes = limit_seconds / 60
    length = f"{minutes:g} minutes" if minutes >= 1 else f"{limit_seconds:g} seconds"
    return (
        f":no_entry_sign: {_name(name)} plays longer than {length}, the most the app "
        "sends, so nothing was sent to the agent. Please record a shorter clip."
    )


def unplayable(name: str) -> str:
    return (
        f":no_entry_sign: {_name(name)} could not be played (it is damaged, silent, or in a "
        "format the app does not know), so nothing was sent to the agent. Please record it "
        "again with Slack's microphone button, or type your message."
    )


def not_fetched(name: str) -> str:
    return (
        f":warning: Slack would not hand over {_name(name)} (it may have been deleted, or "
        "the app may lack the `files:read` permission an admin grants by reinstalling it), "
        "so nothing was sent to the agent. Please post the recording again."
    )


def fetch_failed(name: str) -> str:
    return (
        f":warning: {_name(name)} could not be fetched from Slack just now, so nothing was "
        "sent to the agent. Press Retry in a moment."
    )
