"""What could not be decoded of a memo: decode gaps and the header's stated length.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("memos") as batch_op:
        batch_op.add_column(sa.Column("stated_duration_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("decode_gaps", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("memos") as batch_op:
        batch_op.drop_column("decode_gaps")
        batch_op.drop_column("stated_duration_s")
