"""bench_claims_floor's `Store's statements` variant claims to send, by hand, every
statement Store sends for a claim and a decision, in Store's order: the benchmark's
split of the SQLite gap into "this design's SQL" and "the Python around it" rests on
that. Both are traced on SQLite and compared statement by statement (verb and table).

The PostgreSQL set-up takes statistics of what it loaded and of nothing else: every
workstation plans its statements once for the run, on those statistics."""

from __future__ import annotations

import queue
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture
def bench_modules(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_claims
    import bench_claims_floor

    return bench_claims, bench_claims_floor


def _shape(sql: str) -> str:
    s = " ".join(sql.split()).lower()
    m = re.match(r"(select|insert into|update|begin immediate|commit|rollback|pragma)\s*(\w+)?", s)
    assert m is not None, f"unexpected statement: {s[:80]}"
    if m.group(1) == "select":
        table = re.search(r"\bfrom (\w+)", s)
        return f"select {table.group(1) if table else ''}"
    return f"{m.group(1)} {m.group(2) or ''}".strip()


def _one_cycle(traced: list[str]) -> list[str]:
    """Statements from the first BEGIN IMMEDIATE to the second COMMIT, as shapes; a
    trigger's re-report of its statement and PRAGMAs left out."""
    shapes: list[str] = []
    for sql in traced:
        shape = _shape(sql)
        if shape.startswith("pragma") or (shapes and shapes[-1] == shape):
            continue
        shapes.append(shape)
    start = shapes.index("begin immediate")
    commits = [i for i, s in enumerate(shapes) if s == "commit" and i > start]
    return shapes[start : commits[1] + 1]


def test_the_floors_store_statements_are_the_ones_store_sends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bench_modules: tuple[Any, Any]
) -> None:
    bc, floor = bench_modules
    from db.store import Store

    path = str(tmp_path / "floor.db")
    (pair,) = floor.ours_sqlite_db(path, 50, 1)
    floor_sql: list[str] = []
    connect = sqlite3.connect

    def traced_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(floor_sql.append)
        return conn

    monkeypatch.setattr(floor.sqlite3, "connect", traced_connect)
    floor.ours_sqlite_workstation(path, *pair, 0.05, queue.Queue(), True)
    monkeypatch.setattr(floor.sqlite3, "connect", connect)

    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store.open(url, audit_key=bc.BENCH_AUDIT_KEY)
    try:
        bc.seed(store, 50, "shape")
        uid = store.accounts.ensure_user("shape").id
        bc.vet(store, [uid])
    finally:
        store.close()
    store = Store.open(url, migrate=False, audit_key=bc.BENCH_AUDIT_KEY)
    try:
        bc.work_loop(store, uid, time.monotonic() + 5, bc.ours, bc.WorkerResult(), max_cycles=2)
        store_sql: list[str] = []
        store._writer.connection.driver_connection.set_trace_callback(store_sql.append)
        bc.work_loop(store, uid, time.monotonic() + 5, bc.ours, bc.WorkerResult(), max_cycles=1)
    finally:
        store.close()

    ours = _one_cycle(store_sql)
    assert "select queue_access" in ours  # the gate's read is there to be matched
    assert _one_cycle(floor_sql) == ours


@pytest.mark.postgres_only
def test_the_set_up_analyzes_only_the_tables_that_hold_rows(
    migrated_db_url: str, bench_modules: tuple[Any, Any], enqueue: Any
) -> None:
    """A table analyzed while empty is planned as empty by every workstation for the
    whole run; one never analyzed is planned as ten pages, as on a new team server."""
    _bc, floor = bench_modules
    import psycopg

    from db.store import Store

    store = Store.open(migrated_db_url)
    try:
        enqueue(store, 5)
    finally:
        store.close()
    dsn = migrated_db_url.replace("postgresql+psycopg://", "postgresql://")
    loaded = floor.analyze_what_was_loaded(dsn)
    assert {"items", "media", "queues"} <= set(loaded)
    assert not {"claims", "decisions", "exposures"} & set(loaded)
    with psycopg.connect(dsn) as c:
        rows = dict(
            c.execute(
                "select relname::text, reltuples from pg_class"
                " where relname in ('items', 'claims', 'decisions', 'exposures')"
            ).fetchall()
        )
    assert rows["items"] == 5
    assert rows["claims"] == rows["decisions"] == rows["exposures"] == -1  # never analyzed
