"""The shared queue: order, leases, skip, release, one transaction per decision."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.exc import DBAPIError

from db.store import Store
from reviewer.clock import FakeClock
from reviewer.errors import LeaseLost
from reviewer.grading import Grading, GradingInvalid
from reviewer.model import Exposure
from reviewer.vocabulary import (
    Action,
    AgeBand,
    AgeConfidence,
    ProductionContext,
    Severity,
    SkipReason,
    Source,
)

CAT_C = Grading(
    severity=Severity.C,
    age_band=AgeBand.B14_15,
    age_confidence=AgeConfidence.PROBABLE,
    production_context=ProductionContext.PEER,
    actions=frozenset({Action.REMOVE}),
)
SEEN = Exposure(seconds_revealed=4.5, reveal_count=2, max_area_fraction=1.0, full_unprotected=True)


def test_claims_follow_priority_then_age(store: Store, enqueue, clock: FakeClock) -> None:
    user = store.accounts.ensure_user("mod")
    reports = enqueue(store, 2, Source.USER_REPORT)
    clock.advance(60)
    ngo = enqueue(store, 1, Source.NGO)
    clock.advance(60)
    risk = enqueue(store, 1, Source.USER_REPORT, imminent_risk=True, tag="r")
    clock.advance(60)
    live = enqueue(store, 1, Source.LIVESTREAM)
    order = []
    while (c := store.claims.claim_next(user.id)) is not None:
        order.append(c.item.id)
    # Imminent risk jumps every queue; then livestream, NGO, user reports oldest first.
    assert order == risk + live + ngo + reports


def test_claim_respects_queue_filter(store: Store, enqueue) -> None:
    user = store.accounts.ensure_user("mod")
    enqueue(store, 2, queue="General")
    video = enqueue(store, 1, queue="Video")
    qid = next(q.id for q in store.items.queue_summaries() if q.name == "Video")
    claim = store.claims.claim_next(user.id, qid)
    assert claim is not None and claim.item.id == video[0]
    assert store.claims.claim_next(user.id, qid) is None


def test_claim_passes_by_excluded_queues(store: Store, enqueue) -> None:
    user = store.accounts.ensure_user("mod")
    restricted = enqueue(store, 1, Source.LIVESTREAM, queue="Restricted")
    general = enqueue(store, 1, Source.USER_REPORT, queue="General")
    rid = next(q.id for q in store.items.queue_summaries() if q.name == "Restricted")
    # The restricted item is more urgent, yet an "All queues" claim that excludes its
    # queue takes the general one and then finds nothing more.
    claim = store.claims.claim_next(user.id, exclude_queue_ids={rid})
    assert claim is not None and claim.item.id == general[0]
    assert store.claims.claim_next(user.id, exclude_queue_ids=[rid]) is None
    again = store.claims.claim_next(user.id)
    assert again is not None and again.item.id == restricted[0]


@pytest.mark.parametrize(
    ("by_queue", "excluding"),
    [(False, False), (True, False), (False, True)],
    ids=["all_queues", "one_queue", "excluding_a_queue"],
)
def test_avoiding_category_a_takes_other_work_before_older_more_urgent_a(
    store: Store, enqueue, clock: FakeClock, by_queue: bool, excluding: bool
) -> None:
    user = store.accounts.ensure_user("mod")
    ngo_a = enqueue(store, 2, Source.NGO, suspected=Severity.A)
    clock.advance(60)
    report_c = enqueue(store, 1, Source.USER_REPORT, suspected=Severity.C)
    clock.advance(60)
    unknown = enqueue(store, 1, Source.USER_REPORT, tag="u")
    elsewhere = enqueue(store, 1, Source.LIVESTREAM, queue="Other", suspected=Severity.B)
    queues = {q.name: q.id for q in store.items.queue_summaries()}
    qid = queues["General"] if by_queue else None
    exclude = [queues["Other"]] if excluding else []

    def claim(avoid: bool) -> int | None:
        c = store.claims.claim_next(user.id, qid, exclude_queue_ids=exclude, avoid_category_a=avoid)
        return None if c is None else c.item.id

    # Other work first, in the usual order; no hint counts as other work.
    if not (by_queue or excluding):
        assert claim(True) == elsewhere[0]
    first = claim(True)
    assert first == report_c[0]
    assert store.items.item(first).suspected_category is Severity.C
    assert claim(True) == unknown[0]
    # With no other work left, the preference gives way: Category A, oldest first.
    assert claim(True) == ngo_a[0]
    # Without the preference the usual order holds.
    assert claim(False) == ngo_a[1]
    assert claim(True) is None


def test_avoiding_category_a_falls_back_to_a_when_other_work_is_unclaimable(
    store: Store, enqueue
) -> None:
    a, b = store.accounts.ensure_user("a"), store.accounts.ensure_user("b")
    [held] = enqueue(store, 1, Source.NGO, suspected=Severity.C, tag="h")
    [skipped] = enqueue(store, 1, Source.NGO, suspected=Severity.B)
    [cat_a] = enqueue(store, 1, Source.USER_REPORT, suspected=Severity.A)
    theirs = store.claims.claim_next(b.id)
    assert theirs is not None and theirs.item.id == held
    mine = store.claims.claim_next(a.id, avoid_category_a=True)
    assert mine is not None and mine.item.id == skipped
    store.claims.skip(mine, SkipReason.CONFLICT_OF_INTEREST, "", Exposure())
    # What other work there is, this moderator skipped or someone else holds.
    fallback = store.claims.claim_next(a.id, avoid_category_a=True)
    assert fallback is not None and fallback.item.id == cat_a
    assert fallback.item.suspected_category is Severity.A


def test_imminent_risk_comes_first_even_when_avoiding_category_a(
    store: Store, enqueue, clock: FakeClock
) -> None:
    user = store.accounts.ensure_user("mod")
    [other] = enqueue(store, 1, Source.LIVESTREAM, suspected=Severity.C)
    clock.advance(60)
    [risk_a] = enqueue(store, 1, Source.USER_REPORT, imminent_risk=True, suspected=Severity.A)
    [plain_a] = enqueue(store, 1, Source.LIVESTREAM, suspected=Severity.A, tag="p")
    order = []
    while (c := store.claims.claim_next(user.id, avoid_category_a=True)) is not None:
        order.append(c.item.id)
    # A child at imminent risk outranks the moderator's preference.
    assert order == [risk_a, other, plain_a]


def test_two_moderators_never_hold_the_same_item(store: Store, enqueue) -> None:
    a, b = store.accounts.ensure_user("a"), store.accounts.ensure_user("b")
    enqueue(store, 3)
    held = [store.claims.claim_next(u.id) for u in (a, b, a, b)]
    ids = [c.item.id for c in held if c]
    assert len(ids) == 3 and len(set(ids)) == 3
    assert held[3] is None


def test_expired_lease_returns_item_and_is_audited(store: Store, enqueue, clock) -> None:
    a, b = store.accounts.ensure_user("a"), store.accounts.ensure_user("b")
    [item] = enqueue(store, 1)
    claim = store.claims.claim_next(a.id, lease_seconds=600)
    assert claim is not None
    clock.advance(599)
    assert store.claims.claim_next(b.id) is None
    clock.advance(2)
    again = store.claims.claim_next(b.id)
    assert again is not None and again.item.id == item
    kinds = [e.kind for e in store.audit_events(item_id=item)]
    assert kinds == ["item_ingested", "claim", "lease_expired", "claim"]
    # The first moderator's late decision is refused, and their viewing still recorded.
    with pytest.raises(LeaseLost):
        store.claims.submit_decision(claim, CAT_C, SEEN, str(uuid.uuid4()))
    assert store.items.decisions(item) == []
    [ledger] = store.items.exposures(item)
    assert ledger["user_id"] == a.id and ledger["seconds_revealed"] == 4.5
    assert store.audit_events(item_id=item)[-1].kind == "lease_lost"


def test_renewed_lease_does_not_expire(store: Store, enqueue, clock) -> None:
    a, b = store.accounts.ensure_user("a"), store.accounts.ensure_user("b")
    enqueue(store, 1)
    claim = store.claims.claim_next(a.id, lease_seconds=600)
    assert claim is not None
    clock.advance(500)
    renewed = store.claims.renew_lease(claim, 600)
    assert renewed.lease_expires_at > claim.lease_expires_at
    clock.advance(500)
    assert store.claims.claim_next(b.id) is None
    store.claims.submit_decision(renewed, CAT_C, SEEN, str(uuid.uuid4()))


def test_decision_stores_decision_exposure_audit_and_closes_lease(store: Store, enqueue) -> None:
    user = store.accounts.ensure_user("mod")
    [item] = enqueue(store, 1)
    claim = store.claims.claim_next(user.id)
    assert claim is not None
    receipt = store.claims.submit_decision(claim, CAT_C, SEEN, str(uuid.uuid4()))
    [d] = store.items.decisions(item)
    assert (d["severity"], d["age_band"], d["age_confidence"]) == ("C", "14-15", "probable")
    assert d["production_context"] == "fp_peer" and d["actions"] == ["remove"]
    assert d["user_id"] == user.id and d["id"] == receipt.decision_id
    [x] = store.items.exposures(item)
    assert x["reveal_count"] == 2 and x["full_unprotected"] is True
    event_ = store.audit_events(item_id=item, kind="decision")[0]
    assert event_.user_id == user.id and event_.detail["grading"]["severity"] == "C"
    assert event_.detail["exposure"]["seconds_revealed"] == 4.5
    assert store.items.item_status(item) == "decided"
    assert store.claims.claim_next(user.id) is None


def test_retried_submit_is_stored_once(store: Store, enqueue) -> None:
    user = store.accounts.ensure_user("mod")
    [item] = enqueue(store, 1)
    claim = store.claims.claim_next(user.id)
    assert claim is not None
    token = str(uuid.uuid4())
    first = store.claims.submit_decision(claim, CAT_C, SEEN, token)
    second = store.claims.submit_decision(claim, CAT_C, SEEN, token)
    assert first == second
    assert len(store.items.decisions(item)) == 1 and len(store.items.exposures(item)) == 1


@pytest.mark.parametrize("clocked", [True, False], ids=["injected-clock", "server-clock"])
def test_each_receipt_names_the_decision_row_stored(
    migrated_db_url: str, clock: FakeClock, enqueue, clocked: bool
) -> None:
    """On PostgreSQL the decision's id is drawn from the column's sequence in the
    statement and its time is the transaction's, not returned by the insert: the receipt
    must still name the row stored and the time stored with it, whichever clock."""
    store = Store.open(migrated_db_url, clock=clock if clocked else None)
    try:
        user = store.accounts.ensure_user("mod")
        items = enqueue(store, 3)
        receipts = []
        for _ in items:
            claim = store.claims.claim_next(user.id)
            assert claim is not None
            receipts.append(store.claims.submit_decision(claim, CAT_C, SEEN, str(uuid.uuid4())))
        for item, receipt in zip(items, receipts, strict=True):
            [d] = store.items.decisions(item)
            assert (d["id"], d["item_id"], d["decided_at"]) == (
                receipt.decision_id,
                receipt.item_id,
                receipt.decided_at,
            )
        assert len({r.decision_id for r in receipts}) == 3
    finally:
        store.close()


def test_a_client_token_of_another_decision_stores_nothing(store: Store, enqueue) -> None:
    """A token names one submission. Sent again with another claim (a client fault), it
    is refused whole: the second item stays held, nothing of its decision is written,
    and no receipt of the first decision is passed off as the second's."""
    user = store.accounts.ensure_user("mod")
    first_item, second_item = enqueue(store, 2)
    token = str(uuid.uuid4())
    first = store.claims.claim_next(user.id)
    assert first is not None and first.item.id == first_item
    store.claims.submit_decision(first, CAT_C, SEEN, token)
    second = store.claims.claim_next(user.id)
    assert second is not None and second.item.id == second_item
    audit_before = len(store.audit_events())
    with pytest.raises(DBAPIError, match=r"(?i)unique"):
        store.claims.submit_decision(second, CAT_C, SEEN, token)
    assert store.items.decisions(second_item) == [] and store.items.exposures(second_item) == []
    assert store.items.item_status(second_item) == "claimed"
    assert len(store.audit_events()) == audit_before
    store.claims.submit_decision(second, CAT_C, SEEN, str(uuid.uuid4()))
    assert store.items.item_status(second_item) == "decided"


