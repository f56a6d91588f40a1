"""index for claiming across all queues (claims stay fast as the history grows)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:00:00

claim_next without a queue orders every pending item by (priority, received_at, id).
ix_items_next leads with queue_id, so that pick had to sort all pending rows on every
claim (tens of milliseconds at 100k items); this partial index serves it in order and
holds only pending rows, so it stays small however long the history grows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_items_pending",
        "items",
        ["priority", "received_at", "id"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_items_pending",
        table_name="items",
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
