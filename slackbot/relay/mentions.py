"""Slack markup to the plain text Amigo reads, with bounded user lookups.

A message full of ``<@U…>`` must not become hundreds of ``users.info`` calls: names are
cached (and so are failed lookups, for a shorter while), at most a few new ones are
looked up per message, and all of them within a share of Slack's budget for the method.
A mention that is not looked up keeps the label Slack gave it, or its user id.

Slack's budget is per workspace, and so is this one (and the names and failures kept):
a workspace naming many people spends only its own lookups, never another's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from cachetools import TTLCache

from slackbot.relay import workspace
from slackbot.relay.limits import TokenBucket
from slackbot.relay.ports import SlackPort
from slackbot.ui.markup import slack_to_plain

log = logging.getLogger("slackbot.mentions")

LOOKUPS_PER_MESSAGE = 20
NAME_SECONDS = 600.0
FAILURE_SECONDS = 60.0
USERS_INFO_PER_MINUTE = 100
"""`users.info` is a Tier 4 method (100+ a minute); the app keeps to that."""


class Names:
    def __init__(
        self,
        slack: SlackPort,
        *,
        per_message: int = LOOKUPS_PER_MESSAGE,
        per_minute: float = USERS_INFO_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slack = slack
        self._per_message = per_message
        self._per_minute = per_minute
        self._clock = clock
        self._budgets: dict[str, TokenBucket] = {}
        """Each workspace's lookups (by its key)."""
        self._names: TTLCache[tuple[str, str], str] = TTLCache(10_000, NAME_SECONDS, timer=clock)
        self._failed: TTLCache[tuple[str, str], bool] = TTLCache(
            10_000, FAILURE_SECONDS, timer=clock
        )

    def _budget(self) -> TokenBucket:
        here = workspace.key()
        budget = self._budgets.get(here)
        if budget is None:
            budget = TokenBucket(self._per_minute, self._per_message, clock=self._clock)
            self._budgets[here] = budget
        return budget

    async def plain(self, text: str) -> str:
        """``text`` in Slack's markup as plain text, mentions as ``@Name``."""
        left = self._per_message

        async def name(user_id: str) -> str | None:
            nonlocal left
            known = (workspace.key(), user_id)
            if known in self._names or known in self._failed or left <= 0:
                return self._names.get(known)
            left -= 1
            return await self._name(user_id)

        return await slack_to_plain(text, name)

    async def author(self, user_id: str) -> str:
        """Who wrote a message, by display name (their user id when it cannot be had)."""
        return await self._name(user_id) or user_id

    async def _name(self, user_id: str) -> str | None:
        known = (workspace.key(), user_id)
        if known in self._names:
            return self._names[known]
        if known in self._failed or not self._budget().try_take():
            return None
        try:
            found = (await self._slack.profile(user_id)).display_name
        except Exception:
            log.warning("could not look up Slack user %s", user_id)
            self._failed[known] = True
            return None
        self._names[known] = found
        return found
