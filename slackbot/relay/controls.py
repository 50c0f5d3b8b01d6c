"""What `/amigo`, the reply menu, the message shortcuts and suggestion buttons do.

Works on the store, the Amigo client and the :class:`SlackPort`; knows nothing
of Bolt. Each entry point returns the text to show privately to the person who
acted, or None when the thread itself shows what happened.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC

from slackbot.amigo.client import AmigoClient
from slackbot.amigo.errors import (
    AmigoAuthError,
    AmigoBadRequest,
    AmigoConflict,
    AmigoError,
    AmigoNotFound,
    AmigoRateLimited,
    AmigoTransportError,
    AmigoUnavailable,
)
from slackbot.config import SuggestionsMode
from slackbot.relay.commands import (
    MAX_TAGS,
    Command,
    Finish,
    Help,
    RemoveTags,
    SetTags,
    ShowTags,
    Status,
    Suggest,
    tags_after,
)
from slackbot.relay.conversations import Conversations
from slackbot.relay.inbox import Inbox, IncomingMessage
from slackbot.relay.ports import SlackPort
from slackbot.slack import blocks, messages
from slackbot.store.models import OPEN_CONVERSATION_STATES, Conversation, ConversationState
from slackbot.store.repo import Store, ThreadKey, thread_of

log = logging.getLogger("slackbot.controls")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who acts, in which workspace."""

    team_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class ControlsConfig:
    admin_user_ids: frozenset[str] = frozenset()
    suggestions: SuggestionsMode = "on-request"


_OPERATIONS: dict[type[Command], str] = {Finish: "finish", Suggest: "recommend"}
"""The Amigo operation behind a command, when it is not a tags one."""


class _Refused(Exception):
    """Stops an action with the answer to give instead."""

    def __init__(self, answer: str) -> None:
        super().__init__(answer)
        self.answer = answer


def help_text(command: Help) -> str:
    return messages.unknown_command(command.unknown) if command.unknown else messages.HELP


def amigo_failure(exc: AmigoError, operation: str) -> str:
    """The answer for an Amigo error of a control (finish, tags, recommend)."""
    if isinstance(exc, AmigoRateLimited):
        return messages.amigo_busy(exc.retry_after)
    if isinstance(exc, AmigoConflict):
        return messages.CONVERSATION_BUSY
    if isinstance(exc, AmigoUnavailable):
        return messages.AMIGO_UNAVAILABLE
    if isinstance(exc, AmigoTransportError):
        return messages.AMIGO_UNREACHABLE
    if isinstance(exc, AmigoAuthError):
        log.error("Amigo refused the credentials for %s: %s", operation, exc)
        return messages.REPLY_FAILED_MISCONFIGURED
    if isinstance(exc, AmigoNotFound):
        return messages.AMIGO_UNKNOWN_CONVERSATION
    if isinstance(exc, AmigoBadRequest) and operation == "tags":
        return messages.AMIGO_TOO_MANY_TAGS
    if isinstance(exc, AmigoBadRequest) and operation == "recommend":
        return messages.SUGGESTIONS_NOT_LATEST
    log.warning("Amigo refused %s: %s", operation, exc)
    return messages.AMIGO_REFUSED


