"""Asking Amigo what it has, before anything is sent again.

A turn the app lost track of (the process died mid-reply, the stream was cut, Amigo
went silent) may or may not have reached Amigo. Amigo commits an interaction (the
person's message and the agent's answer) only when it completes, so its messages say
which: an answer there is the reply; no trace means the message can be sent again
without being sent twice. A start that was cut may have created the conversation: the
person's unfinished conversation of the service, which this app does not know, is it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from slackbot.amigo.errors import AmigoError
from slackbot.relay.ports import AmigoPort
from slackbot.store.models import ConversationState
from slackbot.store.repo import Conversation, Store

log = logging.getLogger("slackbot.reconcile")

RECENT_MESSAGES = 30
USER, AGENT = "user-message", "agent-message"


@dataclass(frozen=True, slots=True)
class Answered:
    """Amigo has the message and answered it."""

    conversation: Conversation
    interaction_id: str
    text: str


@dataclass(frozen=True, slots=True)
class NotReceived:
    """Amigo has no trace of the message: it may be sent again."""

    conversation: Conversation


@dataclass(frozen=True, slots=True)
class Unknown:
    """Amigo could not be asked now; ask again later, and send nothing meanwhile."""

    reason: str


Finding = Answered | NotReceived | Unknown


class Reconciler:
    def __init__(self, store: Store, amigo: AmigoPort, service_id: str) -> None:
        self._store = store
        self._amigo = amigo
        self._service_id = service_id

    async def settle(self, conversation: Conversation, text: str) -> Finding:
        """What became of ``text`` (as it was sent, plain) in ``conversation``."""
        try:
            # The cut stream may have named the conversation already (and saved it).
            conversation = await self._store.conversation(conversation.id) or conversation
            if conversation.amigo_conversation_id is None:
                adopted = await self._created(conversation)
                if adopted is None:
                    return NotReceived(conversation)
                conversation = adopted
            return await self._answered(conversation, text)
        except AmigoError as exc:
            log.warning("could not ask Amigo about conversation %s: %s", conversation.id, exc)
            return Unknown(str(exc))

    async def _created(self, conversation: Conversation) -> Conversation | None:
        """The conversation a cut start created in Amigo, adopted here; None if none."""
        user = conversation.amigo_user_id
        if user is None:
            return None  # it never got as far as Amigo
        service = conversation.service_id or self._service_id  # the one it started in
        page = await self._amigo.get_conversations(
            user, user_ids=[user], service_ids=[service], is_finished=False
        )
        for info in page.conversations:
            known = await self._store.conversation_by_amigo_id(info.id)
            if known is None:
                log.info("conversation %s: Amigo created it before the cut", conversation.id)
                await self._store.activate_conversation(conversation.id, info.id, [])
                return replace(
                    conversation, amigo_conversation_id=info.id, state=ConversationState.ACTIVE
                )
        return None

    async def _answered(self, conversation: Conversation, text: str) -> Finding:
        assert conversation.amigo_user_id is not None
        assert conversation.amigo_conversation_id is not None
        page = await self._amigo.get_messages(
            conversation.amigo_user_id,
            conversation.amigo_conversation_id,
            limit=RECENT_MESSAGES,
            message_types=[USER, AGENT],
            sort_by=["-created_at"],
        )
        known = await self._store.interactions_of(conversation.id)
        fresh = [m for m in page.messages if m.interaction_id not in known]
        for message in fresh:
            if message.message_type != USER or message.message.strip() != text.strip():
                continue
            answers = [
                m
                for m in fresh
                if m.interaction_id == message.interaction_id and m.message_type == AGENT
            ]
            if answers:
                return Answered(conversation, message.interaction_id, answers[0].message)
        if not text.strip():  # the agent spoke first: its opening is the answer
            opening = [m for m in fresh if m.message_type == AGENT]
            if opening:
                return Answered(conversation, opening[-1].interaction_id, opening[-1].message)
        return NotReceived(conversation)
