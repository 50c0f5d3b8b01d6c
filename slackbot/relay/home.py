"""The app's Home tab: what it shows a person, and when it is published again.

The list is Amigo's (the person's conversations with the app's services), joined
with the database for each conversation's Slack thread; while Amigo cannot be reached,
it is what the database remembers. The tab is published when the person opens it, and
again when one of their conversations changes (they opened it since this process
started: any later opening renders it afresh anyway), at most once a second per
person (:class:`~slackbot.relay.coalesce.Coalescer`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cachetools import LRUCache

from slackbot.amigo.errors import AmigoError
from slackbot.amigo.models import ConversationPage
from slackbot.relay import workspace
from slackbot.relay.coalesce import Coalescer
from slackbot.relay.commands import Finish
from slackbot.relay.controls import Caller, Controls, Permissions
from slackbot.relay.health import Asked, HealthCheck, amigo_problem
from slackbot.relay.ports import AmigoPort, SlackPort, SlackRefused, SlackUnreachable
from slackbot.relay.services import Services
from slackbot.relay.tasks import TaskTracker
from slackbot.relay.watch import Watch
from slackbot.store.repo import Conversation, Store, ThreadKey
from slackbot.ui import home as ui
from slackbot.ui import messages
from slackbot.ui import services as ui_services

log = logging.getLogger("slackbot.home")

Person = tuple[str, str]
"""(team id, Slack user id)."""

AMIGO_PAGE = 100
"""Conversations asked of Amigo at once: the listed ones, and how many more there are."""
REMEMBERED = 10_000
"""People (who opened the tab) and thread links kept in memory."""


@dataclass(frozen=True, slots=True)
class HomeConfig:
    service_id: str
    interval: float = 1.0
    """Least time between two publishes of one person's tab."""


def thread_link(workspace_url: str, channel_id: str, thread_ts: str) -> str:
    """A thread's address, as Slack's permalinks have it."""
    base = workspace_url.rstrip("/")
    message = f"{base}/archives/{channel_id}/p{thread_ts.replace('.', '')}"
    return f"{message}?thread_ts={thread_ts}&cid={channel_id}"


