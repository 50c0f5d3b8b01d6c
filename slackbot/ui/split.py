"""Cut the agent's Markdown reply into message-sized chunks.

A reply is posted as one or more messages. Long replies are split with :func:`split_reply`, which is
called again and again on a growing, streamed text, so it is *stable*: every chunk except the
last one depends only on a prefix of the text and never changes as more text arrives.

Lossless rule (see :func:`join_chunks`)::

    join_chunks(split_reply_chunks(text, limit)) == text

where ``join_chunks`` concatenates, for every chunk, ``chunk.body`` (the chunk's text without
the fence line this module prepended/appended) followed by ``chunk.separator`` (the whitespace
dropped at the split point: newlines and blank lines, a run of spaces/tabs, trailing whitespace
after the last chunk, or nothing for a hard split).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

MESSAGE_CHAR_LIMIT: Final = 3900
"""Maximum length of one message body (Slack advises ``text`` of at most 4,000 chars)."""

# --------------------------------------------------------------------------------------------
# Fenced code blocks (CommonMark rules, top level only: indent of at most three spaces)
# --------------------------------------------------------------------------------------------

_OPENING_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_FENCE_START = re.compile(r" {0,3}(?:`{3}|~{3})")
_FENCE_PARTIAL = re.compile(r" {0,3}(?:`{0,2}|~{0,2})")
_BLANK_LINE = re.compile(r"[ \t\r]*")
_BLANK_RUN = re.compile(r"(?:[ \t\r]*\n)*")
_SPACE_RUN = re.compile(r"[ \t]+")


@dataclass(frozen=True, slots=True)
class Fence:
    marker: str  # the backtick/tilde run of the opening line, e.g. "```" or "~~~~"
    line: str  # the opening line (indent, marker, info string), trailing blanks removed


def parse_opening_fence(line: str) -> Fence | None:
    match = _OPENING_FENCE.fullmatch(line)
    if match is None:
        return None
    marker, info = match.group(1), match.group(2)
    if marker[0] == "`" and "`" in info:  # "```a`b" is inline code, not a fence
        return None
    return Fence(marker=marker, line=line.rstrip())


def closes_fence(fence: Fence, line: str) -> bool:
    stripped = line.rstrip(" \t\r")
    body = stripped.lstrip(" ")
    if len(stripped) - len(body) > 3 or len(body) < len(fence.marker):
        return False
    return body == fence.marker[0] * len(body)


def _may_be_fence(text: str, start: int, end: int) -> bool:
    """Whether line fragment ``text[start:end]`` is, or could grow into, a fence line.

    Splitting such a line would create or destroy a fence, so no split goes inside it.
    """
    head = text[start : min(end, start + 7)]
    if _FENCE_START.match(head) is not None:
        return True
    return end - start <= 5 and _FENCE_PARTIAL.fullmatch(head) is not None


class _Layout:
    """Per-line facts about a text: where lines start and which fence is open there."""

    __slots__ = ("blank", "final", "opens", "starts", "states", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts: list[int] = []
        self.states: list[Fence | None] = []  # fence open at the start of each line
        self.blank: list[bool] = []
        self.opens: list[bool] = []  # the line is an opening fence
        state: Fence | None = None
        start = 0
        while True:
            newline = text.find("\n", start)
            end = len(text) if newline < 0 else newline
            line = text[start:end]
            self.starts.append(start)
            self.states.append(state)
            self.blank.append(_BLANK_LINE.fullmatch(line) is not None)
            opened = False
            if state is None:
                state = parse_opening_fence(line)
                opened = state is not None
            elif closes_fence(state, line):
                state = None
            self.opens.append(opened)
            if newline < 0:
                break
            start = newline + 1
        self.final = state

    def line_of(self, index: int) -> int:
        return bisect_right(self.starts, index) - 1

    def state_after(self, line: int) -> Fence | None:
        return self.states[line + 1] if line + 1 < len(self.states) else self.final


def _repair(fence: Fence | None, limit: int) -> tuple[str, str]:
    """The (reopen, close) strings for a split inside ``fence``.

    Absurdly long fence lines (more than half the limit) are not repaired: the limit wins.
    """
    if fence is None:
        return "", ""
    reopen, close = fence.line + "\n", "\n" + fence.marker
    if len(reopen) + len(close) > limit // 2:
        return "", ""
    return reopen, close


# --------------------------------------------------------------------------------------------
# Splitting
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplyChunk:
    """One message's worth of a reply.

    ``text`` is what gets posted: ``reopen + body + close``. ``reopen`` is the fence line
    (plus newline) repeated because the chunk starts inside a code block, ``close`` is the
    newline plus fence appended because it ends inside one; both are empty otherwise.
    ``separator`` is the original whitespace dropped between this chunk and the next.
    """

    text: str
    reopen: str = ""
    close: str = ""
    separator: str = ""

    @property
    def body(self) -> str:
        """The slice of the original text this chunk carries."""
        return self.text[len(self.reopen) : len(self.text) - len(self.close)]


def join_chunks(chunks: Sequence[ReplyChunk]) -> str:
    """Rebuild the original text: ``join_chunks(split_reply_chunks(t, n)) == t``."""
    return "".join(chunk.body + chunk.separator for chunk in chunks)


def split_reply(text: str, limit: int = MESSAGE_CHAR_LIMIT) -> list[str]:
    """Split a Markdown reply into message texts of at most ``limit`` characters each.

    See :func:`split_reply_chunks` for the rules; this returns just the texts to post.
    """
    return [chunk.text for chunk in split_reply_chunks(text, limit)]


def split_reply_chunks(text: str, limit: int = MESSAGE_CHAR_LIMIT) -> list[ReplyChunk]:
    """Split ``text`` into chunks whose ``text`` has at most ``limit`` characters.

    A text of at most ``limit`` characters (including the empty text) is returned as is.
    Otherwise chunks are cut greedily from the start. Each cut is at the latest paragraph
    boundary (blank line), else line boundary, else run of spaces that fits; a category is
    skipped in favour of the next one when it would fill less than half the chunk, unless no
    category does. A cut inside a fenced code block is used only when no cut outside one fits,
    i.e. when the block alone exceeds the limit; the chunk then ends with a closing fence and
    the next chunk starts with the opening fence line again, so fences stay balanced. A word
    or line longer than the limit is cut hard. No mid-line cut goes inside a fence line or
    lets the next chunk start with a fence, nor, where the text allows, with a heading, quote
    or list marker. (Only absurd input, such as a fence line longer than the limit, defeats
    the fence rules; the limit and the lossless rule always hold.)

    Stability: a cut depends only on the ``limit`` characters from the chunk's start and on
    the whitespace run at the cut, so for any ``suffix`` every chunk of ``text`` except the
    last is also a chunk, at the same index, of ``text + suffix``.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    if len(text) <= limit:
        return [ReplyChunk(text)]
    layout = _Layout(text)
    content_end = len(text.rstrip())
    chunks: list[ReplyChunk] = []
    pos = 0
    reopen = ""
    while True:
        if len(reopen) + len(text) - pos <= limit:
            chunks.append(ReplyChunk(reopen + text[pos:], reopen=reopen))
            return chunks
        if len(reopen) + content_end - pos <= limit:  # only trailing whitespace is too much
            body = text[pos:content_end] if content_end > pos else ""
            separator = text[max(pos, content_end) :]
            chunks.append(ReplyChunk(reopen + body, reopen=reopen, separator=separator))
            return chunks
        end, start, fence = _choose_split(layout, pos, len(reopen), limit)
        next_reopen, close = _repair(fence, limit)
        chunks.append(
            ReplyChunk(
                reopen + text[pos:end] + close,
                reopen=reopen,
                close=close,
                separator=text[end:start],
            )
        )
        pos, reopen = start, next_reopen


