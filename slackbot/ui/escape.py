"""Slack's escaping: in message text, ``&``, ``<`` and ``>`` are control characters.

Slack sends them escaped as ``&amp;``, ``&lt;`` and ``&gt;``, and text the app sends must
escape them too, or ``<!channel>`` typed by anyone would ping a whole channel.
"""

from __future__ import annotations

import re

_ESCAPED = re.compile(r"&(amp|lt|gt);")
_PLAIN = {"amp": "&", "lt": "<", "gt": ">"}


def escape(text: str) -> str:
    """Text shown as it is: Slack's three control characters escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Undo Slack's escaping in one pass, so ``&amp;lt;`` becomes ``&lt;`` (not ``<``)."""
    return _ESCAPED.sub(lambda match: _PLAIN[match.group(1)], text)
