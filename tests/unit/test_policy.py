"""The welfare policy, rule by rule, at its boundaries; and its settings."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from reviewer.clock import FakeClock
from reviewer.model import Exposure
from reviewer.vocabulary import Severity
from wellbeing.policy import (
    BreakNotOver,
    DayTotals,
    Limit,
    Mode,
    OptOuts,
    PauseNotSkippable,
    PolicyError,
    ReviewLocked,
    WelfarePolicy,
)
from wellbeing.settings import SettingsError, WelfareSettings

NOTHING_SEEN = Exposure()


def seen(seconds: float) -> Exposure:
    return Exposure(seconds_revealed=seconds, reveal_count=1, max_area_fraction=1.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def started(clock: FakeClock, **settings: object) -> WelfarePolicy:
    policy = WelfarePolicy(WelfareSettings(**settings), clock)  # type: ignore[arg-type]
    policy.start_shift()
    return policy


def work(policy: WelfarePolicy, clock: FakeClock, seconds: int, every: int = 10) -> None:
    """Interact every `every` seconds for `seconds`."""
    for _ in range(seconds // every):
        clock.advance(every)
        policy.activity()


def kinds(policy: WelfarePolicy) -> list[str]:
    return [e.kind for e in policy.drain_events()]


# --- settings


def test_settings_defaults() -> None:
    s = WelfareSettings()
    assert (s.break_after_active_minutes, s.break_minutes) == (50, 10)
    assert (s.daily_active_cap_hours, s.daily_ab_revealed_cap_hours) == (4.0, 4.0)
    assert (s.cap_warning_minutes, s.shift_length_hours) == (15, 8.0)
    assert (s.pause_after_a_seconds, s.pause_skippable_after_seconds) == (30, 10)
    assert (s.max_consecutive_a, s.reprotect_after_seconds, s.idle_pause_seconds) == (3, 10, 120)


def test_settings_round_trip_through_json() -> None:
    s = WelfareSettings(break_minutes=15, daily_active_cap_hours=3, shift_length_hours=7.5)
    data = json.loads(json.dumps(s.to_dict()))
    assert WelfareSettings.from_dict(data) == s
    assert data["daily_active_cap_hours"] == 3.0
    assert WelfareSettings.from_dict({}) == WelfareSettings()
    # A JSON writer may turn 50 into 50.0.
    assert WelfareSettings.from_dict({"break_minutes": 12.0}).break_minutes == 12


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"break_minuts": 10}, "unknown setting 'break_minuts'"),
        ({"break_minutes": "10"}, "break_minutes must be a whole number"),
        ({"break_minutes": 10.5}, "break_minutes must be a whole number"),
        ({"break_minutes": True}, "break_minutes must be a whole number"),
        ({"daily_active_cap_hours": float("nan")}, "daily_active_cap_hours must be a number"),
        ({"break_minutes": 0}, "break_minutes must be > 0"),
        ({"break_after_active_minutes": 61}, "break_after_active_minutes must be 1..60"),
        ({"daily_active_cap_hours": 6}, "daily_active_cap_hours must be > 0 and at most 5"),
        ({"daily_ab_revealed_cap_hours": 0}, "daily_ab_revealed_cap_hours must be > 0"),
        ({"shift_length_hours": 0}, "shift_length_hours must be > 0"),
        ({"pause_skippable_after_seconds": 31}, "pause_skippable_after_seconds must be between"),
        ({"max_consecutive_a": 0}, "max_consecutive_a must be >= 1"),
        ({"reprotect_after_seconds": 0}, "reprotect_after_seconds must be > 0"),
        ({"idle_pause_seconds": -5}, "idle_pause_seconds must be > 0"),
        ({"cap_warning_minutes": -1}, "cap_warning_minutes must be >= 0"),
    ],
)
def test_settings_reject_bad_values(data: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        WelfareSettings.from_dict(data)


def test_settings_report_every_problem_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        WelfareSettings.from_dict({"break_minutes": 0, "max_consecutive_a": 0, "x": 1})
    assert len(caught.value.problems) == 3


def test_settings_validate_on_construction() -> None:
    with pytest.raises(SettingsError):
        WelfareSettings(break_minutes=-1)


# --- start and end


def test_nothing_before_the_shift_starts(clock: FakeClock) -> None:
    policy = WelfarePolicy(WelfareSettings(), clock)
    st = policy.state()
    assert st.mode is Mode.NOT_STARTED and not st.can_claim
    with pytest.raises(ReviewLocked, match="Start your shift"):
        policy.ensure_can_claim()
    with pytest.raises(PolicyError):
        policy.decision_recorded(Severity.C, NOTHING_SEEN)
    policy.start_shift()
    assert policy.ensure_can_claim().mode is Mode.REVIEWING
    with pytest.raises(PolicyError):
        policy.start_shift()
    assert kinds(policy) == ["shift_started"]


def test_end_shift_closes_review_and_is_idempotent(clock: FakeClock) -> None:
    policy = started(clock)
    work(policy, clock, 600)
    policy.end_shift()
    policy.end_shift()
    st = policy.state()
    assert st.mode is Mode.SHIFT_OVER and not st.can_claim
    with pytest.raises(ReviewLocked):
        policy.ensure_can_claim()
    events = policy.drain_events()
    assert [e.kind for e in events] == ["shift_started", "shift_ended"]
    assert events[1].detail["reason"] == "ended"
    assert events[1].detail["active_seconds"] == 600.0
    with pytest.raises(PolicyError):
        policy.start_break()


def test_hard_stop_at_shift_end(clock: FakeClock) -> None:
    policy = started(clock, shift_length_hours=1.0, break_after_active_minutes=60)
    start = clock.now()
    work(policy, clock, 45 * 60 - 10)
    assert policy.state().warnings == ()
    work(policy, clock, 10)
    assert policy.state().warnings == ("15 minutes until your shift ends",)
    work(policy, clock, 15 * 60 - 10)
    assert policy.state().mode is Mode.REVIEWING
    clock.advance(500)  # nobody asks until long after the end
    st = policy.state()
    assert st.mode is Mode.SHIFT_OVER
    # Time past the end is not counted as review, however the gaps fell.
    assert st.active_seconds_today == 3600.0
    events = policy.drain_events()
    assert [e.kind for e in events] == ["shift_started", "cap_warning", "shift_ended"]
    assert events[1].detail == {"cap": "shift_end", "minutes_left": 15}
    assert events[1].at == start + timedelta(minutes=45)
    assert events[2].at == start + timedelta(hours=1)
    assert events[2].detail["reason"] == "shift_length"
    policy.activity()
    assert policy.state().active_seconds_today == 3600.0


def test_exposure_still_counts_after_the_shift_ends(clock: FakeClock) -> None:
    policy = started(clock)
    policy.end_shift()
    policy.decision_recorded(Severity.A, seen(4))
    st = policy.state()
    assert st.ab_revealed_seconds_today == 4.0 and st.mode is Mode.SHIFT_OVER
    assert "pause_started" not in kinds(policy)


# --- active time


def test_active_time_stops_accruing_after_the_idle_gap(clock: FakeClock) -> None:
    policy = started(clock, idle_pause_seconds=120)
    clock.advance(120)
    policy.activity()
    assert policy.state().active_seconds_today == 120.0
    clock.advance(1000)  # away from the desk: only the first 120 s count
    assert policy.state().active_seconds_today == 240.0
    policy.activity()
    clock.advance(30)
    assert policy.state().active_seconds_today == 270.0


# --- breaks


def test_break_falls_due_after_fifty_active_minutes(clock: FakeClock) -> None:
    policy = started(clock)
    start = clock.now()
    work(policy, clock, 2990)
    clock.advance(9)
    st = policy.state()
    assert st.mode is Mode.REVIEWING and st.since_last_break_seconds == 2999.0
    assert st.seconds_until_break_due == 1.0
    clock.advance(1)
    st = policy.state()
    assert st.mode is Mode.BREAK_DUE and not st.can_claim
    assert "Time for a break" in st.reason
    with pytest.raises(ReviewLocked) as caught:
        policy.ensure_can_claim()
    assert caught.value.mode is Mode.BREAK_DUE
    with pytest.raises(ReviewLocked):
        policy.item_shown(Severity.C)  # an item claimed ahead stays closed
    due = [e for e in policy.drain_events() if e.kind == "break_due"]
    assert len(due) == 1 and due[0].at == start + timedelta(seconds=3000)


def test_idle_gaps_put_the_break_off(clock: FakeClock) -> None:
    policy = started(clock)
    work(policy, clock, 1500)
    clock.advance(600)  # 10 minutes away: 2 count
    policy.activity()
    work(policy, clock, 1380 - 10)
    assert policy.state().mode is Mode.REVIEWING
    clock.advance(10)
    assert policy.state().mode is Mode.BREAK_DUE


def test_moderator_cannot_end_a_break_early(clock: FakeClock) -> None:
    policy = started(clock)
    work(policy, clock, 3000)
    policy.start_break()
    started_at = clock.now()
    st = policy.state()
    assert st.mode is Mode.ON_BREAK and not st.can_claim
    assert st.break_ends_at == started_at + timedelta(minutes=10)
    clock.advance(599)
    with pytest.raises(BreakNotOver) as caught:
        policy.end_break()
    assert caught.value.seconds_left == 1.0
    assert caught.value.ends_at == started_at + timedelta(minutes=10)
    clock.advance(1)
    # Over, but review waits for the moderator to come back.
    st = policy.state()
    assert st.mode is Mode.ON_BREAK and "complete" in st.reason
    with pytest.raises(ReviewLocked):
        policy.ensure_can_claim()
    event = policy.end_break()
    assert event.kind == "break_ended" and event.detail["duration_seconds"] == 600.0
    st = policy.state()
    assert st.mode is Mode.REVIEWING and st.since_last_break_seconds == 0.0
    assert st.breaks_taken == 1 and st.active_seconds_today == 3000.0
    assert kinds(policy)[-3:] == ["break_due", "break_started", "break_ended"]


def test_a_due_break_is_started_once_whoever_asks(clock: FakeClock) -> None:
    # Two windows (review and QA) show one shift; both start the break they see due.
    policy = started(clock)
    work(policy, clock, 1200)
    assert not policy.start_due_break()  # not due yet: nothing happens
    assert policy.state().mode is Mode.REVIEWING
    work(policy, clock, 1800)
    assert policy.start_due_break()
    assert not policy.start_due_break()
    assert policy.state().mode is Mode.ON_BREAK
    assert kinds(policy).count("break_started") == 1


def test_no_active_time_accrues_on_a_break(clock: FakeClock) -> None:
    policy = started(clock)
    work(policy, clock, 100)
    policy.start_break()
    clock.advance(300)
    policy.activity()
    clock.advance(300)
    assert policy.state().active_seconds_today == 100.0
    with pytest.raises(PolicyError):
        policy.start_break()


def test_a_voluntary_break_restarts_the_count(clock: FakeClock) -> None:
    policy = started(clock)
    work(policy, clock, 1200)
    policy.start_break()
    clock.advance(600)
    policy.end_break()
    assert policy.state().seconds_until_break_due == 3000.0
    started_event = next(e for e in policy.drain_events() if e.kind == "break_started")
    assert started_event.detail["due"] is False


def test_lead_override_needs_a_name_and_a_reason(clock: FakeClock) -> None:
    policy = started(clock)
    work(policy, clock, 3000)
    policy.start_break()
    clock.advance(240)
    for lead, reason in [("Sam", None), ("Sam", ""), ("Sam", "   "), ("", "cover")]:
        with pytest.raises(ValueError):
            policy.end_break(by_lead=lead, reason=reason)
    with pytest.raises(ValueError):
        policy.end_break(reason="I feel fine")  # a moderator's reason changes nothing
    assert policy.state().mode is Mode.ON_BREAK
    event = policy.end_break(by_lead="Sam", reason=" Livestream queue needs cover ")
    assert event.kind == "break_overridden"
    assert event.detail["lead"] == "Sam"
    assert event.detail["reason"] == "Livestream queue needs cover"
    assert event.detail["seconds_early"] == 360.0
    st = policy.state()
    assert st.mode is Mode.REVIEWING and st.breaks_overridden == 1 and st.breaks_taken == 0
    assert event in policy.drain_events()  # audited once, from the drain
    with pytest.raises(PolicyError):
        policy.end_break()


def test_a_lead_ending_a_finished_break_is_not_an_override(clock: FakeClock) -> None:
    policy = started(clock)
    policy.start_break()
    clock.advance(600)
    event = policy.end_break(by_lead="Sam", reason="checked in")
    assert event.kind == "break_ended" and event.detail["lead"] == "Sam"
    assert policy.state().breaks_taken == 1


# --- the pause after Category A


def test_pause_after_category_a(clock: FakeClock) -> None:
    policy = started(clock)
    policy.item_shown(Severity.A)
    policy.decision_recorded(Severity.A, seen(3))
    st = policy.state()
    assert st.mode is Mode.PAUSED_AFTER_A and not st.can_claim
    assert st.pause_seconds_left == 30.0 and not st.pause_skippable
    with pytest.raises(ReviewLocked):
        policy.ensure_can_claim()
    with pytest.raises(ReviewLocked):
        policy.item_shown(None)
    clock.advance(9)
    with pytest.raises(PauseNotSkippable):
        policy.skip_pause()
    clock.advance(1)
    assert policy.state().pause_skippable
    policy.skip_pause()
    assert policy.state().mode is Mode.REVIEWING
    events = [e for e in policy.drain_events() if e.kind.startswith("pause")]
    assert [e.kind for e in events] == ["pause_started", "pause_skipped"]
    assert events[1].detail == {"after_seconds": 10.0}
    with pytest.raises(PolicyError):
        policy.skip_pause()


def test_pause_runs_out_on_its_own(clock: FakeClock) -> None:
    policy = started(clock)
    policy.decision_recorded(Severity.A, NOTHING_SEEN)
    clock.advance(29)
    assert policy.state().mode is Mode.PAUSED_AFTER_A
    clock.advance(1)
    assert policy.state().mode is Mode.REVIEWING


@pytest.mark.parametrize("severity", [s for s in Severity if s is not Severity.A])
def test_no_pause_after_other_grades(clock: FakeClock, severity: Severity) -> None:
    policy = started(clock)
    policy.decision_recorded(severity, seen(2))
    assert policy.state().mode is Mode.REVIEWING


def test_pause_can_be_switched_off(clock: FakeClock) -> None:
    policy = started(clock, pause_after_a_seconds=0, pause_skippable_after_seconds=0)
    policy.decision_recorded(Severity.A, NOTHING_SEEN)
    assert policy.state().mode is Mode.REVIEWING


def test_a_break_supersedes_the_pause(clock: FakeClock) -> None:
    policy = started(clock)
    work(policy, clock, 2990)
    clock.advance(10)
    policy.decision_recorded(Severity.A, seen(1))
    assert policy.state().mode is Mode.BREAK_DUE
    policy.start_break()
    clock.advance(600)
    policy.end_break()
    assert policy.state().mode is Mode.REVIEWING


# --- consecutive Category A


def test_prefer_other_work_after_three_category_a_in_a_row(clock: FakeClock) -> None:
    policy = started(clock, pause_after_a_seconds=0, pause_skippable_after_seconds=0)
    for n in (1, 2):
        policy.decision_recorded(Severity.A, NOTHING_SEEN)
        assert policy.state().consecutive_a == n and not policy.state().prefer_non_a
    policy.decision_recorded(Severity.A, NOTHING_SEEN)
    st = policy.ensure_can_claim()  # a preference, not a lock
    assert st.prefer_non_a and st.consecutive_a == 3
    assert "other work" in st.reason
    policy.item_shown(Severity.A)
    policy.item_released(NOTHING_SEEN)  # a skip is not a decision: the run stands
    assert policy.state().prefer_non_a
    policy.decision_recorded(Severity.C, NOTHING_SEEN)
    assert policy.state().consecutive_a == 0 and not policy.state().prefer_non_a


# --- daily caps


def test_category_ab_viewing_cap(clock: FakeClock) -> None:
    # 0.25 h = 900 s of A/B viewing, warned 5 minutes before.
    policy = started(clock, daily_ab_revealed_cap_hours=0.25, cap_warning_minutes=5)
    policy.decision_recorded(Severity.C, seen(500))  # C: not towards this cap
    policy.decision_recorded(Severity.B, seen(500))
    st = policy.state()
    assert st.ab_revealed_seconds_today == 500.0 and st.revealed_seconds_today == 1000.0
    assert st.warnings == ()
    policy.item_shown(Severity.A)
    policy.item_released(seen(100))  # skipped: counts by its hint
    st = policy.state()
    assert st.warnings == ("5 minutes of Category A/B viewing left today",)
    policy.decision_recorded(Severity.A, seen(299))
    assert policy.state().warnings == ("1 minute of Category A/B viewing left today",)
    clock.advance(30)
    policy.decision_recorded(Severity.B, seen(1))
    st = policy.state()
    assert st.mode is Mode.CAP_REACHED and st.cap is Limit.DAILY_AB_REVEALED
    assert "Category A/B" in st.reason and st.warnings == ()
    with pytest.raises(ReviewLocked, match="closed for today"):
        policy.ensure_can_claim()
    with pytest.raises(PolicyError):
        policy.start_break()
    events = [e for e in policy.drain_events() if e.kind.startswith("cap")]
    assert [(e.kind, e.detail["cap"]) for e in events] == [
        ("cap_warning", "daily_ab_revealed"),
        ("cap_reached", "daily_ab_revealed"),
    ]


def test_hint_decides_released_items_only(clock: FakeClock) -> None:
    policy = started(clock)
    policy.item_shown(Severity.C)
    policy.item_released(seen(7))
    policy.item_shown(Severity.A)
    policy.decision_recorded(Severity.C, seen(5))  # graded C: the grade wins
    st = policy.state()
    assert st.ab_revealed_seconds_today == 0.0 and st.revealed_seconds_today == 12.0


def test_daily_active_cap(clock: FakeClock) -> None:
    policy = started(clock, daily_active_cap_hours=1.0, break_after_active_minutes=60)
    start = clock.now()
    work(policy, clock, 45 * 60 - 10)
    assert policy.state().warnings == ()
    work(policy, clock, 10)
    assert policy.state().warnings == ("15 minutes of review left today",)
    work(policy, clock, 15 * 60 - 10)
    clock.advance(5)
    assert policy.state().mode is Mode.REVIEWING
    clock.advance(5)
    st = policy.state()
    # Both the break and the cap fall at 60 minutes: the cap closes the day.
    assert st.mode is Mode.CAP_REACHED and st.cap is Limit.DAILY_ACTIVE
    events = policy.drain_events()
    assert [e.kind for e in events] == ["shift_started", "cap_warning", "cap_reached"]
    assert events[1].at == start + timedelta(minutes=45)
    assert events[2].at == start + timedelta(hours=1)
    clock.advance(3600)
    assert policy.state().mode is Mode.CAP_REACHED
    assert kinds(policy) == []


# --- opt-outs


def test_opt_outs() -> None:
    opt = OptOuts(queues=frozenset({"Livestream "}), kinds=frozenset({"a", "video"}))
    assert not opt.allows("livestream")
    assert not opt.allows("NGO", Severity.A)
    assert not opt.allows("NGO", "Video")
    assert opt.allows("NGO", Severity.B) and opt.allows("NGO")
    assert OptOuts().allows("anything", "A")
    assert OptOuts.from_dict(opt.to_dict()) == opt
    for bad in ({"queues": ["  "]}, {"kinds": [3]}, {"kinds": "A"}, {"severity": []}):
        with pytest.raises(ValueError):
            OptOuts.from_dict(bad)


def test_an_opt_out_skip_costs_nothing(clock: FakeClock) -> None:
    policy = WelfarePolicy(WelfareSettings(), clock, opt_outs=OptOuts(kinds=frozenset({"A"})))
    policy.start_shift()
    policy.decision_recorded(Severity.A, seen(2))
    clock.advance(30)
    before = policy.state()
    policy.item_shown(Severity.A)
    assert not policy.opt_outs.allows("hash_match", Severity.A)
    policy.item_released(NOTHING_SEEN)  # skipped unseen: SkipReason.OPTED_OUT
    after = policy.state()
    assert replace(after, reason="") == replace(before, reason="")


# --- restart within the day


def test_totals_carry_over_a_restart(clock: FakeClock) -> None:
    settings = WelfareSettings(daily_ab_revealed_cap_hours=0.5, shift_length_hours=2.0)
    policy = WelfarePolicy(settings, clock)
    policy.start_shift()
    shift_start = clock.now()
    work(policy, clock, 1800)
    policy.decision_recorded(Severity.A, seen(1800))  # A/B cap reached
    policy.drain_events()
    totals = policy.totals()
    assert totals.active_seconds == 1800.0 and totals.ab_revealed_seconds == 1800.0
    assert totals.shift_started_at == shift_start

    clock.advance(300)  # the application restarts
    again = WelfarePolicy(settings, clock, carried=totals)
    again.start_shift()
    st = again.state()
    assert st.mode is Mode.CAP_REACHED and st.cap is Limit.DAILY_AB_REVEALED
    assert st.consecutive_a == 1 and st.shift_ends_at == shift_start + timedelta(hours=2)
    assert again.drain_events() == []  # announced before the restart, not again


def test_a_restart_does_not_end_a_break(clock: FakeClock) -> None:
    policy = started(clock)
    work(policy, clock, 3000)
    policy.start_break()
    clock.advance(120)
    again = WelfarePolicy(WelfareSettings(), clock, carried=policy.totals())
    again.start_shift()
    st = again.state()
    assert st.mode is Mode.ON_BREAK and st.break_seconds_left == 480.0
    with pytest.raises(BreakNotOver):
        again.end_break()
    clock.advance(480)
    again.end_break()
    assert again.state().mode is Mode.REVIEWING


def test_a_finished_shift_stays_finished(clock: FakeClock) -> None:
    again = WelfarePolicy(WelfareSettings(), clock, carried=DayTotals(shift_ended=True))
    again.start_shift()
    assert again.state().mode is Mode.SHIFT_OVER
    assert again.drain_events() == []


def test_shift_end_passed_while_closed_is_recorded_at_the_end(clock: FakeClock) -> None:
    policy = started(clock, shift_length_hours=1.0)
    start = clock.now()
    totals = policy.totals()
    clock.advance(7200)
    again = WelfarePolicy(WelfareSettings(shift_length_hours=1.0), clock, carried=totals)
    again.start_shift()
    events = again.drain_events()
    assert again.state().mode is Mode.SHIFT_OVER
    assert [(e.kind, e.at) for e in events] == [("shift_ended", start + timedelta(hours=1))]


# --- events


def test_event_details_are_json_ready(clock: FakeClock) -> None:
    policy = started(clock)
    work(policy, clock, 3000)
    policy.decision_recorded(Severity.A, seen(3))
    policy.start_break()
    clock.advance(60)
    policy.end_break(by_lead="Sam", reason="cover")
    policy.end_shift()
    events = policy.drain_events()
    assert [e.kind for e in events] == [
        "shift_started",
        "break_due",
        "pause_started",
        "break_started",
        "break_overridden",
        "shift_ended",
    ]
    assert [e.at for e in events] == sorted(e.at for e in events)
    json.dumps([e.detail for e in events])
    assert policy.drain_events() == []


def test_starting_blur_follows_the_hint_table_and_never_goes_below_the_default() -> None:
    s = WelfareSettings(blur_step_default=2, blur_step_suspected_a=3, blur_step_suspected_c=4)
    assert s.starting_blur_step("A") == 3
    assert s.starting_blur_step("B") == 2
    assert s.starting_blur_step("C") == 4
    assert s.starting_blur_step(None) == 2
    assert s.starting_blur_step("not_illegal") == 2
    with pytest.raises(SettingsError, match="blur_step_suspected_b"):
        WelfareSettings(blur_step_default=3, blur_step_suspected_a=3, blur_step_suspected_b=2)
    with pytest.raises(SettingsError, match="blur_step_default"):
        WelfareSettings(blur_step_default=5)
    assert WelfareSettings.from_dict({"blur_step_suspected_a": 4}).starting_blur_step("A") == 4
