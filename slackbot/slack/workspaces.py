"""A Slack port per workspace, and the facade the relay speaks to.

Slack keeps its rate limits per workspace, and each workspace that installed the app has
its own bot token, its own people and its own bot user. So each workspace gets its own
:class:`~slackbot.slack.web_port.WebApiPort`: a client with that workspace's token (asked
of the :class:`~slackbot.slack.tokens.BotTokens` when its first call needs it, and again
when Slack answers ``token_expired`` or ``invalid_auth``), its own budgets (a 429 in one
workspace pauses only that workspace's calls), its own profile cache and ``users.list``
walk, its own bot user id (``auth.test`` with its token, once), and its own ``team``
label on the Slack call metrics. Ports are made only for workspaces whose work reaches
Slack, and a call is made (and counted) only with a token found for the workspace, so the
label holds only workspaces the app serves.

The relay does not name workspaces (:mod:`slackbot.relay.workspace`): :class:`CurrentPort`
passes each call to the port of the workspace the running work is for. With the one
``SLACK_BOT_TOKEN`` of the settings there is one port, whatever the work is for: today's
behaviour, in which events of other workspaces are refused at the door.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from slack_sdk.web.async_client import AsyncWebClient

from slackbot.metrics import Metrics
from slackbot.relay import workspace
from slackbot.relay.budgets import SlackBudgets
from slackbot.relay.ports import Profile, ThreadMessage
from slackbot.relay.workspace import NoWorkspace, Workspace
from slackbot.slack.payloads import Identity
from slackbot.slack.streams import NativeStream
from slackbot.slack.tokens import BotTokens
from slackbot.slack.web_client import web_client
from slackbot.slack.web_port import WebApiPort

log = logging.getLogger("slackbot.workspaces")


class BudgetsOf(Protocol):
    """Makes a workspace's budgets (given what the replicas book them under)."""

    def __call__(self, *, workspace: str) -> SlackBudgets: ...


class SlackPorts:
    """Every workspace's port. ``single_token``: the app serves one workspace with this
    token (the settings' ``SLACK_BOT_TOKEN``), and ``tokens`` is not asked."""

    def __init__(
        self,
        tokens: BotTokens,
        api_url: str,
        *,
        budgets: BudgetsOf,
        metrics: Metrics,
        single_token: str | None = None,
    ) -> None:
        self.tokens = tokens
        self._api_url = api_url
        self._budgets = budgets
        self._metrics = metrics
        self._ports: dict[str, WebApiPort] = {}
        self._only = self._make(Workspace(None), single_token) if single_token else None

    @property
    def single(self) -> bool:
        return self._only is not None

    def port(self, where: Workspace | None = None) -> WebApiPort:
        """The port of ``where`` (by default, of the workspace the running work is for),
        made on first need. Raises :class:`~slackbot.relay.workspace.NoWorkspace` when
        none is set and the app serves several: never a guessed token."""
        if self._only is not None:
            return self._only
        where = where or workspace.current()
        if where is None or not where.key:
            log.error("Slack called for no workspace: a missing workspace.enter() on this path")
            raise NoWorkspace("Slack was called with no workspace set; the app serves several")
        port = self._ports.get(where.key)
        if port is None:
            port = self._ports[where.key] = self._make(where, None)
        elif where.enterprise_id and not port.enterprise_id:
            port.enterprise_id = where.enterprise_id
        return port

    async def identity(
        self, team_id: str | None, enterprise_id: str | None, app_id: str | None
    ) -> Identity | None:
        """Who the app is in the workspace an event came from; None when the app is not
        installed there. The token found goes to the workspace's port at once."""
        access = await self.tokens.find(team_id, enterprise_id)
        if access is None:
            return None
        port = self.port(Workspace(team_id, enterprise_id))
        port.client.token = access.token  # a refreshed token is used from now on
        bot = access.bot_user_id or await port.bot_user_id()
        return Identity(bot_user_id=bot, team_id=team_id, app_id=app_id)

    async def token(self) -> str | None:
        """The bot token of the current workspace, for what is not a Web API call (a
        shared file's download); None when the app is not installed there."""
        port = self.port()
        if port.client.token is None:
            access = await self.tokens.find(port.team_id, port.enterprise_id)
            port.client.token = access.token if access is not None else None
        return port.client.token

    async def forget(self, team_id: str | None, enterprise_id: str | None = None) -> int:
        """The app was uninstalled from ``team_id`` (with no team: from the whole org
        ``enterprise_id``): its ports go, with their tokens, budgets and caches. Work
        still holding one finds no token in it, and asks the installs again (which have
        none), so nothing is sent with the old token. Work for it later starts a new,
        empty port. How many ports went."""
        if self._only is not None:
            return 0

        def gone(key: str, port: WebApiPort) -> bool:
            if team_id is not None:
                return team_id in (key, port.team_id)
            return enterprise_id is not None and enterprise_id in (key, port.enterprise_id)

        dropped = [self._ports.pop(key) for key, p in list(self._ports.items()) if gone(key, p)]
        for port in dropped:
            port.client.token = None
            await port.aclose()
        return len(dropped)

    async def aclose(self) -> None:
        for port in [*self._ports.values(), *([self._only] if self._only else [])]:
            await port.aclose()

    def _make(self, where: Workspace, token: str | None) -> WebApiPort:
        port: WebApiPort

        def label() -> str:
            return port.team_id or where.key

        async def find_token() -> str | None:
            access = await self.tokens.find(port.team_id, port.enterprise_id)
            return access.token if access is not None else None

        def limited(method: str, retry_after: float) -> None:
            log.warning("Slack rate-limited %s in %s for %.0f s", method, label(), retry_after)
            self._metrics.rate_limited(method, label())
            port.budgets.limited(method, retry_after)

        client = web_client(
            token,
            self._api_url,
            on_rate_limited=limited,
            observe=lambda method, result: self._metrics.slack_call(method, result, label()),
            token_source=None if token else find_token,
        )
        port = WebApiPort(client, self._budgets(workspace=where.key))
        port.team_id, port.enterprise_id = where.team_id, where.enterprise_id
        return port


