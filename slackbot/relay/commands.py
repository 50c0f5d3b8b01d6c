"""The `/amigo` command language: text in, a typed command or a user-facing error out.

Pure: no Slack, no I/O. :func:`parse_command` never raises; whatever it returns
as a command is valid for Amigo (tag names and values follow the spec), so an
invalid request is refused here, as a whole, before anything is sent.

Slack sends the command text with ``&``, ``<`` and ``>`` escaped and may wrap
links as ``<url>`` or ``<url|label>``; both are understood.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from slackbot.relay.config_commands import ConfigCommand, Invalid, parse_config
from slackbot.relay.config_commands import ResetChannelService as ResetChannelService
from slackbot.relay.config_commands import SetChannelService as SetChannelService
from slackbot.relay.config_commands import ShowConfig as ShowConfig
from slackbot.ui import messages
from slackbot.ui.escape import unescape

MAX_TAGS = 20
MAX_TAG_VALUE = 100
_TAG_TEXT = re.compile(r"[\w\s]+")
_QUOTES = {'"': '"', "“": "”", "”": "”", "„": "“"}
_ARCHIVE_PATH = re.compile(r"/archives/([A-Z0-9]+)/p(\d{7,})/?$")
_TS = re.compile(r"\d+\.\d+")


@dataclass(frozen=True, slots=True)
class ThreadRef:
    """A thread named by its link: channel and root ``ts``."""

    channel_id: str
    thread_ts: str


@dataclass(frozen=True, slots=True)
class Help:
    unknown: str | None = None
    """The subcommand that was not understood, if that is why help is shown."""


@dataclass(frozen=True, slots=True)
class Finish:
    thread: ThreadRef | None = None


@dataclass(frozen=True, slots=True)
class SetTags:
    updates: tuple[tuple[str, str | None], ...]
    thread: ThreadRef | None = None

    @property
    def as_dict(self) -> dict[str, str | None]:
        return dict(self.updates)


@dataclass(frozen=True, slots=True)
class RemoveTags:
    keys: tuple[str, ...]
    thread: ThreadRef | None = None


@dataclass(frozen=True, slots=True)
class ShowTags:
    thread: ThreadRef | None = None


@dataclass(frozen=True, slots=True)
class Suggest:
    thread: ThreadRef | None = None


@dataclass(frozen=True, slots=True)
class Status:
    thread: ThreadRef | None = None


@dataclass(frozen=True, slots=True)
class Why:
    """ "Why this answer?" for the conversation's latest answer (a modal, not a reply)."""

    thread: ThreadRef | None = None


Command = Help | Finish | SetTags | RemoveTags | ShowTags | Suggest | Status | Why
"""A command on a conversation; `/amigo config`'s are :data:`ConfigCommand`s."""


@dataclass(frozen=True, slots=True)
class CommandError:
    """Why the text is not a valid command, as the user should read it."""

    message: str


# -- tokens ------------------------------------------------------------------


@dataclass(slots=True)
class _Word:
    """A whitespace-separated word; ``key``/``value`` split at its first unquoted colon."""

    text: str = ""
    key: str = ""
    value: str | None = None
    quoted: bool = False

    def add(self, char: str) -> None:
        self.text += char
        if self.value is None:
            self.key += char
        else:
            self.value += char


@dataclass(frozen=True, slots=True)
class _Link:
    url: str


@dataclass(slots=True)
class _Tokens:
    words: list[_Word] = field(default_factory=list)
    links: list[_Link] = field(default_factory=list)


def _looks_like_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def _tokenize(text: str) -> _Tokens | CommandError:
    """Words (quotes group, a colon outside quotes splits key from value) and links."""
    out = _Tokens()
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        if text[i] == "<" and (end := text.find(">", i)) != -1:
            inner = text[i + 1 : end].split("|", 1)[0]
            if _looks_like_url(inner):
                out.links.append(_Link(unescape(inner)))
            else:
                markup = unescape(text[i : end + 1])
                out.words.append(_Word(text=markup, key=markup))
            i = end + 1
            continue
        if _looks_like_url(text[i : i + 8]):
            end = i
            while end < n and not text[end].isspace():
                end += 1
            out.links.append(_Link(unescape(text[i:end])))
            i = end
            continue
        start = i
        word = _Word()
        closing: str | None = None
        while i < n and (closing is not None or not text[i].isspace()):
            char = text[i]
            if closing is not None:
                if char == closing or (closing == "”" and char == '"'):
                    closing = None
                else:
                    word.add(char)
            elif char in _QUOTES:
                closing = _QUOTES[char]
                word.quoted = True
            elif char == ":" and word.value is None:
                word.text += char
                word.value = ""
            else:
                word.add(char)
            i += 1
        if closing is not None:
            return CommandError(messages.unclosed_quote(text[start:i]))
        word.text, word.key = unescape(word.text), unescape(word.key)
        word.value = unescape(word.value) if word.value is not None else None
        out.words.append(word)
    return out


