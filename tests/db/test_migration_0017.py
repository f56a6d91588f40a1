"""Migration 0017 (decisions.basis) goes both ways, and decisions stored before it
are marked for what they were: the workstation's own notes say which were known-list
confirmations and which group propagations; everything else was assessed."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from alembic import command
from sqlalchemy import inspect, text

from db.migrate import alembic_config, upgrade
from db.models import DecisionRow
from db.store import Store
from reviewer.grading import Grading
from reviewer.model import Exposure
from reviewer.vocabulary import Severity

NOTES = [
    ("assessed", "Looked at it; the lighting is poor."),
    ("known_list", "Confirmed known match without a fresh assessment: exact MD5; list ngo v1."),
    ("propagated", "Grade confirmed from the protected group grid: near-duplicate of item #1."),
    # A moderator quoting the phrase mid-note is still their own assessment.
    ("assessed", "As the list said: Confirmed known match without a fresh assessment"),
]


def _columns(store: Store) -> set[str]:
    return {c["name"] for c in inspect(store.engine).get_columns("decisions")}


def test_0017_round_trip_marks_earlier_decisions_by_their_notes(
    store: Store, enqueue: Callable[..., list[int]]
) -> None:
    assert _columns(store) == {c.name for c in DecisionRow.__table__.columns}
    enqueue(store, len(NOTES))
    user = store.accounts.ensure_user("mod")
    expected: dict[int, str] = {}
    for basis, note in NOTES:
        claim = store.claims.claim_next(user.id)
        assert claim is not None
        store.claims.submit_decision(
            claim, Grading(severity=Severity.NOT_ILLEGAL, note=note), Exposure(), str(uuid.uuid4())
        )
        expected[claim.item.id] = basis

    command.downgrade(alembic_config(store.engine), "0017-1")
    assert "basis" not in _columns(store)
    upgrade(store.engine)
    with store.engine.connect() as conn:
        got = dict(conn.execute(text("SELECT item_id, basis FROM decisions")).all())
    assert got == expected
