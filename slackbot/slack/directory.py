"""Many people's Slack profiles at once, when one-at-a-time lookups would keep them waiting.

``users.info`` answers one person per call and Slack allows about a hundred a minute: when
two hundred people new to the app write in the same minute, the last would wait two
minutes for the profile that names them in Amigo, before Amigo even hears them. One
``users.list`` page answers up to two hundred. :class:`Directory` walks those pages, one
walk at a time however many people wait, and hands each waiting person their profile as
soon as a page holds it. Whoever the walk does not meet (a guest from another workspace,
someone who joined mid-walk) is told so, and is then looked up on their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slackbot.relay.budgets import SlackBudgets
from slackbot.relay.ports import Profile
from slackbot.slack.failures import failures

log = logging.getLogger("slackbot.slack")

PAGE_SIZE = 200
"""Members per ``users.list`` page: Slack recommends no more than 200."""

ListPage = Callable[[str | None], Awaitable[dict[str, Any]]]
"""``users.list`` from a cursor (None: the first page), as Slack answers it."""


def profile_of(user: dict[str, Any]) -> Profile:
    """A profile from Slack's user object (as ``users.info`` and ``users.list`` give it)."""
    user_id = str(user.get("id") or "")
    info: dict[str, Any] = user.get("profile") or {}
    return Profile(
        user_id=user_id,
        first_name=str(info.get("first_name") or ""),
        last_name=str(info.get("last_name") or ""),
        display_name=str(
            info.get("display_name") or info.get("real_name") or user.get("name") or user_id
        ),
        email=info.get("email") or None,
        is_admin=bool(user.get("is_admin")),
        is_owner=bool(user.get("is_owner")),
    )


class Directory:
    def __init__(
        self, list_page: ListPage, budgets: SlackBudgets, remember: Callable[[Profile], None]
    ) -> None:
        self._list_page = list_page
        self._budgets = budgets
        self._remember = remember
        self._wanted: dict[str, asyncio.Future[Profile | None]] = {}
        self._walk: asyncio.Task[None] | None = None

    async def find(self, user_id: str) -> Profile | None:
        """``user_id``'s profile from the walk (one is started if none is under way), or
        None when the walk ended without meeting them or could not go on."""
        wanted = self._wanted.get(user_id)
        if wanted is None:
            wanted = asyncio.get_running_loop().create_future()
            self._wanted[user_id] = wanted
        if self._walk is None or self._walk.done():
            self._walk = asyncio.create_task(self._walk_pages(), name="slack-directory")
        return await asyncio.shield(wanted)

    async def _walk_pages(self) -> None:
        cursor: str | None = None
        try:
            while self._wanted:
                await self._budgets.acquire("users.list")
                with failures("users.list"):
                    page = await self._list_page(cursor)
                for member in page.get("members") or []:
                    profile = profile_of(member)
                    self._remember(profile)
                    self._answer(profile.user_id, profile)
                cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
                if not cursor:
                    break
        except Exception as exc:  # the people waiting are looked up one by one instead
            log.warning("users.list stopped (%s); looking people up one by one", exc)
        finally:
            for user_id in list(self._wanted):
                self._answer(user_id, None)

    def _answer(self, user_id: str, profile: Profile | None) -> None:
        wanted = self._wanted.pop(user_id, None)
        if wanted is not None and not wanted.done():
            wanted.set_result(profile)
