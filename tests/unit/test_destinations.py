"""Reporting rules by destination: due times, overdue, the exemption, per-destination
holds (the longest wins) and legal holds over all of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewer.destinations import (
    DEFAULT_RULES,
    AlreadyReported,
    Destination,
    DestinationRules,
    DueState,
    Priority,
    PriorityTooLow,
    PriorReport,
    check_priority,
    covering_report,
    describe_due,
    due_at,
    due_state,
    refuse_duplicate,
    report_hold_until,
    suggested_priority,
)
from reviewer.retention_model import (
    Disposal,
    KeepReason,
    Kept,
    RetentionPolicy,
    RetentionRecord,
    decide,
)
from reviewer.vocabulary import Severity

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
NCA, NCMEC = Destination.NCA, Destination.NCMEC
RULES = DestinationRules()


# ------------------------------------------------------------------------ defaults
def test_cybertipline_holds_one_year_by_default_and_the_nca_names_ncmec_as_exempting() -> None:
    assert DEFAULT_RULES[NCMEC].report_hold_days == 365  # 18 U.S.C. 2258A(h)(1), REPORT Act
    assert DEFAULT_RULES[NCA].exempt_if_reported_to == {NCMEC}
    assert DEFAULT_RULES[NCMEC].exempt_if_reported_to == frozenset()
    assert DEFAULT_RULES[NCA].time_frame(Priority.LEVEL_1) == timedelta(hours=1)


def test_rules_round_trip_through_json_and_refuse_bad_values() -> None:
    changed = RULES.changed(NCA, report_hold_days=730, time_frames_hours={1: 0.5, 2: 12, 3: 48})
    again = DestinationRules.from_json(changed.to_json())
    assert again == changed and again[NCA].report_hold_days == 730
    assert DestinationRules.from_json(None) == RULES
    with pytest.raises(ValueError, match="at least 90"):
        RULES.changed(NCMEC, report_hold_days=89)
    with pytest.raises(ValueError, match="not shorter for a lower level"):
        RULES.changed(NCA, time_frames_hours={1: 24, 2: 1, 3: 72})  # level 1 slower than 2
    with pytest.raises(ValueError, match="levels"):
        RULES.changed(NCA, time_frames_hours={1: 1, 2: 24})
    with pytest.raises(ValueError, match="reference"):
        RULES.changed(NCA, reference_keep_days=100)  # shorter than the 365-day hold
    with pytest.raises(ValueError):
        DestinationRules.from_json({"destinations": {"interpol": {}}})


# ------------------------------------------------------------------ priority and due
def test_an_urgent_escalation_is_level_1_and_cannot_be_lowered() -> None:
    assert suggested_priority(True, False, False) is Priority.LEVEL_1
    assert suggested_priority(False, True, False) is Priority.LEVEL_2
    assert suggested_priority(False, False, True) is Priority.LEVEL_2
    assert suggested_priority(False, False, False) is Priority.LEVEL_3
    with pytest.raises(PriorityTooLow):
        check_priority(Priority.LEVEL_2, urgent=True)
    assert check_priority(Priority.LEVEL_1, urgent=True) is Priority.LEVEL_1
    assert check_priority(Priority.LEVEL_3, urgent=False) is Priority.LEVEL_3


def test_due_time_follows_destination_and_level() -> None:
    assert due_at(RULES, NCA, Priority.LEVEL_1, T0) == T0 + timedelta(hours=1)
    assert due_at(RULES, NCA, Priority.LEVEL_3, T0) == T0 + timedelta(hours=72)
    assert due_at(RULES, NCMEC, Priority.LEVEL_3, T0) == T0 + timedelta(hours=24)
    with pytest.raises(ValueError, match="naive"):
        due_at(RULES, NCA, Priority.LEVEL_1, T0.replace(tzinfo=None))


def test_due_overdue_and_sent_states_and_their_text() -> None:
    due = T0 + timedelta(hours=24)
    assert due_state(due, None, T0) is DueState.DUE
    assert describe_due(due, None, T0) == "due in 1 d 0 h"
    assert due_state(due, None, due - timedelta(minutes=45)) is DueState.DUE_SOON
    assert describe_due(due, None, due - timedelta(minutes=45)) == "due in 45 min"
    # The deadline itself is already too late.
    assert due_state(due, None, due) is DueState.OVERDUE
    late = due + timedelta(hours=3, minutes=5)
    assert describe_due(due, None, late) == "OVERDUE by 3 h 05 min"
    # Sent: never overdue afterwards, however late it is now.
    assert due_state(due, due - DAY, late + 100 * DAY) is DueState.SENT
    assert describe_due(due, T0, late) == "sent 2026-05-04 09:00"


# ------------------------------------------------------------------------ exemption
def test_a_report_to_ncmec_covers_the_nca_but_not_the_other_way_round() -> None:
    to_ncmec = PriorReport(NCMEC, "NCMEC-1", T0)
    assert covering_report(RULES, NCA, [to_ncmec]) == to_ncmec
    with pytest.raises(AlreadyReported, match="need not be reported to NCA"):
        refuse_duplicate(RULES, NCA, [to_ncmec])
    # The US duty stands on its own: a UK report does not cover the CyberTipline.
    assert covering_report(RULES, NCMEC, [PriorReport(NCA, "NCA-1", T0)]) is None
    # Built but not sent yet counts too: it is on its way.
    built = PriorReport(NCMEC, "NCMEC-2", None)
    with pytest.raises(AlreadyReported, match="built, not yet sent"):
        refuse_duplicate(RULES, NCA, [built])


def test_the_same_destination_is_never_reported_twice() -> None:
    for d in Destination:
        with pytest.raises(AlreadyReported, match="not built again"):
            refuse_duplicate(RULES, d, [PriorReport(d, "X-1", None)])
    refuse_duplicate(RULES, NCA, [])  # nothing before: fine


def test_an_admin_can_turn_the_exemption_off_but_never_allow_the_same_destination_twice() -> None:
    no_exemption = RULES.changed(NCA, exempt_if_reported_to=frozenset())
    assert covering_report(no_exemption, NCA, [PriorReport(NCMEC, "N-1", T0)]) is None
    with pytest.raises(AlreadyReported):
        refuse_duplicate(no_exemption, NCA, [PriorReport(NCA, "A-1", T0)])


# ---------------------------------------------------------------- retention per destination
def rec(**kw: object) -> RetentionRecord:
    base: dict[str, object] = {
        "item_id": 1,
        "received_at": T0,
        "decided_at": T0 + timedelta(hours=1),
        "severity": Severity.A,
        "reported": True,
        "reported_at": None,
        "legal_hold": False,
        "erasure_requested_at": None,
        "media_present": True,
        "personal_data_present": True,
    }
    base.update(kw)
    return RetentionRecord(**base)  # type: ignore[arg-type]


def test_a_cybertipline_report_holds_a_year_not_90_days() -> None:
    r = rec(sent_reports=((NCMEC, T0),), reported_at=T0)
    kept = decide(r, T0 + 364 * DAY, RetentionPolicy())
    assert isinstance(kept, Kept) and kept.reason is KeepReason.REPORT_HOLD
    assert kept.until == T0 + 365 * DAY and "NCMEC CyberTipline" in kept.detail
    assert isinstance(decide(r, T0 + 365 * DAY, RetentionPolicy()), Disposal)


def test_the_nca_period_is_a_setting_and_followed() -> None:
    policy = RetentionPolicy(destinations=RULES.changed(NCA, report_hold_days=730))
    r = rec(sent_reports=((NCA, T0),), reported_at=T0)
    kept = decide(r, T0 + 729 * DAY, policy)
    assert isinstance(kept, Kept) and kept.until == T0 + 730 * DAY
    assert isinstance(decide(r, T0 + 730 * DAY, policy), Disposal)


def test_the_longest_hold_wins_whatever_the_order_of_the_reports() -> None:
    policy = RetentionPolicy(destinations=RULES.changed(NCA, report_hold_days=180))
    # NCA sent first (180 days), CyberTipline a month later (365 days): the latter ends last.
    sent = ((NCA, T0), (NCMEC, T0 + 30 * DAY))
    for order in (sent, sent[::-1]):
        r = rec(sent_reports=order, reported_at=T0)
        kept = decide(r, T0 + 300 * DAY, policy)
        assert isinstance(kept, Kept) and kept.until == T0 + 395 * DAY, order
        assert "NCMEC CyberTipline" in kept.detail
        assert isinstance(decide(r, T0 + 395 * DAY, policy), Disposal)


def test_a_legal_hold_outlasts_every_report_hold_and_an_erasure_request() -> None:
    r = rec(
        sent_reports=((NCMEC, T0),),
        reported_at=T0,
        legal_hold=True,
        erasure_requested_at=T0 + DAY,
    )
    for days in (1, 365, 366, 5000):
        kept = decide(r, T0 + days * DAY, RetentionPolicy())
        assert isinstance(kept, Kept) and kept.reason is KeepReason.LEGAL_HOLD


def test_erasure_inside_a_destination_hold_waits_for_its_end() -> None:
    r = rec(sent_reports=((NCMEC, T0),), reported_at=T0, erasure_requested_at=T0 + DAY)
    kept = decide(r, T0 + 100 * DAY, RetentionPolicy())
    assert isinstance(kept, Kept) and "erasure request deferred" in kept.detail


@settings(max_examples=200, deadline=None)
@given(
    holds=st.lists(
        st.tuples(st.sampled_from(list(Destination)), st.integers(0, 2000)), min_size=1, max_size=5
    ),
    nca_days=st.integers(90, 3650),
    ncmec_days=st.integers(90, 3650),
    probe=st.integers(0, 6000),
)
def test_nothing_reported_is_ever_disposed_of_before_its_longest_hold_ends(
    holds: list[tuple[Destination, int]], nca_days: int, ncmec_days: int, probe: int
) -> None:
    rules = RULES.changed(NCA, report_hold_days=nca_days, reference_keep_days=nca_days)
    rules = rules.changed(NCMEC, report_hold_days=ncmec_days, reference_keep_days=ncmec_days)
    sent = tuple((d, T0 + n * DAY) for d, n in holds)
    r = rec(sent_reports=sent, reported_at=min(at for _, at in sent))
    end = report_hold_until(rules, sent)
    assert end is not None
    assert end == max(at + timedelta(days=rules[d].report_hold_days) for d, at in sent)
    outcome = decide(r, T0 + probe * DAY, RetentionPolicy(destinations=rules))
    if T0 + probe * DAY < end:
        assert isinstance(outcome, Kept) and outcome.until == end
    else:
        assert isinstance(outcome, Disposal)
