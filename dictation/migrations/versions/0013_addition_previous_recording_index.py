"""An index on the recording a memo had before each addition: every upload whose bytes no memo
has looks there (a re-sent original is the memo it was joined into), and so does every removal
of a stored file.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_memo_additions_previous_sha256", "memo_additions", ["previous_sha256"])


def downgrade() -> None:
    op.drop_index("ix_memo_additions_previous_sha256", "memo_additions")
