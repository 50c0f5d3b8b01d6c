"""Retries are attempts of the same message; each turn keeps the interaction that answered it.

A retry used to be a turn whose ts was the message's ts plus "-retry", which a third
retry made too long for the column. Now it is the same ts with the next `attempt`.
The conversation's latest interaction, latest reply and turn count are read from its
turns instead of being kept beside them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SUFFIX = "-retry"


def upgrade() -> None:
    with op.batch_alter_table("turns") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("interaction_id", sa.String(length=64), nullable=True))
        batch.drop_constraint("uq_turns_message", type_="unique")

    turns = sa.table(
        "turns",
        sa.column("id", sa.Integer),
        sa.column("ts", sa.String),
        sa.column("attempt", sa.Integer),
        sa.column("conversation_id", sa.Integer),
        sa.column("reply_ts", sa.String),
        sa.column("state", sa.String),
        sa.column("interaction_id", sa.String),
    )
    conn = op.get_bind()
    # "<ts>-retry-retry" was the second retry of <ts>: strip one suffix at a time.
    while True:
        rows = conn.execute(
            sa.select(turns.c.id, turns.c.ts, turns.c.attempt).where(turns.c.ts.like(f"%{_SUFFIX}"))
        ).all()
        if not rows:
            break
        for turn_id, ts, attempt in rows:
            conn.execute(
                sa.update(turns)
                .where(turns.c.id == turn_id)
                .values(ts=ts[: -len(_SUFFIX)], attempt=attempt + 1)
            )

    # Keep each conversation's latest interaction on the turn whose reply it was.
    conversations = sa.table(
        "conversations",
        sa.column("id", sa.Integer),
        sa.column("latest_interaction_id", sa.String),
        sa.column("latest_reply_ts", sa.String),
    )
    latest = conn.execute(
        sa.select(
            conversations.c.id,
            conversations.c.latest_interaction_id,
            conversations.c.latest_reply_ts,
        ).where(conversations.c.latest_interaction_id.is_not(None))
    ).all()
    for conversation_id, interaction_id, reply_ts in latest:
        conn.execute(
            sa.update(turns)
            .where(turns.c.conversation_id == conversation_id, turns.c.reply_ts == reply_ts)
            .values(interaction_id=interaction_id)
        )

    with op.batch_alter_table("turns") as batch:
        batch.create_unique_constraint(
            "uq_turns_attempt", ["team_id", "channel_id", "ts", "attempt"]
        )
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("latest_interaction_id")
        batch.drop_column("latest_reply_ts")
        batch.drop_column("turn_count")


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("turn_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("latest_reply_ts", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("latest_interaction_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("turns") as batch:
        batch.drop_constraint("uq_turns_attempt", type_="unique")
    turns = sa.table(
        "turns", sa.column("id", sa.Integer), sa.column("ts", sa.String), sa.column("attempt")
    )
    conn = op.get_bind()
    retried = conn.execute(
        sa.select(turns.c.id, turns.c.ts, turns.c.attempt).where(turns.c.attempt > 0)
    ).all()
    for turn_id, ts, attempt in retried:
        conn.execute(
            sa.update(turns).where(turns.c.id == turn_id).values(ts=ts + _SUFFIX * attempt)
        )
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("interaction_id")
        batch.drop_column("attempt")
        batch.create_unique_constraint("uq_turns_message", ["team_id", "channel_id", "ts"])
