"""What the store hands out: frozen records, never live database rows.

Nothing here changes in memory: to change a conversation or a turn, call the store.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

from slackbot.store.models import (
    OPEN_CONVERSATION_STATES,
    ConversationRow,
    ConversationState,
    InboundRow,
    TurnKind,
    TurnRow,
    TurnState,
)


@dataclass(frozen=True, slots=True)
class ThreadKey:
    """Where a conversation lives in Slack."""

    team_id: str
    channel_id: str
    thread_ts: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file shared with a message, by reference: fetched only when its turn runs.

    ``url`` is where its bytes are (they need the bot token); ``kind`` is Slack's own
    subtype (``slack_audio`` for a recorded clip), if any.
    """

    file_id: str
    name: str
    mimetype: str
    size: int
    url: str
    kind: str = ""

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, raw: str | None) -> Attachment | None:
        if not raw:
            return None
        data = json.loads(raw)
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A person's message as Slack delivered it: ``text`` is still in Slack's markup
    (the bot's mention removed); it becomes plain text just before it goes to Amigo."""

    team_id: str
    channel_id: str
    user_id: str
    ts: str
    thread_ts: str | None
    text: str
    mentions_bot: bool
    is_dm: bool
    event_id: str | None = None
    attachment: Attachment | None = None
    """A recording (or a file shared without text) the message carries."""

    @property
    def thread(self) -> ThreadKey:
        return ThreadKey(self.team_id, self.channel_id, self.thread_ts or self.ts)

    @property
    def top_level(self) -> bool:
        return self.thread_ts is None or self.thread_ts == self.ts

    @classmethod
    def of(cls, row: InboundRow) -> IncomingMessage:
        return cls(
            team_id=row.team_id,
            channel_id=row.channel_id,
            user_id=row.user_id,
            ts=row.ts,
            thread_ts=row.thread_ts,
            text=row.text,
            mentions_bot=row.mentions_bot,
            is_dm=row.is_dm,
            event_id=row.event_id,
            attachment=Attachment.loads(row.attachment),
        )


@dataclass(frozen=True, slots=True)
class Conversation:
    """One Amigo conversation, living in one Slack thread."""

    id: int
    team_id: str
    channel_id: str
    thread_ts: str
    owner_user_id: str
    amigo_user_id: str | None
    amigo_conversation_id: str | None
    state: ConversationState
    created_at: datetime
    finished_at: datetime | None = None
    finish_reason: str | None = None
    service_id: str | None = None
    """The Amigo service it started in; None: not chosen yet, or started before the app
    kept it (then it is the default service)."""
    version_set: str | None = None

    @property
    def thread(self) -> ThreadKey:
        return ThreadKey(self.team_id, self.channel_id, self.thread_ts)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_CONVERSATION_STATES

    @classmethod
    def of(cls, row: ConversationRow) -> Conversation:
        return cls(
            id=row.id,
            team_id=row.team_id,
            channel_id=row.channel_id,
            thread_ts=row.thread_ts,
            owner_user_id=row.owner_user_id,
            amigo_user_id=row.amigo_user_id,
            amigo_conversation_id=row.amigo_conversation_id,
            state=ConversationState(row.state),
            created_at=row.created_at,
            finished_at=row.finished_at,
            finish_reason=row.finish_reason,
            service_id=row.service_id,
            version_set=row.version_set,
        )


@dataclass(frozen=True, slots=True)
class Turn:
    """One claimed Slack message (or a retry of one) on its way to Amigo."""

    id: int
    team_id: str
    channel_id: str
    thread_ts: str
    ts: str
    user_id: str
    text: str
    kind: TurnKind
    conversation_id: int | None
    state: TurnState
    attempt: int = 0
    reply_ts: str | None = None
    interaction_id: str | None = None
    error: str | None = None
    reply_text: str | None = None
    shown: bool = True
    attachment: Attachment | None = None
    """What the message shared: a voice turn's recording, fetched when it runs."""

    @property
    def owes_a_write(self) -> bool:
        """Its final text is saved but not yet visible."""
        return self.reply_text is not None and not self.shown

    @property
    def thread(self) -> ThreadKey:
        return ThreadKey(self.team_id, self.channel_id, self.thread_ts)

    @classmethod
    def of(cls, row: TurnRow) -> Turn:
        return cls(
            id=row.id,
            team_id=row.team_id,
            channel_id=row.channel_id,
            thread_ts=row.thread_ts,
            ts=row.ts,
            user_id=row.user_id,
            text=row.text,
            kind=TurnKind(row.kind),
            conversation_id=row.conversation_id,
            state=TurnState(row.state),
            attempt=row.attempt,
            reply_ts=row.reply_ts,
            interaction_id=row.interaction_id,
            error=row.error,
            reply_text=row.reply_text,
            shown=row.shown,
            attachment=Attachment.loads(row.attachment),
        )


@dataclass(frozen=True, slots=True)
class Queue:
    """A thread's waiting turns in the order people wrote them, with the conversation
    of the first (None when the first is a reply held for a conversation to start)."""

    turns: list[Turn]
    conversation: Conversation | None


@dataclass(frozen=True, slots=True)
class Progress:
    """What Amigo has answered in a conversation so far."""

    latest_interaction_id: str | None
    latest_reply_ts: str | None
    interactions: int
