"""The installations of the app, on the tables of slack_sdk's SQLAlchemy stores.

slack_sdk's ``AsyncSQLAlchemyInstallationStore`` and ``AsyncSQLAlchemyOAuthStateStore``
save, find and delete installs on ``slack_installations``, ``slack_bots`` and
``slack_oauth_states``. They fall short in two ways, which is why these tables are
declared here too (the migration creates them from here, not slack_sdk's
``create_all``):

- their token columns are ``VARCHAR(200)``, too narrow for an encrypted token (a
  Fernet token of a refresh token is longer); here they are ``TEXT``;
- nothing in them keeps two replicas from refreshing one rotating token at once: the
  refresh token can be used once, so the second refresh would fail or undo the first.
  ``slack_bots`` gains a rotation lease (``rotation_holder``, ``rotation_until``) that a
  replica takes with a compare-and-swap on the stored refresh token before it asks
  Slack; the others wait for the new token instead of refreshing again.

Every token column holds ciphertext (see :mod:`slackbot.slack.token_keys`); nothing
here decrypts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

metadata = sa.MetaData()

_TOKEN = sa.Text

installations = sa.Table(
    "slack_installations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("client_id", sa.String(32), nullable=False),
    sa.Column("app_id", sa.String(32), nullable=False),
    sa.Column("enterprise_id", sa.String(32)),
    sa.Column("enterprise_name", sa.String(200)),
    sa.Column("enterprise_url", sa.String(200)),
    sa.Column("team_id", sa.String(32)),
    sa.Column("team_name", sa.String(200)),
    sa.Column("bot_token", _TOKEN),
    sa.Column("bot_id", sa.String(32)),
    sa.Column("bot_user_id", sa.String(32)),
    sa.Column("bot_scopes", sa.String(1000)),
    sa.Column("bot_refresh_token", _TOKEN),
    sa.Column("bot_token_expires_at", sa.DateTime),
    sa.Column("user_id", sa.String(32), nullable=False),
    sa.Column("user_token", _TOKEN),
    sa.Column("user_scopes", sa.String(1000)),
    sa.Column("user_refresh_token", _TOKEN),
    sa.Column("user_token_expires_at", sa.DateTime),
    sa.Column("incoming_webhook_url", sa.String(200)),
    sa.Column("incoming_webhook_channel", sa.String(200)),
    sa.Column("incoming_webhook_channel_id", sa.String(200)),
    sa.Column("incoming_webhook_configuration_url", sa.String(200)),
    sa.Column("is_enterprise_install", sa.Boolean, nullable=False, default=False),
    sa.Column("token_type", sa.String(32)),
    sa.Column("installed_at", sa.DateTime, nullable=False, server_default=sa.func.now()),
    sa.Index(
        "slack_installations_idx",
        "client_id",
        "enterprise_id",
        "team_id",
        "user_id",
        "installed_at",
    ),
)

bots = sa.Table(
    "slack_bots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("client_id", sa.String(32), nullable=False),
    sa.Column("app_id", sa.String(32), nullable=False),
    sa.Column("enterprise_id", sa.String(32)),
    sa.Column("enterprise_name", sa.String(200)),
    sa.Column("team_id", sa.String(32)),
    sa.Column("team_name", sa.String(200)),
    sa.Column("bot_token", _TOKEN),
    sa.Column("bot_id", sa.String(32)),
    sa.Column("bot_user_id", sa.String(32)),
    sa.Column("bot_scopes", sa.String(1000)),
    sa.Column("bot_refresh_token", _TOKEN),
    sa.Column("bot_token_expires_at", sa.DateTime),
    sa.Column("is_enterprise_install", sa.Boolean, nullable=False, default=False),
    sa.Column("installed_at", sa.DateTime, nullable=False, server_default=sa.func.now()),
    sa.Column("rotation_holder", sa.String(64)),
    sa.Column("rotation_until", sa.DateTime),
    sa.Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

oauth_states = sa.Table(
    "slack_oauth_states",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("state", sa.String(200), nullable=False),
    sa.Column("expire_at", sa.DateTime, nullable=False),
)

TOKEN_COLUMNS = {
    installations: ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token"),
    bots: ("bot_token", "bot_refresh_token"),
}
"""Every column that holds a token (as ciphertext)."""


def naive_utc(moment: datetime) -> datetime:
    """As slack_sdk keeps times on these tables: UTC without a zone."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def as_utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


workspace_orgs = sa.Table(
    "slack_workspace_orgs",
    metadata,
    sa.Column("team_id", sa.String(32), primary_key=True),
    sa.Column("enterprise_id", sa.String(32), nullable=False),
)
"""The Grid org of each workspace served by an org-wide install, as its events said: after a
restart, work queued for such a workspace knows only its team, and finds the org's token
through this."""


