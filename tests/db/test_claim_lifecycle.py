"""One claim lifecycle (db.claims) for review, QA re-grades and gold: every claim opens a
claims row and leases its subject, renews both, and is closed with its outcome and a
complete exposure record, or expires and gives the subject back. Both backends."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

import pytest
from qa_helpers import SEED, account, add_items, decide_next, graded, moderator_session, qa_session
from sqlalchemy import select

from db.models import ClaimRow, ItemRow, QaSampleRow
from db.qa import QaRepo
from db.store import Store
from reviewer.accounts import AccessDenied, Role
from reviewer.clock import FakeClock
from reviewer.errors import LeaseLost
from reviewer.model import Claim, Exposure
from reviewer.qa_model import QaSettings
from reviewer.qa_service import QaService, per_user_seed
from reviewer.sampling import SamplingPolicy, golden_mix
from reviewer.vocabulary import Severity, SkipReason

EVERYTHING = QaSettings(SamplingPolicy(1.0, True, 1.0, 0), gold_rate=0.0)
# Every field of the ledger row set away from its default, so a dropped one shows.
SEEN = Exposure(
    seconds_revealed=4.5,
    reveal_count=2,
    max_area_fraction=0.5,
    full_unprotected=True,
    area_seconds=1.25,
    min_blur_step=1,
    colour_shown=True,
    least_mode="spotlight",
    stylised_seconds=0.75,
)
LEASE = 600.0

claims_t = ClaimRow.__table__
samples_t = QaSampleRow.__table__
items_t = ItemRow.__table__


@pytest.fixture
def qa(store: Store) -> QaRepo:
    return store.qa


@pytest.fixture
def people(store: Store) -> dict[str, Any]:
    return {
        "mod": account(store, "Mo Derator", Role.MODERATOR),
        "qa": account(store, "Quinn QA", Role.QA),
        "qa2": account(store, "Quentin QA", Role.QA),
        "admin": account(store, "Ad Min", Role.ADMIN),
    }


def _claim_row(store: Store, claim_id: int) -> Any:
    with store.engine.connect() as conn:
        return conn.execute(select(claims_t).where(claims_t.c.id == claim_id)).one()


def _sample_row(store: Store, claim_or_item: int, by: str = "item_id") -> Any:
    with store.engine.connect() as conn:
        return conn.execute(select(samples_t).where(samples_t.c[by] == claim_or_item)).one()


def _ledger(store: Store, claim: Claim) -> dict[str, Any]:
    [row] = [e for e in store.items.exposures(claim.item.id) if e["claim_id"] == claim.claim_id]
    return row


def _assert_complete(store: Store, claim: Claim, seen: Exposure = SEEN) -> None:
    row = _ledger(store, claim)
    assert row["user_id"] == claim.user_id
    assert {k: row[k] for k in asdict(seen)} == asdict(seen)


def _sampled(store: Store, qa: QaRepo, people: dict[str, Any], clock: FakeClock) -> int:
    QaService(qa, people["admin"], clock, SEED).set_settings(EVERYTHING)
    [item] = add_items(store, 1)
    decide_next(moderator_session(store, qa, people["mod"]), graded(Severity.C))
    return item


def test_a_qa_regrade_opens_a_claim_and_closes_it_with_a_complete_exposure(
    store, qa, people, clock
) -> None:
    item = _sampled(store, qa, people, clock)
    session = qa_session(qa, people["qa"], clock)
    claim = session.claim_next()
    assert claim is not None and claim.item.id == item
    opened = _claim_row(store, claim.claim_id)
    assert (opened.user_id, opened.item_id, opened.closed_at, opened.outcome) == (
        people["qa"].id,
        item,
        None,
        None,
    )
    sample = _sample_row(store, item)
    assert (sample.status, sample.claimed_by, sample.claim_id) == (
        "claimed",
        people["qa"].id,
        claim.claim_id,
    )
    assert sample.lease_expires_at == opened.expires_at
    # Renewing extends the sample's lease and the claims row alike.
    clock.advance(60)
    renewed = session.renew_lease(claim)
    assert renewed.lease_expires_at > claim.lease_expires_at
    assert _claim_row(store, claim.claim_id).expires_at == renewed.lease_expires_at
    assert _sample_row(store, item).lease_expires_at == renewed.lease_expires_at

    session.submit(claim, graded(Severity.C), SEEN, str(uuid.uuid4()))
    closed = _claim_row(store, claim.claim_id)
    assert closed.outcome == "qa_graded" and closed.closed_at is not None
    _assert_complete(store, claim)
    sample = _sample_row(store, item)
    assert (sample.status, sample.claimed_by, sample.lease_expires_at) == ("agreed", None, None)
    [event] = store.audit_events(item, kind="qa_grade")
    assert event.detail["exposure"] == asdict(SEEN)


@pytest.mark.parametrize("how", ["release", "skip"])
def test_a_qa_release_or_skip_closes_the_claim_and_gives_the_sample_back(
    store, qa, people, clock, how: str
) -> None:
    item = _sampled(store, qa, people, clock)
    session = qa_session(qa, people["qa"], clock)
    claim = session.claim_next()
    assert claim is not None
    if how == "skip":
        session.skip(claim, SkipReason.CONFLICT_OF_INTEREST, "", SEEN)
    else:
        session.release(claim, SEEN)
    assert _claim_row(store, claim.claim_id).outcome == ("skipped" if how == "skip" else "released")
    _assert_complete(store, claim)
    sample = _sample_row(store, item)
    assert (sample.status, sample.claimed_by, sample.claim_id) == ("pending", None, None)
    # Released: another QA reviewer may take it; skipped: still, only not this one.
    other = qa_session(qa, people["qa2"], clock).claim_next()
    assert other is not None and other.item.id == item


def test_an_expired_qa_claim_is_closed_and_its_sample_goes_back(store, qa, people, clock) -> None:
    item = _sampled(store, qa, people, clock)
    holder = qa_session(qa, people["qa"], clock)
    stale = holder.claim_next()
    assert stale is not None
    clock.advance(LEASE * 10)  # far past any lease
    taker = qa_session(qa, people["qa2"], clock).claim_next()
    assert taker is not None and taker.item.id == item
    expired = _claim_row(store, stale.claim_id)
    assert expired.outcome == "expired" and expired.closed_at is not None
    [event] = store.audit_events(item, kind="lease_expired")
    sample = _sample_row(store, taker.claim_id, by="claim_id")
    assert event.user_id == people["qa"].id
    assert event.detail == {"claim_id": stale.claim_id, "sample_id": sample.id}
    # The first holder, coming back late, stores nothing and is told so; what they saw
    # still counts (the ledger row of their claim, every field).
    with pytest.raises(LeaseLost, match="QA queue"):
        holder.submit(stale, graded(Severity.C), SEEN, str(uuid.uuid4()))
    _assert_complete(store, stale)
    assert _claim_row(store, taker.claim_id).closed_at is None


def test_another_qa_reviewer_cannot_renew_or_close_someone_elses_sample_claim(
    store, qa, people, clock
) -> None:
    item = _sampled(store, qa, people, clock)
    claim = qa_session(qa, people["qa"], clock).claim_next()
    assert claim is not None
    intruder = qa_session(qa, people["qa2"], clock)
    for attempt in (
        lambda: intruder.renew_lease(claim),
        lambda: intruder.submit(claim, graded(Severity.NOT_ILLEGAL), Exposure(), "x"),
        lambda: intruder.release(claim, Exposure()),
    ):
        with pytest.raises((AccessDenied, LeaseLost)):
            attempt()
    assert _claim_row(store, claim.claim_id).closed_at is None
    assert _sample_row(store, item).claimed_by == people["qa"].id


def test_a_gold_serve_is_a_claim_like_any_other(store, qa, people, clock) -> None:
    QaService(qa, people["admin"], clock, SEED).set_settings(
        QaSettings(SamplingPolicy(0.0, False, 0.0, 0), gold_rate=0.5)
    )
    [gold_item] = add_items(store, 1, tag="gold", synthetic=True)
    add_items(store, 20)
    QaService(qa, people["admin"], clock, SEED).mark_gold(gold_item, graded(Severity.C))
    mod = people["mod"]
    session = moderator_session(store, qa, mod)
    mix = golden_mix(per_user_seed(SEED, mod.id), 0.5)
    # Decide ordinary items until the mix serves gold (the serve number it names).
    first_gold = next(n for n in range(20) if mix.is_gold(n))
    for _ in range(first_gold):
        decide_next(session, graded(Severity.NOT_ILLEGAL))
    claim = session.claim_next()
    assert claim is not None and qa.is_gold_item(claim.item.id)
    opened = _claim_row(store, claim.claim_id)
    assert (opened.user_id, opened.item_id, opened.closed_at) == (mod.id, claim.item.id, None)
    with store.engine.connect() as conn:
        served = conn.execute(select(items_t).where(items_t.c.id == claim.item.id)).one()
    assert (served.status, served.claimed_by, served.claim_id) == (
        "claimed",
        mod.id,
        claim.claim_id,
    )
    assert served.lease_expires_at == opened.expires_at == claim.lease_expires_at
    session.submit(claim, graded(Severity.C), SEEN, str(uuid.uuid4()))
    assert _claim_row(store, claim.claim_id).outcome == "decided"
    _assert_complete(store, claim)
    assert store.items.item_status(claim.item.id) == "decided"
