"""slack_sdk's SQLAlchemy installation and OAuth state stores, on the app's database,
with every token encrypted before it is written and decrypted when it is read.

The tables are the app's own (created by its migrations: see
:mod:`slackbot.store.installs` for why they are declared there, wider than slack_sdk's).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy.ext.asyncio import AsyncEngine

from slackbot.slack.token_keys import TokenCipher
from slackbot.store.installs import naive_utc

log = logging.getLogger("slackbot.installs")

Installed = Callable[[str | None, str | None], Awaitable[None]]
"""Told (team_id, enterprise_id) after an install is saved."""

_BOT_TOKENS = ("bot_token", "bot_refresh_token")
_USER_TOKENS = ("user_token", "user_refresh_token")


def _copy_installation(installation: Installation, change: Callable[[Any], Any]) -> Installation:
    values = installation.to_dict_for_copying()
    for name in _BOT_TOKENS + _USER_TOKENS:
        values[name] = change(values.get(name))
    return Installation(**values)


def _copy_bot(bot: Bot, change: Callable[[Any], Any]) -> Bot:
    values = bot.to_dict_for_copying()
    for name in _BOT_TOKENS:
        values[name] = change(values.get(name))
    return Bot(**values)


class EncryptedInstallationStore(AsyncInstallationStore):
    """An installation store that keeps only ciphertext in the database."""

    def __init__(
        self,
        inner: AsyncSQLAlchemyInstallationStore,
        cipher: TokenCipher,
        on_installed: Installed | None = None,
    ) -> None:
        self._inner = inner
        self._cipher = cipher
        self._on_installed = on_installed

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        await self._inner.async_save(_copy_installation(installation, self._cipher.encrypt))
        log.info(
            "installed in %s",
            installation.team_id or f"the whole org {installation.enterprise_id}",
        )
        if self._on_installed is not None:
            await self._on_installed(installation.team_id, installation.enterprise_id)

    async def async_save_bot(self, bot: Bot) -> None:
        await self._inner.async_save_bot(_copy_bot(bot, self._cipher.encrypt))

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        bot = await self._inner.async_find_bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        return None if bot is None else _copy_bot(bot, self._cipher.decrypt)

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        found = await self._inner.async_find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )
        return None if found is None else _copy_installation(found, self._cipher.decrypt)

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self._inner.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await self._inner.async_delete_installation(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id
        )


class SignedStateStore(AsyncSQLAlchemyOAuthStateStore):
    """slack_sdk's state store, with each state signed by ``SLACK_STATE_SECRET``: a state
    that is not the app's own is refused before the database is asked, and one that is
    must still be unused and unexpired there (single use, as slack_sdk keeps it)."""

    def __init__(self, secret: str, engine: AsyncEngine, expiration_seconds: int = 600) -> None:
        super().__init__(expiration_seconds=expiration_seconds, engine=engine, logger=log)
        self._secret = secret.encode("utf-8")

    def _signature(self, nonce: str) -> str:
        digest = hmac.new(self._secret, nonce.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        nonce = secrets.token_urlsafe(24)
        state = f"{nonce}.{self._signature(nonce)}"
        expire_at = naive_utc(datetime.fromtimestamp(time.time() + self.expiration_seconds, UTC))
        async with self.engine.begin() as conn:
            await conn.execute(self.oauth_states.insert(), {"state": state, "expire_at": expire_at})
        return state

    async def async_consume(self, state: str) -> bool:
        nonce, _, signature = (state or "").partition(".")
        if not nonce or not hmac.compare_digest(signature, self._signature(nonce)):
            log.warning("OAuth redirect refused: its state was not issued by this app")
            return False
        consumed: bool = await super().async_consume(state)
        return consumed
