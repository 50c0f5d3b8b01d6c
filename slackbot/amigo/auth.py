"""Bearer tokens per Amigo user, cached and refreshed before they expire.

Amigo allows 5 sign-ins per minute, so a valid cached token is always reused
and concurrent callers for the same user share a single sign-in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger("slackbot.amigo")


@dataclass(frozen=True, slots=True)
class Token:
    """A bearer token and when it expires (seconds since the epoch)."""

    value: str = field(repr=False)
    expires_at: float


SignIn = Callable[[str], Awaitable[Token]]
"""Signs in as the given Amigo user id and returns a fresh token."""


@dataclass(slots=True)
class _Entry:
    token: Token
    refresh_at: float


class TokenCache:
    """One token per Amigo user id, with single-flight sign-in.

    A token is refreshed ``refresh_margin`` seconds before it expires. When
    Amigo hands out a token that lives shorter than that margin (or the clocks
    disagree), it is still reused for at least ``min_reuse`` seconds, so a skewed
    clock cannot turn every call into a sign-in; a 401 then triggers the refresh.
    """

    def __init__(
        self,
        sign_in: SignIn,
        *,
        refresh_margin: float = 60.0,
        min_reuse: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sign_in = sign_in
        self._refresh_margin = refresh_margin
        self._min_reuse = min_reuse
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._inflight: dict[str, asyncio.Task[Token]] = {}

    def cached(self, user_id: str) -> Token | None:
        """The token that :meth:`get` would return without signing in, if any."""
        entry = self._entries.get(user_id)
        if entry is None or self._clock() >= entry.refresh_at:
            return None
        return entry.token

    async def get(self, user_id: str) -> str:
        """A valid token for ``user_id``, signing in only when none is cached."""
        token = self.cached(user_id)
        if token is not None:
            return token.value
        task = self._inflight.get(user_id)
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._refresh(user_id))
            self._inflight[user_id] = task
            task.add_done_callback(lambda done: self._sign_in_done(user_id, done))
        # Shielded: one caller giving up must not cancel the others' sign-in.
        result = await asyncio.shield(task)
        return result.value

    def invalidate(self, user_id: str, token: str | None = None) -> None:
        """Forget the user's token; with ``token``, only if it is still the cached one.

        Passing the token that got a 401 keeps concurrent callers from throwing
        away the fresh token another caller already fetched.
        """
        entry = self._entries.get(user_id)
        if entry is None:
            return
        if token is None or entry.token.value == token:
            del self._entries[user_id]

    async def _refresh(self, user_id: str) -> Token:
        token = await self._sign_in(user_id)
        now = self._clock()
        refresh_at = token.expires_at - self._refresh_margin
        if refresh_at < now + self._min_reuse:
            refresh_at = now + self._min_reuse
        self._entries[user_id] = _Entry(token=token, refresh_at=refresh_at)
        log.debug("signed in to Amigo as %s; token kept for %.0fs", user_id, refresh_at - now)
        return token

    def _sign_in_done(self, user_id: str, task: asyncio.Task[Token]) -> None:
        if self._inflight.get(user_id) is task:
            del self._inflight[user_id]
        if not task.cancelled():
            task.exception()  # retrieved here so an unawaited failure is not reported