class CurrentPort:
    """The relay's :class:`~slackbot.relay.ports.SlackPort`: each call goes to the port of
    the workspace the running work is for (see :mod:`slackbot.relay.workspace`)."""

    def __init__(self, ports: SlackPorts) -> None:
        self._ports = ports

    @property
    def here(self) -> WebApiPort:
        return self._ports.port()

    @property
    def client(self) -> AsyncWebClient:
        return self.here.client

    @property
    def workspace_url(self) -> str | None:
        return self.here.workspace_url

    @workspace_url.setter
    def workspace_url(self, url: str | None) -> None:
        self.here.workspace_url = url

    # Each method takes exactly the arguments of WebApiPort's method of the same name.

    async def post_message(self, *args: Any, **kwargs: Any) -> str:
        return await self.here.post_message(*args, **kwargs)

    async def update_message(self, *args: Any, **kwargs: Any) -> None:
        await self.here.update_message(*args, **kwargs)

    async def set_status(self, *args: Any, **kwargs: Any) -> None:
        await self.here.set_status(*args, **kwargs)

    def stream(self, *args: Any, **kwargs: Any) -> NativeStream:
        return self.here.stream(*args, **kwargs)

    async def open_view(self, *args: Any, **kwargs: Any) -> str:
        return await self.here.open_view(*args, **kwargs)

    async def update_view(self, *args: Any, **kwargs: Any) -> None:
        await self.here.update_view(*args, **kwargs)

    async def publish_home(self, *args: Any, **kwargs: Any) -> None:
        await self.here.publish_home(*args, **kwargs)

    async def set_prompts(self, *args: Any, **kwargs: Any) -> None:
        await self.here.set_prompts(*args, **kwargs)

    async def set_title(self, *args: Any, **kwargs: Any) -> None:
        await self.here.set_title(*args, **kwargs)

    async def end_stream(self, *args: Any, **kwargs: Any) -> None:
        await self.here.end_stream(*args, **kwargs)

    async def delete_message(self, *args: Any, **kwargs: Any) -> None:
        await self.here.delete_message(*args, **kwargs)

    async def post_ephemeral(self, *args: Any, **kwargs: Any) -> None:
        await self.here.post_ephemeral(*args, **kwargs)

    async def permalink(self, *args: Any, **kwargs: Any) -> str:
        return await self.here.permalink(*args, **kwargs)

    async def message_text(self, *args: Any, **kwargs: Any) -> str | None:
        return await self.here.message_text(*args, **kwargs)

    async def thread_messages(self, *args: Any, **kwargs: Any) -> list[ThreadMessage]:
        return await self.here.thread_messages(*args, **kwargs)

    async def profile(self, *args: Any, **kwargs: Any) -> Profile:
        return await self.here.profile(*args, **kwargs)

    async def direct_message(self, *args: Any, **kwargs: Any) -> str:
        return await self.here.direct_message(*args, **kwargs)
