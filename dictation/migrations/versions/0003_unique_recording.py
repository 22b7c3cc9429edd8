"""One memo per recording per author: closes the race of two identical uploads at once.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("memos") as batch_op:
        batch_op.create_unique_constraint("uq_memo_recording", ["author_id", "media_sha256"])


def downgrade() -> None:
    with op.batch_alter_table("memos") as batch_op:
        batch_op.drop_constraint("uq_memo_recording", type_="unique")
