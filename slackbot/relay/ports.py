"""What the relay needs from Slack and from Amigo, as protocols.

The relay speaks to Slack only through :class:`SlackPort` (`slackbot.slack.web_port`
implements it with slack_sdk's Web API client) and to Amigo through :class:`AmigoPort`
(:class:`slackbot.amigo.client.AmigoClient` fits it). Unit tests pass in-memory fakes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from slackbot.amigo.events import AmigoEvent
from slackbot.amigo.models import ConversationPage, InteractionInsights, MessagePage
from slackbot.ui.activity import Task
from slackbot.ui.blocks import Blocks

__all__ = [
    "AmigoPort",
    "Blocks",
    "Meter",
    "Profile",
    "ReplyStream",
    "SlackPort",
    "SlackRefused",
    "SlackUnreachable",
    "ThreadMessage",
]


class SlackRefused(Exception):
    """Slack answered a call with an error (``error`` is Slack's code, e.g. ``not_in_channel``)."""

    def __init__(self, method: str, error: str) -> None:
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error


class SlackUnreachable(Exception):
    """A call to Slack got no answer (after slack_sdk's own retries)."""


@dataclass(frozen=True, slots=True)
class Profile:
    """What the relay uses of a Slack user's profile."""

    user_id: str
    first_name: str
    last_name: str
    display_name: str
    email: str | None
    is_admin: bool = False
    is_owner: bool = False


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    """A person's message in a thread, as ``conversations.replies`` lists it."""

    ts: str
    user_id: str
    text: str


class ReplyStream(Protocol):
    """One message written with Slack's native streaming (`chat.startStream`,
    `appendStream`, `stopStream`). Raises like :class:`SlackPort`."""

    @property
    def ts(self) -> str | None:
        """The message, once the first append started it."""
        ...

    async def append(self, markdown: str, tasks: Sequence[Task] = ()) -> None:
        """Add to the message (the first call starts it)."""
        ...

    async def stop(
        self, markdown: str = "", blocks: Blocks | None = None, tasks: Sequence[Task] = ()
    ) -> None:
        """Add the last text (and task updates) and the blocks under it; the message is
        final."""
        ...


class SlackPort(Protocol):
    """Every method raises :class:`SlackRefused` or :class:`SlackUnreachable` on failure.

    Each call takes from the workspace's Slack budget for its method first. ``final``: the
    write completes a reply, and goes before partial writes waiting on the same budget;
    ``prepaid``: the caller already took this call from the budget."""

    async def post_message(
        self,
        channel: str,
        thread_ts: str | None,
        text: str,
        blocks: Blocks | None = None,
        *,
        final: bool = False,
        prepaid: bool = False,
    ) -> str:
        """Post in a thread (or top level when thread_ts is None); returns the message ts."""
        ...

    async def update_message(
        self,
        channel: str,
        ts: str,
        text: str,
        blocks: Blocks | None = None,
        *,
        final: bool = False,
        prepaid: bool = False,
    ) -> None: ...

    async def set_status(
        self,
        channel: str,
        thread_ts: str,
        status: str,
        loading: Sequence[str] = (),
        *,
        prepaid: bool = False,
    ) -> None:
        """The thread's status under its last message ("" clears it). Slack clears it
        by itself when the app posts in the thread."""
        ...

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> str:
        """Open a modal for whoever's click made ``trigger_id`` (valid three seconds);
        returns the view's id."""
        ...

    async def update_view(self, view_id: str, view: dict[str, Any]) -> None: ...

    async def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        """Show ``view`` as ``user_id``'s Home tab of the app (until the next one)."""
        ...

    async def set_prompts(self, channel: str, thread_ts: str | None, prompts: list[str]) -> None:
        """Suggested prompts in the app's DM (or one of its threads)."""
        ...

    async def set_title(self, channel: str, thread_ts: str, title: str) -> None:
        """The title of a thread in the app's DM."""
        ...

    async def end_stream(self, channel: str, ts: str) -> None:
        """Stop a native stream this process no longer holds (one cut short by a crash)."""
        ...

    def stream(
        self, channel: str, thread_ts: str, recipient: str, team: str, *, reserved: bool = False
    ) -> ReplyStream:
        """A natively streamed message in the thread, read by ``recipient`` (a user of
        workspace ``team``). ``reserved``: its start and stop calls were already taken
        from the budget."""
        ...

    async def delete_message(self, channel: str, ts: str) -> None: ...

    async def post_ephemeral(
        self, channel: str, user: str, text: str, thread_ts: str | None = None
    ) -> None: ...

    async def permalink(self, channel: str, ts: str) -> str: ...

    async def message_text(self, channel: str, thread_ts: str, ts: str) -> str | None:
        """The visible text of one message in a thread, or None if it is gone."""
        ...

    async def thread_messages(
        self, channel: str, thread_ts: str, before_ts: str, limit: int
    ) -> list[ThreadMessage]:
        """People's messages in a thread older than ``before_ts``, oldest first: the
        newest ``limit`` of them (apps' and bots' messages left out)."""
        ...

    async def profile(self, user_id: str) -> Profile: ...

    async def direct_message(self, user: str, text: str) -> str:
        """Post ``text`` in the app's DM with ``user``; returns the DM's channel id."""
        ...


class AmigoPort(Protocol):
    """The Amigo calls the relay makes, each acting as an Amigo user (``as_user``)."""

    def create_conversation(
        self,
        as_user: str,
        *,
        service_id: str,
        version_set: str = "release",
        initial_message: str | None = None,
    ) -> AsyncIterator[AmigoEvent]: ...

    def interact(
        self,
        as_user: str,
        conversation_id: str,
        text: str = "",
        *,
        external_events: Sequence[tuple[str, datetime]] = (),
        audio: bytes | None = None,
    ) -> AsyncIterator[AmigoEvent]:
        """A text message, or with ``audio`` (MP3) a voice message; ``external_events``:
        (message, when) pairs, oldest first, that Amigo inserts before it."""
        ...

    async def finish_conversation(self, as_user: str, conversation_id: str) -> None: ...

    async def interaction_insights(
        self, as_user: str, conversation_id: str, interaction_id: str
    ) -> InteractionInsights: ...

    async def conversation_starters(
        self,
        as_user: str,
        *,
        service_id: str,
        facets: Sequence[str],
        instructions: str,
        min_count: int = 1,
        max_count: int = 3,
        version_set: str = "release",
    ) -> list[str]: ...

    async def modify_tags(
        self,
        as_user: str,
        conversation_id: str,
        *,
        updates: Mapping[str, str | None] | None = None,
        deletes: Iterable[str] = (),
    ) -> None: ...

    async def recommend_responses(
        self, as_user: str, conversation_id: str, interaction_id: str
    ) -> list[str]: ...

    async def get_conversations(
        self,
        as_user: str,
        *,
        ids: Iterable[str] = (),
        user_ids: Iterable[str] = (),
        service_ids: Iterable[str] = (),
        is_finished: bool | None = None,
        limit: int | None = None,
        sort_by: Iterable[str] = (),
    ) -> ConversationPage: ...

    async def get_messages(
        self,
        as_user: str,
        conversation_id: str,
        *,
        limit: int | None = None,
        message_types: Iterable[str] = (),
        sort_by: Iterable[str] = (),
    ) -> MessagePage: ...

    async def find_user_by_email(self, as_user: str, email: str) -> str | None: ...

    async def create_user(
        self, as_user: str, *, first_name: str, last_name: str, email: str, role_name: str
    ) -> str: ...


class Meter(Protocol):
    """What the relay tells the operator's metrics."""

    def turn_ended(self, state: str) -> None: ...

    def first_text(self, seconds: float) -> None:
        """From a person's message to the first text of its reply in the thread."""
        ...

    def waiting(self, turns: int) -> None:
        """How many turns are queued or held now."""
        ...


class NoMeter:
    """For when nobody watches (unit tests)."""

    def turn_ended(self, state: str) -> None:
        return None

    def first_text(self, seconds: float) -> None:
        return None

    def waiting(self, turns: int) -> None:
        return None
