"""Memos by e-mail: the hash of each user's secret mail address.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("mail_token_hash", sa.String(64), nullable=True))
        batch_op.create_index("ix_users_mail_token_hash", ["mail_token_hash"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_index("ix_users_mail_token_hash")
        batch_op.drop_column("mail_token_hash")