class Home:
    def __init__(
        self,
        *,
        store: Store,
        amigo: AmigoPort,
        slack: SlackPort,
        controls: Controls,
        permissions: Permissions,
        health: HealthCheck,
        tasks: TaskTracker,
        watch: Watch,
        config: HomeConfig,
        workspace_url: Callable[[], str | None] = lambda: None,
        services: Services | None = None,
    ) -> None:
        self._services = services
        self._store = store
        self._amigo = amigo
        self._slack = slack
        self._controls = controls
        self._permissions = permissions
        self._health = health
        self._config = config
        self._workspace_url = workspace_url
        self._publishing = Coalescer(self._publish, tasks, interval=config.interval)
        self._seen: LRUCache[Person, bool] = LRUCache(REMEMBERED)
        self._links: LRUCache[tuple[str, str], str] = LRUCache(REMEMBERED)
        self._notices: dict[Person, str] = {}
        watch.listen(self.changed)

    def opened(self, team_id: str, user_id: str) -> None:
        """The person opened the Home tab: show it as it is now."""
        self._seen[team_id, user_id] = True
        self._publishing.request((team_id, user_id))

    def changed(self, team_id: str, user_id: str) -> None:
        """One of the person's conversations changed: show it, if they look at the tab."""
        if (team_id, user_id) in self._seen:
            self._publishing.request((team_id, user_id))

    async def finish(self, caller: Caller, channel_id: str, thread_ts: str) -> None:
        """Finish from the tab, as `/amigo finish` would; the tab then shows the answer."""
        person = (caller.team_id, caller.user_id)
        self._seen[person] = True
        thread = ThreadKey(caller.team_id, channel_id, thread_ts)
        async with self._publishing.hold(person):
            try:
                answer = await self._controls.run(Finish(), caller, thread=thread)
            except Exception:
                log.exception("finishing from the Home tab failed")
                answer = messages.COMMAND_FAILED
            if answer:
                self._notices[person] = answer

    async def _publish(self, person: Person) -> None:
        team_id, user_id = person
        with workspace.within(team_id):  # one publisher may serve several workspaces
            view = await self.render(team_id, user_id, notice=self._notices.pop(person, None))
            try:
                await self._slack.publish_home(user_id, view)
            except (SlackRefused, SlackUnreachable) as exc:
                log.warning("could not publish the Home tab of %s: %s", user_id, exc)

    async def render(
        self, team_id: str, user_id: str, *, notice: str | None = None
    ) -> dict[str, Any]:
        amigo_user = await self._store.amigo_user(team_id, user_id)
        page: ConversationPage | None = None
        asked: Asked | None = None
        if amigo_user is not None:
            try:
                page = await self._amigo.get_conversations(
                    amigo_user,
                    user_ids=[amigo_user],
                    service_ids=await self._service_ids(team_id, user_id),
                    sort_by=["-created_at"],
                    limit=AMIGO_PAGE,
                )
                asked = Asked()
            except AmigoError as exc:
                log.warning("the Home tab of %s without Amigo: %s", user_id, exc)
                asked = Asked(amigo_problem(exc))
        if page is not None:
            rows, more, at_least = await self._from_amigo(page)
        else:
            rows, more, at_least = await self._from_database(team_id, user_id)
        health = None
        admin: list[Any] = []
        if await self._permissions.is_admin(user_id):
            health = await self._health.report(asked)
            if self._services is not None:
                mappings = await self._services.mappings(team_id)
                admin = ui_services.home_section(self._services.listed_default, mappings)
        return ui.home_view(
            rows,
            more=more,
            more_at_least=at_least,
            amigo_down=asked is not None and asked.problem is not None,
            notice=notice,
            health=health,
            admin=admin,
        )

    async def _service_ids(self, team_id: str, user_id: str) -> list[str]:
        """The services the person's conversations may be in."""
        if self._services is None:
            return [self._config.service_id]
        return await self._services.known(team_id, user_id)

    async def _from_amigo(self, page: ConversationPage) -> tuple[list[ui.Row], int, bool]:
        listed = page.conversations[: ui.MAX_SHOWN]
        known = await self._store.known_amigo_conversations([c.id for c in listed])
        rows = []
        for info in listed:
            here = known.get(info.id)
            finished = info.is_finished or (here is not None and not here.is_open)
            rows.append(await self._row(info.created_at, finished, here, info.tags))
        more = len(page.conversations) - len(listed)
        return rows, more, page.has_more

    async def _from_database(self, team_id: str, user_id: str) -> tuple[list[ui.Row], int, bool]:
        mine, total = await self._store.latest_conversations_of(
            team_id, user_id, limit=ui.MAX_SHOWN
        )
        rows = [await self._row(c.created_at, not c.is_open, c) for c in mine]
        return rows, total - len(rows), False

    async def _row(
        self,
        started: datetime,
        finished: bool,
        here: Conversation | None,
        tags: Mapping[str, str | None] | None = None,
    ) -> ui.Row:
        """A listed conversation, with its thread and Finish when this app knows it."""
        if here is None:
            return ui.Row(started=started, finished=finished, tags=tags)
        return ui.Row(
            started=started,
            finished=finished,
            tags=tags,
            link=await self._link(here.channel_id, here.thread_ts),
            channel_id=here.channel_id,
            finish=ui.finish_value(here.channel_id, here.thread_ts),
        )

    async def _link(self, channel_id: str, thread_ts: str) -> str | None:
        """Built from the workspace's address when Slack said it; else Slack's permalink
        (one ``chat.getPermalink`` per thread, kept)."""
        workspace = self._workspace_url()
        if workspace:
            return thread_link(workspace, channel_id, thread_ts)
        key = (channel_id, thread_ts)
        link = self._links.get(key)
        if link is None:
            try:
                link = self._links[key] = await self._slack.permalink(channel_id, thread_ts)
            except (SlackRefused, SlackUnreachable) as exc:
                log.info("no link to thread %s in %s: %s", thread_ts, channel_id, exc)
        return link
