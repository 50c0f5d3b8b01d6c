"""Before Amigo creates a conversation: its service, who speaks, and room for it.

The service is the channel's (:mod:`slackbot.relay.services`), recorded on the
conversation before anything reaches Amigo. Amigo allows one unfinished conversation
per user and service, so a start applies the active-conversation policy to the
person's other conversations of that service first; when Amigo still refuses (a
conversation this app does not know, made elsewhere), the policy decides whether to
finish that one.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from slackbot.amigo.errors import (
    AmigoAuthError,
    AmigoBadRequest,
    AmigoError,
    AmigoRateLimited,
    AmigoTransportError,
    AmigoUnavailable,
)
from slackbot.relay.conversations import Conversations, Identities
from slackbot.relay.ports import SlackUnreachable
from slackbot.relay.services import Services
from slackbot.store.repo import Conversation, Store
from slackbot.ui import messages

log = logging.getLogger("slackbot.starts")


class StartPostponed(Exception):
    """Slack or Amigo could not be reached while getting ready: try again shortly."""


class Starts:
    def __init__(
        self,
        store: Store,
        identities: Identities,
        conversations: Conversations,
        services: Services,
    ) -> None:
        self._store = store
        self._identities = identities
        self._conversations = conversations
        self._services = services

    async def prepare(self, conversation: Conversation) -> Conversation | str:
        """The conversation with its service and Amigo user, ready to create; or why it
        cannot start."""
        conversation = await self._services.choose(conversation)
        service = self._services.of(conversation).service_id
        try:
            amigo_user = await self._identities.amigo_user_for(
                conversation.team_id, conversation.owner_user_id
            )
        except AmigoAuthError as exc:
            log.error("Amigo refused the provisioning credentials: %s", exc)
            return messages.REPLY_FAILED_MISCONFIGURED
        except (AmigoRateLimited, AmigoUnavailable, AmigoTransportError, SlackUnreachable) as exc:
            raise StartPostponed(str(exc)) from exc
        except AmigoError as exc:
            log.error("could not provision an Amigo user: %s", exc)
            return messages.REPLY_FAILED_START
        if conversation.amigo_user_id != amigo_user:
            await self._store.set_conversation_user(conversation.id, amigo_user)
            conversation = replace(conversation, amigo_user_id=amigo_user)
        try:
            blocking = await self._conversations.make_room_for(
                conversation, lambda other: self._services.of(other).service_id == service
            )
        except (AmigoRateLimited, AmigoUnavailable, AmigoTransportError, SlackUnreachable) as exc:
            raise StartPostponed(str(exc)) from exc
        except AmigoError:
            return messages.REPLY_FAILED_START
        if blocking is not None:
            return messages.refused_active_elsewhere(blocking)
        return conversation

    async def resolve_unfinished(
        self, conversation: Conversation, refusal: AmigoBadRequest
    ) -> str | None:
        """Amigo refused to create the conversation. Finish the user's unfinished ones it
        knows (policy permitting): None when the start may be tried again, else why not."""
        assert conversation.amigo_user_id is not None
        if self._conversations.policy == "refuse":
            return messages.UNFINISHED_ELSEWHERE
        try:
            finished = await self._conversations.finish_unknown_unfinished(
                conversation.amigo_user_id, self._services.of(conversation).service_id
            )
        except AmigoError as lookup_error:
            log.warning("could not look up unfinished conversations: %s", lookup_error)
            return messages.REPLY_FAILED_START
        if not finished:
            log.warning("Amigo refused to create a conversation: %s", refusal)
            return messages.REPLY_FAILED_START
        return None
