"""How many items wait and are being worked on, per queue (and priority).

Read through the partial indexes that hold open items only (migration 0013):
ix_items_queue_pending for the pending ones, ix_items_lease for the claimed ones. So a
queue picker or dashboard refresh costs what the queues hold now, not every item ever
received; open screens on every workstation re-read this every few seconds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, literal, literal_column, null, select, union_all
from sqlalchemy.sql.elements import ColumnClause

from db.models import ItemRow

items = ItemRow.__table__
# The statuses as SQL literals, not bound parameters: a partial index (WHERE status =
# 'pending') serves only a query naming that constant, and a generic plan (every
# prepared statement on PostgreSQL, db/engine.py) does not know a parameter's value.
PENDING: ColumnClause[str] = literal_column("'pending'")
CLAIMED: ColumnClause[str] = literal_column("'claimed'")


def _aware(value: Any) -> datetime | None:
    """A UTC datetime from an aggregate (SQLite aggregates lose the column type)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is None:
        return None
    stamp: datetime = value
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


@dataclass
class OpenCounts:
    pending: int = 0
    claimed: int = 0
    oldest_pending_at: datetime | None = None


def open_counts(conn: Connection, by_priority: bool) -> dict[tuple[int, ...], OpenCounts]:
    """Counts keyed by (queue_id,) or (queue_id, priority); only keys with open items."""
    keys = [items.c.queue_id, items.c.priority] if by_priority else [items.c.queue_id]
    # One statement, so both counts come from one snapshot (an item that moves from
    # pending to claimed meanwhile is counted once), each part on its partial index.
    pending = (
        select(*keys, literal("pending"), func.count(), func.min(items.c.received_at))
        .where(items.c.status == PENDING)
        .group_by(*keys)
    )
    claimed = (
        select(*keys, literal("claimed"), func.count(), null())
        .where(items.c.status == CLAIMED)
        .group_by(*keys)
    )
    out: defaultdict[tuple[int, ...], OpenCounts] = defaultdict(OpenCounts)
    for *key, status, n, oldest in conn.execute(union_all(pending, claimed)):
        counts = out[tuple(int(k) for k in key)]
        if status == "pending":
            counts.pending, counts.oldest_pending_at = int(n), _aware(oldest)
        else:
            counts.claimed = int(n)
    return dict(out)
