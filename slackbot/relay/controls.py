"""What `/amigo`, the reply menu, the message shortcuts and suggestion buttons do.

Works on the store, Amigo and the :class:`SlackPort`; knows nothing of Bolt. Each entry
point returns the text to show privately to the person who acted, or None when the
thread itself shows what happened.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC

from slackbot.amigo.errors import AmigoError
from slackbot.relay import workspace
from slackbot.relay.admins import Admins
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
    Why,
    help_text,
    tags_after,
)
from slackbot.relay.conversations import Conversations
from slackbot.relay.inbox import Inbox, IncomingMessage
from slackbot.relay.outcomes import Context, Effect, Operation, outcome_of
from slackbot.relay.ports import AmigoPort, SlackPort
from slackbot.relay.suggestions import Refused, Suggestions, amigo_ids
from slackbot.relay.workspace import Workspace
from slackbot.store.repo import Conversation, Store, ThreadKey
from slackbot.ui import blocks, messages
from slackbot.ui.escape import escape

log = logging.getLogger("slackbot.controls")

OrgOf = Callable[[str], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who acts, in which workspace."""

    team_id: str
    user_id: str


_OPERATIONS: dict[type[Command], Operation] = {Finish: "finish", Suggest: "recommend"}
"""The Amigo operation behind a command, when it is not a tags one."""


class Permissions:
    """Who may act on a conversation: its owner, a configured admin of the workspace the
    work is for, or a workspace admin or owner (as Slack says now, give or take the
    profile cache's few minutes). ``org_of``: a workspace's Grid org, for admins named by
    org when the work does not say it."""

    def __init__(self, slack: SlackPort, admins: Admins, org_of: OrgOf | None = None) -> None:
        self._slack = slack
        self._admins = admins
        self._org_of = org_of

    async def may_act(self, user_id: str, conversation: Conversation) -> bool:
        return user_id == conversation.owner_user_id or await self.is_admin(user_id)

    async def is_admin(self, user_id: str) -> bool:
        """A configured admin here, or a workspace admin or owner."""
        if await self._configured(user_id):
            return True
        try:
            profile = await self._slack.profile(user_id)
        except Exception:
            log.warning("could not look up Slack user %s; treating them as no admin", user_id)
            return False
        return profile.is_admin or profile.is_owner

    async def _configured(self, user_id: str) -> bool:
        here = workspace.current() or Workspace(None)
        if self._admins.covers(user_id, here.team_id, here.enterprise_id):
            return True
        if here.enterprise_id or not here.team_id or not self._admins.by_org:
            return False
        org = await self._org_of(here.team_id) if self._org_of is not None else None
        return org is not None and self._admins.covers(user_id, here.team_id, org)


