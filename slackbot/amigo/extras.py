"""What Amigo offers around a conversation besides talking in it: conversation starters
(suggested first messages), an interaction's insights ("why this answer?"), and the raw
source (audio) of a message. Part of :class:`~slackbot.amigo.client.AmigoClient`."""

from __future__ import annotations

import time
from collections.abc import Sequence

import httpx
from pydantic import ValidationError

from slackbot.amigo.errors import AmigoProtocolError, error_for_response
from slackbot.amigo.models import ConversationStarters, InteractionInsights, MessageSourceLink
from slackbot.amigo.transport import AmigoTransport, Params, quote_id, transport_error

DEFAULT_STARTER_INSTRUCTIONS = (
    "Suggest short, friendly messages a user could send to start a conversation."
)
"""The ``generation_instructions`` of :meth:`AmigoClient.conversation_starters` by default."""

MAX_STARTERS = 10
"""The most starters Amigo generates in one call (``max_count``)."""

MAX_SOURCE_BYTES = 50 * 1024 * 1024
"""The largest message source :meth:`AmigoClient.message_source` downloads by default."""


class AmigoExtras(AmigoTransport):
    async def conversation_starters(
        self,
        as_user: str,
        *,
        service_id: str,
        facets: Sequence[str],
        instructions: str = DEFAULT_STARTER_INSTRUCTIONS,
        min_count: int = 1,
        max_count: int = 3,
        version_set: str = "release",
    ) -> list[str]:
        """Suggested first messages for a new conversation with a service.

        Each is about some of ``facets`` (at least one, none blank); Amigo makes
        between ``min_count`` and ``max_count`` of them (1 to 10). Amigo allows
        10 calls a minute per user, so keep what it answers. Raises ValueError at
        once for what Amigo would refuse.
        """
        if isinstance(facets, str):
            facets = [facets]
        facets = list(facets)
        if not facets or any(not isinstance(f, str) or not f.strip() for f in facets):
            raise ValueError("conversation starters need at least one facet, none blank")
        if not instructions.strip():
            raise ValueError("conversation starters need non-blank instructions")
        if not 1 <= min_count <= max_count <= MAX_STARTERS:
            raise ValueError(f"need 1 <= min_count <= max_count <= {MAX_STARTERS}")
        body = {
            "service_id": service_id,
            "service_version_set_name": version_set,
            "facets": facets,
            "min_count": min_count,
            "max_count": max_count,
            "generation_instructions": instructions,
        }
        url = self._url("conversation/conversation_starter")
        response = await self._call(as_user, "conversation_starter", "POST", url, json=body)
        answer = self._parse(ConversationStarters, response, "conversation_starter")
        return [prompt.prompt for prompt in answer.prompts]

    async def interaction_insights(
        self, as_user: str, conversation_id: str, interaction_id: str
    ) -> InteractionInsights:
        """Why the agent answered as it did in a completed interaction.

        An unknown conversation or interaction (or one that never completed)
        raises AmigoNotFound.
        """
        url = self._conversation_url(
            conversation_id, f"interaction/{quote_id(interaction_id)}/insights"
        )
        response = await self._call(as_user, "insights", "GET", url)
        return self._parse(InteractionInsights, response, "insights")

    async def message_source_link(
        self, as_user: str, conversation_id: str, message_id: str, *, long_lived: bool = False
    ) -> MessageSourceLink:
        """A signed link to the raw source (audio) of a message that was not text.

        The link lasts a short while, or 12 hours with ``long_lived`` (keep it
        secret: anyone holding it can download). A text message raises
        AmigoBadRequest, an unknown one AmigoNotFound.
        """
        source = await self._source(as_user, conversation_id, message_id, long_lived)
        if not isinstance(source, MessageSourceLink):
            raise AmigoProtocolError(
                "Amigo sent the message source itself, not a link", operation="message_source"
            )
        return source

    async def message_source(
        self,
        as_user: str,
        conversation_id: str,
        message_id: str,
        *,
        long_lived: bool = False,
        max_bytes: int = MAX_SOURCE_BYTES,
    ) -> tuple[bytes, str]:
        """The raw source (audio bytes) of a message that was not text, and its content type.

        Amigo answers with a signed link, which is downloaded without the bearer
        token (a download error is raised like an Amigo error of operation
        ``message_source_download``). A text message raises AmigoBadRequest, an
        unknown one AmigoNotFound, a source over ``max_bytes`` AmigoProtocolError.
        """
        source = await self._source(as_user, conversation_id, message_id, long_lived)
        if not isinstance(source, MessageSourceLink):
            return source
        data, header = await self._download(
            "message_source_download", source.url, max_bytes=max_bytes
        )
        return data, source.content_type or header or "application/octet-stream"

    async def _source(
        self, as_user: str, conversation_id: str, message_id: str, long_lived: bool
    ) -> MessageSourceLink | tuple[bytes, str]:
        """Amigo's answer to retrieve-message-source: a link, or (rarely) the bytes."""
        params: Params = [("long_lived", "true" if long_lived else "false")]
        url = self._conversation_url(conversation_id, f"messages/{quote_id(message_id)}/source")
        response = await self._call(as_user, "message_source", "GET", url, params=params)
        content_type = response.headers.get("content-type", "")
        if "json" not in content_type:
            return response.content, content_type or "application/octet-stream"
        return _source_link(response)

    async def _download(
        self, operation: str, url: str, *, max_bytes: int
    ) -> tuple[bytes, str | None]:
        """GET a link that Amigo handed out (a signed storage URL), without the bearer token.

        Returns the body (at most ``max_bytes``, else AmigoProtocolError) and its
        ``Content-Type``. The URL is a credential: it is never logged nor put in
        an error.
        """
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL:
            target = None
        if target is None or target.scheme not in ("http", "https") or not target.host:
            raise AmigoProtocolError(
                f"Amigo's answer to {operation} has no usable download link", operation=operation
            )
        started = time.monotonic()
        answered = False
        try:
            async with self._http.stream(
                "GET", target, timeout=self._plain_timeout, follow_redirects=True
            ) as response:
                answered = True
                self._answered(operation, response.status_code, started)
                if not response.is_success:
                    body = await response.aread()
                    raise error_for_response(
                        response.status_code, response.headers, body, operation=operation
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise AmigoProtocolError(
                            f"the download of {operation} is larger than {max_bytes} bytes",
                            operation=operation,
                        )
                    chunks.append(chunk)
                return b"".join(chunks), response.headers.get("content-type")
        except httpx.RequestError as exc:
            if not answered:
                self._answered(operation, 0, started)
            raise transport_error(operation, exc) from exc


def _source_link(response: httpx.Response) -> MessageSourceLink:
    """The link in a JSON answer of retrieve-message-source (the spec leaves its shape open:
    Amigo sends ``{"url", "expires_at", "content_type"}``; a bare URL string is taken too)."""
    try:
        data = response.json()
        if isinstance(data, str):
            return MessageSourceLink(url=data)
        return MessageSourceLink.model_validate(data)
    except (ValueError, ValidationError):
        raise AmigoProtocolError(
            "unexpected answer from Amigo to message_source", operation="message_source"
        ) from None
