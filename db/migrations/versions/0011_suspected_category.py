"""items.suspected_category: a severity hint before anyone grades the item

Revision ID: 0011
Revises: 0005
Create Date: 2026-11-25 10:00:00

What the item is expected to be (a reviewer.vocabulary.Severity value, e.g. "A"),
from the manifest (a classifier's or an NGO's suspicion), a graded known-list match or
a graded near-duplicate; NULL when nothing is known. After N Category A decisions in a
row a moderator's next claim passes by items suspected A when there is other work.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column: SQLite adds it with ALTER TABLE, no copy of items.
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suspected_category", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("suspected_category")