class Controls:
    def __init__(
        self,
        *,
        store: Store,
        amigo: AmigoClient,
        slack: SlackPort,
        conversations: Conversations,
        inbox: Inbox,
        config: ControlsConfig,
    ) -> None:
        self._store = store
        self._amigo = amigo
        self._slack = slack
        self._conversations = conversations
        self._inbox = inbox
        self._config = config

    @property
    def suggestions(self) -> SuggestionsMode:
        return self._config.suggestions

    async def run(
        self,
        command: Command,
        caller: Caller,
        *,
        thread: ThreadKey | None = None,
        in_thread: bool = False,
    ) -> str | None:
        """Carry out a command on ``thread`` (from a menu or shortcut), on the thread
        its link names, or else on the caller's active conversation."""
        if isinstance(command, Help):
            return help_text(command)
        if thread is None and command.thread is not None:
            ref = command.thread
            thread = ThreadKey(caller.team_id, ref.channel_id, ref.thread_ts)
        try:
            conversation = await self._target(caller, thread)
            await self._check_allowed(caller, conversation)
            if isinstance(command, Finish):
                return await self._finish(caller, conversation)
            if isinstance(command, SetTags):
                return await self._set_tags(conversation, command.as_dict)
            if isinstance(command, RemoveTags):
                return await self._remove_tags(conversation, list(command.keys))
            if isinstance(command, ShowTags):
                return messages.tags_listed(await self._tags(conversation))
            if isinstance(command, Status):
                return await self._status(conversation)
            if isinstance(command, Suggest):
                return await self._suggest(conversation, in_thread=in_thread)
            raise AssertionError(f"unhandled command {command!r}")
        except _Refused as refused:
            return refused.answer
        except AmigoError as exc:
            return amigo_failure(exc, _OPERATIONS.get(type(command), "tags"))

    # -- which conversation, and who may act on it -------------------------

    async def _target(self, caller: Caller, thread: ThreadKey | None) -> Conversation:
        if thread is None:
            mine = await self._store.open_conversations_of(caller.team_id, caller.user_id)
            if not mine:
                raise _Refused(messages.NO_ACTIVE_CONVERSATION)
            return mine[-1]
        found = await self._store.open_conversation(thread)
        if found is None:
            found = await self._store.latest_conversation(thread)
        if found is None:
            raise _Refused(messages.NO_CONVERSATION_IN_THREAD)
        return found

    async def may_act(self, user_id: str, conversation: Conversation) -> bool:
        """The owner, a configured admin, or a workspace admin or owner."""
        if user_id == conversation.owner_user_id or user_id in self._config.admin_user_ids:
            return True
        try:
            profile = await self._slack.profile(user_id)
        except Exception:
            log.warning("could not look up Slack user %s; treating them as no admin", user_id)
            return False
        return profile.is_admin or profile.is_owner

    async def _check_allowed(self, caller: Caller, conversation: Conversation) -> None:
        if not await self.may_act(caller.user_id, conversation):
            raise _Refused(messages.not_allowed(conversation.owner_user_id))

    async def _link(self, conversation: Conversation) -> str:
        return await self._conversations.thread_link(thread_of(conversation))

    @staticmethod
    def _amigo_ids(conversation: Conversation) -> tuple[str, str]:
        """(Amigo user, Amigo conversation), or refuse while it is still being created."""
        user, amigo_id = conversation.amigo_user_id, conversation.amigo_conversation_id
        if user is None or amigo_id is None:
            if conversation.state == ConversationState.STARTING:
                raise _Refused(messages.CONVERSATION_STARTING)
            raise _Refused(messages.NO_CONVERSATION_IN_THREAD)
        return user, amigo_id

    # -- finish ------------------------------------------------------------

    async def _finish(self, caller: Caller, conversation: Conversation) -> str:
        if conversation.state not in OPEN_CONVERSATION_STATES:
            return messages.already_finished(await self._link(conversation))
        # Amigo refuses to finish while a reply streams, with a 409 that
        # Conversations.finish would take for "already finished".
        if await self._store.turn_in_progress(conversation.id):
            return messages.CONVERSATION_BUSY
        done = await self._conversations.finish(
            conversation, reason="command", notice=messages.finished_by(caller.user_id)
        )
        link = await self._link(conversation)
        return messages.finished_confirmed(link) if done else messages.already_finished(link)

    # -- tags --------------------------------------------------------------

    async def _tags(self, conversation: Conversation) -> dict[str, str | None]:
        """The conversation's tags, read back from Amigo."""
        user, amigo_id = self._amigo_ids(conversation)
        page = await self._amigo.get_conversations(user, ids=[amigo_id])
        for found in page.conversations:
            if found.id == amigo_id:
                return dict(found.tags)
        raise _Refused(messages.AMIGO_UNKNOWN_CONVERSATION)

    async def _set_tags(self, conversation: Conversation, updates: dict[str, str | None]) -> str:
        user, amigo_id = self._amigo_ids(conversation)
        total = tags_after(await self._tags(conversation), updates, ())
        if total > MAX_TAGS:
            return messages.tags_refused([messages.tag_count_broken(total)])
        await self._amigo.modify_tags(user, amigo_id, updates=updates)
        return messages.tags_set(updates)

    async def _remove_tags(self, conversation: Conversation, keys: list[str]) -> str:
        user, amigo_id = self._amigo_ids(conversation)
        await self._amigo.modify_tags(user, amigo_id, deletes=keys)
        return messages.tags_removed(keys)

    # -- status ------------------------------------------------------------

    async def _status(self, conversation: Conversation) -> str:
        tags = "none"
        if conversation.amigo_conversation_id is not None:
            try:
                tags = messages.tag_list(await self._tags(conversation))
            except (AmigoError, _Refused) as exc:
                log.info("status without tags for conversation %s: %s", conversation.id, exc)
                tags = messages.TAGS_UNREADABLE
        started = conversation.created_at
        return messages.status(
            conversation.owner_user_id,
            await self._link(conversation),
            conversation.amigo_conversation_id,
            started if started.tzinfo else started.replace(tzinfo=UTC),
            conversation.turn_count,
            conversation.state,
            tags,
        )

    # -- suggested replies -------------------------------------------------

    async def _suggest(self, conversation: Conversation, *, in_thread: bool) -> str | None:
        if self._config.suggestions == "off":
            return messages.SUGGESTIONS_OFF
        if conversation.state not in OPEN_CONVERSATION_STATES:
            return messages.already_finished(await self._link(conversation))
        await self.offer_suggestions(conversation)
        return None if in_thread else messages.suggestions_posted(await self._link(conversation))

    async def offer_suggestions(self, conversation: Conversation) -> None:
        """Ask Amigo for replies to the latest interaction and post them as buttons."""
        user, amigo_id = self._amigo_ids(conversation)
        interaction_id = conversation.latest_interaction_id
        if interaction_id is None:
            raise _Refused(messages.NOTHING_TO_SUGGEST)
        found = await self._amigo.recommend_responses(user, amigo_id, interaction_id)
        texts = [text for text in found if text.strip()]
        shown = blocks.suggestions(conversation.owner_user_id, interaction_id, texts)
        if not shown:
            raise _Refused(messages.NO_SUGGESTIONS)
        await self._slack.post_message(
            conversation.channel_id,
            conversation.thread_ts,
            messages.suggestions_fallback(texts[: blocks.MAX_SUGGESTIONS]),
            shown,
        )

    async def suggest_after_reply(self, conversation: Conversation) -> None:
        """Suggestions under a reply that just completed, unless more turns wait."""
        if await self._store.has_queued_turns(thread_of(conversation)):
            return
        try:
            await self.offer_suggestions(conversation)
        except (AmigoError, _Refused) as exc:
            log.info("no suggestions after a reply in conversation %s: %s", conversation.id, exc)

    async def choose(
        self,
        caller: Caller,
        thread: ThreadKey,
        *,
        interaction_id: str,
        text: str,
        buttons_ts: str | None,
    ) -> str | None:
        """A suggestion button was clicked: post it as the owner's reply and relay it once."""
        conversation = await self._store.open_conversation(thread)
        if conversation is None:
            conversation = await self._store.latest_conversation(thread)
        if conversation is None:
            return messages.SUGGESTION_STALE
        owner = conversation.owner_user_id
        if caller.user_id != owner:
            return messages.suggestion_not_owner(owner)
        if conversation.state not in OPEN_CONVERSATION_STATES:
            return messages.SUGGESTION_FINISHED
        if conversation.latest_interaction_id != interaction_id:
            return messages.SUGGESTION_STALE
        if not await self._store.claim_hint(thread, owner, f"s:{interaction_id}"[:32]):
            return messages.SUGGESTION_USED
        ts = await self._slack.post_message(
            thread.channel_id, thread.thread_ts, messages.suggestion_chosen(owner, text), None
        )
        if buttons_ts is not None:
            try:
                await self._slack.update_message(
                    thread.channel_id,
                    buttons_ts,
                    messages.suggestion_chosen_note(owner, text),
                    blocks.suggestion_chosen(owner, text),
                )
            except Exception:
                log.exception("could not replace the suggestion buttons in %s", thread.channel_id)
        await self._inbox.receive(
            IncomingMessage(
                team_id=thread.team_id,
                channel_id=thread.channel_id,
                user_id=owner,
                ts=ts,
                thread_ts=thread.thread_ts,
                text=text,
                mentions_bot=False,
                is_dm=thread.channel_id.startswith("D"),
            )
        )
        return None
