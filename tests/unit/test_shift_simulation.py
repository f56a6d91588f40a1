"""A five-hour shift, second by second, on a FakeClock.

A scripted moderator claims an item about every 90 s, reveals some of them for a few
seconds (Category A and B items especially), walks away now and then, sits out or
skips the pause after Category A, and takes each break when it falls due; one break
is ended early by a lead. Alongside, the test keeps its own count of active time
(every interaction opens a window of `idle_pause_seconds`) and of the seconds it
meant to reveal, and checks the policy and the meters against both, to the second.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from reviewer.clock import FakeClock
from reviewer.model import Exposure
from reviewer.vocabulary import Severity
from wellbeing.exposure import RevealMeter
from wellbeing.policy import (
    BreakNotOver,
    Limit,
    Mode,
    PauseNotSkippable,
    PolicyEvent,
    PolicyState,
    ReviewLocked,
    WelfarePolicy,
)
from wellbeing.reveal import RevealState
from wellbeing.settings import WelfareSettings

SETTINGS = WelfareSettings(shift_length_hours=5.0)  # every other limit at its default
SHIFT_SECONDS = 5 * 3600
BREAK_AFTER = SETTINGS.break_after_seconds
ACTIVE_CAP = SETTINGS.daily_active_cap_seconds
IDLE = SETTINGS.idle_pause_seconds
# Four Category A in a row, so the consecutive-A preference has something to do.
PATTERN = (
    Severity.A,
    Severity.C,
    Severity.B,
    Severity.A,
    Severity.A,
    Severity.A,
    Severity.A,
    Severity.NOT_ILLEGAL,
    Severity.C,
    Severity.B,
)
LEAD, LEAD_REASON = "Priya (lead)", "Imminent-risk livestream needs a second reviewer"


@dataclass(frozen=True)
class Item:
    index: int
    severity: Severity

    @property
    def walks_away(self) -> bool:  # four minutes away before grading: 2 of them count
        return self.index % 30 == 17

    @property
    def forgotten_reveal(self) -> bool:  # toggled on and left: re-protected at 10 s
        return self.severity is Severity.C and self.index % 11 == 3

    @property
    def released(self) -> bool:  # a welfare skip after a short look
        return self.severity is Severity.B and self.index % 13 == 2


class Shift:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.start = self.clock.now()
        self.end = self.start + timedelta(seconds=SHIFT_SECONDS)
        self.policy = WelfarePolicy(SETTINGS, self.clock)
        self.reveal = RevealState(
            self.clock,
            RevealMeter(self.clock),
            reprotect_after_seconds=SETTINGS.reprotect_after_seconds,
        )
        self.queue: deque[Item] = deque()
        self.next_index = 0
        # The test's own accounts.
        self.last_act: float | None = None
        self.on_break = False
        self.active = 0
        self.active_at_break_end = 0
        self.due_this_cycle = False
        self.expected_due: list[datetime] = []
        self.expected_warning: datetime | None = None
        self.expected_cap: datetime | None = None
        self.planned_reveal = 0
        self.planned_ab = 0
        # What happened.
        self.events: list[PolicyEvent] = []
        self.exposures: list[Exposure] = []
        self.shown_at: list[datetime] = []
        self.breaks: list[tuple[datetime, datetime]] = []
        self.break_started_details: list[dict[str, object]] = []
        self.refused: Counter[Mode] = Counter()
        self.pauses = 0
        self.preferred_other_work = 0

    # -- time and the test's own count of active time

    def wait(self, seconds: int) -> None:
        for _ in range(seconds):
            self.clock.advance(1)
            self._count_active_second()
            self.reveal.tick()

    def _count_active_second(self) -> None:
        if self.on_break or self.last_act is None or self.clock.now() > self.end:
            return
        if self.clock.monotonic() - self.last_act > IDLE:
            return
        self.active += 1
        now = self.clock.now()
        if self.active == ACTIVE_CAP - SETTINGS.cap_warning_seconds:
            self.expected_warning = now
        if self.active == ACTIVE_CAP:
            self.expected_cap = now
        since = self.active - self.active_at_break_end
        if since >= BREAK_AFTER and not self.due_this_cycle and self.active < ACTIVE_CAP:
            self.due_this_cycle = True
            self.expected_due.append(now)

    def touched(self) -> None:
        if not self.on_break:
            self.last_act = self.clock.monotonic()

    def interact(self) -> None:
        self.policy.activity()
        self.reveal.interaction()
        self.touched()

    def reveal_input(self, action: str, *args: float) -> None:
        """A reveal key or mouse action: also activity, as any input is."""
        getattr(self.reveal, action)(*args)
        self.policy.activity()
        self.touched()

    # -- the moderator

    def run(self) -> PolicyState:
        self.policy.start_shift()
        self.touched()
        while self.clock.now() < self.end:
            self.events += self.policy.drain_events()
            st = self.policy.state()
            if st.mode is Mode.REVIEWING:
                self.review_next()
            elif st.mode is Mode.PAUSED_AFTER_A:
                self.refuse(st)
                self.sit_out_pause()
            elif st.mode is Mode.BREAK_DUE:
                self.refuse(st)
                self.take_break()
            elif st.mode is Mode.CAP_REACHED:
                self.refuse(st)
                self.wait(min(60, int((self.end - self.clock.now()).total_seconds())))
            else:
                raise AssertionError(f"unexpected mode {st.mode} at {self.clock.now()}")
        st = self.policy.state()
        self.refuse(st)
        self.events += self.policy.drain_events()
        return st

    def refuse(self, st: PolicyState) -> None:
        """Whatever locks review, the claim check refuses and no item opens."""
        with pytest.raises(ReviewLocked) as caught:
            self.policy.ensure_can_claim()
        assert caught.value.mode is st.mode
        with pytest.raises(ReviewLocked):
            self.policy.item_shown(None)
        self.refused[st.mode] += 1

    def claim(self, prefer_non_a: bool) -> Item:
        while len(self.queue) < 6:
            self.queue.append(Item(self.next_index, PATTERN[self.next_index % len(PATTERN)]))
            self.next_index += 1
        if prefer_non_a:
            for item in self.queue:
                if item.severity is not Severity.A:
                    self.queue.remove(item)
                    self.preferred_other_work += 1
                    return item
        return self.queue.popleft()

    def review_next(self) -> None:
        st = self.policy.ensure_can_claim()
        item = self.claim(st.prefer_non_a)
        self.shown_at.append(self.clock.now())
        self.policy.item_shown(item.severity)
        self.touched()
        meter = RevealMeter(self.clock)
        self.reveal.item_changed(meter, (1200, 800))
        if item.walks_away:
            self.wait(240)
        for slot in range(9):  # nine 10-second slots: about 90 s an item
            if slot == 2:
                self.reveal_slot(item)
            elif slot == 3 and item.forgotten_reveal:
                self.wait(10)  # still away from the keyboard
            else:
                self.interact()
                self.wait(10)
        assert not meter.revealing
        exposure = meter.snapshot()
        self.exposures.append(exposure)
        if item.released:
            self.policy.item_released(exposure)
        else:
            self.policy.decision_recorded(item.severity, exposure)
        self.touched()

    def reveal_slot(self, item: Item) -> None:
        """Ten seconds in which the item may be revealed."""
        shown = 0
        if item.severity is Severity.A and item.index % 2 == 0:
            self.reveal_input("toggle")
            self.wait(4)
            self.reveal_input("toggle")
            shown = 4
        elif item.severity is Severity.A:
            self.reveal_input("hold_start")
            self.wait(3)
            self.reveal_input("hold_end")
            shown = 3
        elif item.severity is Severity.B:
            self.reveal_input("spotlight_at", 0.5, 0.5)
            self.wait(3)
            self.reveal_input("spotlight_at", 0.0, 0.0)  # to a corner: same reveal
            self.wait(2)
            self.reveal_input("spotlight_off")
            shown = 5
        elif item.forgotten_reveal:
            self.reveal_input("toggle")
            self.wait(10)  # nobody touches anything: the model re-protects
            shown = SETTINGS.reprotect_after_seconds
            assert not self.reveal.is_unprotected()
            self.planned_reveal += shown
            return
        else:
            self.interact()
        self.wait(10 - shown)
        self.planned_reveal += shown
        if item.severity in (Severity.A, Severity.B):
            self.planned_ab += shown

    def sit_out_pause(self) -> None:
        self.pauses += 1
        if self.pauses % 2:
            self.wait(5)
            with pytest.raises(PauseNotSkippable):
                self.policy.skip_pause()
            self.wait(5)
            self.policy.skip_pause()
            self.touched()
        else:
            while (st := self.policy.state()).mode is Mode.PAUSED_AFTER_A:
                self.refuse(st)
                self.wait(1)

    def take_break(self) -> None:
        self.policy.start_break()
        self.on_break = True
        self.last_act = None
        started = self.clock.now()
        if len(self.breaks) == 1:  # the second break: a lead needs this moderator back
            self.wait(300)
            self.refuse(self.policy.state())
            with pytest.raises(BreakNotOver):
                self.policy.end_break()
            with pytest.raises(ValueError):
                self.policy.end_break(by_lead=LEAD, reason=" ")
            self.policy.end_break(by_lead=LEAD, reason=LEAD_REASON)
        else:
            self.wait(599)
            self.refuse(self.policy.state())
            with pytest.raises(BreakNotOver):
                self.policy.end_break()
            self.wait(1)
            self.policy.end_break()
        self.on_break = False
        self.touched()
        self.active_at_break_end = self.active
        self.due_this_cycle = False
        self.breaks.append((started, self.clock.now()))


@pytest.fixture(scope="module")
def shift() -> tuple[Shift, PolicyState]:
    s = Shift()
    return s, s.run()


def of_kind(shift: Shift, kind: str) -> list[PolicyEvent]:
    return [e for e in shift.events if e.kind == kind]


def test_breaks_fall_due_after_each_fifty_active_minutes(
    shift: tuple[Shift, PolicyState],
) -> None:
    s, _ = shift
    due = [e.at for e in of_kind(s, "break_due")]
    assert len(due) == 4
    assert due == s.expected_due
    # Item 17 walked away for 4 minutes, of which 2 count: 50 active minutes took 52.
    assert due[0] == s.start + timedelta(minutes=52)
    assert [e.at for e in of_kind(s, "break_started")] == [b[0] for b in s.breaks]
    for due_at, (started, _), event in zip(due, s.breaks, of_kind(s, "break_started"), strict=True):
        # The item in hand is finished first (at most one item, with a walk-away).
        assert timedelta(0) <= started - due_at <= timedelta(seconds=90 + 240)
        assert event.detail["due"] is True
        assert event.detail["active_since_last_break_seconds"] >= BREAK_AFTER
    full = [end - start for start, end in s.breaks[:1] + s.breaks[2:]]
    assert full == [timedelta(minutes=10)] * 3


def test_nothing_is_claimed_while_review_is_locked(shift: tuple[Shift, PolicyState]) -> None:
    s, _ = shift
    assert s.expected_cap is not None
    locked = [(due, end) for due, (_, end) in zip(s.expected_due, s.breaks, strict=True)]
    locked.append((s.expected_cap, s.end))
    for shown in s.shown_at:
        assert not any(start <= shown < end for start, end in locked), shown
    for mode in (Mode.PAUSED_AFTER_A, Mode.BREAK_DUE, Mode.ON_BREAK, Mode.CAP_REACHED):
        assert s.refused[mode] > 0, mode
    assert s.refused[Mode.SHIFT_OVER] == 1
    # Every pause was sat out or skipped, except those a break started inside.
    pauses = [e.at for e in of_kind(s, "pause_started")]
    breaks = [e.at for e in of_kind(s, "break_started")]
    window = timedelta(seconds=SETTINGS.pause_after_a_seconds)
    superseded = sum(any(p <= b < p + window for b in breaks) for p in pauses)
    assert superseded > 0 and s.pauses + superseded == len(pauses)
    assert len(of_kind(s, "pause_skipped")) == (s.pauses + 1) // 2
    assert s.preferred_other_work > 0


def test_the_daily_cap_stops_review_on_time(shift: tuple[Shift, PolicyState]) -> None:
    s, _ = shift
    assert s.expected_cap is not None and s.expected_cap < s.end
    (reached,) = of_kind(s, "cap_reached")
    assert reached.at == s.expected_cap
    assert reached.detail["cap"] == Limit.DAILY_ACTIVE.value
    (warning,) = of_kind(s, "cap_warning")
    assert warning.at == s.expected_warning
    assert warning.detail == {"cap": "daily_active", "minutes_left": 15}
    # No item opened after the cap, and the last one opened before it.
    assert max(s.shown_at) < s.expected_cap


def test_the_shift_ends_at_five_hours(shift: tuple[Shift, PolicyState]) -> None:
    s, st = shift
    assert st.mode is Mode.SHIFT_OVER and not st.can_claim
    (ended,) = of_kind(s, "shift_ended")
    assert ended.at == s.end and ended.detail["reason"] == "shift_length"
    assert ended.detail["breaks_taken"] == 3 and ended.detail["breaks_overridden"] == 1
    assert st.active_seconds_today == s.active


def test_the_lead_override_is_recorded_with_its_reason(
    shift: tuple[Shift, PolicyState],
) -> None:
    s, _ = shift
    (override,) = of_kind(s, "break_overridden")
    assert override.detail["lead"] == LEAD
    assert override.detail["reason"] == LEAD_REASON
    assert override.detail["seconds_early"] == 300.0
    assert override.at == s.breaks[1][1]


def test_exposure_totals_equal_the_reveals(shift: tuple[Shift, PolicyState]) -> None:
    s, st = shift
    total = sum(e.seconds_revealed for e in s.exposures)
    assert total == s.planned_reveal
    assert st.revealed_seconds_today == total
    assert st.ab_revealed_seconds_today == s.planned_ab
    assert sum(e.reveal_count for e in s.exposures) > 0
    assert len(s.exposures) == len(s.shown_at) > 130
