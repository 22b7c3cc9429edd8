"""A random marker per publication, set in the post so it can be found again.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("publications") as batch_op:
        batch_op.add_column(sa.Column("marker", sa.String(length=32), nullable=True))
    conn = op.get_bind()
    for (publication_id,) in conn.execute(sa.text("SELECT id FROM publications")).all():
        conn.execute(sa.text("UPDATE publications SET marker = :m WHERE id = :id"),
                     {"m": uuid.uuid4().hex, "id": publication_id})
    with op.batch_alter_table("publications") as batch_op:
        batch_op.alter_column("marker", existing_type=sa.String(length=32), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("publications") as batch_op:
        batch_op.drop_column("marker")
