"""Slack message payloads for the agent's Markdown: a ``markdown`` block, and a plain
``text`` fallback for notifications."""

from __future__ import annotations

import re
from typing import Any, Final

from slack_sdk.models.blocks import MarkdownBlock

from slackbot.ui.escape import escape
from slackbot.ui.split import Fence, closes_fence, parse_opening_fence

MARKDOWN_BLOCK_CHAR_LIMIT: Final = 12000
"""Slack's limit for the ``text`` of a ``markdown`` block."""

FALLBACK_CHAR_LIMIT: Final = 3000
"""Notifications need no more than this; longer fallbacks are truncated with an ellipsis."""

_ELLIPSIS: Final = "…"


def reply_body(text: str, notice: str | None = None) -> str:
    """What a reply's messages say: the agent's text, escaped per Slack's rules so that it
    can never ping anyone, then the app's notice (already Slack markup), if any."""
    return "\n\n".join(part for part in (escape(text), notice or "") if part)


def markdown_blocks(chunk: str) -> list[dict[str, Any]]:
    """Block Kit blocks for one chunk: a single ``markdown`` block.

    A blank chunk yields no blocks (Slack rejects an empty ``markdown`` block). Raises
    ``slack_sdk.errors.SlackObjectFormationError`` beyond ``MARKDOWN_BLOCK_CHAR_LIMIT``.
    """
    if not chunk.strip():
        return []
    return [MarkdownBlock(text=chunk).to_dict()]


_HEADING = re.compile(r" {0,3}#{1,6}(?:[ \t]+|$)")
_HEADING_CLOSE = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_QUOTE = re.compile(r" {0,3}>[ \t]?")
_INLINE = re.compile(
    r"(?P<ticks>`+)(?P<code>.+?)(?<!`)(?P=ticks)(?!`)"
    r"|!?\[(?P<label>[^\]\n]*)\]\(\s*<?(?P<url>[^\s()<>]+)>?"
    r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)"
    r"|<(?P<auto>(?:https?|mailto):[^\s<>]+)>"
    r"|(?P<bare>\b(?:https?://|www\.)[^\s<>]+)"
    r"|\\(?P<escaped>[!-/:-@\[-`{-~])"
)
_EMPHASIS = (
    re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*"),
    re.compile(r"(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)"),
    re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])"),
    re.compile(r"(?<!\w)_(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)"),
    re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"),
)
_URL_TRAILER = ".,;:!?'\")*_~"


def fallback_text(chunk: str) -> str:
    """Plain text of a Markdown chunk for the message's ``text`` (notifications).

    Drops emphasis markers (``snake_case`` survives), heading and quote markers and fence
    lines, turns ``[label](url)`` into ``label (url)``, keeps code verbatim, and truncates
    to ``FALLBACK_CHAR_LIMIT`` characters with an ellipsis.
    """
    sentinel = _unused_char(chunk)
    lines: list[str] = []
    fence: Fence | None = None
    for line in chunk.split("\n"):
        if fence is None:
            fence = parse_opening_fence(line)
            if fence is None:
                lines.append(_plain_line(line, sentinel))
        elif closes_fence(fence, line):
            fence = None
        else:
            lines.append(line)
    plain = "\n".join(lines).strip()
    if len(plain) > FALLBACK_CHAR_LIMIT:
        plain = plain[: FALLBACK_CHAR_LIMIT - len(_ELLIPSIS)].rstrip() + _ELLIPSIS
    return plain


def _unused_char(text: str) -> str | None:
    """A private-use character absent from ``text``, to mark protected spans."""
    used = set(text)
    for ranges in ((0xE000, 0xF8FF), (0xF0000, 0xFFFFD)):
        for code in range(*ranges):
            if chr(code) not in used:
                return chr(code)
    return None


def _plain_line(line: str, sentinel: str | None) -> str:
    heading = _HEADING.match(line)
    if heading is not None:
        line = _HEADING_CLOSE.sub("", line[heading.end() :])
    else:
        while (quote := _QUOTE.match(line)) is not None:
            line = line[quote.end() :]
    if sentinel is None:  # cannot protect code and URLs: leave the line alone
        return line
    protected: list[str] = []

    def protect(value: str) -> str:
        protected.append(value)
        return f"{sentinel}{len(protected) - 1}{sentinel}"

    def replace(match: re.Match[str]) -> str:
        if match.group("ticks") is not None:
            code = match.group("code")
            if len(code) > 2 and code[0] == code[-1] == " " and code.strip():
                code = code[1:-1]
            return protect(code)
        if match.group("url") is not None:
            label, url = match.group("label").strip(), match.group("url")
            return f"{label} ({protect(url)})" if label and label != url else protect(url)
        if match.group("auto") is not None:
            return protect(match.group("auto").removeprefix("mailto:"))
        if match.group("bare") is not None:
            url = match.group("bare").rstrip(_URL_TRAILER)
            return protect(url) + match.group("bare")[len(url) :]
        return protect(match.group("escaped"))

    line = _INLINE.sub(replace, line)
    for pattern in _EMPHASIS:
        line = pattern.sub(r"\1", line)
    return re.sub(
        f"{re.escape(sentinel)}(\\d+){re.escape(sentinel)}",
        lambda match: protected[int(match.group(1))],
        line,
    )