def test_invalid_grading_stores_nothing(store: Store, enqueue) -> None:
    user = store.accounts.ensure_user("mod")
    [item] = enqueue(store, 1)
    claim = store.claims.claim_next(user.id)
    assert claim is not None
    with pytest.raises(GradingInvalid) as err:
        store.claims.submit_decision(claim, Grading(severity=Severity.A), SEEN, str(uuid.uuid4()))
    assert any("age band" in p for p in err.value.problems)
    assert store.items.decisions(item) == [] and store.items.exposures(item) == []
    assert store.items.item_status(item) == "claimed"


def test_crash_mid_decision_leaves_nothing_behind(store: Store, enqueue) -> None:
    """A failure after the decision row is written rolls back every part of it: here the
    database itself refuses the decision's audit event, the last write of the four."""
    user = store.accounts.ensure_user("mod")
    [item] = enqueue(store, 1)
    claim = store.claims.claim_next(user.id)
    assert claim is not None
    audit_before = len(store.audit_events())

    with power_cut_on_decision_audit(store), pytest.raises(DBAPIError, match="power cut"):
        store.claims.submit_decision(claim, CAT_C, SEEN, str(uuid.uuid4()))
    assert store.items.decisions(item) == [] and store.items.exposures(item) == []
    assert len(store.audit_events()) == audit_before
    assert store.items.item_status(item) == "claimed"
    # ...and the moderator can submit again once the fault has passed.
    store.claims.submit_decision(claim, CAT_C, SEEN, str(uuid.uuid4()))
    assert store.items.item_status(item) == "decided"


