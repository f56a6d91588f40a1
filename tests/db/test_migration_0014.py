"""Migration 0014 (the QA sampling outbox) goes both ways: after it, every decision is
queued for the sampler in its own transaction (a trigger, so any path that inserts a
decision is covered); downgraded, the table and trigger are gone; upgraded again,
decisions from before are not queued anew."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from alembic import command
from sqlalchemy import inspect, select

from db.migrate import alembic_config, upgrade
from db.models import QaSamplingDueRow
from db.store import Store
from reviewer.grading import Grading
from reviewer.model import Exposure
from reviewer.vocabulary import Severity

due = QaSamplingDueRow.__table__


def _decide(store: Store, user_id: int) -> int:
    claim = store.claims.claim_next(user_id)
    assert claim is not None
    grade = Grading(severity=Severity.NOT_ILLEGAL)
    return store.claims.submit_decision(claim, grade, Exposure(), str(uuid.uuid4())).decision_id


def _queued(store: Store) -> list[int]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(due.c.decision_id).order_by(due.c.decision_id)).scalars())


def test_0014_round_trip(store: Store, enqueue: Callable[..., list[int]]) -> None:
    enqueue(store, 2)
    user = store.accounts.ensure_user("mod")
    first = _decide(store, user.id)
    assert _queued(store) == [first]  # the trigger, in the decision's transaction

    # (Below 0014 the Store of today cannot write: later revisions add what it needs.)
    command.downgrade(alembic_config(store.engine), "0014-1")
    assert "qa_sampling_due" not in inspect(store.engine).get_table_names()

    upgrade(store.engine)
    assert _queued(store) == []  # earlier decisions are not queued anew
    third = _decide(store, user.id)
    assert _queued(store) == [third]
