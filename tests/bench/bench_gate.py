"""What the permission gate costs on the hot path: claim + decide, one process, with
the gate (ReviewService: the account re-read and the claim's holder checked inside each
transaction) and without it (the Store's primitives, as bench_claims drives them),
alternately in the same run, on SQLite and on a throwaway PostgreSQL.

    .venv/bin/python tests/bench/bench_gate.py [--items 3000] [--rounds 3]

Prints cycles/s for each and the ratio gated / ungated; last line `BENCH {json}`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "bench"))

import wiring  # noqa: E402
from bench_claims import BENCH_AUDIT_KEY, seed  # noqa: E402
from pgserver import PgServer  # noqa: E402
from sign_in import stored_account  # noqa: E402

from db.store import Store  # noqa: E402
from reviewer.grading import Grading  # noqa: E402
from reviewer.model import Exposure  # noqa: E402
from reviewer.vocabulary import AgeBand, AgeConfidence, ProductionContext, Severity  # noqa: E402

GRADE = Grading(
    severity=Severity.C,
    age_band=AgeBand.B14_15,
    age_confidence=AgeConfidence.PROBABLE,
    production_context=ProductionContext.PEER,
)


class NoMedia:
    def get(self, sha256: str) -> bytes:
        raise AssertionError("never decoded here")


def _cycles(step: Any, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return n / (time.perf_counter() - t0)


def run(url: str, items: int, rounds: int) -> dict[str, float]:
    store = Store.open(url, audit_key=BENCH_AUDIT_KEY)
    try:
        seed(store, items, "gate")
        acc = stored_account(store, "Bench Moderator")
        svc = wiring.session(store, NoMedia(), acc, accounts=store.accounts)

        def gated() -> None:
            claim = svc.claim_next()
            assert claim is not None
            svc.submit(claim, GRADE, Exposure(), str(uuid.uuid4()))

        def bare() -> None:
            claim = store.claims.claim_next(acc.id)
            assert claim is not None
            store.claims.submit_decision(claim, GRADE, Exposure(), str(uuid.uuid4()))

        per = items // (2 * rounds)
        with_gate, without = [], []
        for _ in range(rounds):
            without.append(_cycles(bare, per))
            with_gate.append(_cycles(gated, per))
        best_gated, best_bare = max(with_gate), max(without)
        return {
            "gated_per_s": round(best_gated, 1),
            "ungated_per_s": round(best_bare, 1),
            "ratio": round(best_gated / best_bare, 3),
        }
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bench: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        bench["sqlite"] = run(f"sqlite:///{tmp}/bench.db", args.items, args.rounds)
    with PgServer() as pg:
        bench["postgresql"] = run(pg.url(), args.items, args.rounds)
    for backend, r in bench.items():
        print(
            f"{backend:<10}: claim+decide {r['ungated_per_s']:>7.0f}/s without the gate, "
            f"{r['gated_per_s']:>7.0f}/s through it (ratio {r['ratio']:.2f})"
        )
    print("BENCH " + json.dumps(bench, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
