"""Benchmark: audit chain verification rate, signatures included.

Run from the repository root:

    python tests/bench/bench_audit.py [--events N] [--per-session N] [--baseline N]

Builds a temporary SQLite database holding N chained audit events (default 1,000,000)
the way workstations write them: one db.audit.ChainWriter per session, each with its
own Ed25519 key registered in the root chain, signing its chain every SIGN_EVERY
events and closing it with a signed event (`--per-session` events per session,
default 5,000: a long shift; a fixture, not the thing timed), then times
db.audit.verify over all of them, which checks every hash, MAC and signature (on a
SQLite file with 2+ cores it hands the later half of the writers' chains to a worker
process, as `reviewer audit verify` does). Two references measured in the same run:
the floor, plain SHA-256 over the very payload bytes verify hashes, in one process
(what one core does with no MAC, no signature, no database: `vs_sha256_floor` is
verify's rate over it), and the baseline, db.audit.verify_reference, the obvious
verifier (typed rows through SQLAlchemy one at a time, everything recomputed in
Python), timed on the first `--baseline` events and extrapolated. Prints events/s and
the ratios; the last line is `BENCH {json}` for tooling.

Not a pytest module: no test_ names, nothing is collected.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Standalone script: make the repository importable without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import text

from db import audit, audit_walk
from db.engine import make_engine
from db.migrate import upgrade

GOAL_EVENTS_PER_S = 300_000
KINDS = ("claim", "decision", "skip", "release", "lease_expired", "item_ingested")


def events(start: int, n: int, seed: int = 4) -> list[audit.NewEvent]:
    """Events shaped like the application's: claims, decisions, skips… on items."""
    rnd = random.Random(seed * 1_000_003 + start)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i in range(start, start + n):
        kind = KINDS[i % len(KINDS)]
        item = rnd.randrange(1, 200_000)
        detail: dict[str, object] = {"claim_id": i + 1}
        if kind == "decision":
            detail |= {
                "decision_id": i // 6 + 1,
                "grading": {"severity": "category_b", "actions": ["remove", "report"]},
                "exposure": {"seconds_revealed": round(rnd.random() * 9, 3), "reveal_count": 2},
            }
        elif kind == "skip":
            detail |= {"reason": "needs_specialist", "note": "Ünïcode note — ok"}
        out.append(
            audit.NewEvent(
                None,
                kind,
                item,
                detail,
                at=t0 + timedelta(seconds=i, microseconds=rnd.randrange(1_000_000)),
            )
        )
    return out


def build(url: str, n: int, per_session: int, key: bytes) -> float:
    engine = make_engine(url)
    upgrade(engine)
    t0 = time.perf_counter()
    for start in range(0, n, per_session):
        writer = audit.ChainWriter(lambda: key)  # a session: its own chain and key
        todo = events(start, min(per_session, n - start - 1))
        with engine.begin() as conn:
            writer.append(conn, todo, at=todo[0].at or datetime.now(UTC))
            writer.close(conn, at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=start))
        writer.committed()
    engine.dispose()
    return time.perf_counter() - t0