_PARAGRAPH, _LINE, _SPACE = 0, 1, 2
_Cut = tuple[int, int, Fence | None]  # (end of chunk body, start of next chunk, open fence)


def _choose_split(layout: _Layout, pos: int, reopen_len: int, limit: int) -> _Cut:
    """Pick the cut for the chunk starting at ``pos``.

    The caller guarantees that the text has a non-whitespace character at or after
    ``horizon``; the choice only looks at ``text[:horizon + 1]`` and at whitespace runs that
    start before it, which is what makes earlier chunks stable as the text grows.
    """
    text = layout.text
    horizon = pos + limit - reopen_len  # the body may end here at the latest
    min_fill = (limit - reopen_len) // 2
    best: dict[tuple[bool, int], _Cut] = {}

    line = layout.line_of(pos)
    while line + 1 < len(layout.starts):
        end = layout.starts[line + 1] - 1  # the newline ending this line
        if end > horizon:
            break
        if end > pos and not layout.blank[line] and not layout.opens[line]:
            fence = layout.state_after(line)
            close = _repair(fence, limit)[1]
            if end + len(close) <= horizon and not (
                fence is not None and _next_line_closes(text, fence, end, horizon)
            ):
                blank_run = _BLANK_RUN.match(text, end + 1)  # always matches, maybe empty
                start = blank_run.end() if blank_run is not None else end + 1
                kind = _PARAGRAPH if start > end + 1 else _LINE
                best[(fence is not None, kind)] = (end, start, fence)
        line += 1

    for match in _SPACE_RUN.finditer(text, pos + 1):
        end, start = match.start(), match.end()
        if end > horizon:
            break
        if text[end - 1].isspace() or start >= len(text) or text[start].isspace():
            continue  # indentation or trailing blanks: the line split covers those
        line = layout.line_of(end)
        if _may_be_fence(text, layout.starts[line], end):
            continue
        fence = layout.states[line]
        if not _tail_ok(text, start, horizon, cosmetic=fence is None):
            continue
        if end + len(_repair(fence, limit)[1]) <= horizon:
            best[(fence is not None, _SPACE)] = (end, start, fence)

    for in_code in (False, True):
        fallback: _Cut | None = None
        for kind in (_PARAGRAPH, _LINE, _SPACE):
            cut = best.get((in_code, kind))
            if cut is None:
                continue
            if cut[0] - pos >= min_fill:
                return cut
            if fallback is None:
                fallback = cut
        if fallback is not None:
            return fallback
    return _hard_split(layout, pos, horizon, limit)