@contextmanager
def power_cut_on_decision_audit(store: Store) -> Iterator[None]:
    """A trigger that makes the database refuse every decision's audit event."""
    if store.backend == "postgresql":
        on = [
            "CREATE FUNCTION power_cut() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RAISE EXCEPTION 'power cut'; END $$",
            "CREATE TRIGGER power_cut BEFORE INSERT ON audit_events FOR EACH ROW"
            " WHEN (NEW.kind = 'decision') EXECUTE FUNCTION power_cut()",
        ]
        off = ["DROP TRIGGER power_cut ON audit_events", "DROP FUNCTION power_cut()"]
    else:
        on = [
            "CREATE TRIGGER power_cut BEFORE INSERT ON audit_events"
            " WHEN NEW.kind = 'decision' BEGIN SELECT RAISE(ABORT, 'power cut'); END"
        ]
        off = ["DROP TRIGGER power_cut"]
    with store.engine.begin() as conn:
        for sql in on:
            conn.exec_driver_sql(sql)
    try:
        yield
    finally:
        with store.engine.begin() as conn:
            for sql in off:
                conn.exec_driver_sql(sql)


def test_skip_returns_item_for_others_only(store: Store, enqueue) -> None:
    a, b = store.accounts.ensure_user("a"), store.accounts.ensure_user("b")
    [item] = enqueue(store, 1)
    claim = store.claims.claim_next(a.id)
    assert claim is not None
    store.claims.skip(claim, SkipReason.NEEDS_SPECIALIST, "needs a video specialist", Exposure())
    assert store.claims.claim_next(a.id) is None
    other = store.claims.claim_next(b.id)
    assert other is not None and other.item.id == item
    skip = store.audit_events(item_id=item, kind="skip")[0]
    assert skip.detail["reason"] == "needs_specialist" and skip.user_id == a.id


