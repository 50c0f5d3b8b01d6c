"""Messages keep the file they shared (a voice clip), fetched when their turn runs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 15:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("turns") as batch:
        batch.add_column(sa.Column("attachment", sa.Text(), nullable=True))
    with op.batch_alter_table("inbound") as batch:
        batch.add_column(sa.Column("attachment", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound") as batch:
        batch.drop_column("attachment")
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("attachment")
