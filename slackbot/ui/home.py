"""The app's Home tab: the person's conversations with the agent, newest first, with
Finish on the active ones; for admins, whether the app is healthy.

Built with slack_sdk's Block Kit models (a home view holds at most 100 blocks: the list
is cut to the latest :data:`MAX_SHOWN` and says how many more there are). Everything
that came from a person or from Amigo (tags, reasons) is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from slackbot.ui import messages
from slackbot.ui.escape import escape

HOME_FINISH_ACTION: Final = "amigo_home_finish"
MAX_SHOWN: Final = 20
"""Conversations listed (two blocks each), well inside a view's 100 blocks."""

TITLE = "Your conversations with the agent"
NONE_YET = (
    "You have no conversations with the agent yet. Mention the app in a channel, or write "
    "to it in its Messages tab, to start one."
)
AMIGO_DOWN = (
    ":warning: Amigo could not be reached just now, so this list shows what this app "
    "remembers: tags are missing, and a conversation Amigo finished may still show as active."
)
ELSEWHERE = "started outside Slack"


@dataclass(frozen=True, slots=True)
class Row:
    """One conversation as the Home tab lists it."""

    started: datetime
    finished: bool
    link: str | None = None
    """The Slack thread, when it is known."""
    channel_id: str | None = None
    tags: Mapping[str, str | None] | None = None
    """None: not known (Amigo did not say)."""
    finish: str | None = None
    """What the Finish button carries; None: no button."""


@dataclass(frozen=True, slots=True)
class Health:
    """What an admin sees: each problem in a few words (None or empty: all is well)."""

    database: str | None = None
    amigo: str | None = None
    slack: list[str] = field(default_factory=list)


def finish_value(channel_id: str, thread_ts: str) -> str:
    return f"{channel_id} {thread_ts}"


def parse_finish_value(value: str | None) -> tuple[str, str] | None:
    """(channel, thread ts) from a Finish button's value, or None if it is not one."""
    channel, _, thread_ts = (value or "").partition(" ")
    if not channel.isalnum() or not thread_ts.replace(".", "", 1).isdigit():
        return None
    return channel, thread_ts


def when(moment: datetime) -> str:
    """A time each reader sees in their own time zone."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _row(row: Row) -> Block:
    state = ":white_circle: *Finished*" if row.finished else ":large_green_circle: *Active*"
    where = ELSEWHERE
    if row.link is not None:
        where = f"<{row.link}|open the thread>"
        where += f" in <#{row.channel_id}>" if row.channel_id else ""
    elif row.channel_id is not None:
        where = f"in <#{row.channel_id}>"
    text = f"{state} · started {when(row.started)} · {where}"
    if row.tags is not None:
        text += f"\nTags: {messages.tag_list(dict(row.tags))}"
    button = None
    if row.finish is not None and not row.finished:
        button = ButtonElement(
            text="Finish",
            action_id=HOME_FINISH_ACTION,
            value=row.finish,
            confirm=ConfirmObject(
                title="Finish this conversation?",
                text="The agent stops answering in its thread.",
                confirm="Finish",
                deny="Keep it",
            ),
        )
    return SectionBlock(text=MarkdownTextObject(text=text[:2900]), accessory=button)


def _health(health: Health) -> list[Block]:
    def line(name: str, problem: str | None, fine: str) -> str:
        if problem is None:
            return f":white_check_mark: *{name}:* {fine}"
        return f":x: *{name}:* {escape(problem)}"

    lines = [
        line("Database", health.database, "takes writes"),
        line("Amigo", health.amigo, "answers"),
    ]
    if health.slack:
        lines += [f":warning: *Slack:* {escape(s)}" for s in health.slack]
    else:
        lines.append(":white_check_mark: *Slack:* every call within Slack's limits")
    return [
        DividerBlock(),
        HeaderBlock(text="How the app is doing"),
        ContextBlock(elements=[MarkdownTextObject(text="Only admins see this part.")]),
        SectionBlock(text=MarkdownTextObject(text="\n".join(lines))),
    ]


def home_view(
    rows: Sequence[Row],
    *,
    more: int = 0,
    more_at_least: bool = False,
    amigo_down: bool = False,
    notice: str | None = None,
    health: Health | None = None,
    admin: Sequence[Block] = (),
) -> dict[str, Any]:
    """The Home tab. ``rows`` newest first (only the first :data:`MAX_SHOWN` show, the
    rest count in ``more``); ``more_at_least``: there may be even more; ``notice``: the
    answer to what the person just did (Slack markup, the app's own words); ``admin``:
    more of what only admins see (the channels' services)."""
    blocks: list[Block] = [HeaderBlock(text=TITLE)]
    if notice:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=notice)))
    if amigo_down:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=AMIGO_DOWN)]))
    if not rows:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=NONE_YET)))
    more += max(0, len(rows) - MAX_SHOWN)
    for row in rows[:MAX_SHOWN]:
        blocks += [_row(row), DividerBlock()]
    if more:
        count = f"{more}+" if more_at_least else str(more)
        older = f"_…and {count} older conversation{'s' if more != 1 else ''}, not shown._"
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=older)]))
    if health is not None:
        blocks += _health(health)
    blocks += admin
    return View(type="home", blocks=blocks).to_dict()  # checked against Slack's limits
