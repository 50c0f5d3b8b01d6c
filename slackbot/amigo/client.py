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

from collections.abc import AsyncGenerator, Iterable, Mapping
from typing import Any

from slackbot.amigo.events import AmigoEvent
from slackbot.amigo.models import (
    ConversationPage,
    CreatedUser,
    MessagePage,
    RecommendedResponses,
    UserPage,
)
from slackbot.amigo.transport import AmigoTransport, Params, add_many, quote_id


class AmigoClient(AmigoTransport):
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
        self, as_user: str, conversation_id: str, text: str
    ) -> AsyncGenerator[AmigoEvent, None]:
        """Send a user message and stream the agent's answer.

        Raises ValueError at once for a blank message, which Amigo refuses.
        """
        if not text.strip():
            raise ValueError("an Amigo user message must not be blank")
        files = {
            "initial_message_type": (None, "user-message"),
            "recorded_message": (None, text),
        }
        params: Params = [("request_format", "text"), ("response_format", "text")]
        url = self._conversation_url(conversation_id, "interact")
        return self._stream(as_user, "interact", url, params=params, files=files)

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

    # -- plumbing ----------------------------------------------------------
