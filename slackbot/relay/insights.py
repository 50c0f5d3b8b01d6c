""" "Why this answer?": finds the interaction behind a reply and asks Amigo for its
insights, for the people the admins allow (``AMIGO_INSIGHTS``: off, admins, owners)."""

from __future__ import annotations

import logging
from typing import Any

from slackbot.amigo.errors import AmigoError
from slackbot.relay.controls import Caller, Permissions
from slackbot.relay.options import InsightsMode
from slackbot.relay.outcomes import Context, outcome_of
from slackbot.relay.ports import AmigoPort, SlackPort, SlackRefused, SlackUnreachable
from slackbot.store.repo import Conversation, Store, ThreadKey
from slackbot.ui import insights as ui
from slackbot.ui import messages

log = logging.getLogger("slackbot.insights")


class Explainer:
    def __init__(
        self,
        store: Store,
        amigo: AmigoPort,
        slack: SlackPort,
        permissions: Permissions,
        mode: InsightsMode,
    ) -> None:
        self._store = store
        self._amigo = amigo
        self._slack = slack
        self._permissions = permissions
        self._mode = mode

    async def show(
        self,
        trigger_id: str,
        caller: Caller,
        thread: ThreadKey | None,
        reply_ts: str | None = None,
    ) -> None:
        """Open the modal at once (Slack's trigger lasts three seconds), then fill it."""
        try:
            view_id = await self._slack.open_view(trigger_id, ui.message_view(ui.LOADING))
        except (SlackRefused, SlackUnreachable) as exc:
            log.warning('could not open "why this answer?" for %s: %s', caller.user_id, exc)
            return
        try:
            view = await self.explain(caller, thread, reply_ts)
        except Exception:
            log.exception("explaining an answer failed")
            view = ui.message_view(messages.COMMAND_FAILED)
        try:
            await self._slack.update_view(view_id, view)
        except (SlackRefused, SlackUnreachable) as exc:
            log.warning("could not show why the agent answered: %s", exc)

    async def explain(
        self, caller: Caller, thread: ThreadKey | None, reply_ts: str | None = None
    ) -> dict[str, Any]:
        """The modal for a reply (``reply_ts``), or for the latest answer of the thread's
        conversation (or of the caller's active one)."""
        if self._mode == "off":
            return ui.message_view(ui.TURNED_OFF)
        conversation = await self._conversation(caller, thread, reply_ts)
        if isinstance(conversation, str):
            return ui.message_view(conversation)
        if not await self._allowed(caller, conversation):
            return ui.message_view(ui.ONLY_ADMINS)
        interaction = await self._interaction(conversation, reply_ts)
        if interaction is None:
            return ui.message_view(ui.NOT_AN_ANSWER if reply_ts else ui.NO_ANSWER_YET)
        user, amigo_id = conversation.amigo_user_id, conversation.amigo_conversation_id
        assert user is not None and amigo_id is not None
        try:
            found = await self._amigo.interaction_insights(user, amigo_id, interaction)
        except AmigoError as exc:
            outcome = outcome_of(exc, Context("insights"))
            log.log(outcome.level, "Amigo refused insights of %s: %s", interaction, exc)
            return ui.message_view(outcome.answer_for(exc))
        turns = await self._store.turns_with_reply(reply_ts) if reply_ts else []
        ids = [t.id for t in turns if t.interaction_id == interaction] or None
        votes = await self._store.votes(turn_ids=ids) if ids else None
        comments = await self._store.comments(ids) if ids else []
        explained = ui.Explanation(
            state=found.current_state_name,
            objective=found.current_state_objective,
            steps=[
                (m.previous_state, m.next_state, m.exit_condition) for m in found.state_transitions
            ],
            behaviour=found.dynamic_behavior_set,
            tools=[(call.tool_name, call.duration) for call in found.tool_calls],
        )
        return ui.insights_view(explained, votes=votes, comments=comments)

    async def _conversation(
        self, caller: Caller, thread: ThreadKey | None, reply_ts: str | None
    ) -> Conversation | str:
        if reply_ts is not None:
            answered = await self._store.turns_with_reply(reply_ts)
            owner = answered[0].conversation_id if answered else None
            found = await self._store.conversation(owner) if owner is not None else None
            return found if found is not None else ui.NOT_AN_ANSWER
        if thread is not None:
            found = await self._store.latest_conversation(thread)
            return found if found is not None else messages.NO_CONVERSATION_IN_THREAD
        mine = await self._store.open_conversations_of(caller.team_id, caller.user_id)
        return mine[-1] if mine else messages.NO_ACTIVE_CONVERSATION

    async def _allowed(self, caller: Caller, conversation: Conversation) -> bool:
        if self._mode == "owners":
            return await self._permissions.may_act(caller.user_id, conversation)
        return await self._permissions.is_admin(caller.user_id)

    async def _interaction(self, conversation: Conversation, reply_ts: str | None) -> str | None:
        if conversation.amigo_user_id is None or conversation.amigo_conversation_id is None:
            return None
        if reply_ts is not None:
            answered = await self._store.turns_with_reply(reply_ts)
            return next((t.interaction_id for t in answered if t.interaction_id), None)
        return await self._store.last_interaction(conversation.id)
