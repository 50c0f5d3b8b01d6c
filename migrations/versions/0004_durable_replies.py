"""Replies survive restarts: what a reply must read is saved before Slack sees it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("turns") as batch:
        batch.add_column(sa.Column("reply_text", sa.Text(), nullable=True))
        # Turns before this revision were shown as far as anyone can tell.
        batch.add_column(sa.Column("shown", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("shown")
        batch.drop_column("reply_text")
