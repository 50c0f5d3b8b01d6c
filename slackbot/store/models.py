"""Database tables. Knows nothing of Slack's API or of HTTP: ids are plain strings.

A *thread* is identified by (team_id, channel_id, thread_ts). A *turn* is one
claimed user message on its way to Amigo; its row is written before any Amigo
call, which is what makes a redelivered Slack event harmless. Only
:mod:`slackbot.store` sees these rows; everything else gets frozen records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class ConversationState(StrEnum):
    STARTING = "starting"  # row written, Amigo conversation not created yet
    ACTIVE = "active"
    FINISHED = "finished"
    FAILED = "failed"  # could not be created; the thread can start again


class TurnState(StrEnum):
    """Where a turn is; :mod:`slackbot.relay.states` says what comes next from each."""

    QUEUED = "queued"  # waiting to be sent
    SENDING = "sending"  # on its way: Amigo may or may not have it
    STREAMING = "streaming"  # Amigo took it and is answering
    UNSURE = "unsure"  # the answer was lost (a crash, a cut): ask Amigo what it has
    DONE = "done"  # answered; ``shown`` says whether the answer is in the thread yet
    FAILED = "failed"  # refused; its notice (``reply_text``) says why
    INTERRUPTED = "interrupted"  # no answer, and no safe way to get one: Retry


class TurnKind(StrEnum):
    START = "start"  # creates the conversation with this text as its first message
    REPLY = "reply"  # an interact call


OPEN_CONVERSATION_STATES = (ConversationState.STARTING, ConversationState.ACTIVE)


class AmigoUserRow(Base):
    """A Slack user and the Amigo user that speaks for them."""

    __tablename__ = "amigo_users"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    amigo_user_id: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConversationRow(Base):
    """One Amigo conversation, living in one Slack thread."""

    __tablename__ = "conversations"
    __table_args__ = (
        # At most one open conversation per thread; finished ones stay as history.
        Index(
            "uq_conversations_open_thread",
            "team_id",
            "channel_id",
            "thread_ts",
            unique=True,
            sqlite_where=text("state IN ('starting', 'active')"),
            postgresql_where=text("state IN ('starting', 'active')"),
        ),
        Index("ix_conversations_owner", "team_id", "owner_user_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32))
    owner_user_id: Mapped[str] = mapped_column(String(32))
    amigo_user_id: Mapped[str | None] = mapped_column(String(64))
    amigo_conversation_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=ConversationState.STARTING)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    service_id: Mapped[str | None] = mapped_column(String(24))
    """The Amigo service it started in (NULL: before this was kept, the default one)."""
    version_set: Mapped[str | None] = mapped_column(String(64))


class TurnRow(Base):
    """One claimed Slack message, unique by (team, channel, ts); a Retry of it is the
    same message's next ``attempt``."""

    __tablename__ = "turns"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "ts", "attempt", name="uq_turns_attempt"),
        Index("ix_turns_thread_state", "team_id", "channel_id", "thread_ts", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default=TurnKind.REPLY)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    state: Mapped[str] = mapped_column(String(16), default=TurnState.QUEUED)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    reply_ts: Mapped[str | None] = mapped_column(String(32))
    interaction_id: Mapped[str | None] = mapped_column(String(64))
    """The Amigo interaction that answered it (the same for replies sent as one)."""
    reply_text: Mapped[str | None] = mapped_column(Text)
    """What the reply must finally read (the answer, or a notice), saved before Slack sees it."""
    shown: Mapped[bool] = mapped_column(Boolean, default=True)
    """Whether ``reply_text`` is visible (in the thread, or where the person was told)."""
    error: Mapped[str | None] = mapped_column(String(200))
    attachment: Mapped[str | None] = mapped_column(Text)
    """The file the message shared (JSON: id, name, mimetype, size, url): a recording
    to fetch and send when the turn runs."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class FeedbackRow(Base):
    """One person's vote on one reply (a turn's answer): a second click changes it."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("turn_id", "user_id", name="uq_feedback_vote"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(32))
    vote: Mapped[str] = mapped_column(String(8))
    """``up`` or ``down``."""
    comment: Mapped[str | None] = mapped_column(Text)
    """What went wrong, in the person's words (after a thumbs down)."""
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class ThreadLeaseRow(Base):
    """Which process runs a thread's turns, until when.

    Several replicas may receive a thread's messages; only the lease holder
    talks to Amigo for that thread. A lease that is not renewed expires, and
    another process takes the thread over.
    """

    __tablename__ = "thread_leases"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    thread_ts: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InboundRow(Base):
    """A person's message as Slack delivered it, saved before Slack gets its ack.

    Messages that cannot be queued as a reply at once (a mention, a DM, a reply whose
    conversation is not known yet) wait here until they are routed; ``routed_at`` says
    when. Unique by (team, channel, ts): a redelivery, or the second event of a mention,
    finds the row taken.
    """

    __tablename__ = "inbound"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "ts", name="uq_inbound_message"),
        Index("ix_inbound_unrouted", "routed_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    mentions_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    is_dm: Mapped[bool] = mapped_column(Boolean, default=False)
    event_id: Mapped[str | None] = mapped_column(String(64))
    attachment: Mapped[str | None] = mapped_column(Text)
    """The file the message shared, as on :attr:`TurnRow.attachment`."""
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    routed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class HealthRow(Base):
    """One row the health check writes, to learn whether the database takes writes."""

    __tablename__ = "health"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HintRow(Base):
    """One-time hints already given (e.g. 'only the owner's replies are relayed')."""

    __tablename__ = "hints"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    thread_ts: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    given_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ThreadEventRow(Base):
    """A message of a conversation's thread that is not the owner's (or one the thread
    had before the conversation), saved to reach Amigo as an external event.

    Unique by (team, channel, ts), like the message it copies. ``turn_ts`` names the
    owner's message it goes to Amigo with: set once, when that turn's text is fixed, so
    a turn sent again carries the same events and no other turn carries them.
    """

    __tablename__ = "thread_events"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "ts", name="uq_thread_events_message"),
        Index("ix_thread_events_turn", "conversation_id", "turn_ts"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    """In Slack's markup, as it came; made plain when it is sent."""
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    turn_ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChannelServiceRow(Base):
    """The Amigo service (and version set) a channel's new conversations start in."""

    __tablename__ = "channel_services"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    service_id: Mapped[str] = mapped_column(String(24))
    version_set: Mapped[str] = mapped_column(String(64))
    set_by: Mapped[str] = mapped_column(String(32))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChannelServiceChangeRow(Base):
    """One change of a channel's service, kept: who, when, and what it became (a NULL
    service: back to the default)."""

    __tablename__ = "channel_service_changes"
    __table_args__ = (Index("ix_channel_service_changes_channel", "team_id", "channel_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    service_id: Mapped[str | None] = mapped_column(String(24))
    version_set: Mapped[str | None] = mapped_column(String(64))
    changed_by: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