def test_release_returns_item_to_everyone(store: Store, enqueue) -> None:
    a = store.accounts.ensure_user("a")
    [item] = enqueue(store, 1)
    claim = store.claims.claim_next(a.id)
    assert claim is not None
    store.claims.release(claim, Exposure(), why="closed")
    again = store.claims.claim_next(a.id)
    assert again is not None and again.item.id == item
    assert store.audit_events(item_id=item, kind="release")[0].detail["why"] == "closed"


@pytest.mark.parametrize("how", ["skip", "release"])
def test_resending_a_skip_or_release_that_went_through_is_not_a_lost_hold(
    how: str, store: Store, enqueue
) -> None:
    """After OutcomeUnknown the screen resends: if the first one landed, that is
    success, not "your hold ran out, not stored"; someone else's claim still is."""
    a, b = store.accounts.ensure_user("a"), store.accounts.ensure_user("b")
    [item] = enqueue(store, 1)
    claim = store.claims.claim_next(a.id)
    assert claim is not None

    def send() -> None:
        if how == "skip":
            store.claims.skip(claim, SkipReason.NEEDS_SPECIALIST, "", Exposure())
        else:
            store.claims.release(claim, Exposure())

    send()
    send()
    assert len(store.audit_events(item_id=item, kind=how)) == 1
    assert store.audit_events(kind="lease_lost") == []
    released = store.claims.claim_next(b.id)
    assert released is not None and released.item.id == item
    store.claims.release(released, Exposure())
    # The same claim under another's name is not "already done".
    with pytest.raises(LeaseLost):
        store.claims.release(dataclasses.replace(claim, user_id=b.id), Exposure())


def test_queue_summary_counts_and_oldest(store: Store, enqueue, clock) -> None:
    user = store.accounts.ensure_user("mod")
    first = clock.now()
    enqueue(store, 3)
    clock.advance(30)
    store.claims.claim_next(user.id)
    [q] = store.items.queue_summaries()
    assert (q.name, q.pending, q.claimed) == ("General", 2, 1)
    assert q.oldest_pending_at is not None
    assert abs((q.oldest_pending_at - first).total_seconds()) < 1
