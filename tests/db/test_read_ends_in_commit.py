"""Reads end in COMMIT, never in a ROLLBACK (SQLAlchemy's, or the pool's reset).

Why it matters: psycopg forgets every prepared statement of a connection on ROLLBACK.
A read between a claim and its decision (the gate asked before the item's media is
opened) then made the decision's statements parse and plan again, which under
row-level security is most of what they cost. Checked on the driver connection as
the pool takes it back, on both backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from psycopg.pq import TransactionStatus
from sign_in import admin_check
from sqlalchemy import event, select

from db.store import Store
from reviewer.permissions import Operation


def _in_transaction(dbapi_conn: Any) -> bool:
    info = getattr(dbapi_conn, "info", None)
    if info is not None and hasattr(info, "transaction_status"):  # psycopg
        return bool(info.transaction_status != TransactionStatus.IDLE)
    return bool(dbapi_conn.in_transaction)  # sqlite3


@pytest.fixture
def rollbacks(store: Store) -> Iterator[list[str]]:
    """Every ROLLBACK a connection gets: SQLAlchemy's (a transaction closed without
    COMMIT) and the pool's reset of a connection the driver still has in one."""
    seen: list[str] = []

    def on_rollback(_conn: Any) -> None:
        seen.append("transaction rolled back")

    def on_reset(dbapi_conn: Any, _record: Any, _state: Any) -> None:
        if _in_transaction(dbapi_conn):
            seen.append("returned to the pool inside a transaction")

    event.listen(store.engine, "rollback", on_rollback)
    event.listen(store.engine, "reset", on_reset)
    yield seen
    event.remove(store.engine, "rollback", on_rollback)
    event.remove(store.engine, "reset", on_reset)


def _read_door(store: Store) -> None:
    with store.read() as conn:
        conn.execute(select(1)).scalar_one()


READS: dict[str, Callable[[Store], object]] = {
    "read door": _read_door,
    "queue summaries": lambda s: s.items.queue_summaries(),
    "item count": lambda s: s.items.item_count(),
    "decisions": lambda s: s.items.decisions(),
    "audit events": lambda s: s.audit_events(),
}


@pytest.mark.parametrize("name", sorted(READS))
def test_a_read_ends_in_commit(store: Store, rollbacks: list[str], name: str) -> None:
    READS[name](store)
    assert rollbacks == []


def test_the_gate_alone_ends_in_commit(store: Store, rollbacks: list[str]) -> None:
    check = admin_check(store, Operation.WELFARE_SETTINGS)
    rollbacks.clear()  # setting up the admin
    store.authorise(check)
    assert rollbacks == []
