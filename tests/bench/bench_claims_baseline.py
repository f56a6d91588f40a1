"""The claim path as it was before the queue's hot path was made fast: the baseline
that bench_claims.py measures the current `store.claims.claim_next` against, in the same run.

It lives with the benchmark, not in db/: the application never calls it. It is built
from the unit of work's door (its transaction, clock and audit writer) and the claims
repository's lease sweep, because that is what the old path was made of.

Not a pytest module: nothing is collected.
"""

from __future__ import annotations

from sqlalchemy import and_, exists, insert, select, update

from db.claims import claims, items, skips
from db.items import media_t, queues_t, to_view, view_columns
from db.store import Store
from db.unit_of_work import Event
from reviewer.model import Claim


def naive_claim_next(store: Store, user_id: int, lease_seconds: float = 600) -> Claim | None:
    """Sweep expired leases on every claim, pick with an UPDATE, insert the claim, write
    its id back to the item, audit, then read the item view: six statements, each built
    afresh. bench_claims.py runs it on an engine with pool_pre_ping, as make_engine
    used to default to, to report the speed-up."""
    with store.write() as conn:
        _n, events = store.claims.expire_in(conn, store.stamp())
        pick = (
            select(items.c.id)
            .where(
                items.c.status == "pending",
                ~exists().where(and_(skips.c.item_id == items.c.id, skips.c.user_id == user_id)),
            )
            .order_by(items.c.priority, items.c.received_at, items.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        row = conn.execute(
            update(items)
            .where(items.c.id == pick, items.c.status == "pending")
            .values(status="claimed", claimed_by=user_id, lease_expires_at=store.now(lease_seconds))
            .returning(items.c.id, items.c.lease_expires_at)
        ).first()
        if row is None:
            store.audit(conn, *events)
            return None
        item_id, lease_expires_at = row
        claim_id = conn.execute(
            insert(claims)
            .values(
                item_id=item_id,
                user_id=user_id,
                claimed_at=store.now(),
                expires_at=lease_expires_at,
            )
            .returning(claims.c.id)
        ).scalar_one()
        conn.execute(update(items).where(items.c.id == item_id).values(claim_id=claim_id))
        store.audit(conn, *events, Event(user_id, "claim", item_id, {"claim_id": claim_id}))
        view = (
            conn.execute(
                select(*view_columns(items))
                .join_from(items, media_t, media_t.c.id == items.c.media_id)
                .join(queues_t, queues_t.c.id == items.c.queue_id)
                .where(items.c.id == item_id)
            )
            .mappings()
            .one()
        )
        return Claim(claim_id, to_view(view), user_id, lease_expires_at)
