"""The settings every command needs: the database, how much to log, and how problems
with any setting are reported (all at once, so an admin can fix them in one go)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(Exception):
    """Raised with every problem found, so an admin can fix them all at once."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))

    def report(self) -> str:
        if len(self.problems) == 1:
            return f"amigo-slack cannot start: {self.problems[0]}"
        lines = ["amigo-slack cannot start: the configuration has problems."]
        lines += [f"  - {p}" for p in self.problems]
        lines.append("Set them in the environment or in a .env file (see the README).")
        return "\n".join(lines)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
ENV = SettingsConfigDict(
    env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
)


class DatabaseSettings(BaseSettings):
    """What `amigo-slack migrate` needs: the database, and how much to log."""

    model_config = ENV

    database_url: str = Field(
        default="sqlite+aiosqlite:///./amigo-slack.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///file.db or "
        "postgresql+asyncpg://user:password@host/db",
    )
    log_level: str = Field(default="INFO", description="how much to log")

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, v: str) -> str:
        if not v.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must use an async driver: sqlite+aiosqlite:///file.db or "
                "postgresql+asyncpg://user:password@host/db"
            )
        return v

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, v: str) -> str:
        level = v.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}, not {v!r}")
        return level

    def secrets(self) -> list[str]:
        """The secret values, for tests and log scrubbing (a database password among them)."""
        from sqlalchemy.engine import make_url

        try:
            password = make_url(self.database_url).password
        except Exception:
            return []
        return [str(password)] if password else []
