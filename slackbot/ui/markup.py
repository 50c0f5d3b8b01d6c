"""Turn Slack message markup into the plain text we send to the agent.

Slack encodes mentions, channels, links and the like as ``<...>`` entities and escapes a
literal ``&``, ``<`` and ``>`` as ``&amp;``, ``&lt;`` and ``&gt;``. Entities are therefore
recognised on the escaped text and unescaping happens last, so that a user who typed
``<@U1>`` literally is not mistaken for a mention.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable

from slackbot.ui.escape import unescape

__all__ = ["slack_to_plain", "strip_bot_mention"]

_log = logging.getLogger(__name__)

ResolveUser = Callable[[str], Awaitable[str | None]]
"""Looks up the display name for a user id; ``None`` when unknown."""

_ENTITY = re.compile(r"<([^<>]*)>")
_BROADCASTS = frozenset({"here", "channel", "everyone"})
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_LINK_TARGET = re.compile(r"[a-z][a-z0-9+.-]*:\S+", re.IGNORECASE)


def strip_bot_mention(text: str, bot_user_id: str) -> str:
    """Remove mentions of the bot (``<@ID>`` or ``<@ID|name>``) and the gaps they leave.

    Spaces around a removed mention collapse to one space (none at a line's edges), a line
    that held only mentions disappears, and the result is stripped.
    """
    pattern = re.compile(rf"[ \t]*(?:<@{re.escape(bot_user_id)}(?:\|[^<>]*)?>[ \t]*)+")
    out: list[str] = []
    pos = 0
    for match in pattern.finditer(text):
        start, end = match.span()
        at_line_start = start == 0 or text[start - 1] == "\n"
        at_line_end = end == len(text) or text[end] == "\n"
        out.append(text[pos:start])
        if at_line_start and at_line_end:
            if end < len(text):
                end += 1  # drop the emptied line's newline
        elif not (at_line_start or at_line_end) and re.search(r"[ \t]", match.group()):
            out.append(" ")
        pos = end
    out.append(text[pos:])
    return "".join(out).strip()


async def slack_to_plain(text: str, resolve_user: ResolveUser) -> str:
    """Render Slack markup as plain text.

    ``<@U1>`` becomes ``@Display Name`` (falling back to the entity's label, then the id),
    ``<#C1|general>`` ``#general``, ``<!here>`` ``@here``, ``<!subteam^S1|@team>``
    ``@team``, ``<!date^...|fallback>`` its fallback, ``<https://x|label>``
    ``label (https://x)``, ``<https://x>`` ``https://x`` and ``<mailto:a@b.c|a@b.c>``
    ``a@b.c``. Each distinct user id is resolved once; a failing lookup counts as unknown.
    Resolved names are inserted verbatim, everything from Slack is unescaped.
    """
    matches = list(_ENTITY.finditer(text))
    user_ids = list(
        dict.fromkeys(
            user_id
            for match in matches
            if match.group(1).startswith("@") and (user_id := match.group(1)[1:].partition("|")[0])
        )
    )
    names = dict(
        zip(
            user_ids,
            await asyncio.gather(*(_resolve(resolve_user, uid) for uid in user_ids)),
            strict=True,
        )
    )
    out: list[str] = []
    pos = 0
    for match in matches:
        out.append(unescape(text[pos : match.start()]))
        out.append(_render_entity(match.group(1), names))
        pos = match.end()
    out.append(unescape(text[pos:]))
    return "".join(out)


async def _resolve(resolve_user: ResolveUser, user_id: str) -> str | None:
    try:
        name = await resolve_user(user_id)
    except Exception:
        _log.warning("could not resolve Slack user %s", user_id, exc_info=True)
        return None
    return name or None


def _render_entity(inner: str, names: dict[str, str | None]) -> str:
    """Plain text for the inside of one ``<...>`` entity."""
    target, has_label, raw_label = inner.partition("|")
    label = unescape(raw_label).strip() if has_label else ""
    if target.startswith("@"):
        user_id = target[1:]
        name = names.get(user_id) or label.removeprefix("@") or unescape(user_id)
        return "@" + name
    if target.startswith("#"):
        return "#" + (label.removeprefix("#") or unescape(target[1:]))
    if target.startswith("!"):
        command, _, argument = target[1:].partition("^")
        if command in _BROADCASTS:
            return "@" + command
        if label:
            return label
        if command == "subteam" and argument:
            return "@" + unescape(argument)
        return unescape(command)
    if _LINK_TARGET.fullmatch(target) is None:  # not an entity Slack would send: keep it
        return "<" + unescape(inner) + ">"
    url = unescape(target)
    if url.lower().startswith("mailto:"):
        address = url[len("mailto:") :]
        return address if not label or label == address else f"{label} ({address})"
    if not label or _same_link(label, url):
        return url
    return f"{label} ({url})"


def _same_link(label: str, url: str) -> bool:
    """Whether a label just repeats its URL, as Slack's auto-linking produces."""

    def bare(link: str) -> str:
        return _SCHEME.sub("", link).rstrip("/").lower()

    return bare(label) == bare(url)
