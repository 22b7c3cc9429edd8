"""Operations: the request id a job was queued by, and when retention removed a memo's media.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(64), nullable=True))
    with op.batch_alter_table("memos") as batch_op:
        for name in ("original_purged_at", "playback_purged_at", "transcript_purged_at"):
            batch_op.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("memos") as batch_op:
        for name in ("original_purged_at", "playback_purged_at", "transcript_purged_at"):
            batch_op.drop_column(name)
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_column("request_id")
