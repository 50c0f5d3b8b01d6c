"""Where each workspace's bot token comes from, as the settings say: the single
``SLACK_BOT_TOKEN``, or the installs made through Slack's OAuth flow."""

from __future__ import annotations

import os
import socket
import uuid

from slackbot.config import Settings
from slackbot.manifest import bot_scopes
from slackbot.slack.installs import Installed
from slackbot.slack.oauth import Installations, OAuthConfig
from slackbot.slack.tokens import BotAccess, BotTokens, SingleToken
from slackbot.store.repo import Store


def instance_id() -> str:
    """Names this process in thread leases (and in logs of several replicas)."""
    return f"{socket.gethostname()[:30]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def oauth_config(settings: Settings) -> OAuthConfig:
    s = settings
    assert s.slack_client_id is not None  # the settings insist on all of them together
    assert s.slack_client_secret and s.slack_state_secret and s.slack_token_keys
    return OAuthConfig(
        client_id=s.slack_client_id,
        client_secret=s.slack_client_secret.get_secret_value(),
        state_secret=s.slack_state_secret.get_secret_value(),
        token_keys=s.slack_token_keys.get_secret_value(),
        api_url=s.slack_api_url,
        scopes=bot_scopes(),
    )


def bot_tokens(
    settings: Settings, store: Store, on_installed: Installed | None = None
) -> tuple[BotTokens, Installations | None]:
    """The :class:`BotTokens` the app asks, and with OAuth the installs behind them
    (Bolt's install flow, the stores)."""
    if not settings.oauth:
        assert settings.slack_bot_token is not None  # the settings insist on one
        return SingleToken(BotAccess(settings.slack_bot_token.get_secret_value(), None)), None
    installations = Installations(
        oauth_config(settings), store.engine, holder=instance_id(), on_installed=on_installed
    )
    return installations.tokens, installations
