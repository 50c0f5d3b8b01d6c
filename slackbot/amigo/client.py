"""An async client for the Amigo conversation and user API.

Every call acts as an Amigo user (``as_user``): the client signs in as that
user with the organization's API key and caches the token (see
:mod:`slackbot.amigo.auth`). A 401 invalidates the token and the call is
retried once with a fresh one. Nothing else is retried here: 429 and 503 are
raised as typed errors carrying ``retry_after`` so the caller decides.

Streaming calls (:meth:`AmigoClient.create_conversation`,
:meth:`AmigoClient.interact`) check the HTTP status before the first event and
raise :class:`AmigoStreamCut` when the stream ends, is lost or stays idle for
``stream_idle_timeout`` seconds before an ``interaction-complete`` or ``error``
event. Close them early with ``aclose()`` (or ``contextlib.aclosing``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from slackbot.amigo.events import AmigoEvent
from slackbot.amigo.extras import (
    AmigoExtras,
)
from slackbot.amigo.models import (
    ConversationPage,
    CreatedUser,
    MessagePage,
    RecommendedResponses,
    UserPage,
)
from slackbot.amigo.transport import FormParts, Params, add_many, quote_id

AudioFormat = Literal["mp3"]
"""Formats of a recorded user message that the client can send (Amigo's
``request_audio_config``). PCM would also need its frame rate and sample width."""

_AUDIO_PARTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "mp3": ("message.mp3", "audio/mpeg", {"type": "mp3"}),
}


def _event_parts(external_events: Sequence[tuple[str, datetime]]) -> FormParts:
    """The external-event fields of an interact form; ValueError for what Amigo refuses."""
    contents: FormParts = []
    stamps: FormParts = []
    previous: datetime | None = None
    for content, moment in external_events:
        if not isinstance(content, str) or not content.strip():
            raise ValueError("an external event needs a non-blank message")
        if not isinstance(moment, datetime) or moment.utcoffset() is None:
            raise ValueError("an external event needs a timezone-aware datetime")
        if previous is not None and moment < previous:
            raise ValueError("external events must be in chronological order")
        previous = moment
        contents.append(("external_event_message_content", (None, content)))
        stamps.append(
            ("external_event_message_timestamp", (None, moment.astimezone(UTC).isoformat()))
        )
    return contents + stamps


class AmigoClient(AmigoExtras):
    """Amigo API calls for one organization, acting as any of its users."""

    async def create_user(
        self, as_user: str, *, first_name: str, last_name: str, email: str, role_name: str
    ) -> str:
        """Create (invite) a user; returns its id. 409 (email taken) raises AmigoConflict."""
        body = {
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "role_name": role_name,
        }
        response = await self._call(as_user, "create_user", "POST", self._url("user/"), json=body)
        return self._parse(CreatedUser, response, "create_user").user_id

    async def find_user_by_email(self, as_user: str, email: str) -> str | None:
        """The id of the user with this email (compared case-insensitively), or None."""
        params: Params = [("email", email)]
        response = await self._call(as_user, "get_users", "GET", self._url("user/"), params=params)
        page = self._parse(UserPage, response, "get_users")
        wanted = email.casefold()
        # Only an exact match counts, even if Amigo ignored the filter.
        for user in page.users:
            if user.email.casefold() == wanted:
                return user.user_id
        return None

    # -- conversations -----------------------------------------------------

    def create_conversation(
        self,
        as_user: str,
        *,
        service_id: str,
        version_set: str = "release",
        initial_message: str | None = None,
        tags: Mapping[str, str | None] | None = None,
    ) -> AsyncGenerator[AmigoEvent, None]:
        """Create a conversation and stream its first interaction.

        Without an ``initial_message`` (None, empty or blank) the agent speaks
        first. The first event is ``conversation-created``.
        """
        body: dict[str, Any] = {
            "service_id": service_id,
            "service_version_set_name": version_set,
        }
        if initial_message and initial_message.strip():
            body["initial_message"] = initial_message
            body["initial_message_type"] = "user-message"
        if tags:
            body["tags"] = dict(tags)
        params: Params = [("response_format", "text")]
        return self._stream(
            as_user, "create_conversation", self._url("conversation/"), params=params, json=body
        )

    def interact(
        self,
        as_user: str,
        conversation_id: str,
        text: str = "",
        *,
        external_events: Sequence[tuple[str, datetime]] = (),
        audio: bytes | None = None,
        audio_format: AudioFormat = "mp3",
    ) -> AsyncGenerator[AmigoEvent, None]:
        """Send a user message and stream the agent's answer (always as text).

        ``external_events`` are ``(message, when)`` pairs, oldest first, that Amigo
        inserts before the user message (``when`` must be timezone-aware and in
        the past by Amigo's clock). With ``audio`` (a recording in ``audio_format``)
        the message is a voice message and ``text`` must be empty: Amigo
        transcribes it, and the ``user-message-available`` event carries the
        transcript.

        Raises ValueError at once for what Amigo would refuse: a blank text
        message, empty audio, audio with text, a blank event message, a naive
        event time, events out of order.
        """
        if audio is None and not text.strip():
            raise ValueError("an Amigo user message must not be blank")
        if audio is not None and text:
            raise ValueError("a voice message has no text")
        if audio is not None and not audio:
            raise ValueError("a voice message needs some audio")
        parts: FormParts = [("initial_message_type", (None, "user-message"))]
        parts += _event_parts(external_events)
        params: Params
        if audio is None:
            params = [("request_format", "text"), ("response_format", "text")]
            parts.append(("recorded_message", (None, text)))
        else:
            if audio_format not in _AUDIO_PARTS:
                raise ValueError(f"unsupported audio format {audio_format!r}")
            filename, content_type, config = _AUDIO_PARTS[audio_format]
            params = [
                ("request_format", "voice"),
                ("response_format", "text"),
                ("request_audio_config", json.dumps(config, separators=(",", ":"))),
            ]
            parts.append(("recorded_message", (filename, bytes(audio), content_type)))
        url = self._conversation_url(conversation_id, "interact")
        return self._stream(as_user, "interact", url, params=params, files=parts)

    async def finish_conversation(self, as_user: str, conversation_id: str) -> None:
        """Finish a conversation. 409 (already finished or busy) raises AmigoConflict."""
        url = self._conversation_url(conversation_id, "finish/")
        await self._call(as_user, "finish", "POST", url)

    async def modify_tags(
        self,
        as_user: str,
        conversation_id: str,
        *,
        updates: Mapping[str, str | None] | None = None,
        deletes: Iterable[str] = (),
    ) -> None:
        """Add or update tags (a None value is a tag without value) and delete others."""
        if isinstance(deletes, str):
            deletes = [deletes]
        body = {"updates": dict(updates or {}), "deletes": list(deletes)}
        url = self._conversation_url(conversation_id, "tags/")
        await self._call(as_user, "tags", "POST", url, json=body)

    async def recommend_responses(
        self,
        as_user: str,
        conversation_id: str,
        interaction_id: str,
        *,
        context: str | None = None,
    ) -> list[str]:
        """Suggested user replies to the latest completed interaction."""
        body = {"context": context} if context else {}
        url = self._conversation_url(
            conversation_id, f"interaction/{quote_id(interaction_id)}/recommend_responses"
        )
        response = await self._call(as_user, "recommend", "POST", url, json=body)
        return list(self._parse(RecommendedResponses, response, "recommend").recommended_responses)

    async def get_conversations(
        self,
        as_user: str,
        *,
        user_ids: Iterable[str] = (),
        service_ids: Iterable[str] = (),
        ids: Iterable[str] = (),
        is_finished: bool | None = None,
        limit: int | None = None,
        continuation_token: int | None = None,
        sort_by: Iterable[str] = (),
        tags: Iterable[str] = (),
    ) -> ConversationPage:
        """One page of conversations matching the filters (``tags`` as ``key:value``)."""
        params: Params = []
        add_many(params, "user_id", user_ids)
        add_many(params, "service_id", service_ids)
        add_many(params, "id", ids)
        if is_finished is not None:
            params.append(("is_finished", "true" if is_finished else "false"))
        if limit is not None:
            params.append(("limit", limit))
        if continuation_token is not None:
            params.append(("continuation_token", continuation_token))
        add_many(params, "sort_by", sort_by)
        add_many(params, "tag", tags)
        url = self._url("conversation/")
        response = await self._call(as_user, "get_conversations", "GET", url, params=params)
        return self._parse(ConversationPage, response, "get_conversations")

    async def get_messages(
        self,
        as_user: str,
        conversation_id: str,
        *,
        limit: int | None = None,
        continuation_token: int | None = None,
        message_types: Iterable[str] = (),
        sort_by: Iterable[str] = (),
    ) -> MessagePage:
        """One page of a conversation's messages."""
        params: Params = []
        add_many(params, "message_type", message_types)
        if limit is not None:
            params.append(("limit", limit))
        if continuation_token is not None:
            params.append(("continuation_token", continuation_token))
        add_many(params, "sort_by", sort_by)
        url = self._conversation_url(conversation_id, "messages/")
        response = await self._call(as_user, "get_messages", "GET", url, params=params)
        return self._parse(MessagePage, response, "get_messages")