class Installs:
    """The reads and writes of ours on the installation tables (slack_sdk does the rest)."""

    def __init__(self, engine: AsyncEngine, client_id: str) -> None:
        self._engine = engine
        self._client_id = client_id

    async def bot(self, team_id: str | None, enterprise_id: str | None) -> Mapping[str, Any] | None:
        """The latest bot of the workspace ``team_id``, or else of an org-wide install
        in ``enterprise_id``."""
        c = bots.c
        mine = and_(c.client_id == self._client_id, c.bot_token.is_not(None))
        tries: list[ColumnElement[bool]] = []
        if team_id is not None:
            same_org = or_(c.enterprise_id == enterprise_id, c.enterprise_id.is_(None))
            tries.append(and_(c.team_id == team_id, same_org if enterprise_id else sa.true()))
        if enterprise_id is not None:
            tries.append(and_(c.enterprise_id == enterprise_id, c.is_enterprise_install.is_(True)))
        async with self._engine.connect() as conn:
            for where in tries:
                query = (
                    bots.select().where(mine, where).order_by(c.installed_at.desc(), c.id.desc())
                )
                row = (await conn.execute(query.limit(1))).mappings().first()
                if row is not None:
                    return dict(row)
        return None

    async def org_of(self, team_id: str) -> str | None:
        """The Grid org a workspace's events named (None: none seen)."""
        async with self._engine.connect() as conn:
            query = select(workspace_orgs.c.enterprise_id).where(
                workspace_orgs.c.team_id == team_id
            )
            return (await conn.execute(query)).scalar()

    async def remember_org(self, team_id: str, enterprise_id: str) -> None:
        """Keep the org a workspace belongs to (one row per workspace; a move replaces it).
        Replicas may do it at once: whoever inserts second updates instead."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    sa.insert(workspace_orgs).values(team_id=team_id, enterprise_id=enterprise_id)
                )
        except sa.exc.IntegrityError:
            async with self._engine.begin() as conn:
                await conn.execute(
                    update(workspace_orgs)
                    .where(workspace_orgs.c.team_id == team_id)
                    .values(enterprise_id=enterprise_id)
                )

    async def bot_by_id(self, row_id: int) -> Mapping[str, Any] | None:
        async with self._engine.connect() as conn:
            query = bots.select().where(bots.c.id == row_id)
            row = (await conn.execute(query)).mappings().first()
            return None if row is None else dict(row)

    async def claim_rotation(
        self, row_id: int, seen_refresh_token: str, holder: str, seconds: float
    ) -> bool:
        """Take the right to refresh this bot's token: only while its refresh token is
        still the one seen, and nobody else holds an unexpired claim."""
        now = naive_utc(datetime.now(UTC))
        c = bots.c
        statement = (
            update(bots)
            .where(
                c.id == row_id,
                c.bot_refresh_token == seen_refresh_token,
                or_(c.rotation_until.is_(None), c.rotation_until < now),
            )
            .values(rotation_holder=holder, rotation_until=now + timedelta(seconds=seconds))
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(statement)).rowcount == 1

    async def save_rotation(
        self, row_id: int, holder: str, token: str, refresh_token: str, expires_at: datetime
    ) -> bool:
        """The refreshed token (ciphertext), saved by the claim's holder; the install's
        row on ``slack_installations`` follows."""
        c = bots.c
        values = {
            "bot_token": token,
            "bot_refresh_token": refresh_token,
            "bot_token_expires_at": naive_utc(expires_at),
        }
        async with self._engine.begin() as conn:
            row = (await conn.execute(bots.select().where(c.id == row_id))).mappings().first()
            if row is None or row["rotation_holder"] != holder:
                return False
            await conn.execute(
                update(bots)
                .where(c.id == row_id)
                .values(**values, rotation_holder=None, rotation_until=None)
            )
            i = installations.c
            await conn.execute(
                update(installations)
                .where(
                    i.client_id == row["client_id"],
                    _same(i.enterprise_id, row["enterprise_id"]),
                    _same(i.team_id, row["team_id"]),
                    i.bot_id == row["bot_id"],
                )
                .values(**values)
            )
        return True

    async def release_rotation(self, row_id: int, holder: str) -> None:
        c = bots.c
        async with self._engine.begin() as conn:
            await conn.execute(
                update(bots)
                .where(c.id == row_id, c.rotation_holder == holder)
                .values(rotation_holder=None, rotation_until=None)
            )

    async def any_token(self) -> str | None:
        """One stored token (ciphertext), to learn at start-up whether the keys read it."""
        async with self._engine.connect() as conn:
            query = select(bots.c.bot_token).where(bots.c.bot_token.is_not(None)).limit(1)
            return (await conn.execute(query)).scalar()

    async def reencrypt(self, transform: Callable[[str | None], str | None]) -> int:
        """Every stored token passed through ``transform`` (key rotation), in one
        transaction; how many rows changed."""
        changed = 0
        async with self._engine.begin() as conn:
            for table, columns in TOKEN_COLUMNS.items():
                query = select(table.c.id, *(table.c[name] for name in columns))
                for row in (await conn.execute(query)).mappings().all():
                    values = {name: transform(row[name]) for name in columns}
                    await conn.execute(update(table).where(table.c.id == row["id"]).values(values))
                    changed += 1
        return changed


def _same(column: Any, value: str | None) -> Any:
    return column.is_(None) if value is None else column == value
