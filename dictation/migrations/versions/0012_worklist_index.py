"""A covering index for the worklist's sort and filters: with the memo's waveform and transcript
stored inline in its row (SQLite), sorting rows read every open memo's whole row.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = ["status", "priority", "due_at", "created_at", "author_id", "updated_at"]


def upgrade() -> None:
    op.create_index("ix_memos_worklist", "memos", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_memos_worklist", "memos")
