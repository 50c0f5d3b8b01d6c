"""`/amigo config`: which Amigo service a channel's conversations start in.

Pure, like :mod:`slackbot.relay.commands`, which calls it with the words and links it
found. With the manifest's ``should_escape: true``, Slack sends a channel picked after
``#`` as ``<#C123|name>``; a channel's link (``…/archives/C123``) and its bare id are
understood too. A plain ``#name`` (an app installed without escaping) names no channel
that can be told for sure, and is refused with what to do instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from slackbot.ui import services as ui

_CHANNEL_MARKUP = re.compile(r"<#([A-Z0-9]{2,32})(?:\|[^>]*)?>")
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,31}")
_CHANNEL_PATH = re.compile(r"/archives/([A-Z0-9]{2,32})(?:/p\d+)?/?$")
_SERVICE_ID = re.compile(r"[0-9a-fA-F]{24}")
_VERSION_SET = re.compile(r"[\w.-]{1,64}", re.ASCII)


@dataclass(frozen=True, slots=True)
class ShowConfig:
    """List the channels' services."""


@dataclass(frozen=True, slots=True)
class SetChannelService:
    channel_id: str
    service_id: str
    version_set: str = ui.RELEASE


@dataclass(frozen=True, slots=True)
class ResetChannelService:
    """Back to the default service."""

    channel_id: str


ConfigCommand = ShowConfig | SetChannelService | ResetChannelService


@dataclass(frozen=True, slots=True)
class Invalid:
    """Why the words are not a valid configuration, as the person should read it."""

    message: str


def parse_channel(word: str) -> str | Invalid:
    """A channel's id from ``<#C123|name>``, a channel link or a bare id."""
    word = word.strip()
    found = _CHANNEL_MARKUP.fullmatch(word)
    if found is None and word.lower().startswith(("http://", "https://")):
        try:
            found = _CHANNEL_PATH.search(urlsplit(word).path)
        except ValueError:  # not a URL after all ("http://[")
            found = None
    channel = found.group(1) if found else (word if _CHANNEL_ID.fullmatch(word) else None)
    if channel is None:
        if word.startswith("#"):
            return Invalid(ui.channel_as_plain_text(word))
        return Invalid(ui.not_a_channel(word))
    if channel.startswith("D"):
        return Invalid(ui.DM_NOT_MAPPABLE)
    return channel


def parse_service_id(word: str) -> str | Invalid:
    word = word.strip()
    return word.lower() if _SERVICE_ID.fullmatch(word) else Invalid(ui.bad_service_id(word))


def parse_version_set(word: str) -> str | Invalid:
    """A version set's name; blank means Amigo's ``release``."""
    word = word.strip()
    if not word:
        return ui.RELEASE
    return word if _VERSION_SET.fullmatch(word) else Invalid(ui.bad_version_set(word))


def parse_config(words: Sequence[str], links: Sequence[str]) -> ConfigCommand | Invalid:
    """The words after ``/amigo config`` (links apart, as the tokenizer found them)."""
    if not links and [w.lower() for w in words] in ([], ["list"]):
        return ShowConfig()
    if not words or words[0].lower() != "channel":
        return Invalid(ui.config_not_understood([*words, *links]))
    rest = list(words[1:])
    if len(links) > 1 or (links and rest and rest[0].lower() not in ("service", "default")):
        return Invalid(ui.config_not_understood([*words, *links]))
    if links:
        where = links[0]
    elif rest:
        where = rest.pop(0)
    else:
        return Invalid(ui.NO_CHANNEL)
    channel = parse_channel(where)
    if isinstance(channel, Invalid):
        return channel
    if not rest:
        return Invalid(ui.NO_SERVICE)
    verb, *args = rest
    if verb.lower() == "default" and not args:
        return ResetChannelService(channel)
    if verb.lower() != "service":
        return Invalid(ui.config_not_understood(words))
    if not args:
        return Invalid(ui.NO_SERVICE)
    if len(args) > 2:
        return Invalid(ui.config_not_understood(words))
    service = parse_service_id(args[0])
    if isinstance(service, Invalid):
        return service
    version_set = parse_version_set(args[1] if len(args) > 1 else "")
    if isinstance(version_set, Invalid):
        return version_set
    return SetChannelService(channel, service, version_set)