def _next_line_closes(text: str, fence: Fence, end: int, horizon: int) -> bool:
    """Whether the line after ``end`` closes ``fence`` (judged only if it ends by horizon).

    A cut right before a closing fence would leave an empty code block in the next chunk.
    """
    newline = text.find("\n", end + 1, horizon + 1)
    return newline >= 0 and closes_fence(fence, text[end + 1 : newline])


def _tail_ok(text: str, start: int, horizon: int, *, cosmetic: bool) -> bool:
    """Whether the next chunk may start mid-line at ``start``.

    It must not start with a fence; with ``cosmetic``, also not with a character that could
    turn the fragment into a heading, quote or list item.
    """
    char = text[start]
    if char in "`~" and (start + 2 > horizon or text[start : start + 3] == char * 3):
        return False
    return not (cosmetic and (char in "#>+*-" or char.isdigit()))


def _hard_split(layout: _Layout, pos: int, horizon: int, limit: int) -> _Cut:
    """Cut inside a word: first cleanly, then just fence-safe, then anywhere that fits."""
    text = layout.text
    top = min(horizon, len(text) - 1)
    for strict in (True, False, None):
        line = layout.line_of(top)
        for end in range(top, pos, -1):
            while layout.starts[line] > end:
                line -= 1
            fence = layout.states[line]
            if end + len(_repair(fence, limit)[1]) > horizon:
                continue
            if strict is None or _hard_ok(text, layout.starts[line], end, horizon, strict):
                return end, end, fence
    # Unreachable for limit >= 1, since _repair keeps fence lines within half the limit.
    return pos + 1, pos + 1, layout.states[layout.line_of(pos)]


_ENTITIES = ("&amp;", "&lt;", "&gt;")


def _inside_entity(text: str, end: int) -> bool:
    """Whether a cut at ``end`` would split one of Slack's escapes (``&amp;`` …)."""
    for back in range(1, 5):
        start = end - back
        if start >= 0 and text[start] == "&":
            return any(text.startswith(e, start) and start + len(e) > end for e in _ENTITIES)
    return False


def _hard_ok(text: str, line_start: int, end: int, horizon: int, strict: bool) -> bool:
    if _may_be_fence(text, line_start, end) or _inside_entity(text, end):
        return False
    if not strict:
        return _tail_ok(text, end, horizon, cosmetic=False)
    char, previous = text[end], text[end - 1]
    if char.isspace() or previous.isspace() or "\u200d" in (char, previous):
        return False
    if unicodedata.category(char) in ("Mn", "Mc", "Me", "Cf"):  # combining marks, joiners
        return False
    return _tail_ok(text, end, horizon, cosmetic=True)
