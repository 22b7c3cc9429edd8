"""What the publish tab keeps per draft: which of slug, excerpt and tags were set by hand (the
others follow the title and body), which low-confidence words someone has looked at, and the
featured image (a file of the media store).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("drafts") as batch_op:
        batch_op.add_column(sa.Column("manual_fields", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("looked_at", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("featured_image_sha256", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("featured_image_mime", sa.String(50), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drafts") as batch_op:
        batch_op.drop_column("featured_image_mime")
        batch_op.drop_column("featured_image_sha256")
        batch_op.drop_column("looked_at")
        batch_op.drop_column("manual_fields")
