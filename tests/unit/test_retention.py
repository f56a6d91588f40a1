"""Retention plan: holds are never broken, everything past its period goes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewer.clock import FakeClock
from reviewer.retention_model import (
    AUDIT_KEPT,
    Disposal,
    DisposalScope,
    KeepReason,
    Kept,
    RetentionPolicy,
    RetentionRecord,
    decide,
    plan,
)
from reviewer.vocabulary import Severity

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def rec(item_id: int = 1, **kw: object) -> RetentionRecord:
    base: dict[str, object] = {
        "item_id": item_id,
        "received_at": T0,
        "decided_at": T0 + timedelta(hours=2),
        "severity": Severity.A,
        "reported": False,
        "reported_at": None,
        "legal_hold": False,
        "erasure_requested_at": None,
        "media_present": True,
        "personal_data_present": True,
    }
    base.update(kw)
    return RetentionRecord(**base)  # type: ignore[arg-type]


def reported(**kw: object) -> RetentionRecord:
    return rec(reported=True, reported_at=T0 + DAY, **kw)


# ---------------------------------------------------------------------- worked examples
def test_reported_item_held_for_the_report_period_then_deleted() -> None:
    clock = FakeClock(T0 + DAY)  # the moment of the report
    r = reported()
    clock.advance((90 * DAY - timedelta(seconds=1)).total_seconds())
    kept = decide(r, clock.now(), RetentionPolicy())
    assert isinstance(kept, Kept) and kept.reason is KeepReason.REPORT_HOLD
    assert kept.until == T0 + DAY + 90 * DAY
    clock.advance(1)
    gone = decide(r, clock.now(), RetentionPolicy())
    assert isinstance(gone, Disposal) and gone.what is DisposalScope.BOTH


def test_admin_may_extend_report_hold_to_a_year() -> None:
    year = RetentionPolicy(report_hold_days=365)
    at_200 = T0 + DAY + 200 * DAY
    assert isinstance(decide(reported(), at_200, year), Kept)
    assert isinstance(decide(reported(), at_200, RetentionPolicy()), Disposal)
    assert isinstance(decide(reported(), T0 + DAY + 365 * DAY, year), Disposal)


def test_report_hold_cannot_be_shortened_below_90_days() -> None:
    with pytest.raises(ValueError, match="at least 90"):
        RetentionPolicy(report_hold_days=30)
    with pytest.raises(ValueError):
        RetentionPolicy(non_illegal_dispose_days=-1)


def test_legal_hold_blocks_everything() -> None:
    much_later = T0 + 3000 * DAY
    for r in (
        reported(legal_hold=True),
        rec(severity=Severity.NOT_ILLEGAL, legal_hold=True),
        rec(severity=Severity.ADULT, legal_hold=True, erasure_requested_at=T0),
    ):
        out = decide(r, much_later, RetentionPolicy())
        assert isinstance(out, Kept) and out.reason is KeepReason.LEGAL_HOLD


def test_erasure_inside_report_hold_is_deferred_then_honoured() -> None:
    r = reported(erasure_requested_at=T0 + 10 * DAY)
    during = decide(r, T0 + 20 * DAY, RetentionPolicy())
    assert isinstance(during, Kept) and during.reason is KeepReason.REPORT_HOLD
    assert "erasure request deferred" in during.detail
    assert isinstance(decide(r, T0 + DAY + 90 * DAY, RetentionPolicy()), Disposal)


def test_erasure_honoured_at_once_when_nothing_holds_it() -> None:
    r = rec(severity=Severity.NOT_ILLEGAL, erasure_requested_at=T0 + DAY)
    out = decide(r, T0 + DAY, RetentionPolicy())
    assert isinstance(out, Disposal) and "Erasure requested" in out.why
    # A request stamped in the future (clock skew) is not in force yet.
    assert isinstance(decide(r, T0 + DAY - timedelta(seconds=1), RetentionPolicy()), Kept)


def test_non_illegal_items_disposed_after_period() -> None:
    decided = T0 + timedelta(hours=2)
    for sev in (Severity.NOT_ILLEGAL, Severity.ADULT):
        r = rec(severity=sev)
        early = decide(r, decided + 30 * DAY - timedelta(seconds=1), RetentionPolicy())
        assert isinstance(early, Kept) and early.reason is KeepReason.WITHIN_PERIOD
        assert early.until == decided + 30 * DAY
        late = decide(r, decided + 30 * DAY, RetentionPolicy())
        assert isinstance(late, Disposal)
        assert "no illegality shown" in late.why


def test_csea_related_not_illegal_is_not_treated_as_clean() -> None:
    r = rec(severity=Severity.NOT_ILLEGAL, csea_related=True)
    out = decide(r, T0 + 400 * DAY, RetentionPolicy())
    assert isinstance(out, Kept) and out.reason is KeepReason.NEEDS_ADMIN and out.attention


@pytest.mark.parametrize("sev", [Severity.A, Severity.B, Severity.C, Severity.NOT_ASSESSABLE])
def test_possibly_illegal_unreported_is_kept_and_flagged(sev: Severity) -> None:
    out = decide(rec(severity=sev), T0 + 400 * DAY, RetentionPolicy())
    assert isinstance(out, Kept) and out.reason is KeepReason.NEEDS_ADMIN and out.attention


def test_undecided_never_disposed_even_on_erasure_request() -> None:
    for r in (
        rec(decided_at=None, severity=None, erasure_requested_at=T0),
        rec(decided_at=T0, severity=None),
    ):
        out = decide(r, T0 + 5000 * DAY, RetentionPolicy())
        assert isinstance(out, Kept) and out.reason is KeepReason.UNDECIDED


def test_report_without_time_is_kept_and_flagged() -> None:
    out = decide(rec(reported=True, reported_at=None), T0 + 5000 * DAY, RetentionPolicy())
    assert isinstance(out, Kept) and out.reason is KeepReason.REPORT_HOLD and out.attention


def test_disposal_scope_is_what_is_present_and_audit_record_is_kept() -> None:
    clean = {"severity": Severity.ADULT}
    late = T0 + 100 * DAY
    media = decide(rec(personal_data_present=False, **clean), late, RetentionPolicy())
    personal = decide(rec(media_present=False, **clean), late, RetentionPolicy())
    nothing = decide(
        rec(media_present=False, personal_data_present=False, **clean), late, RetentionPolicy()
    )
    assert isinstance(media, Disposal) and media.what is DisposalScope.MEDIA
    assert isinstance(personal, Disposal) and personal.what is DisposalScope.PERSONAL_DATA
    assert isinstance(nothing, Kept) and nothing.reason is KeepReason.NOTHING_HELD
    assert media.audit_record_kept and AUDIT_KEPT in media.why


def test_plan_splits_and_describes() -> None:
    records = [reported(item_id=1), rec(2, severity=Severity.ADULT), rec(3, legal_hold=True)]
    p = plan(records, T0 + 40 * DAY)
    assert [d.item_id for d in p.disposals] == [2]
    assert [k.item_id for k in p.kept] == [1, 3]
    lines = p.lines()
    assert lines[0].startswith("delete both of item 2:")
    assert any(line.startswith("keep item 1 until 2026-04-06") for line in lines)


def test_bad_input_rejected() -> None:
    with pytest.raises(ValueError, match="twice"):
        plan([rec(1), rec(1)], T0)
    with pytest.raises(ValueError, match="naive"):
        plan([rec(1)], datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        rec(decided_at=datetime(2026, 1, 1))


# ---------------------------------------------------------------------- property tests
def offset(max_days: int) -> st.SearchStrategy[timedelta]:
    return st.integers(0, max_days * 86_400).map(lambda s: timedelta(seconds=s))


@st.composite
def records(draw: st.DrawFn, item_id: int) -> RetentionRecord:
    received = T0 + draw(offset(400))
    decided = draw(st.none() | offset(10).map(lambda d: received + d))
    severity = draw(st.none() | st.sampled_from(list(Severity)))
    is_reported = draw(st.booleans())
    reported_at = None
    if is_reported and decided is not None:
        reported_at = draw(st.none() | offset(5).map(lambda d: decided + d))
    erasure = draw(st.none() | offset(500).map(lambda d: received + d))
    return RetentionRecord(
        item_id=item_id,
        received_at=received,
        decided_at=decided,
        severity=severity,
        reported=is_reported,
        reported_at=reported_at,
        legal_hold=draw(st.booleans()),
        erasure_requested_at=erasure,
        media_present=draw(st.booleans()),
        personal_data_present=draw(st.booleans()),
        csea_related=draw(st.booleans()),
    )


record_lists = st.integers(1, 12).flatmap(
    lambda n: st.tuples(*(records(i) for i in range(n))).map(list)
)
policies = st.builds(
    RetentionPolicy,
    report_hold_days=st.sampled_from([90, 180, 365]),
    non_illegal_dispose_days=st.integers(0, 60),
)
nows = offset(1200).map(lambda d: T0 + d)


def hold_end(r: RetentionRecord, p: RetentionPolicy) -> datetime | None:
    return r.reported_at + timedelta(days=p.report_hold_days) if r.reported_at else None


@settings(max_examples=200, deadline=None)
@given(record_lists, nows, policies)
def test_nothing_held_is_ever_disposed(
    rs: list[RetentionRecord], now: datetime, pol: RetentionPolicy
) -> None:
    result = plan(rs, now, pol)
    by_id = {r.item_id: r for r in rs}
    assert sorted([d.item_id for d in result.disposals] + [k.item_id for k in result.kept]) == (
        sorted(by_id)
    )
    for d in result.disposals:
        r = by_id[d.item_id]
        assert not r.legal_hold
        assert r.decided_at is not None and r.severity is not None
        if r.reported:
            end = hold_end(r, pol)
            assert end is not None and now >= end
        # Only what is there, and never the audit record.
        assert r.media_present or r.personal_data_present
        if d.what is DisposalScope.MEDIA:
            assert r.media_present and not r.personal_data_present
        if d.what is DisposalScope.PERSONAL_DATA:
            assert r.personal_data_present and not r.media_present
        assert d.audit_record_kept and AUDIT_KEPT in d.why


@settings(max_examples=200, deadline=None)
@given(record_lists, nows, policies)
def test_everything_past_its_period_is_disposed(
    rs: list[RetentionRecord], now: datetime, pol: RetentionPolicy
) -> None:
    disposed = {d.item_id for d in plan(rs, now, pol).disposals}
    for r in rs:
        eligible = (
            (r.media_present or r.personal_data_present)
            and not r.legal_hold
            and r.decided_at is not None
            and r.severity is not None
        )
        if not eligible:
            assert r.item_id not in disposed
            continue
        assert r.decided_at is not None
        end = hold_end(r, pol)
        if r.reported:
            assert (r.item_id in disposed) == (end is not None and now >= end)
            continue
        asked = r.erasure_requested_at
        no_illegality = r.severity is Severity.ADULT or (
            r.severity is Severity.NOT_ILLEGAL and not r.csea_related
        )
        if asked is not None and asked <= now:
            # Erasure never destroys unreported evidence of illegal material.
            assert (r.item_id in disposed) == no_illegality
        if no_illegality and now >= r.decided_at + timedelta(days=pol.non_illegal_dispose_days):
            assert r.item_id in disposed


@settings(max_examples=150, deadline=None)
@given(record_lists, nows, offset(800), policies)
def test_disposal_is_monotonic_and_until_is_honest(
    rs: list[RetentionRecord], now: datetime, later: timedelta, pol: RetentionPolicy
) -> None:
    first = plan(rs, now, pol)
    again = {d.item_id for d in plan(rs, now + later, pol).disposals}
    # Once due, always due: a later run never keeps what an earlier one would delete.
    assert {d.item_id for d in first.disposals} <= again
    by_id = {r.item_id: r for r in rs}
    for k in first.kept:
        if k.until is not None:
            assert k.until > now
            assert isinstance(decide(by_id[k.item_id], k.until, pol), Disposal)


def test_replace_keeps_validation() -> None:
    # Records are frozen; a changed copy is validated again.
    with pytest.raises(ValueError):
        replace(rec(), reported_at=datetime(2026, 1, 1))


def test_erasure_never_destroys_unreported_illegal_material() -> None:
    r = rec(severity=Severity.A, erasure_requested_at=T0 + DAY)
    outcome = decide(r, T0 + 400 * DAY, RetentionPolicy())
    assert isinstance(outcome, Kept) and outcome.attention
