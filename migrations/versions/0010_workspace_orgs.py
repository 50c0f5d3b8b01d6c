"""The Grid org of each workspace an org-wide install serves, as its events named it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 16:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_workspace_orgs",
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("enterprise_id", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("slack_workspace_orgs")
