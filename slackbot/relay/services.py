"""A service per channel: which Amigo service (and version set) a conversation starts in.

Admins map channels to services (`/amigo config`, or the form in the Home tab); DMs and
channels without a mapping use the default service. A conversation's service is chosen
once, when it starts, and kept on its row: whatever happens to the mapping later, the
conversation lives on in the service it started in.

Before a mapping is saved, Amigo is asked whether the service (with that version set)
exists: its conversation-starter endpoint is the one call of the spec that names a
service and answers 404 when there is no such service. Only admins change the mapping,
and only admins see it (it names services and who set them); every change is kept with
who made it and when, and logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Literal

from slackbot.amigo.errors import (
    AmigoAuthError,
    AmigoBadRequest,
    AmigoError,
    AmigoNotFound,
    AmigoRateLimited,
)
from slackbot.relay.config_commands import (
    ConfigCommand,
    ResetChannelService,
    SetChannelService,
    ShowConfig,
)
from slackbot.relay.controls import Caller, Permissions
from slackbot.relay.ports import AmigoPort
from slackbot.store.repo import Conversation, Store
from slackbot.ui import services as ui

log = logging.getLogger("slackbot.services")

CHECK_FACET = "what the agent can help with"
CHECK_INSTRUCTIONS = "Suggest one short message a user could send to start a conversation."
"""What the check asks Amigo for: the smallest set of starters it makes."""


@dataclass(frozen=True, slots=True)
class Service:
    service_id: str
    version_set: str = ui.RELEASE


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a change was not made; ``field``: the form's input it is about, if any."""

    message: str
    field: Literal["channel", "service"] | None = None


class Services:
    def __init__(
        self,
        store: Store,
        amigo: AmigoPort,
        permissions: Permissions,
        *,
        default: Service,
        as_user: str,
    ) -> None:
        self._store = store
        self._amigo = amigo
        self._permissions = permissions
        self.default = default
        self._as_user = as_user
        """The Amigo user that asks whether a service exists (the provisioning one)."""

    # -- which service -----------------------------------------------------

    def of(self, conversation: Conversation) -> Service:
        """The service the conversation started in (the default for one started before
        the app kept it)."""
        if conversation.service_id is None:
            return self.default
        return Service(conversation.service_id, conversation.version_set or ui.RELEASE)

    async def for_channel(self, team_id: str, channel_id: str) -> Service:
        """Where a new conversation in the channel starts."""
        if channel_id.startswith("D"):
            return self.default
        found = await self._store.channel_service(team_id, channel_id)
        return Service(found.service_id, found.version_set) if found else self.default

    async def choose(self, conversation: Conversation) -> Conversation:
        """The conversation with its service recorded: the channel's now, unless it has
        one already (then that one stays)."""
        if conversation.service_id is not None:
            return conversation
        service = await self.for_channel(conversation.team_id, conversation.channel_id)
        chosen = await self._store.set_conversation_service(
            conversation.id, service.service_id, service.version_set
        )
        return chosen or replace(
            conversation, service_id=service.service_id, version_set=service.version_set
        )

    async def known(self, team_id: str, user_id: str) -> list[str]:
        """Every service a person's conversations may be in: the default, the mapped
        ones, and those their conversations started in."""
        found = {self.default.service_id}
        found |= {m.service_id for m in await self._store.channel_services(team_id)}
        found |= await self._store.services_of(team_id, user_id)
        return sorted(found)

    # -- the mapping -------------------------------------------------------

    async def run(self, command: ConfigCommand, caller: Caller) -> str:
        """`/amigo config …`: the answer for the person who typed it."""
        if isinstance(command, ShowConfig):
            if not await self._permissions.is_admin(caller.user_id):
                return ui.NOT_ADMIN_LIST
            return ui.config_listed(self.listed_default, await self.mappings(caller.team_id))
        answer = await self.change(caller, command)
        return answer.message if isinstance(answer, Refusal) else answer

    @property
    def listed_default(self) -> tuple[str, str]:
        return self.default.service_id, self.default.version_set

    async def mappings(self, team_id: str) -> list[ui.Mapping]:
        return [
            ui.Mapping(m.channel_id, m.service_id, m.version_set, m.set_by, m.set_at)
            for m in await self._store.channel_services(team_id)
        ]

    async def change(
        self, caller: Caller, command: SetChannelService | ResetChannelService
    ) -> str | Refusal:
        """Map a channel, or return it to the default: the answer, or why not (then
        nothing changed)."""
        if not await self._permissions.is_admin(caller.user_id):
            log.info("%s, who is no admin, may not change channel services", caller.user_id)
            return Refusal(ui.NOT_ADMIN_CHANGE, "channel")
        team, channel = caller.team_id, command.channel_id
        if isinstance(command, ResetChannelService):
            if not await self._store.remove_channel_service(team, channel, by=caller.user_id):
                return ui.channel_was_default(channel)
            log.info(
                "channel %s of %s: back to the default service (changed by %s)",
                channel,
                team,
                caller.user_id,
            )
            return ui.channel_reset(channel, *self.listed_default)
        service, version_set = command.service_id, command.version_set
        problem = await self._check(service, version_set)
        if problem is not None:
            return Refusal(problem, "service")
        await self._store.set_channel_service(
            team, channel, service, version_set, by=caller.user_id
        )
        log.info(
            "channel %s of %s: conversations start in service %s, version set %s (changed by %s)",
            channel,
            team,
            service,
            version_set,
            caller.user_id,
        )
        return ui.channel_mapped(channel, service, version_set)

    async def _check(self, service_id: str, version_set: str) -> str | None:
        """None when Amigo has the service (with the version set), or why it cannot be used."""
        try:
            await self._amigo.conversation_starters(
                self._as_user,
                service_id=service_id,
                facets=[CHECK_FACET],
                instructions=CHECK_INSTRUCTIONS,
                min_count=1,
                max_count=1,
                version_set=version_set,
            )
        except (AmigoNotFound, AmigoAuthError, AmigoBadRequest) as exc:
            log.info("Amigo refused service %s, version set %s: %s", service_id, version_set, exc)
            return ui.service_unknown(service_id, version_set)
        except AmigoRateLimited:
            return ui.service_unchecked(ui.AMIGO_BUSY)
        except (AmigoError, ValueError) as exc:
            log.warning("could not check service %s with Amigo: %s", service_id, exc)
            return ui.service_unchecked(ui.AMIGO_UNREACHABLE)
        return None
