"""How a turn's Amigo stream opens: a start, a reply, and either with the thread's events.

Amigo's create-conversation takes one message and no events, so a start that brings
the thread's earlier messages creates the conversation first (its opening words are
not shown: the person asked something) and sends the person's message with the events
in the same turn.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from slackbot.amigo.errors import AmigoBadRequest, AmigoStreamCut
from slackbot.amigo.events import AmigoEvent, ConversationCreated, ErrorEvent, InteractionComplete
from slackbot.relay.heard import Event, Heard
from slackbot.relay.ports import AmigoPort
from slackbot.store.models import TurnKind
from slackbot.store.repo import Conversation, Turn

log = logging.getLogger("slackbot.openings")


class Openings:
    def __init__(
        self, amigo: AmigoPort, heard: Heard | None, service_id: str, version_set: str
    ) -> None:
        self._amigo = amigo
        self._heard = heard
        self._service_id = service_id
        self._version_set = version_set

    def open(
        self,
        conversation: Conversation,
        turn: Turn,
        events: Sequence[Event],
        audio: bytes | None = None,
    ) -> AsyncIterator[AmigoEvent]:
        """The turn's stream; ``events`` go before its text, or before its ``audio`` (MP3:
        a voice message, whose Amigo says what it heard before it answers)."""
        assert conversation.amigo_user_id is not None
        if turn.kind == TurnKind.START:
            if events and turn.text.strip():
                return self._start_with(conversation, turn, events)
            return self._create(conversation, turn.text)
        return self._interact(conversation, turn.text, events, audio)

    def _create(self, conversation: Conversation, text: str) -> AsyncIterator[AmigoEvent]:
        assert conversation.amigo_user_id is not None
        service_id, version_set = self._service_id, self._version_set
        if conversation.service_id is not None:  # the one it started in (else the default)
            service_id = conversation.service_id
            version_set = conversation.version_set or "release"
        return self._amigo.create_conversation(
            conversation.amigo_user_id,
            service_id=service_id,
            version_set=version_set,
            initial_message=text or None,
        )

    async def _start_with(
        self, conversation: Conversation, turn: Turn, events: Sequence[Event]
    ) -> AsyncIterator[AmigoEvent]:
        async for event in self._create(conversation, ""):
            if isinstance(event, ConversationCreated):
                conversation = replace(conversation, amigo_conversation_id=event.conversation_id)
                yield event
            elif isinstance(event, ErrorEvent):
                yield event
                return
            elif isinstance(event, InteractionComplete):
                if event.conversation_completed:
                    yield event  # the agent ended it at once: that is the answer
                    return
                break
        else:
            raise AmigoStreamCut("the conversation's opening ended before it was complete")
        async for event in self._interact(conversation, turn.text, events):
            yield event

    async def _interact(
        self,
        conversation: Conversation,
        text: str,
        events: Sequence[Event],
        audio: bytes | None = None,
    ) -> AsyncIterator[AmigoEvent]:
        assert conversation.amigo_user_id is not None
        assert conversation.amigo_conversation_id is not None
        user, amigo_id = conversation.amigo_user_id, conversation.amigo_conversation_id
        timed = await self._heard.stamp(conversation, events) if events and self._heard else []
        began = False
        try:
            said = "" if audio is not None else text
            stream = self._amigo.interact(user, amigo_id, said, external_events=timed, audio=audio)
            async for event in stream:
                began = True
                yield event
        except AmigoBadRequest as exc:
            if began or not timed:
                raise
            # Amigo refused the events (their times, most likely): the person's message
            # matters more than the thread's, so it goes alone.
            log.warning("Amigo refused the thread's messages (%s); sending the turn alone", exc)
            async for event in self._amigo.interact(user, amigo_id, said, audio=audio):
                yield event
