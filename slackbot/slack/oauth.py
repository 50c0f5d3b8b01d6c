"""Installing the app through Slack's OAuth flow: Bolt's own flow (``/slack/install`` and
``/slack/oauth_redirect``), slack_sdk's stores on the app's database with the tokens
encrypted, and an ``authorize`` that hands Bolt each request's workspace token.

Slack's OAuth pages live beside its Web API, so they follow ``SLACK_API_URL``:
``https://slack.com/api/`` has its authorize page at
``https://slack.com/oauth/v2/authorize``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urljoin

from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

from slackbot.slack.installed_tokens import InstalledTokens, TokenRefresher
from slackbot.slack.installs import EncryptedInstallationStore, Installed, SignedStateStore
from slackbot.slack.token_keys import TokenCipher, UnreadableToken
from slackbot.store.installs import Installs

log = logging.getLogger("slackbot.oauth")


@dataclass(frozen=True)
class OAuthConfig:
    client_id: str
    client_secret: str
    state_secret: str
    token_keys: str
    api_url: str
    scopes: tuple[str, ...]


def authorize_url(api_url: str) -> str:
    """Slack's authorize page, beside the Web API at ``api_url``."""
    return urljoin(api_url, "../oauth/v2/authorize")


class InstallAuthorize(AsyncAuthorize):
    """Bolt's ``authorize``: the token of the workspace a request comes from. A
    workspace without an install (uninstalled, or never installed) is refused."""

    def __init__(self, tokens: InstalledTokens) -> None:
        self._tokens = tokens

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        access = await self._tokens.find(team_id, enterprise_id)
        if access is None:
            log.warning(
                "request from %s refused: the app is not installed there",
                f"workspace {team_id}" if team_id else f"org {enterprise_id}",
            )
            return None
        return AuthorizeResult(
            enterprise_id=enterprise_id or access.enterprise_id,
            team_id=team_id or access.team_id,
            bot_user_id=access.bot_user_id,
            bot_id=access.bot_id,
            bot_token=access.token,
            user_id=user_id,
        )


class Installations:
    """Everything OAuth: the flow Bolt runs, the stores, the tokens."""

    def __init__(
        self,
        config: OAuthConfig,
        engine: AsyncEngine,
        *,
        holder: str,
        on_installed: Installed | None = None,
    ) -> None:
        self.cipher = TokenCipher(config.token_keys)
        self.rows = Installs(engine, config.client_id)
        self.store = EncryptedInstallationStore(
            AsyncSQLAlchemyInstallationStore(config.client_id, engine, logger=log),
            self.cipher,
            self._installed,
        )
        self._on_installed = on_installed
        refresh = TokenRefresher(config.client_id, config.client_secret, config.api_url)
        self.tokens = InstalledTokens(self.rows, self.cipher, refresh, holder=holder)
        self.authorize = InstallAuthorize(self.tokens)
        self.flow = AsyncOAuthFlow(
            client=AsyncWebClient(base_url=config.api_url, timeout=30),
            logger=log,
            settings=AsyncOAuthSettings(
                client_id=config.client_id,
                client_secret=config.client_secret,
                scopes=list(config.scopes),
                authorization_url=authorize_url(config.api_url),
                installation_store=self.store,
                installation_store_bot_only=True,
                state_store=SignedStateStore(config.state_secret, engine),
                logger=log,
            ),
        )

    async def _installed(self, team_id: str | None, enterprise_id: str | None) -> None:
        self.tokens.forget(team_id, enterprise_id)
        if self._on_installed is not None:
            await self._on_installed(team_id, enterprise_id)

    async def key_problem(self) -> str | None:
        """Why the stored tokens cannot be read with ``SLACK_TOKEN_KEYS``, or None."""
        try:
            self.cipher.decrypt(await self.rows.any_token())
        except UnreadableToken as exc:
            return str(exc)
        return None

    async def install(self, request: Request) -> Response:
        """GET /slack/install: the page that sends the installer to Slack."""
        bolt_request = to_async_bolt_request(request, b"")
        return to_starlette_response(await self.flow.handle_installation(bolt_request))

    async def redirect(self, request: Request) -> Response:
        """GET /slack/oauth_redirect: Slack sends the installer back with a code."""
        bolt_request = to_async_bolt_request(request, b"")
        return to_starlette_response(await self.flow.handle_callback(bolt_request))
