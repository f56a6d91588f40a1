"""Two processes claiming from one database: no item is ever held twice."""

from __future__ import annotations

import multiprocessing as mp
import uuid
from collections import Counter

from db import audit
from db.store import Store
from reviewer.grading import Grading
from reviewer.model import Exposure
from reviewer.vocabulary import NotAssessableReason, Severity

N_ITEMS = 1000
GRADE = Grading(
    severity=Severity.NOT_ASSESSABLE, not_assessable_reason=NotAssessableReason.TOO_SMALL
)


def _worker(url: str, name: str, key: bytes, out: mp.Queue) -> None:  # type: ignore[type-arg]
    # A spawned process has no test keyring: it gets the audit key from the parent.
    store = Store.open(url, migrate=False, audit_key=key)
    user = store.accounts.ensure_user(name)
    got = []
    while (claim := store.claims.claim_next(user.id, lease_seconds=600)) is not None:
        got.append(claim.item.id)
        store.claims.submit_decision(claim, GRADE, Exposure(), str(uuid.uuid4()))
    store.close()
    out.put(got)


def test_two_processes_claim_1000_items_without_a_double(db_url: str, enqueue) -> None:
    store = Store.open(db_url)
    ids = set(enqueue(store, N_ITEMS))
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [
        ctx.Process(target=_worker, args=(db_url, f"mod{i}", audit.load_key(), out))
        for i in range(2)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    claimed = Counter(i for r in results for i in r)
    assert set(claimed) == ids
    assert max(claimed.values()) == 1, "an item was claimed twice"
    assert all(results), "both processes should have got work"
    decided = Counter(d["item_id"] for d in store.items.decisions())
    assert len(decided) == N_ITEMS and max(decided.values()) == 1
    store.close()
