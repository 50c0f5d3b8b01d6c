"""The thread is heard: what others wrote in a conversation's thread reaches Amigo.

Messages by people other than the owner are kept in the database when they are routed
(:meth:`~slackbot.relay.inbox.Inbox.route`), and a mention inside a human thread fetches
the thread's earlier messages. They go to Amigo as external events, named by author,
before the owner's next message: the events of a turn are fixed when its text is, so a
turn sent again carries the same ones and no other turn carries them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from slackbot.amigo.errors import AmigoError
from slackbot.relay.mentions import Names
from slackbot.relay.ports import AmigoPort, SlackPort, SlackRefused, SlackUnreachable
from slackbot.store.models import TurnKind
from slackbot.store.repo import Conversation, Store, ThreadEvent, Turn

log = logging.getLogger("slackbot.heard")

FLOOR_MARGIN = timedelta(milliseconds=1)
Event = tuple[str, datetime]
"""An external event as Amigo takes it: its text, and when it happened."""


@dataclass(frozen=True, slots=True)
class HeardConfig:
    share: bool = True
    """Whether others' messages in a conversation's thread reach Amigo."""
    max_messages: int = 20
    max_chars: int = 4000
    """At most this many events, and characters in all, go with one turn (the newest)."""


def slack_time(ts: str) -> datetime:
    """When a Slack message was posted, from its ts (to the microsecond, as Slack has it)."""
    seconds, _, fraction = ts.partition(".")
    moment = datetime.fromtimestamp(int(seconds), UTC)
    return moment.replace(microsecond=int((fraction + "000000")[:6]))


def capped(events: Sequence[Event], max_messages: int, max_chars: int) -> list[Event]:
    """The newest events within both caps, oldest first; the newest alone is cut to fit."""
    kept: list[Event] = []
    room = max_chars
    for text, when in reversed(events):
        if len(kept) >= max_messages or room <= 0:
            break
        if len(text) > room:
            if kept:
                break
            text = text[: room - 1].rstrip() + "…"
        kept.append((text, when))
        room -= len(text)
    return kept[::-1]


def stamped(events: Sequence[Event], floor: datetime | None, now: datetime) -> list[Event]:
    """The events with times Amigo takes: none before the conversation's latest message
    (``floor``; a message written while the agent answered, or before the conversation
    began, is older) and none in the future. Their order stays."""
    return [(text, min(max(when, floor) if floor else when, now)) for text, when in events]


class Heard:
    def __init__(
        self, store: Store, slack: SlackPort, amigo: AmigoPort, names: Names, config: HeardConfig
    ) -> None:
        self._store = store
        self._slack = slack
        self._amigo = amigo
        self._names = names
        self.config = config

    async def share(self, conversation: Conversation, event: ThreadEvent) -> bool:
        """Keep another person's message for the owner's next turn (False: off, or kept)."""
        if not self.config.share:
            return False
        await self._store.share_message(conversation.id, conversation.thread, event)
        return True

    async def events_for(
        self, turns: Sequence[Turn], conversation: Conversation, *, speaks: bool = True
    ) -> list[Event]:
        """The events that go with these turns (sent as one), capped, oldest first.
        ``speaks``: the turn has words of its own (a start without them creates the
        conversation, which takes no events: they wait for the next reply)."""
        if not self.config.share:
            return []
        first, last = turns[0], turns[-1]
        if first.kind == TurnKind.START:
            # Until Amigo has the conversation: those kept already stay as they were.
            await self._history(conversation, first, for_turn=first.ts if speaks else None)
            if not speaks:
                return []
        kept = await self._store.events_of_turn(conversation.id, first.ts, last.ts)
        events: list[Event] = []
        for event in kept[-self.config.max_messages :]:
            text = (await self._names.plain(event.text)).strip()
            if text:
                author = await self._names.author(event.user_id)
                events.append((f"{author}: {text}", slack_time(event.ts)))
        return capped(events, self.config.max_messages, self.config.max_chars)

    async def _history(self, conversation: Conversation, start: Turn, for_turn: str | None) -> None:
        """Keep the thread's messages from before the mention that starts its first
        conversation, for the turn of ``for_turn`` (None: for the owner's next one)."""
        if start.ts == start.thread_ts:
            return  # the mention is the thread's first message
        if not await self._store.first_conversation_of_thread(conversation.id):
            return  # what came before is the earlier conversation's
        try:
            found = await self._slack.thread_messages(
                start.channel_id, start.thread_ts, start.ts, self.config.max_messages
            )
        except (SlackRefused, SlackUnreachable) as exc:
            log.warning("turn %s: the thread's earlier messages are unknown (%s)", start.id, exc)
            return
        events = [ThreadEvent(m.ts, m.user_id, m.text) for m in found]
        await self._store.keep_history(conversation.id, conversation.thread, for_turn, events)

    async def stamp(self, conversation: Conversation, events: Sequence[Event]) -> list[Event]:
        """``events`` with times the conversation takes (see :func:`stamped`), from the
        time of its latest message in Amigo; all of them now when Amigo cannot say."""
        assert conversation.amigo_user_id is not None
        assert conversation.amigo_conversation_id is not None
        now = datetime.now(UTC)
        try:
            page = await self._amigo.get_messages(
                conversation.amigo_user_id,
                conversation.amigo_conversation_id,
                limit=1,
                sort_by=["-created_at"],
            )
        except AmigoError as exc:
            log.warning("the time of the conversation's latest message is unknown: %s", exc)
            return stamped(events, now, now)
        latest = max((m.created_at for m in page.messages), default=None)
        # A millisecond more, in case Amigo shows its times rounded down.
        return stamped(events, latest + FLOOR_MARGIN if latest else None, now)
