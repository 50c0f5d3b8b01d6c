"""Messages keep the file they shared (a voice clip), fetched when their turn runs.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
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
