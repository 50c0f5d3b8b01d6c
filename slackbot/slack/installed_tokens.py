"""The bot tokens of the workspaces that installed the app, refreshed before they expire.

With token rotation on, Slack's bot tokens last 12 hours and come with a refresh token
that can be used once. A token within :data:`REFRESH_BEFORE` of its expiry is refreshed
here, once:

- within a process, the askers of one install wait on one lock, and all but the first
  find the new token when they get it;
- across replicas, the one that refreshes first takes a lease on the install's row with
  a compare-and-swap on the refresh token it read (:meth:`Installs.claim_rotation`);
  the others wait until the row holds the new token and use it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from slackbot.slack.token_keys import TokenCipher
from slackbot.slack.tokens import BotAccess
from slackbot.store.installs import Installs, as_utc

log = logging.getLogger("slackbot.tokens")

REFRESH_BEFORE = timedelta(minutes=10)
"""A token that expires sooner than this is refreshed before it is handed out."""

LEASE_SECONDS = 30.0
"""How long one replica may take to refresh before another tries."""

REMEMBER_SECONDS = 5.0
"""How long a token read from the database is used without reading it again (an
uninstall seen by another replica reaches this one within this time)."""

POLL_SECONDS = 0.1

Refresh = Callable[[str], Awaitable[tuple[str, str, int]]]
"""A refresh token in; the new access token, refresh token and lifetime in seconds out."""


class TokenRefresher:
    """``oauth.v2.access`` with ``grant_type=refresh_token``."""

    def __init__(self, client_id: str, client_secret: str, api_url: str) -> None:
        self._client = AsyncWebClient(base_url=api_url, timeout=30)
        self._client_id = client_id
        self._client_secret = client_secret

    async def __call__(self, refresh_token: str) -> tuple[str, str, int]:
        answer = await self._client.oauth_v2_access(
            client_id=self._client_id,
            client_secret=self._client_secret,
            grant_type="refresh_token",
            refresh_token=refresh_token,
        )
        if answer.get("token_type") != "bot":
            raise ValueError(f"oauth.v2.access answered a {answer.get('token_type')} token")
        return str(answer["access_token"]), str(answer["refresh_token"]), int(answer["expires_in"])


def _expiring(row: Mapping[str, Any], now: datetime) -> bool:
    expires = as_utc(row["bot_token_expires_at"])
    return expires is not None and expires - now < REFRESH_BEFORE


class InstalledTokens:
    """:class:`~slackbot.slack.tokens.BotTokens` over the installation tables."""

    def __init__(
        self,
        installs: Installs,
        cipher: TokenCipher,
        refresh: Refresh,
        *,
        holder: str,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self._installs = installs
        self._cipher = cipher
        self._refresh = refresh
        self._holder = holder
        self._lease = lease_seconds
        self._locks: dict[int, asyncio.Lock] = {}
        self._known: dict[tuple[str | None, str | None], tuple[BotAccess, float]] = {}
        self._orgs_kept: set[str] = set()

    async def find(self, team_id: str | None, enterprise_id: str | None = None) -> BotAccess | None:
        key = (team_id, enterprise_id)
        known = self._known.get(key)
        if known is not None and known[1] > time.monotonic():
            return known[0]
        row = await self._org_wide(team_id, enterprise_id)
        if row is None:
            return None
        if _expiring(row, datetime.now(UTC)):
            lock = self._locks.setdefault(int(row["id"]), asyncio.Lock())
            async with lock:
                # Whoever held the lock before may have refreshed it already.
                row = await self._installs.bot_by_id(int(row["id"]))
                if row is not None and _expiring(row, datetime.now(UTC)):
                    row = await self._rotated(row)
            if row is None:
                return None
        return self._remember(key, row, team_id)

    async def _org_wide(
        self, team_id: str | None, enterprise_id: str | None
    ) -> Mapping[str, Any] | None:
        """The install serving ``team_id``: its own, or its org's. The org of a workspace
        an org-wide install serves is kept when its events name it, so that work that
        knows only the team (a thread's turns after a restart) finds the org's token."""
        row = await self._installs.bot(team_id, enterprise_id)
        if team_id is None:
            return row
        if row is None and enterprise_id is None:
            org = await self._installs.org_of(team_id)
            return await self._installs.bot(team_id, org) if org else None
        if row is not None and enterprise_id and row["is_enterprise_install"]:
            if team_id not in self._orgs_kept:
                await self._installs.remember_org(team_id, enterprise_id)
                self._orgs_kept.add(team_id)
        return row

    def forget(self, team_id: str | None, enterprise_id: str | None) -> None:
        """Tokens of ``team_id`` (or of the org ``enterprise_id``) are gone: read again."""
        for key in list(self._known):
            access = self._known[key][0]
            same_team = team_id is not None and team_id in (key[0], access.team_id)
            same_org = team_id is None and enterprise_id in (key[1], access.enterprise_id)
            if same_team or same_org:
                del self._known[key]

    def _remember(
        self, key: tuple[str | None, str | None], row: Mapping[str, Any], team_id: str | None
    ) -> BotAccess | None:
        token = self._cipher.decrypt(row["bot_token"])
        if token is None:
            return None
        access = BotAccess(
            token=token,
            team_id=row["team_id"] or team_id,
            enterprise_id=row["enterprise_id"],
            bot_user_id=row["bot_user_id"],
            bot_id=row["bot_id"],
        )
        until = time.monotonic() + REMEMBER_SECONDS
        expires = as_utc(row["bot_token_expires_at"])
        if expires is not None:
            left = (expires - REFRESH_BEFORE - datetime.now(UTC)).total_seconds()
            until = min(until, time.monotonic() + max(0.0, left))
        self._known[key] = (access, until)
        return access

    async def _rotated(self, row: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The row with a fresh token: refreshed here, or by another replica meanwhile."""
        row_id = int(row["id"])
        deadline = time.monotonic() + self._lease
        while True:
            seen = row["bot_refresh_token"]
            if seen is None:
                return row  # an install without rotation: nothing to refresh with
            if await self._installs.claim_rotation(row_id, seen, self._holder, self._lease):
                return await self._refresh_claimed(row)
            # Another replica refreshes it: wait for its new token.
            while True:
                if time.monotonic() > deadline:
                    log.warning("the refresh of a token of %s takes too long", _where(row))
                    return row
                await asyncio.sleep(POLL_SECONDS)
                current = await self._installs.bot_by_id(row_id)
                if current is None:
                    return None
                now = datetime.now(UTC)
                if current["bot_refresh_token"] != seen or not _expiring(current, now):
                    return current
                until = as_utc(current["rotation_until"])
                if until is None or until < now:
                    row = current  # its holder gave up: try to claim it
                    break

    async def _refresh_claimed(self, row: Mapping[str, Any]) -> Mapping[str, Any] | None:
        row_id = int(row["id"])
        refresh_token = self._cipher.decrypt(row["bot_refresh_token"])
        assert refresh_token is not None
        try:
            token, new_refresh, lifetime = await self._refresh(refresh_token)
        except (SlackApiError, ValueError, KeyError, OSError) as exc:
            await self._installs.release_rotation(row_id, self._holder)
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
            log.warning("could not refresh the bot token of %s: %s", _where(row), error)
            return row
        expires_at = datetime.now(UTC) + timedelta(seconds=lifetime)
        saved = await self._installs.save_rotation(
            row_id,
            self._holder,
            self._cipher.encrypt(token) or "",
            self._cipher.encrypt(new_refresh) or "",
            expires_at,
        )
        if not saved:
            log.warning("a refreshed token of %s could not be saved (uninstalled?)", _where(row))
        else:
            log.info("refreshed the bot token of %s", _where(row))
        return await self._installs.bot_by_id(row_id)


def _where(row: Mapping[str, Any]) -> str:
    if row["team_id"]:
        return f"workspace {row['team_id']}"
    return f"org {row['enterprise_id']}"
