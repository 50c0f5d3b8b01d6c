"""Slack's OAuth v2 for :class:`~slackbot.sandbox.slack_fake.FakeSlack`: the install
page, ``oauth.v2.access`` and token rotation, as Slack documents them.

* ``GET /oauth/v2/authorize?client_id=...&scope=...&state=...[&redirect_uri=...][&team=...]``
  stands for the page where a person approves the install: it redirects at once (302) to
  ``redirect_uri`` (or the app's configured :attr:`OAuthDesk.redirect_url`) with ``code``
  and ``state``. Which workspace the person picks is the next :meth:`OAuthDesk.plan`, else
  the ``team`` asked for, else the fake's own workspace.
* ``oauth.v2.access`` (client credentials in HTTP Basic auth or as arguments) exchanges a
  code once for the documented answer: ``access_token`` (a bot token), ``token_type:
  "bot"``, ``scope``, ``bot_user_id``, ``app_id``, ``team``, ``enterprise``,
  ``authed_user``, ``is_enterprise_install``; with token rotation on, ``expires_in`` and a
  ``refresh_token`` too. ``grant_type=refresh_token`` exchanges a refresh token, once, for
  a new access token and refresh token; the old access token keeps working (until it
  would expire).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

Json = dict[str, Any]

TOKEN_LIFETIME_SECONDS = 43_200
"""Slack's rotating tokens last 12 hours."""


class OAuthRefused(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True)
class FakeInstall:
    """Where a person installs the app: one workspace, or (``org_wide``) a whole org."""

    team_id: str | None
    enterprise_id: str | None = None
    org_wide: bool = False
    installer: str = "UINSTALLER"
    bot_user_id: str | None = None


@dataclass
class _Grant:
    install: FakeInstall
    scope: str
    redirect_uri: str


@dataclass
class _Issued:
    install: FakeInstall
    scope: str


Issue = Callable[[FakeInstall, str | None], str]
"""Makes a bot token (of the given name, or a new one) speak for an install."""


class OAuthDesk:
    """The fake's OAuth state; every method runs under the fake's lock."""

    def __init__(self, client_id: str, client_secret: str, app_id: str, team_id: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.app_id = app_id
        self.team_id = team_id
        self.redirect_url: str | None = None
        """The app's configured redirect URL (used when the request names none)."""
        self.rotation = False
        """Whether the app has token rotation on (tokens expire, refresh tokens come)."""
        self.lifetime = TOKEN_LIFETIME_SECONDS
        self._plans: list[FakeInstall] = []
        self._codes: dict[str, _Grant] = {}
        self._refresh: dict[str, _Issued] = {}

    def reset(self) -> None:
        self.redirect_url = None
        self.rotation = False
        self.lifetime = TOKEN_LIFETIME_SECONDS
        self._plans.clear()
        self._codes.clear()
        self._refresh.clear()

    def plan(self, install: FakeInstall) -> None:
        self._plans.append(install)

    def authorize(self, args: Json) -> str:
        """The URL the install page redirects to."""
        if args.get("client_id") != self.client_id:
            raise OAuthRefused("invalid_client_id")
        redirect = str(args.get("redirect_uri") or self.redirect_url or "")
        if not redirect:
            raise OAuthRefused("no_redirect_uri")
        if self._plans:
            install = self._plans.pop(0)
        else:
            install = FakeInstall(str(args.get("team") or self.team_id))
        code = secrets.token_hex(12)
        self._codes[code] = _Grant(install, str(args.get("scope") or ""), redirect)
        query = urlencode({"code": code, "state": str(args.get("state") or "")})
        return f"{redirect}{'&' if '?' in redirect else '?'}{query}"

    def access(self, args: Json, issue: Issue) -> Json:
        """``oauth.v2.access``."""
        if args.get("client_id") != self.client_id:
            raise OAuthRefused("invalid_client_id")
        if args.get("client_secret") != self.client_secret:
            raise OAuthRefused("bad_client_secret")
        if args.get("grant_type") == "refresh_token":
            issued = self._refresh.pop(str(args.get("refresh_token") or ""), None)
            if issued is None:
                raise OAuthRefused("invalid_refresh_token")
            return self._answer(issued.install, issued.scope, issue, refreshed=True)
        grant = self._codes.pop(str(args.get("code") or ""), None)
        if grant is None:
            raise OAuthRefused("invalid_code")
        if args.get("redirect_uri") not in (None, "", grant.redirect_uri):
            raise OAuthRefused("bad_redirect_uri")
        return self._answer(grant.install, grant.scope, issue, refreshed=False)

    def _answer(self, install: FakeInstall, scope: str, issue: Issue, *, refreshed: bool) -> Json:
        name = None
        if self.rotation:
            name = f"xoxe.xoxb-1-{secrets.token_hex(16)}"
        token = issue(install, name)
        answer: Json = {
            "access_token": token,
            "token_type": "bot",
            "scope": scope,
            "bot_user_id": install.bot_user_id or "UBOT",
            "app_id": self.app_id,
            "team": None if install.org_wide else {"id": install.team_id, "name": "Workspace"},
            "enterprise": (
                {"id": install.enterprise_id, "name": f"Org {install.enterprise_id}"}
                if install.enterprise_id
                else None
            ),
            "is_enterprise_install": install.org_wide,
        }
        if not refreshed:
            answer["authed_user"] = {"id": install.installer}
        if self.rotation:
            refresh = f"xoxe-1-{secrets.token_hex(20)}"
            self._refresh[refresh] = _Issued(install, scope)
            answer |= {"expires_in": self.lifetime, "refresh_token": refresh}
        return answer
