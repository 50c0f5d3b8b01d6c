"""Slack budgets shared by the replicas: one token bucket per workspace, method and
(for posting and status) channel.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 18:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_budgets",
        sa.Column("key", sa.String(160), primary_key=True),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("stamp", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("slack_budgets")
