"""Additions to a memo: follow-ups the author recorded, joined onto the memo's recording.

Revision ID: 0010
Revises: 0009
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
        "memo_additions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("memo_id", sa.Integer(), sa.ForeignKey("memos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("jobs.id", ondelete="SET NULL"), nullable=True),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("media_sha256", sa.String(64), nullable=False),
        sa.Column("previous_sha256", sa.String(64), nullable=True),
        sa.Column("original_filename", sa.String(300), nullable=True),
        sa.Column("content_type", sa.String(100), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(17), nullable=False),
        sa.Column("offset_s", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_memo_additions_memo_id", "memo_additions", ["memo_id"])
    op.create_index("ix_memo_additions_media_sha256", "memo_additions", ["media_sha256"])


def downgrade() -> None:
    op.drop_index("ix_memo_additions_media_sha256", "memo_additions")
    op.drop_index("ix_memo_additions_memo_id", "memo_additions")
    op.drop_table("memo_additions")
