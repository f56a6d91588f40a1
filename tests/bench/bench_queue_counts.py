"""Benchmark: what a queue-count refresh costs as the history grows (it must not slow).

Run from the repository root:

    python tests/bench/bench_queue_counts.py [--items 200000] [--pending 2000]

Every open queue picker re-reads Store.queue_summaries every 15 s and the team lead's
dashboard re-reads DashboardRepo.queue_depths, on every workstation. Fills a database
with --items items (bench_claims.seed, then all but --pending of them marked decided
directly: a fixture, not the thing timed), then times both reads (median of 20). The
baseline is the statement as it was before migration 0013 (every item of every queue,
counted with FILTER), timed on the same data after downgrading to 0012, which puts
ix_items_next back. SQLite, then a throwaway PostgreSQL. Last line `BENCH {json}`.

Not a pytest module: no test_ names, nothing is collected.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "bench"))

from alembic import command  # noqa: E402
from bench_claims import BENCH_AUDIT_KEY, seed  # noqa: E402
from pgserver import PgServer  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from db.items import items_t as items  # noqa: E402
from db.items import queues_t  # noqa: E402
from db.migrate import alembic_config  # noqa: E402
from db.store import Store  # noqa: E402

# Store.queue_summaries before migration 0013.
BEFORE_0013 = (
    select(
        queues_t.c.id,
        queues_t.c.name,
        queues_t.c.target_minutes,
        func.count(items.c.id).filter(items.c.status == "pending"),
        func.count(items.c.id).filter(items.c.status == "claimed"),
        func.min(items.c.received_at).filter(items.c.status == "pending"),
    )
    .select_from(queues_t.outerjoin(items, items.c.queue_id == queues_t.c.id))
    .group_by(queues_t.c.id, queues_t.c.name, queues_t.c.target_minutes)
    .order_by(queues_t.c.name)
)


def median_ms(fn: Callable[[], object], n: int = 20) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times) * 1e3, 3)


def run(url: str, n_items: int, n_pending: int) -> dict[str, Any]:
    store = Store.open(url, audit_key=BENCH_AUDIT_KEY)
    try:
        seed(store, n_items, "counts")
        pg = store.engine.dialect.name == "postgresql"
        with store.engine.begin() as conn:
            decide = text("UPDATE items SET status = 'decided' WHERE id > :n")
            conn.execute(decide, {"n": n_pending})
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE items" if pg else "ANALYZE"))
        [summary] = store.items.queue_summaries()
        assert summary.pending == n_pending, summary
        now_s = median_ms(store.queue_summaries)
        now_d = median_ms(store.dashboard.queue_depths)
        command.downgrade(alembic_config(store.engine), "0012")

        def before() -> None:
            with store.engine.connect() as conn:
                conn.execute(BEFORE_0013).all()

        before_s = median_ms(before)
    finally:
        store.close()
    out = {
        "queue_summaries_ms": now_s,
        "queue_depths_ms": now_d,
        "before_0013_ms": before_s,
        "speedup": round(before_s / now_s, 1),
    }
    print(
        f"  {store.engine.dialect.name:<10} queue_summaries {now_s:7.2f} ms, queue_depths "
        f"{now_d:7.2f} ms; before 0013 {before_s:7.2f} ms ({out['speedup']}x)"
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=200_000)
    ap.add_argument("--pending", type=int, default=2_000)
    args = ap.parse_args()
    bench: dict[str, Any] = {"bench": "queue_counts", "items": args.items, "pending": args.pending}
    print(f"== {args.pending:,} pending of {args.items:,} items, median of 20 reads")
    with tempfile.TemporaryDirectory() as tmp:
        bench["sqlite"] = run(f"sqlite:///{tmp}/counts.db", args.items, args.pending)
    with PgServer() as pg:
        bench["postgresql"] = run(pg.url(), args.items, args.pending)
    print("BENCH " + json.dumps(bench, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
