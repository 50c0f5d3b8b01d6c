"""The settings of Slack's OAuth installation: one deployment for every workspace (and
Enterprise Grid org) that installs the app, instead of the single ``SLACK_BOT_TOKEN``.

``SLACK_CLIENT_ID``, ``SLACK_CLIENT_SECRET`` and ``SLACK_STATE_SECRET`` switch it on,
together; ``SLACK_TOKEN_KEYS`` is then needed too (the tokens are kept encrypted).
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from slackbot.config_base import ENV, DatabaseSettings
from slackbot.slack.token_keys import NEW_KEY_HINT, parse_keys

OAUTH_SWITCHES = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_STATE_SECRET")


def _blank_is_none(v: SecretStr | None) -> SecretStr | None:
    return None if v is not None and not v.get_secret_value().strip() else v


class OAuthSettings(DatabaseSettings):
    slack_client_id: str | None = Field(
        default=None,
        description="the app's Client ID (Basic Information page); with SLACK_CLIENT_SECRET "
        "and SLACK_STATE_SECRET, any workspace can install the app through /slack/install",
    )
    slack_client_secret: SecretStr | None = Field(
        default=None, description="the app's Client Secret (Basic Information page)"
    )
    slack_state_secret: SecretStr | None = Field(
        default=None,
        description="a long random string of your own that signs the OAuth flow's state",
    )
    slack_token_keys: SecretStr | None = Field(
        default=None,
        description="Fernet keys, comma-separated, that encrypt the installed tokens: the "
        "first encrypts, all decrypt (needed with OAuth)",
    )
    uninstalled_retention_days: float = Field(
        default=30.0,
        ge=0,
        description="how long the data of a workspace that uninstalled the app is kept",
    )

    @field_validator("slack_client_id")
    @classmethod
    def _client_id(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None

    @field_validator("slack_client_secret", "slack_state_secret")
    @classmethod
    def _blank(cls, v: SecretStr | None) -> SecretStr | None:
        return _blank_is_none(v)

    @field_validator("slack_token_keys")
    @classmethod
    def _keys(cls, v: SecretStr | None) -> SecretStr | None:
        v = _blank_is_none(v)
        if v is not None:
            parse_keys(v.get_secret_value())  # its ValueError says which key, never the key
        return v

    @property
    def oauth(self) -> bool:
        """Workspaces install the app through Slack's OAuth flow."""
        return self.slack_client_id is not None

    def secrets(self) -> list[str]:
        values = [self.slack_client_secret, self.slack_state_secret]
        found = [v.get_secret_value() for v in values if v is not None]
        if self.slack_token_keys is not None:
            keys = self.slack_token_keys.get_secret_value().split(",")
            found += [k.strip() for k in keys if k.strip()]
        return found + super().secrets()


class _OAuthSwitches(BaseSettings):
    """Just the variables that decide whether OAuth is on, read even when others are bad."""

    model_config = ENV
    slack_bot_token: str | None = None
    slack_app_token: str | None = None
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    slack_state_secret: str | None = None
    slack_token_keys: str | None = None


def oauth_problems(overrides: dict[str, object]) -> list[str]:
    """What is missing for the way Slack is reached: the three OAuth settings together
    (and the keys), or else ``SLACK_BOT_TOKEN``."""
    given = _OAuthSwitches(**overrides)  # type: ignore[arg-type]
    values = (given.slack_client_id, given.slack_client_secret, given.slack_state_secret)
    present = [name for name, v in zip(OAUTH_SWITCHES, values, strict=True) if v and v.strip()]
    if not present:
        if given.slack_bot_token and given.slack_bot_token.strip():
            return []
        return [
            "SLACK_BOT_TOKEN is missing (the bot token (xoxb-...) from the app's OAuth & "
            "Permissions page; or set SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and "
            "SLACK_STATE_SECRET to serve every workspace that installs the app)"
        ]
    problems = []
    missing = [name for name in OAUTH_SWITCHES if name not in present]
    if missing:
        problems.append(
            f"{', '.join(missing)} missing: SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and "
            "SLACK_STATE_SECRET switch installation through Slack's OAuth flow on together"
        )
    if given.slack_app_token and given.slack_app_token.strip():
        problems.append(
            "SLACK_APP_TOKEN is set, but installing through OAuth needs HTTP mode (Slack "
            "sends installers to /slack/install and back): unset SLACK_APP_TOKEN"
        )
    if not (given.slack_token_keys and given.slack_token_keys.strip()):
        problems.append(
            "SLACK_TOKEN_KEYS is missing (with OAuth the installed workspaces' tokens are "
            f"kept encrypted with it; {NEW_KEY_HINT})"
        )
    return problems
