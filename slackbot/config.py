"""Settings, read from the environment or a `.env` file.

Every variable is documented in the README's configuration table; the
`description` of each field is what start-up prints when the variable is
missing or malformed, so keep it short and useful to an admin.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from slackbot.amigo.extras import DEFAULT_STARTER_INSTRUCTIONS
from slackbot.config_base import DatabaseSettings, SettingsError
from slackbot.config_oauth import OAuthSettings, oauth_problems
from slackbot.relay.admins import Admins
from slackbot.relay.limits import parse_limits
from slackbot.relay.options import (
    ActivePolicy,
    InsightsMode,
    StepsShown,
    SuggestionsMode,
    WriterMode,
)

__all__ = [
    "DatabaseSettings",
    "Settings",
    "SettingsError",
    "load_database_settings",
    "load_settings",
]


class Settings(OAuthSettings):
    """Everything `amigo-slack run` needs."""

    # Slack
    slack_bot_token: SecretStr | None = Field(
        default=None,
        description="the bot token (xoxb-...) from the app's OAuth & Permissions page "
        "(not needed when workspaces install the app through OAuth)",
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        description="verifies that HTTP requests come from Slack (Basic Information page)",
    )
    slack_app_token: SecretStr | None = Field(
        default=None, description="app-level token (xapp-...); when set, run uses Socket Mode"
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/", description="base URL of Slack's Web API"
    )
    slack_admin_user_ids: str = Field(
        default="",
        description="comma-separated Slack user ids that may act on any conversation: U0456 "
        "in every workspace (one workspace's installs), T0123:U0456 or E0123:U0456 only in "
        "that workspace or Grid org",
    )

    # Amigo
    amigo_base_url: str = Field(default="https://api.amigo.ai", description="Amigo API base URL")
    amigo_organization_id: str = Field(description="your Amigo organization id")
    amigo_api_key: SecretStr = Field(description="the Amigo API key")
    amigo_api_key_id: SecretStr = Field(description="the id of the Amigo API key")
    amigo_user_id: str = Field(
        description="the Amigo user the API key acts as when it provisions users"
    )
    amigo_service_id: str = Field(
        pattern=r"^[a-f0-9]{24}$",
        description="the 24-hex id of the Amigo service conversations use",
    )
    amigo_version_set: str = Field(default="release", description="the service version set")
    amigo_user_role: str = Field(description="role name given to the Amigo users the app creates")
    amigo_user_email_template: str = Field(
        default="slack-{team_id}-{user_id}@example.com",
        description="email for users whose Slack profile email cannot be read; "
        "may use {team_id} and {user_id}",
    )
    amigo_on_active_conversation: ActivePolicy = Field(
        default="finish-previous",
        description="what a new thread does to the user's active conversation: "
        "finish-previous or refuse",
    )
    amigo_suggestions: SuggestionsMode = Field(
        default="on-request", description="off, on-request or after-each-reply"
    )
    amigo_insights: InsightsMode = Field(
        default="admins",
        description="who may see why the agent answered as it did: off, admins or owners "
        "(the conversation's owner, and admins)",
    )
    amigo_starter_facets: str = Field(
        default="what the agent can help with",
        description="comma-separated topics of the suggested prompts Amigo writes",
    )
    amigo_starter_instructions: str = Field(
        default=DEFAULT_STARTER_INSTRUCTIONS,
        description="how Amigo should write the suggested prompts",
    )
    amigo_starter_prompts: str = Field(
        default="What can you help me with?|How do I get started?",
        description="|-separated prompts shown when Amigo cannot suggest any",
    )
    amigo_starters_cache_seconds: float = Field(
        default=600.0, ge=0, description="how long Amigo's suggested prompts are kept"
    )
    amigo_voice: bool = Field(
        default=True, description="on or off: the owner's audio clips go to the agent as voice"
    )
    amigo_voice_max_mb: float = Field(
        default=20.0, gt=0, le=100, description="the largest audio file sent to the agent, in MB"
    )
    amigo_voice_max_seconds: float = Field(
        default=300.0, gt=0, le=3600, description="the longest recording sent to the agent"
    )
    amigo_retry_attempts: int = Field(
        default=3, ge=0, le=10, description="retries after an Amigo 429 or 503"
    )
    amigo_retry_max_wait_seconds: float = Field(
        default=60.0, gt=0, description="longest wait for one Amigo retry"
    )
    amigo_stream_idle_timeout_seconds: float = Field(
        default=120.0, gt=0, description="a reply stream silent this long is cut"
    )

    # Runtime
    port: int = Field(default=3000, ge=1, le=65535, description="HTTP port")
    host: str = Field(default="0.0.0.0", description="HTTP bind address")  # noqa: S104
    slack_edit_interval_seconds: float = Field(
        default=1.0, ge=0.05, description="least time between two edits of one reply"
    )
    slack_rate_limits: str = Field(
        default="",
        description="Slack budgets that differ from Slack's documented tiers: "
        "method=per_minute[/burst], comma-separated (e.g. chat.update=25/4)",
    )
    slack_rate_limit_share: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="the share of every Slack budget this deployment uses (the replicas "
        "share it on PostgreSQL; lower only when something else uses the app's tokens)",
    )
    slack_reply_writer: WriterMode = Field(
        default=WriterMode.AUTO,
        description="how replies reach Slack: auto (chosen per reply from the budgets), "
        "stream, edit or post",
    )
    amigo_show_agent_steps: StepsShown = Field(
        default=StepsShown.STATUS,
        description="what people see of the agent's work while it answers: off, status, "
        "or tasks (tool calls as task updates in native streams)",
    )
    amigo_share_thread: bool = Field(
        default=True,
        description="on or off: others' messages in a conversation's thread (and a thread's "
        "earlier messages when someone mentions the app in it) reach the agent as context",
    )
    amigo_share_thread_messages: int = Field(
        default=20, ge=1, le=100, description="at most this many of them go with one turn"
    )
    amigo_share_thread_chars: int = Field(
        default=4000, ge=100, description="at most this many characters of them per turn"
    )
    amigo_coalesce_replies: bool = Field(
        default=True,
        description="send replies that arrive while the agent answers as one message",
    )
    thread_lease_seconds: float = Field(
        default=15.0,
        gt=0,
        description="how long a replica holds a thread; a stopped replica's threads "
        "move to another after this",
    )
    shutdown_grace_seconds: float = Field(
        default=20.0, ge=0, description="how long running replies may finish on shutdown"
    )

    @field_validator("amigo_starter_facets")
    @classmethod
    def _facets(cls, v: str) -> str:
        if not any(f.strip() for f in v.split(",")):
            raise ValueError("needs at least one topic, e.g. billing, accounts")
        return v

    @field_validator("slack_rate_limits")
    @classmethod
    def _rate_limits(cls, v: str) -> str:
        parse_limits(v)  # its ValueError names the part it cannot read
        return v

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value():
            return None
        if v is not None and not v.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return v

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value():
            return None
        if v is not None and not v.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return v

    @field_validator("slack_admin_user_ids")
    @classmethod
    def _admins_shape(cls, v: str) -> str:
        Admins.parse(v)
        return v

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_slash(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return v if v.endswith("/") else v + "/"

    @field_validator("amigo_base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return v.rstrip("/")

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def starter_facets(self) -> tuple[str, ...]:
        return tuple(f.strip() for f in self.amigo_starter_facets.split(",") if f.strip())

    @property
    def starter_prompts(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.amigo_starter_prompts.split("|") if p.strip())

    @property
    def admin_user_ids(self) -> Admins:
        return Admins.parse(self.slack_admin_user_ids)

    def secrets(self) -> list[str]:
        """The secret values, for tests and log scrubbing."""
        values = [self.amigo_api_key, self.amigo_api_key_id]
        values += [v for v in (self.slack_bot_token, self.slack_signing_secret) if v]
        values += [v for v in (self.slack_app_token,) if v]
        return [v.get_secret_value() for v in values] + super().secrets()


S = TypeVar("S", bound=DatabaseSettings)


def _env_name(loc: tuple[int | str, ...]) -> str:
    return str(loc[0]).upper() if loc else "?"


class _ModeSettings(BaseSettings):
    """Just the two variables that decide the mode, read even when others are bad."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")
    slack_app_token: str | None = None
    slack_signing_secret: str | None = None