def parse_thread_link(url: str) -> ThreadRef | None:
    """``…/archives/C123/p1700000000000100[?thread_ts=…&cid=…]`` -> the thread it is in."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    match = _ARCHIVE_PATH.search(parts.path)
    if parts.scheme not in ("http", "https") or match is None:
        return None
    channel, digits = match.groups()
    thread_ts = f"{digits[:-6]}.{digits[-6:]}"
    query = parse_qs(parts.query)
    given = (query.get("thread_ts") or [""])[0]
    if _TS.fullmatch(given):
        thread_ts = given
    return ThreadRef(channel, thread_ts)


# -- tags --------------------------------------------------------------------


def tag_key_ok(key: str) -> bool:
    return _TAG_TEXT.fullmatch(key) is not None


def tag_problems(updates: Iterable[tuple[str, str | None]]) -> list[str]:
    """Every spec rule the tag updates break, each named once with its culprits."""
    bad_keys: list[str] = []
    bad_values: list[str] = []
    long_values: list[str] = []
    for key, value in updates:
        if not tag_key_ok(key):
            bad_keys.append(key)
        if value is not None and len(value) > MAX_TAG_VALUE:
            long_values.append(key)
        elif value is not None and _TAG_TEXT.fullmatch(value) is None:
            bad_values.append(f"{key}:{value}")
    problems = []
    if bad_keys:
        problems.append(messages.tag_rule_broken(messages.TAG_RULE_KEY, bad_keys))
    if bad_values:
        problems.append(messages.tag_rule_broken(messages.TAG_RULE_VALUE, bad_values))
    if long_values:
        problems.append(messages.tag_rule_broken(messages.TAG_RULE_VALUE_LENGTH, long_values))
    return problems


def tags_after(existing: Iterable[str], updates: Iterable[str], deletes: Iterable[str]) -> int:
    """How many tags a conversation has after a change."""
    return len((set(existing) | set(updates)) - set(deletes))


def _set_tags(words: list[_Word], thread: ThreadRef | None) -> Command | CommandError:
    if not words:
        return CommandError(messages.NOTHING_TO_TAG)
    updates: dict[str, str | None] = {}
    for word in words:
        value = word.value.strip() if word.value is not None else None
        updates[word.key.strip()] = value or None
    problems = tag_problems(updates.items())
    if len(updates) > MAX_TAGS:
        problems.append(messages.tag_count_broken(len(updates)))
    if problems:
        return CommandError(messages.tags_refused(problems))
    return SetTags(tuple(updates.items()), thread)


def _remove_tags(words: list[_Word], thread: ThreadRef | None) -> Command | CommandError:
    if not words:
        return CommandError(messages.NOTHING_TO_UNTAG)
    keys = list(dict.fromkeys(w.text.strip() for w in words))
    bad = [k for k in keys if not tag_key_ok(k)]
    if bad:
        return CommandError(
            messages.tags_refused([messages.tag_rule_broken(messages.TAG_RULE_KEY, bad)])
        )
    return RemoveTags(tuple(keys), thread)


# -- commands ----------------------------------------------------------------

_SIMPLE: dict[str, type[Finish | ShowTags | Suggest | Status | Why]] = {
    "finish": Finish,
    "tags": ShowTags,
    "suggest": Suggest,
    "status": Status,
    "why": Why,
}


def help_text(command: Help) -> str:
    return messages.unknown_command(command.unknown) if command.unknown else messages.HELP


def parse_command(text: str) -> Command | ConfigCommand | CommandError:
    """Parse the text after ``/amigo``. Never raises."""
    tokens = _tokenize(text)
    if isinstance(tokens, CommandError):
        return tokens
    if not tokens.words:
        return Help()
    head, *rest = tokens.words
    name = head.text.lower()
    if name == "help":
        return Help()
    if name == "config":
        config = parse_config([w.text for w in rest], [link.url for link in tokens.links])
        return CommandError(config.message) if isinstance(config, Invalid) else config
    if name not in (*_SIMPLE, "tag", "untag"):
        return Help(unknown=head.text)
    if len(tokens.links) > 1:
        return CommandError(messages.TOO_MANY_LINKS)
    thread: ThreadRef | None = None
    if tokens.links:
        thread = parse_thread_link(tokens.links[0].url)
        if thread is None:
            return CommandError(messages.not_a_thread_link(tokens.links[0].url))
    if name == "tag":
        return _set_tags(rest, thread)
    if name == "untag":
        return _remove_tags(rest, thread)
    if rest:
        return CommandError(messages.unexpected_arguments(name, [w.text for w in rest]))
    return _SIMPLE[name](thread)