class Controls:
    def __init__(
        self,
        *,
        store: Store,
        amigo: AmigoPort,
        slack: SlackPort,
        conversations: Conversations,
        suggestions: Suggestions,
        permissions: Permissions,
        inbox: Inbox,
    ) -> None:
        self._store = store
        self._amigo = amigo
        self._slack = slack
        self._conversations = conversations
        self._suggestions = suggestions
        self._permissions = permissions
        self._inbox = inbox

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
        conversation: Conversation | None = None
        try:
            conversation = await self._target(caller, thread)
            if not await self._permissions.may_act(caller.user_id, conversation):
                return messages.not_allowed(conversation.owner_user_id)
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
            if isinstance(command, Why):  # a modal, opened by the Slack side
                return None
            raise AssertionError(f"unhandled command {command!r}")
        except Refused as refused:
            return refused.answer
        except AmigoError as exc:
            return await self._amigo_failed(
                exc, _OPERATIONS.get(type(command), "tags"), conversation
            )

    async def _amigo_failed(
        self, exc: AmigoError, operation: Operation, conversation: Conversation | None
    ) -> str:
        outcome = outcome_of(exc, Context(operation))
        log.log(outcome.level, "Amigo refused %s: %s", operation, exc)
        if conversation is not None and outcome.effect != Effect.NONE:
            await self._conversations.finish(conversation, reason=outcome.effect, notice=None)
        return outcome.answer_for(exc)

    # -- which conversation ------------------------------------------------

    async def _target(self, caller: Caller, thread: ThreadKey | None) -> Conversation:
        if thread is None:
            mine = await self._store.open_conversations_of(caller.team_id, caller.user_id)
            if not mine:
                raise Refused(messages.NO_ACTIVE_CONVERSATION)
            return mine[-1]
        found = await self._store.open_conversation(thread)
        if found is None:
            found = await self._store.latest_conversation(thread)
        if found is None:
            raise Refused(messages.NO_CONVERSATION_IN_THREAD)
        return found

    async def _link(self, conversation: Conversation) -> str:
        return await self._conversations.thread_link(conversation.thread)

    # -- finish ------------------------------------------------------------

    async def _finish(self, caller: Caller, conversation: Conversation) -> str:
        if not conversation.is_open:
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
        user, amigo_id = amigo_ids(conversation)
        page = await self._amigo.get_conversations(user, ids=[amigo_id])
        for found in page.conversations:
            if found.id == amigo_id:
                return dict(found.tags)
        raise Refused(messages.CONVERSATION_GONE)

    async def _set_tags(self, conversation: Conversation, updates: dict[str, str | None]) -> str:
        user, amigo_id = amigo_ids(conversation)
        total = tags_after(await self._tags(conversation), updates, ())
        if total > MAX_TAGS:
            return messages.tags_refused([messages.tag_count_broken(total)])
        await self._amigo.modify_tags(user, amigo_id, updates=updates)
        self._conversations.watch.conversation_changed(conversation)
        return messages.tags_set(updates)

    async def _remove_tags(self, conversation: Conversation, keys: list[str]) -> str:
        user, amigo_id = amigo_ids(conversation)
        await self._amigo.modify_tags(user, amigo_id, deletes=keys)
        self._conversations.watch.conversation_changed(conversation)
        return messages.tags_removed(keys)

    # -- status ------------------------------------------------------------

    async def _status(self, conversation: Conversation) -> str:
        tags = "none"
        if conversation.amigo_conversation_id is not None:
            try:
                tags = messages.tag_list(await self._tags(conversation))
            except (AmigoError, Refused) as exc:
                log.info("status without tags for conversation %s: %s", conversation.id, exc)
                tags = messages.TAGS_UNREADABLE
        started = conversation.created_at
        progress = await self._store.progress(conversation.id)
        return messages.status(
            conversation.owner_user_id,
            await self._link(conversation),
            conversation.amigo_conversation_id,
            started if started.tzinfo else started.replace(tzinfo=UTC),
            progress.interactions,
            conversation.state,
            tags,
        )

    # -- suggested replies -------------------------------------------------

    async def _suggest(self, conversation: Conversation, *, in_thread: bool) -> str | None:
        if self._suggestions.mode == "off":
            return messages.SUGGESTIONS_OFF
        if not conversation.is_open:
            return messages.already_finished(await self._link(conversation))
        await self._suggestions.offer(conversation)
        return None if in_thread else messages.suggestions_posted(await self._link(conversation))

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
        if not conversation.is_open:
            return messages.SUGGESTION_FINISHED
        latest = (await self._store.progress(conversation.id)).latest_interaction_id
        if latest != interaction_id:
            return messages.SUGGESTION_STALE
        if not await self._store.claim_hint(thread, owner, f"s:{interaction_id}"):
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
        chosen = IncomingMessage(
            team_id=thread.team_id,
            channel_id=thread.channel_id,
            user_id=owner,
            ts=ts,
            thread_ts=thread.thread_ts,
            text=escape(text),  # saved in Slack's markup, like every message
            mentions_bot=False,
            is_dm=thread.channel_id.startswith("D"),
        )
        await self._inbox.accept(chosen)
        return None
