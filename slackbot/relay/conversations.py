"""Who speaks to Amigo, and which conversation a thread is.

Each Slack user is one Amigo user, created on first contact. Amigo allows one
unfinished conversation per user and service, so starting a new thread applies
the active-conversation policy to the user's other open conversations.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from slackbot.amigo.errors import AmigoConflict, AmigoError, AmigoNotFound
from slackbot.relay import workspace
from slackbot.relay.options import ActivePolicy
from slackbot.relay.ports import AmigoPort, Profile, SlackPort, SlackRefused
from slackbot.relay.watch import Watch
from slackbot.store.repo import Conversation, Store, ThreadKey
from slackbot.ui import messages

log = logging.getLogger("slackbot.conversations")


@dataclass(frozen=True, slots=True)
class IdentityConfig:
    provisioning_user_id: str
    role_name: str
    email_template: str


def _names(profile: Profile) -> tuple[str, str]:
    """Amigo needs a non-empty first and last name."""
    first, last = profile.first_name.strip(), profile.last_name.strip()
    if not first and not last:
        parts = profile.display_name.split(maxsplit=1) or [profile.user_id]
        first, last = parts[0], (parts[1] if len(parts) > 1 else "")
    return first or last or profile.user_id, last or "(Slack)"


class Identities:
    """Slack user -> Amigo user, created through the user API on first contact."""

    def __init__(
        self, store: Store, amigo: AmigoPort, slack: SlackPort, config: IdentityConfig
    ) -> None:
        self._store = store
        self._amigo = amigo
        self._slack = slack
        self._config = config
        self._provisioning: dict[tuple[str, str], asyncio.Task[str]] = {}
        """Users being created right now: a second request for one waits for the first."""

    async def amigo_user_for(self, team_id: str, slack_user_id: str) -> str:
        known = await self._store.amigo_user(team_id, slack_user_id)
        if known is not None:
            return known
        key = (team_id, slack_user_id)
        task = self._provisioning.get(key)
        if task is None:
            task = asyncio.ensure_future(self._create(team_id, slack_user_id))
            self._provisioning[key] = task
            task.add_done_callback(lambda _: self._provisioning.pop(key, None))
        return await asyncio.shield(task)

    async def _create(self, team_id: str, slack_user_id: str) -> str:
        workspace.enter(team_id)  # its own task: the profile is asked of the user's workspace
        user_id, email = await self._provision(team_id, slack_user_id)
        await self._store.save_amigo_user(team_id, slack_user_id, user_id, email)
        return user_id

    async def _provision(self, team_id: str, slack_user_id: str) -> tuple[str, str]:
        try:
            profile = await self._slack.profile(slack_user_id)
        except SlackRefused as exc:
            # Slack will not say (a deleted or foreign user): a name from the id will do.
            log.warning("no Slack profile for %s (%s); naming them by id", slack_user_id, exc)
            profile = Profile(slack_user_id, "", "", slack_user_id, None)
        email = profile.email or self._config.email_template.format(
            team_id=team_id.lower(), user_id=slack_user_id.lower()
        )
        admin = self._config.provisioning_user_id
        existing = await self._amigo.find_user_by_email(admin, email)
        if existing is not None:
            return existing, email
        first, last = _names(profile)
        try:
            created = await self._amigo.create_user(
                admin,
                first_name=first,
                last_name=last,
                email=email,
                role_name=self._config.role_name,
            )
        except AmigoConflict:
            # Created meanwhile (by another replica, say): look it up again.
            again = await self._amigo.find_user_by_email(admin, email)
            if again is None:
                raise
            return again, email
        log.info("created Amigo user for Slack user %s", slack_user_id)
        return created, email


class Conversations:
    """Finishing conversations and the policy for a user's other open ones."""

    def __init__(
        self,
        store: Store,
        amigo: AmigoPort,
        slack: SlackPort,
        policy: ActivePolicy,
        watch: Watch | None = None,
    ) -> None:
        self._store = store
        self._amigo = amigo
        self._slack = slack
        self.policy = policy
        self.watch = watch or Watch()
        """Told whenever a conversation starts, finishes or is tagged."""

    async def thread_link(self, thread: ThreadKey) -> str:
        return await self._slack.permalink(thread.channel_id, thread.thread_ts)

    async def finish(self, conversation: Conversation, *, reason: str, notice: str | None) -> bool:
        """Finish in Amigo and in the store, then say so in the thread.

        Returns False when it was already finished here. Amigo's 409 "already
        finished" and 404 count as finished; a 409 "operation in progress" is raised.
        """
        if conversation.amigo_conversation_id and conversation.amigo_user_id:
            try:
                await self._amigo.finish_conversation(
                    conversation.amigo_user_id, conversation.amigo_conversation_id
                )
            except AmigoConflict as exc:
                if not exc.already_finished:
                    raise  # busy: a reply is still streaming
                log.info("conversation %s already finished in Amigo", conversation.id)
            except AmigoNotFound:
                log.info("conversation %s is unknown to Amigo", conversation.id)
        if not await self._store.finish_conversation(conversation.id, reason):
            return False
        self.watch.conversation_changed(conversation)
        if notice:
            await self._slack.post_message(
                conversation.channel_id, conversation.thread_ts, notice, None
            )
        return True

    async def finish_unknown_unfinished(self, amigo_user_id: str, service_id: str) -> int:
        """Finish the user's unfinished conversations that Amigo knows and we do not
        (made elsewhere, or before this database). Returns how many were finished."""
        page = await self._amigo.get_conversations(
            amigo_user_id, user_ids=[amigo_user_id], service_ids=[service_id], is_finished=False
        )
        finished = 0
        for info in page.conversations:
            known = await self._store.conversation_by_amigo_id(info.id)
            if known is not None:
                await self.finish(known, reason="unfinished-elsewhere", notice=None)
            else:
                try:
                    await self._amigo.finish_conversation(amigo_user_id, info.id)
                except (AmigoConflict, AmigoNotFound):
                    pass
            finished += 1
        log.info("finished %d unfinished conversation(s) unknown to this app", finished)
        return finished

    async def make_room_for(
        self,
        conversation: Conversation,
        same_service: Callable[[Conversation], bool] = lambda _: True,
    ) -> str | None:
        """Apply the policy to the owner's other open conversations (of the same
        service: Amigo keeps those of other services apart).

        Returns None when the new conversation may start, or the link of the
        conversation that blocks it (policy ``refuse``).
        """
        mine = await self._store.open_conversations_of(
            conversation.team_id, conversation.owner_user_id, exclude_id=conversation.id
        )
        others = [other for other in mine if same_service(other)]
        if not others:
            return None
        if self.policy == "refuse":
            return await self.thread_link(others[0].thread)
        new_link = await self.thread_link(conversation.thread)
        for other in others:
            try:
                await self.finish(
                    other,
                    reason="new-thread",
                    notice=messages.finished_for_new_thread(new_link),
                )
            except AmigoError:
                log.exception("could not finish conversation %s for a new thread", other.id)
                raise
        return None
