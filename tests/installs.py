"""Installs of the app, kept in memory: a :class:`~slackbot.slack.tokens.BotTokens` that
knows the workspaces (and Grid orgs) a test installed the app in."""

from __future__ import annotations

from slackbot.slack.tokens import BotAccess


class Installs:
    def __init__(self) -> None:
        self.teams: dict[str, BotAccess] = {}
        self.orgs: dict[str, BotAccess] = {}
        self.asked: list[tuple[str | None, str | None]] = []

    def install(self, team_id: str, token: str, *, enterprise_id: str | None = None) -> BotAccess:
        """The app installed in ``team_id`` (the bot user left for ``auth.test`` to say)."""
        access = BotAccess(token, team_id, enterprise_id)
        self.teams[team_id] = access
        return access

    def install_org(self, enterprise_id: str, token: str) -> BotAccess:
        """The app installed for the whole Grid org ``enterprise_id``."""
        access = BotAccess(token, None, enterprise_id)
        self.orgs[enterprise_id] = access
        return access

    async def find(self, team_id: str | None, enterprise_id: str | None = None) -> BotAccess | None:
        self.asked.append((team_id, enterprise_id))
        if team_id in self.teams:
            return self.teams[team_id]
        return self.orgs.get(enterprise_id or "")
