"""A service per channel: which Amigo service (and version set) a channel's conversations
start in, every change to that with who made it and when, and the service each
conversation started in.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL on the conversations of earlier versions: they started in the default service.
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("service_id", sa.String(24), nullable=True))
        batch.add_column(sa.Column("version_set", sa.String(64), nullable=True))
    op.create_table(
        "channel_services",
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("channel_id", sa.String(32), primary_key=True),
        sa.Column("service_id", sa.String(24), nullable=False),
        sa.Column("version_set", sa.String(64), nullable=False),
        sa.Column("set_by", sa.String(32), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "channel_service_changes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("service_id", sa.String(24), nullable=True),
        sa.Column("version_set", sa.String(64), nullable=True),
        sa.Column("changed_by", sa.String(32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_channel_service_changes_channel",
        "channel_service_changes",
        ["team_id", "channel_id", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_channel_service_changes_channel", table_name="channel_service_changes")
    op.drop_table("channel_service_changes")
    op.drop_table("channel_services")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("version_set")
        batch.drop_column("service_id")
