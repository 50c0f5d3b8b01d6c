"""Which bot token speaks for a workspace.

One deployment serves either one workspace, with the single ``SLACK_BOT_TOKEN`` of its
settings, or every workspace (and Enterprise Grid org) that installed the app through
Slack's OAuth flow. Whatever calls Slack on a workspace's behalf asks a
:class:`BotTokens` for that workspace's access first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class BotAccess:
    """The app's bot in one workspace: its token, and who it is there."""

    token: str
    team_id: str | None
    enterprise_id: str | None = None
    bot_user_id: str | None = None
    bot_id: str | None = None


class BotTokens(Protocol):
    async def find(self, team_id: str | None, enterprise_id: str | None = None) -> BotAccess | None:
        """The bot's access in ``team_id`` (or, for an org-wide install, in the org
        ``enterprise_id``), with a token that is not about to expire; None when the app
        is not installed there."""
        ...


class SingleToken:
    """One workspace and one ``SLACK_BOT_TOKEN``: the same access whatever is asked."""

    def __init__(self, access: BotAccess) -> None:
        self._access = access

    async def find(self, team_id: str | None, enterprise_id: str | None = None) -> BotAccess | None:
        return self._access
