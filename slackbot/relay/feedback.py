"""Feedback on replies: Slack's thumbs up and down under each answer.

One vote per person and reply, kept in the database (a second click changes it); every
change sets the conversation's Amigo tags ``feedback_up`` and ``feedback_down`` to the
conversation's counts (counted from the database, so that concurrent votes converge),
and is counted in /metrics. A thumbs down asks what went wrong; the answer is kept with
the vote and shown in "Why this answer?".
"""

from __future__ import annotations

import logging
from typing import Protocol

from slackbot.amigo.errors import AmigoError
from slackbot.relay.ports import AmigoPort
from slackbot.relay.watch import Watch
from slackbot.store.repo import Store
from slackbot.ui import messages

log = logging.getLogger("slackbot.feedback")

UP_TAG = "feedback_up"
DOWN_TAG = "feedback_down"


class VoteMeter(Protocol):
    def feedback(self, vote: str) -> None: ...


class Votes:
    def __init__(
        self, store: Store, amigo: AmigoPort, meter: VoteMeter, watch: Watch | None = None
    ) -> None:
        self._store = store
        self._amigo = amigo
        self._meter = meter
        self._watch = watch or Watch()

    async def vote(self, user_id: str, turn_id: int, vote: str) -> str | None:
        """Keep ``user_id``'s vote on the reply to ``turn_id``; what to tell them, if
        anything."""
        turn = await self._store.turn(turn_id)
        owner = turn.conversation_id if turn is not None else None
        conversation = await self._store.conversation(owner) if owner is not None else None
        if conversation is None:
            return messages.FEEDBACK_UNKNOWN
        if not await self._store.vote(turn_id, conversation.id, user_id, vote):
            return None  # the same vote again: nothing changes
        self._meter.feedback(vote)
        counts = await self._store.votes(conversation_id=conversation.id)
        user, amigo_id = conversation.amigo_user_id, conversation.amigo_conversation_id
        if user is None or amigo_id is None:
            return None
        try:
            await self._amigo.modify_tags(
                user,
                amigo_id,
                updates={UP_TAG: str(counts["up"]), DOWN_TAG: str(counts["down"])},
            )
        except AmigoError as exc:
            log.warning("could not count feedback on Amigo conversation %s: %s", amigo_id, exc)
        else:
            self._watch.conversation_changed(conversation)
        return None

    async def comment(self, user_id: str, turn_id: int, text: str) -> None:
        comment = text.strip()[: messages.FEEDBACK_MAX_CHARS]
        if comment and not await self._store.comment_vote(turn_id, user_id, comment):
            log.info("a feedback comment on turn %s came without its vote", turn_id)
