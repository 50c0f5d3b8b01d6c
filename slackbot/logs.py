"""Logging set-up, with a filter that keeps secrets out of every log line."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "[redacted]"

SLACK_TOKEN = re.compile(r"\bx(?:ox[a-z](?:\.xox[a-z])?|app)-[A-Za-z0-9-]{4,}")
"""Any Slack token (bot, user, refresh, app-level, rotating): the tokens of installed
workspaces are not among the configured secrets, yet must not reach a log either."""


class RedactSecrets(logging.Filter):
    """Replaces any configured secret value, and anything shaped like a Slack token, in
    a record's final message."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        if "xox" in text or "xapp-" in text:
            text = SLACK_TOKEN.sub(REDACTED, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self._clean(message)
        if record.exc_info and record.exc_text is None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: str, secrets: Iterable[str]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries' plumbing stays out of an admin's INFO log: httpx logs every request,
    # Alembic its migration context, uvicorn its start-up steps (the app logs its own
    # facts instead). Their warnings and errors still show.
    plumbing = logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING
    for name in ("httpx", "alembic", "uvicorn.error", "slack_sdk.socket_mode"):
        logging.getLogger(name).setLevel(plumbing)
