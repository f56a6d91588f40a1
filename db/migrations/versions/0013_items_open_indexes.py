"""per-queue claim index holds pending items only (a claim scans only what it may take)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22 21:00:00

ix_items_next (queue_id, status, priority, received_at, id) held every item ever
received, and status sat inside its key, so each claim moved an entry (pending ->
claimed) and each decision moved it again (claimed -> decided): two index writes per
state change on the hottest table, and an index that grows with the whole history.
ix_items_queue_pending holds pending items only, in claim order per queue: a claim
removes one entry, a decision touches it not at all, and it stays as small as the
queue. Queue summaries now read pending and claimed items through the partial indexes
instead of scanning every item a queue ever had.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_index(
        "ix_items_queue_pending",
        "items",
        ["queue_id", "priority", "received_at", "id"],
        unique=False,
        postgresql_where=_PENDING,
        sqlite_where=_PENDING,
    )
    op.drop_index("ix_items_next", table_name="items")


def downgrade() -> None:
    op.create_index(
        "ix_items_next", "items", ["queue_id", "status", "priority", "received_at", "id"]
    )
    op.drop_index(
        "ix_items_queue_pending",
        table_name="items",
        postgresql_where=_PENDING,
        sqlite_where=_PENDING,
    )
