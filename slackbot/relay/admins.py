"""The admins the settings name (``SLACK_ADMIN_USER_IDS``), per workspace.

A plain user id (``U0456``) is an admin in every workspace the app serves: what one
deployment for one workspace needs. Once the app serves many, an entry qualified by a
workspace (``T0123:U0456``) or an Enterprise Grid org (``E0123:U0456``) is an admin only
there, so that one workspace's admin list gives nobody powers in another's. (Workspace
admins and owners, as Slack says, are admins of their own workspace anyway.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ENTRY = re.compile(r"(?:(?P<where>[TE][A-Z0-9]{2,}):)?(?P<user>[UW][A-Z0-9]{1,})")


@dataclass(frozen=True, slots=True)
class Admins:
    everywhere: frozenset[str] = frozenset()
    """User ids that are admins in every workspace."""
    scoped: frozenset[tuple[str, str]] = frozenset()
    """(workspace or org id, user id): admins only there."""

    @classmethod
    def parse(cls, text: str) -> Admins:
        """Comma-separated entries; :class:`ValueError` naming the first malformed one."""
        everywhere: set[str] = set()
        scoped: set[tuple[str, str]] = set()
        for entry in (part.strip() for part in text.split(",")):
            if not entry:
                continue
            found = _ENTRY.fullmatch(entry)
            if found is None:
                raise ValueError(
                    f"{entry!r} is not a Slack user id (U…), nor one of a workspace (T…:U…) "
                    "or Grid org (E…:U…)"
                )
            if found["where"]:
                scoped.add((found["where"], found["user"]))
            else:
                everywhere.add(found["user"])
        return cls(frozenset(everywhere), frozenset(scoped))

    @property
    def by_org(self) -> bool:
        """Some entry names a Grid org (then the org of a workspace matters)."""
        return any(where.startswith("E") for where, _ in self.scoped)

    def covers(self, user_id: str, team_id: str | None, enterprise_id: str | None = None) -> bool:
        """Whether ``user_id`` is a configured admin in workspace ``team_id`` (of the
        org ``enterprise_id``)."""
        if user_id in self.everywhere:
            return True
        return any((where, user_id) in self.scoped for where in (team_id, enterprise_id) if where)
