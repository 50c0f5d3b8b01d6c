"""Suggested prompts from the agent itself, and titles for the threads of the app's DM.

When a person opens the app's DM (Slack's agent view) or starts an assistant thread,
Slack can show up to four prompts to click. They come from Amigo's conversation starters
for the configured service, asked once per expiry (Amigo allows ten such calls a minute
per user, and every open of the DM would ask); while Amigo cannot answer, the admins'
static prompts stand in, and Amigo is asked again a minute later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from slackbot.amigo.errors import AmigoError
from slackbot.relay.ports import AmigoPort, SlackPort, SlackRefused, SlackUnreachable
from slackbot.ui import prompts as ui

log = logging.getLogger("slackbot.prompts")

MAX_PROMPTS = 4
"""Slack shows at most four suggested prompts."""
RETRY_SECONDS = 60.0
"""After Amigo failed to suggest, the static prompts stand in this long."""


@dataclass(frozen=True, slots=True)
class PromptsConfig:
    service_id: str
    version_set: str
    facets: tuple[str, ...]
    instructions: str
    fallback: tuple[str, ...]
    """The admins' own prompts, for when Amigo cannot suggest."""
    expiry: float = 600.0


class Prompts:
    def __init__(
        self,
        amigo: AmigoPort,
        slack: SlackPort,
        config: PromptsConfig,
        *,
        as_user: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._amigo = amigo
        self._slack = slack
        self._config = config
        self._as_user = as_user
        self._clock = clock
        self._cached: list[str] = []
        self._until = 0.0
        self._lock = asyncio.Lock()

    async def starters(self) -> list[str]:
        """Amigo's starters for the service (cached), or the static prompts."""
        async with self._lock:  # many people opening the DM at once make one call
            if self._clock() < self._until:
                return self._cached
            c = self._config
            try:
                found = await self._amigo.conversation_starters(
                    self._as_user,
                    service_id=c.service_id,
                    facets=c.facets,
                    instructions=c.instructions,
                    min_count=1,
                    max_count=MAX_PROMPTS,
                    version_set=c.version_set,
                )
            except (AmigoError, ValueError) as exc:
                log.warning("Amigo suggested no prompts (%s); showing the static ones", exc)
                found, expiry = [], RETRY_SECONDS
            else:
                expiry = c.expiry
            prompts = [p.strip() for p in found if p.strip()][:MAX_PROMPTS]
            self._cached = prompts or list(c.fallback[:MAX_PROMPTS])
            self._until = self._clock() + expiry
            return self._cached

    async def offer(self, channel: str, thread_ts: str | None) -> None:
        """Show the prompts in the app's DM (or in one of its threads)."""
        prompts = await self.starters()
        if not prompts:
            return
        try:
            await self._slack.set_prompts(channel, thread_ts, prompts)
        except (SlackRefused, SlackUnreachable) as exc:
            log.info("could not show suggested prompts in %s: %s", channel, exc)

    async def title(self, channel: str, thread_ts: str, first_message: str) -> None:
        """Name a thread of the app's DM after its first message."""
        title = ui.thread_title(first_message)
        if not channel.startswith("D") or not title:
            return
        try:
            await self._slack.set_title(channel, thread_ts, title)
        except (SlackRefused, SlackUnreachable) as exc:
            log.info("could not title thread %s: %s", thread_ts, exc)
