"""Learning from corrections: mined corrections, vocabulary decisions, words compose replaced.

Revision ID: 0011
Revises: 0010
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
        "corrections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("draft_id", sa.Integer(), sa.ForeignKey("drafts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("memo_id", sa.Integer(), sa.ForeignKey("memos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("heard", sa.String(200), nullable=False),
        sa.Column("heard_key", sa.String(200), nullable=False),
        sa.Column("written", sa.String(200), nullable=False),
        sa.Column("is_name", sa.Boolean(), nullable=False),
        sa.Column("context", sa.String(400), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("draft_id", "memo_id", "author_id", "heard_key"):
        op.create_index(f"ix_corrections_{column}", "corrections", [column])
    op.create_table(
        "vocabulary",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("heard_key", sa.String(200), nullable=False),
        sa.Column("written", sa.String(200), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("author_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("heard_key", "written", "language", "author_id"),
    )
    op.create_table(
        "learned_words",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("draft_id", sa.Integer(), sa.ForeignKey("drafts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("heard", sa.String(200), nullable=False),
        sa.Column("written", sa.String(200), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("reverted", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_learned_words_draft_id", "learned_words", ["draft_id"])


def downgrade() -> None:
    op.drop_table("learned_words")
    op.drop_table("vocabulary")
    op.drop_table("corrections")