def cpu_s() -> float:
    """CPU seconds of this process and of its children that have ended (verify's
    worker is waited for before verify returns)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def sha256_floor(path: Path) -> tuple[int, float]:
    """Plain SHA-256 over every event's payload bytes (read first, untimed): events, s."""
    n, spent = 0, 0.0
    con = sqlite3.connect(path)
    try:
        rest = audit_walk.REST_SQL["sqlite"]
        cur = con.execute(f"SELECT prev_hash || {rest} FROM audit_events ORDER BY id")
        while rows := cur.fetchmany(50_000):
            payloads = [r[0].encode() for r in rows]
            sha = hashlib.sha256
            t0 = time.perf_counter()
            for p in payloads:
                sha(p).digest()
            spent += time.perf_counter() - t0
            n += len(payloads)
    finally:
        con.close()
    return n, spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the log")
    parser.add_argument(
        "--per-session", type=int, default=5_000, help="events per writer session (chain)"
    )
    parser.add_argument("--baseline", type=int, default=50_000, help="events for the baseline")
    parser.add_argument("--reps", type=int, default=3, help="timed verify runs (best is kept)")
    args = parser.parse_args()

    key = bytes(range(32))
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        path = Path(tmp) / "audit.db"
        url = f"sqlite:///{path}"
        build_s = build(url, args.events, args.per_session, key)
        size_mb = path.stat().st_size / 1e6
        engine = make_engine(url)
        with engine.connect() as conn:
            total, signed, chains = conn.execute(
                text("SELECT count(*), count(sig), count(DISTINCT chain_id) FROM audit_events")
            ).one()

        times = []
        cpu = []
        result = None
        # The garbage collector stays on: these are the figures `reviewer audit verify` gets.
        for _ in range(args.reps):
            t0, c0 = time.perf_counter(), cpu_s()
            result = audit.verify(engine, key)
            times.append(time.perf_counter() - t0)
            cpu.append(cpu_s() - c0)
        t0 = time.perf_counter()
        base = audit.verify_reference(engine, key, limit=args.baseline)
        base_s = time.perf_counter() - t0
        engine.dispose()
        floor_n, floor_s = sha256_floor(path)

    assert result is not None and result.ok and result.checked == total, result
    assert not result.unsigned, result.unsigned  # every session closed its chain
    assert base.ok and base.checked == min(args.baseline, args.events), base
    best = min(times)
    best_cpu = cpu[times.index(best)]
    median = statistics.median(times)
    rate = total / best
    base_rate = base.checked / base_s
    assert floor_n == total, (floor_n, total)
    floor_rate = floor_n / floor_s
    goal_met = rate >= GOAL_EVENTS_PER_S
    print(
        f"audit.verify over {total:,} chained events in {chains:,} chains, {signed:,} of them "
        f"signed (Ed25519, one per {audit.SIGN_EVERY} events, opening and close) "
        f"(SQLite {sqlite3.sqlite_version})"
    )
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{load_before:.2f} before / {os.getloadavg()[0]:.2f} after"
    )
    print(f"fixture: built in {build_s:.1f} s, database {size_mb:.0f} MB")
    print(
        f"verify:    best {best:.2f} s of {args.reps} ({', '.join(f'{t:.2f}' for t in times)})"
        f" -> {rate:,.0f} events/s (CPU {best_cpu:.2f} s, the worker's too);"
        f" median {total / median:,.0f} events/s"
    )
    print(
        f"reference: {base.checked:,} events in {base_s:.2f} s -> {base_rate:,.0f} events/s, "
        f"{total / base_rate:.1f} s extrapolated to {total:,}"
    )
    print(
        f"floor:     plain SHA-256 over the same {floor_n:,} payloads, one process: "
        f"{floor_s:.2f} s -> {floor_rate:,.0f} events/s; verify is {rate / floor_rate:.2f}x it"
    )
    print(
        f"speed-up {rate / base_rate:.1f}x; goal >= {GOAL_EVENTS_PER_S:,}/s: "
        f"{'met' if goal_met else 'NOT met'}"
    )
    bench = {
        "bench": "audit_verify",
        "events": total,
        "chains": chains,
        "signatures": signed,
        "sign_every": audit.SIGN_EVERY,
        "verify_s": round(best, 3),
        "verify_runs_s": [round(t, 3) for t in times],
        "verify_cpu_s": round(best_cpu, 3),
        "verify_cpu_runs_s": [round(c, 3) for c in cpu],
        "events_per_cpu_s": round(total / best_cpu),
        "events_per_s": round(rate),
        "median_events_per_s": round(total / median),
        "reference_events": base.checked,
        "reference_events_per_s": round(base_rate),
        "speedup": round(rate / base_rate, 1),
        "sha256_floor_events_per_s": round(floor_rate),
        "vs_sha256_floor": round(rate / floor_rate, 3),
        "parallel_min": audit.PARALLEL_MIN_EVENTS,
        "goal_events_per_s": GOAL_EVENTS_PER_S,
        "goal_met": goal_met,
        "build_s": round(build_s, 1),
        "db_mb": round(size_mb),
        "cpus": os.cpu_count(),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "sqlite": sqlite3.sqlite_version,
        "python": platform.python_version(),
    }
    print("BENCH " + json.dumps(bench, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
