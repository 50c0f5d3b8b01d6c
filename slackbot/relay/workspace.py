"""Which Slack workspace the work at hand is for.

One deployment may serve several workspaces (each installed the app and has its own bot
token, budgets and profiles: :mod:`slackbot.slack.workspaces`). The relay calls its
:class:`~slackbot.relay.ports.SlackPort` in some sixty places, and none of them names a
workspace. Naming it at each site (``slack.for_team(team).post_message(...)``) would be
explicit, but would carry the team through every class between an entry point and the
call and touch most of the relay, for a value that never changes within one piece of
work. So the workspace is a context variable instead, set where work starts:

* Bolt's requests: a middleware, from the request's team (and Grid org);
* a thread's worker: from its :class:`~slackbot.store.repo.ThreadKey` (it may be started
  by the sweep, in no workspace or another one);
* the sweep, per thread it routes; the Home tab's publisher, per person.

The relay's port and budgets are facades that look the variable up on every call and
speak for that workspace. asyncio copies the context into a task when the task is
created, so whatever a piece of work starts (a reply's writer, a status refresher, a
directory walk) inherits its workspace. The price: a task that may serve another
workspace than the one it was started in (those above) must set its own, or it would
speak for its starter's. Work with no workspace set is an error when the
app serves several workspaces (the facade says so loudly rather than guess a token);
with the one ``SLACK_BOT_TOKEN`` of the settings there is only one workspace to speak for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from slackbot.relay.budgets import Budgets, Strain


@dataclass(frozen=True, slots=True)
class Workspace:
    """A Slack workspace (``team_id``), and its Enterprise Grid org if it belongs to one."""

    team_id: str | None
    enterprise_id: str | None = None

    @property
    def key(self) -> str:
        """What the app keeps per workspace under (the org, for org-level work)."""
        return self.team_id or self.enterprise_id or ""


class NoWorkspace(RuntimeError):
    """Slack was to be called on behalf of no workspace while the app serves several."""


_CURRENT: ContextVar[Workspace | None] = ContextVar("slack_workspace", default=None)


def current() -> Workspace | None:
    """The workspace the running work is for (None: none was set)."""
    return _CURRENT.get()


def key() -> str:
    """The current workspace's key ("" when none is set)."""
    found = _CURRENT.get()
    return found.key if found is not None else ""


def _of(team_id: str | None, enterprise_id: str | None) -> Workspace:
    """Keeps the org already known when only the same team is named again."""
    found = _CURRENT.get()
    if enterprise_id is None and found is not None and found.team_id == team_id:
        return found
    return Workspace(team_id or None, enterprise_id or None)


def enter(team_id: str | None, enterprise_id: str | None = None) -> None:
    """Work for ``team_id`` from here to the end of the running task (and in the tasks it
    starts). Each task has its own copy: its starter's workspace does not change."""
    _CURRENT.set(_of(team_id, enterprise_id))


@contextmanager
def within(team_id: str | None, enterprise_id: str | None = None) -> Iterator[Workspace]:
    """Work for ``team_id`` inside the block; the workspace before it comes back after."""
    token = _CURRENT.set(_of(team_id, enterprise_id))
    try:
        yield _CURRENT.get() or Workspace(None)
    finally:
        _CURRENT.reset(token)


class CurrentBudgets:
    """The budgets of the current workspace, for the reply writers (which hold one
    :class:`~slackbot.relay.budgets.Budgets` for every reply they make)."""

    def __init__(self, of: Callable[[], Budgets]) -> None:
        self._of = of

    async def acquire(
        self, method: str, channel: str | None = None, *, final: bool = False, first: bool = False
    ) -> None:
        await self._of().acquire(method, channel, final=final, first=first)

    def available(self, method: str, channel: str | None = None) -> float:
        return self._of().available(method, channel)

    def try_take(self, method: str, channel: str | None = None) -> bool:
        return self._of().try_take(method, channel)

    def strained(self) -> list[Strain]:
        return self._of().strained()
