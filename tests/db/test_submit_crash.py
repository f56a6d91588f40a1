"""A workstation process dies at every statement of a submit, the QA sampling included.

Each trial spawns a moderator's process that claims an item and submits a grading the
policy must always sample (age confidence Uncertain), with a tripwire that calls
os._exit (no clean-up, no rollback, no COMMIT: as kill -9) just before its n-th
database statement or COMMIT; trial n+1 dies one statement later, until a trial gets
through. After every trial the database must hold each decision whole (exposure,
audit event, item decided, claim closed) or not at all, never twice, and every
decision must have its QA sample or be waiting in the sampling outbox; the trial that
gets through works the outbox off, so at the end every decision has its sample.
Abandoned leases come back when they run out, and the audit chain still verifies.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import uuid
from multiprocessing.connection import Connection
from typing import Any

import wiring
from qa_helpers import SEED, NoMedia, account
from sqlalchemy import event, func, select

import db.claims
import db.engine
import db.prepared
import db.unit_of_work
from db import audit
from db.models import ClaimRow, DecisionRow, QaSampleRow, QaSamplingDueRow
from db.store import Store
from reviewer.accounts import Account, Role
from reviewer.clock import SystemClock
from reviewer.grading import Grading
from reviewer.model import Claim, Exposure, NewItem
from reviewer.qa_model import QaSettings
from reviewer.qa_service import QaService
from reviewer.sampling import Sampler, SamplingPolicy
from reviewer.vocabulary import AgeBand, AgeConfidence, ProductionContext, Severity, Source

# Nothing random, gold off: a decision is sampled exactly when its age is uncertain.
MANDATORY_ONLY = QaSettings(SamplingPolicy(0.0, True, 0.0, 0), gold_rate=0.0)
UNCERTAIN = Grading(
    severity=Severity.C,
    age_band=AgeBand.B16_17,
    age_confidence=AgeConfidence.UNCERTAIN,
    production_context=ProductionContext.UNKNOWN,
)
SEEN = Exposure(2.0, 1, 0.5, False, 1.0, 3, True, "spotlight")
LEASE_S = 3.0
MAX_STEPS = 60  # a submit is far fewer statements; a runaway loop fails instead


class _Tripwire:
    """Counts statements and COMMITs; the n-th one never happens: the process is gone."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.n = 0

    def step(self, *_args: Any, **_kwargs: Any) -> None:
        self.n += 1
        if self.n == self.at:
            os._exit(9)


def _arm(store: Store, wire: _Tripwire) -> None:
    # Core statements, and COMMIT (the event fires before it is sent)...
    event.listen(store.engine, "before_cursor_execute", wire.step)
    event.listen(store.engine, "commit", wire.step)

    # ...and the queue path's, run on the driver's connection (db.prepared): one at a
    # time, a batch in one pipeline, and the audit event sent with COMMIT (on
    # PostgreSQL; the commit event then fires after it).
    def tripping(real: Any) -> Any:
        def tripped(*args: Any, **kwargs: Any) -> Any:
            wire.step()
            return real(*args, **kwargs)

        return tripped

    for module, name in (
        (db.prepared, "execute_driver_sql"),
        (db.prepared, "run_steps"),  # a single Prepared statement on PostgreSQL
        (db.engine, "execute_driver_sql"),
        (db.claims, "run_steps"),
        (db.unit_of_work, "commit_with"),
    ):
        setattr(module, name, tripping(getattr(module, name)))


def _moderator(url: str, key: bytes, acc: Account, at: int, out: Connection) -> None:
    store = Store.open(url, migrate=False, audit_key=key)
    session = wiring.session(
        store,
        NoMedia(),
        acc,
        review_service=wiring.calibrated(store.qa, SEED),
        lease_seconds=LEASE_S,
    )
    claim = session.claim_next()
    assert claim is not None
    token = str(uuid.uuid4())
    out.send(("claimed", claim, token))  # a pipe: sent before the tripwire can fire
    wire = _Tripwire(at)
    _arm(store, wire)
    receipt = session.submit(claim, UNCERTAIN, SEEN, token)
    out.send(("done", receipt.decision_id, wire.n))
    os._exit(0)


