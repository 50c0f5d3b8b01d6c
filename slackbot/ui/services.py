"""A service per channel, as people see it: `/amigo config`'s answers, the admins' part of
the Home tab that lists the mappings, and the form that maps a channel.

Everything a person typed is quoted back escaped; channels and people are named by id
(``<#C…>``, ``<@U…>``), which Slack shows as names and which notify nobody.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from slackbot.ui.escape import unescape
from slackbot.ui.home import when
from slackbot.ui.messages import shown

HOME_CONFIG_ACTION: Final = "amigo_home_channel_service"
CONFIG_VIEW: Final = "amigo_channel_service"
CHANNEL_BLOCK: Final = "amigo_config_channel"
SERVICE_BLOCK: Final = "amigo_config_service"
VERSION_BLOCK: Final = "amigo_config_version_set"
"""Block ids of the form's inputs; each input's action id is its block's."""

RELEASE: Final = "release"
"""Amigo's version set when none is named."""


@dataclass(frozen=True, slots=True)
class Mapping:
    """One channel's service as it is listed."""

    channel_id: str
    service_id: str
    version_set: str
    set_by: str
    set_at: datetime


# -- /amigo config: what was typed -------------------------------------------

USAGE = (
    "*`/amigo config`* (admins): which Amigo service each channel's conversations start in.\n"
    "• `/amigo config`: list the channels and their services\n"
    "• `/amigo config channel #channel service <service id> [version set]`: new conversations "
    "in #channel start in that service (version set `release` unless you name one)\n"
    "• `/amigo config channel #channel default`: back to the default service\n"
    "DMs and channels not listed use the default service. A conversation keeps the service "
    "it started in."
)


def config_not_understood(words: Sequence[str]) -> str:
    said = " ".join(words)
    return f":warning: I did not understand `/amigo config {shown(said, 60)}`.\n{USAGE}"


NO_CHANNEL = (
    ":warning: Which channel? For example: `/amigo config channel #support service "
    "0123456789abcdef01234567`."
)
NO_SERVICE = (
    ":warning: Which service? Add `service <service id>` (24 characters, `0-9` and `a-f`), "
    "or `default` to use the default service."
)


def channel_as_plain_text(word: str) -> str:
    return (
        f":warning: Slack sent `{shown(word)}` as plain text, so I cannot tell which channel it "
        "is. Pick the channel from the list Slack shows as you type `#`, or paste the "
        "channel's link (channel name → *Copy link*)."
    )


def not_a_channel(word: str) -> str:
    return (
        f":warning: `{shown(word, 80)}` is not a channel. Name it as `#channel` (picked from "
        "Slack's list), or paste the channel's link."
    )


DM_NOT_MAPPABLE = ":warning: DMs always use the default service; pick a channel."


def bad_service_id(word: str) -> str:
    return (
        f":warning: `{shown(word)}` is not an Amigo service id: it has 24 characters, "
        "`0-9` and `a-f` (the id in the service's address in Amigo)."
    )


def bad_version_set(word: str) -> str:
    return (
        f":warning: `{shown(word)}` is not a version set name: up to 64 letters, digits, "
        "`-`, `_` or `.`."
    )


# -- /amigo config: the answers ----------------------------------------------

NOT_ADMIN_CHANGE = (
    ":no_entry: Only a workspace admin or owner (or someone the app's settings name as an "
    "admin) can change which service a channel uses. Nothing changed."
)
NOT_ADMIN_LIST = (
    ":no_entry: Only a workspace admin or owner (or someone the app's settings name as an "
    "admin) can see which service each channel uses."
)


def _service(service_id: str, version_set: str) -> str:
    return f"service `{shown(service_id)}`, version set `{shown(version_set, 64)}`"


def service_unknown(service_id: str, version_set: str) -> str:
    return (
        f":x: Amigo knows no {_service(service_id, version_set)}, or does not let the app "
        "use it. Nothing changed."
    )


def service_unchecked(why: str) -> str:
    return f":warning: I could not check the service with Amigo ({why}). Nothing changed."


AMIGO_BUSY = "Amigo is busy; try again in a minute"
AMIGO_UNREACHABLE = "Amigo could not be reached; try again shortly"