def _build(cls: type[S], overrides: dict[str, object], problems: list[str]) -> S | None:
    """``cls`` from the environment and ``overrides``; None after adding its problems."""
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        fields = cls.model_fields
        for err in exc.errors():
            name = _env_name(err["loc"])
            field = fields.get(str(err["loc"][0]).lower()) if err["loc"] else None
            meaning = f" ({field.description})" if field and field.description else ""
            if err["type"] == "missing":
                problems.append(f"{name} is missing{meaning}")
            else:
                msg = err["msg"].removeprefix("Value error, ")
                problems.append(f"{name} is invalid: {msg}{meaning}")
        return None


def load_database_settings(**overrides: object) -> DatabaseSettings:
    """Just what `migrate` needs, or :class:`SettingsError` naming every problem."""
    problems: list[str] = []
    settings = _build(DatabaseSettings, overrides, problems)
    if settings is None:
        raise SettingsError(problems)
    return settings


def load_settings(*, require_http: bool | None = None, **overrides: object) -> Settings:
    """Load settings or raise :class:`SettingsError` naming every problem.

    ``require_http`` adds the HTTP-mode rule (a signing secret is needed when no
    app token selects Socket Mode); ``None`` applies it when no app token is set.
    """
    problems: list[str] = []
    settings = _build(Settings, overrides, problems)
    mode = _ModeSettings(**overrides)  # type: ignore[arg-type]
    http = (not mode.slack_app_token) if require_http is None else require_http
    if http and not mode.slack_signing_secret:
        problems.append(
            "SLACK_SIGNING_SECRET is missing (needed in HTTP mode, when SLACK_APP_TOKEN "
            "is not set: it verifies that requests come from Slack)"
        )
    problems += oauth_problems(overrides)
    if problems or settings is None:
        raise SettingsError(problems)
    return settings