def _count(store: Store, q: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def _check_whole(store: Store) -> dict[str, int]:
    """Every decision whole and once, and its sample taken or queued; returns counts."""
    decisions = store.items.decisions()
    item_ids = [d["item_id"] for d in decisions]
    assert len(item_ids) == len(set(item_ids)), "an item was decided twice"
    with store.engine.connect() as conn:
        sampled = set(conn.execute(select(QaSampleRow.decision_id)).scalars())
        queued = set(conn.execute(select(QaSamplingDueRow.decision_id)).scalars())
        rows = conn.execute(select(ClaimRow.id, ClaimRow.outcome)).all()
        closed = {claim_id: outcome for claim_id, outcome in rows}
    audited = {e.detail["decision_id"] for e in store.audit_events(kind="decision")}
    for d in decisions:
        assert store.items.item_status(d["item_id"]) == "decided"
        assert closed.get(d["claim_id"]) == "decided"
        [seen] = [e for e in store.items.exposures(d["item_id"]) if e["claim_id"] == d["claim_id"]]
        assert (seen["area_seconds"], seen["least_mode"]) == (1.0, "spotlight")
        assert d["id"] in audited, "a decision without its audit event"
        assert d["id"] in sampled or d["id"] in queued, "a mandatory sample was lost"
    assert len(audited) == len(decisions), "an audit event without its decision"
    return {"decisions": len(decisions), "queued": len(queued - sampled)}


def test_a_kill_at_any_statement_of_a_submit_loses_nothing(db_url: str) -> None:
    store = Store.open(db_url)
    key = audit.load_key()
    mod = account(store, "mod", Role.MODERATOR)
    admin = account(store, "admin", Role.ADMIN)
    QaService(store.qa, admin, SystemClock(), SEED).set_settings(MANDATORY_ONLY)
    item_ids = []
    for i in range(MAX_STEPS):
        sha = f"{i:064x}"
        store.items.add_media(sha, 100, "JPEG", 10, 10, None)
        item_ids.append(store.items.add_item(NewItem("General", Source.CLASSIFIER, sha, sha))[0])
    ctx = mp.get_context("spawn")
    states: set[str] = set()
    finished = None
    for at in range(1, MAX_STEPS):
        got, out = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_moderator, args=(db_url, key, mod, at, out))
        proc.start()
        out.close()
        assert got.poll(120), f"trial {at}: the moderator's process never claimed"
        _, claim, token = got.recv()
        proc.join(timeout=120)
        assert proc.exitcode in (0, 9), f"trial {at}: exit code {proc.exitcode}"
        counts = _check_whole(store)
        if proc.exitcode == 0:
            finished = (at, got.recv())
            break
        stored = store.items.decisions(claim.item.id)
        if not stored:
            states.add("decision not stored")
        elif counts["queued"]:
            states.add("decision stored, sampling queued")
            _retry_finds_the_receipt(store, claim, token, stored[0]["id"])
        else:
            states.add("decision stored and sampled")
        # The next workstation's submit works the outbox off: here, so that every trial
        # has the same statements to die in.
        store.qa.sample_due(Sampler(MANDATORY_ONLY.policy, SEED))
        assert _check_whole(store)["queued"] == 0
    assert finished is not None, f"no trial got through {MAX_STEPS} statements"
    # Died before the decision's COMMIT, and between it and the sampling's COMMIT.
    assert {"decision not stored", "decision stored, sampling queued"} <= states, states
    counts = _check_whole(store)
    assert counts["queued"] == 0
    assert _count(store, select(func.count()).select_from(QaSamplingDueRow)) == 0
    assert _count(store, select(func.count()).select_from(QaSampleRow)) == counts["decisions"]
    # Leases of the processes that died before COMMIT run out and come back.
    time.sleep(LEASE_S + 0.5)
    store.claims.expire_leases()
    assert (
        _count(
            store, select(func.count()).select_from(ClaimRow).where(ClaimRow.closed_at.is_(None))
        )
        == 0
    )
    with store.engine.connect() as conn:
        decided = set(conn.execute(select(DecisionRow.item_id)).scalars())
    for i in item_ids:
        assert store.items.item_status(i) == ("decided" if i in decided else "pending")
    assert store.verify_audit().ok
    store.close()


def _retry_finds_the_receipt(store: Store, claim: Claim, token: str, decision_id: int) -> None:
    """The moderator's workstation comes back and resends the grading it kept."""
    receipt = store.claims.submit_decision(claim, UNCERTAIN, SEEN, token)
    assert receipt.decision_id == decision_id
    assert len(store.items.decisions(claim.item.id)) == 1