def channel_mapped(channel_id: str, service_id: str, version_set: str) -> str:
    return (
        f":white_check_mark: New conversations in <#{channel_id}> now start in "
        f"{_service(service_id, version_set)}. Conversations already going keep their service."
    )


def channel_reset(channel_id: str, service_id: str, version_set: str) -> str:
    return (
        f":white_check_mark: New conversations in <#{channel_id}> now start in the default "
        f"{_service(service_id, version_set)}. Conversations already going keep their service."
    )


def channel_was_default(channel_id: str) -> str:
    return f"<#{channel_id}> already uses the default service. Nothing changed."


def mappings_text(default: tuple[str, str], mappings: Sequence[Mapping]) -> str:
    """The default service and every mapped channel, with who set it and when."""
    lines = [f"*Default* (DMs and every channel not listed): {_service(*default)}"]
    if not mappings:
        lines.append("_No channel has a service of its own._")
    for m in mappings:
        lines.append(
            f"• <#{m.channel_id}>: {_service(m.service_id, m.version_set)} · set by "
            f"<@{m.set_by}> {when(m.set_at)}"
        )
    return "\n".join(lines)


def config_listed(default: tuple[str, str], mappings: Sequence[Mapping]) -> str:
    listed = mappings_text(default, mappings)
    return f"*Which service each channel's conversations start in*\n{listed}"


# -- the Home tab and the form -------------------------------------------------


def home_section(default: tuple[str, str], mappings: Sequence[Mapping]) -> list[Block]:
    """The admins' part of the Home tab that lists the mappings, with a button to change
    one (the list is cut to stay inside a section's 3,000 characters)."""
    text = mappings_text(default, mappings)
    if len(text) > 2900:
        text = text[: text.rfind("\n", 0, 2800)] + "\n_…and more: `/amigo config` lists them all._"
    button = ButtonElement(
        text="Set a channel's service", action_id=HOME_CONFIG_ACTION, value="open"
    )
    return [
        DividerBlock(),
        HeaderBlock(text="Which agent each channel talks to"),
        ContextBlock(elements=[MarkdownTextObject(text="Only admins see this part.")]),
        SectionBlock(text=MarkdownTextObject(text=text)),
        SectionBlock(
            text=MarkdownTextObject(text="Give a channel a service of its own, or change it:"),
            accessory=button,
        ),
    ]


def _input(block_id: str, label: str, element: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": {"action_id": block_id, **element},
        **extra,
    }


def config_modal() -> dict[str, Any]:
    """The form: a channel, a service id, a version set (optional)."""
    return {
        "type": "modal",
        "callback_id": CONFIG_VIEW,
        "title": {"type": "plain_text", "text": "Channel service"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _input(
                CHANNEL_BLOCK,
                "Channel",
                {
                    "type": "conversations_select",
                    "filter": {"include": ["public", "private"], "exclude_bot_users": True},
                },
            ),
            _input(
                SERVICE_BLOCK,
                "Amigo service id",
                {
                    "type": "plain_text_input",
                    "placeholder": {"type": "plain_text", "text": "24 characters, 0-9 and a-f"},
                },
            ),
            _input(
                VERSION_BLOCK,
                "Version set",
                {
                    "type": "plain_text_input",
                    "placeholder": {"type": "plain_text", "text": RELEASE},
                },
                optional=True,
            ),
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "New conversations in the channel start in this service; "
                        "those already going keep theirs. `/amigo config channel #channel "
                        "default` returns a channel to the default.",
                    }
                ],
            },
        ],
    }


def answer_modal(text: str) -> dict[str, Any]:
    """The form once it was sent: what became of it (the app's own words)."""
    return {
        "type": "modal",
        "callback_id": CONFIG_VIEW + "_done",
        "title": {"type": "plain_text", "text": "Channel service"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


CHECKING = "_Checking the service with Amigo…_"
RESTARTING = "The app is restarting; try again in a moment. Nothing changed."
FAILED = "Something went wrong on the app's side, so nothing changed. Try again."
_EMOJI = re.compile(r"^:[a-z_]+:\s*")


def plain(message: str) -> str:
    """One of these messages as a form shows an error: plain text, without emoji codes,
    markup or escapes."""
    text = _EMOJI.sub("", message).replace("`", "'").replace("*", "")
    return unescape(text.split("\n", 1)[0])
