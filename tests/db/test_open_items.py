"""Queue counts read open items only, through the partial indexes of migration 0013."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime

import pytest
from alembic import command
from sqlalchemy import inspect

from db.migrate import alembic_config, upgrade
from db.models import ItemRow
from db.store import Store
from reviewer.clock import FakeClock
from reviewer.grading import Grading
from reviewer.model import Exposure
from reviewer.permissions import Check, Operation
from reviewer.vocabulary import NotAssessableReason, Severity, SkipReason, Source

GRADE = Grading(
    severity=Severity.NOT_ASSESSABLE, not_assessable_reason=NotAssessableReason.TOO_SMALL
)


def _expected(
    store: Store, ids: list[int]
) -> dict[tuple[str, int], tuple[int, int, datetime | None]]:
    """(queue, priority) -> (pending, claimed, oldest pending), from each item's own view."""
    pending: Counter[tuple[str, int]] = Counter()
    claimed: Counter[tuple[str, int]] = Counter()
    oldest: dict[tuple[str, int], datetime] = {}
    for item_id in ids:
        view, status = store.items.item(item_id), store.items.item_status(item_id)
        key = (view.queue_name, view.priority)
        if status == "pending":
            pending[key] += 1
            oldest[key] = min(oldest.get(key, view.received_at), view.received_at)
        elif status == "claimed":
            claimed[key] += 1
    return {k: (pending[k], claimed[k], oldest.get(k)) for k in pending | claimed}


def test_queue_counts_hold_pending_and_claimed_items_only(
    store: Store, enqueue: Callable[..., list[int]], clock: FakeClock
) -> None:
    mod = store.accounts.ensure_user("mod")
    ids = enqueue(store, 3, queue="Alpha", tag="a")
    clock.advance(60)
    ids += enqueue(store, 2, queue="Alpha", source=Source.USER_REPORT, tag="b")
    ids += enqueue(store, 2, queue="Beta", source=Source.NGO, tag="c")
    store.items.ensure_queue("Empty")
    alpha = {q.name: q.id for q in store.items.queue_summaries()}["Alpha"]
    decided, released, held = (store.claims.claim_next(mod.id, alpha) for _ in range(3))
    assert decided and released and held
    store.claims.submit_decision(decided, GRADE, Exposure(), "token-1")
    store.claims.release(released, Exposure(), why="closed")
    skipped = store.claims.claim_next(
        mod.id, {q.name: q.id for q in store.items.queue_summaries()}["Beta"]
    )
    assert skipped is not None
    store.claims.skip(skipped, SkipReason.NEEDS_SPECIALIST, "", Exposure())

    expected = _expected(store, ids)
    assert sum(p for p, _, _ in expected.values()) == 5  # one decided, one held
    lead = store.accounts.ensure_user("lead", "lead")
    depths = store.dashboard.queue_depths(check=Check(lead.id, lead.name, Operation.DASHBOARD))
    assert [(d.queue_name, d.priority) for d in depths] == sorted(expected)
    for d in depths:
        pending, claimed, oldest = expected[(d.queue_name, d.priority)]
        assert (d.pending, d.claimed) == (pending, claimed)
        assert d.oldest_pending_at == oldest

    summaries = {q.name: q for q in store.items.queue_summaries()}
    assert sorted(summaries) == ["Alpha", "Beta", "Empty"]
    for name, q in summaries.items():
        mine = [v for (queue, _), v in expected.items() if queue == name]
        assert q.pending == sum(p for p, _, _ in mine)
        assert q.claimed == sum(c for _, c, _ in mine)
        assert q.oldest_pending_at == min((o for _, _, o in mine if o), default=None)


def _item_indexes(store: Store) -> set[str]:
    return {
        ix["name"]
        for ix in inspect(store.engine).get_indexes("items")
        if not ix.get("duplicates_constraint")  # PostgreSQL lists unique constraints too
    }


def test_items_indexes_match_the_models_and_migration_0013_goes_both_ways(
    store: Store, enqueue: Callable[..., list[int]]
) -> None:
    modelled = {ix.name for ix in ItemRow.__table__.indexes}
    assert _item_indexes(store) == modelled
    assert "ix_items_queue_pending" in modelled and "ix_items_next" not in modelled
    enqueue(store, 2)

    command.downgrade(alembic_config(store.engine), "0012")
    # (ix_items_media_id, for the media policy, came later: migration 0018.)
    at_0012 = modelled - {"ix_items_queue_pending", "ix_items_media_id"} | {"ix_items_next"}
    assert _item_indexes(store) == at_0012
    upgrade(store.engine)
    assert _item_indexes(store) == modelled
    claim = store.claims.claim_next(store.accounts.ensure_user("mod").id)
    assert claim is not None
    store.claims.submit_decision(claim, GRADE, Exposure(), "after-round-trip")
    assert [q.pending for q in store.items.queue_summaries()] == [1]


@pytest.mark.postgres_only
def test_queue_counts_reach_the_partial_indexes_under_a_generic_plan(
    store: Store, enqueue: Callable[..., list[int]]
) -> None:
    """Application connections to PostgreSQL plan every prepared statement generically
    (db/engine.py), and psycopg prepares a statement on its fifth run. A generic plan
    knows no parameter's value, so the counts reach the partial indexes (WHERE status =
    'pending' / 'claimed') only if the statuses are literals in the statement."""
    enqueue(store, 3, queue="Alpha")
    with store.engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    for _ in range(6):
        store.items.queue_summaries()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() == pid
        assert conn.exec_driver_sql("SHOW plan_cache_mode").scalar() == "force_generic_plan"
        name, types = conn.exec_driver_sql(
            "SELECT name, parameter_types FROM pg_prepared_statements"
            " WHERE statement LIKE '%%UNION ALL%%'"
        ).one()
        conn.exec_driver_sql("SET enable_seqscan = off")  # ended with the transaction
        args = f"({', '.join('NULL' for _ in types)})" if types else ""
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN EXECUTE {name}{args}"))
    assert "ix_items_pending" in plan or "ix_items_queue_pending" in plan, plan
    assert "ix_items_lease" in plan, plan


def test_the_lease_sweep_reads_the_claimed_items_index_not_every_item(
    store: Store, enqueue: Callable[..., list[int]]
) -> None:
    """The sweep for expired leases runs under the write lock once a second: it must
    reach the claimed items through their lease index (ix_items_lease), not walk every
    item ever received. Asked of the database for the very statement the sweep sends."""
    enqueue(store, 5)
    # The sweep's find, as compiled for this database (db.prepared), with the
    # parameters a sweep binds.
    find = store.claims.statements.expiry["items"][0]
    statement, bound = find.sql, find.bind(store.stamp())
    parameters = tuple(bound) if isinstance(bound, list) else bound  # sqlite3: positional
    assert "lease_expires_at <" in statement and "FROM items" in statement
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plan = "\n".join(str(r[3]) for r in rows)
            assert "SCAN items" not in plan, plan
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            rows = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            plan = "\n".join(str(r[0]) for r in rows)
    assert "ix_items_lease" in plan, plan
