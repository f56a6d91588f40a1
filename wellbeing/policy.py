"""The welfare policy for one moderator's shift: pauses, breaks, daily caps, shift end.

A state machine fed by what the moderator does (`activity`, `item_shown`,
`decision_recorded`, ...) and read through `state()`. Time-driven changes (a break
falling due, a cap reached, the shift ending) are worked out from the injected clock
whenever the policy is asked or told anything, so nobody has to poll it on time;
each one is announced once in `drain_events()` for the audit log, stamped with the
moment it actually happened.

The lock is enforced by `ensure_can_claim()`, which the service layer calls before
every claim (not only the screen), and by `item_shown()`, which refuses to open an
item already claimed ahead while review is locked. Recording a decision or releasing
an item is never refused: what was seen always counts.

Durations use the clock's monotonic time (a wall-clock change cannot shorten a
break); datetimes are reported and persisted in wall-clock time.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from reviewer.clock import Clock
from reviewer.model import Exposure
from reviewer.vocabulary import Severity
from wellbeing.settings import WelfareSettings

_AB = (Severity.A, Severity.B)


class Mode(StrEnum):
    NOT_STARTED = "not_started"
    REVIEWING = "reviewing"
    PAUSED_AFTER_A = "paused_after_a"
    BREAK_DUE = "break_due"
    ON_BREAK = "on_break"
    CAP_REACHED = "cap_reached"
    SHIFT_OVER = "shift_over"


class Limit(StrEnum):
    """The hard stops of a day. The first two are caps; SHIFT_END has its own mode."""

    DAILY_ACTIVE = "daily_active"
    DAILY_AB_REVEALED = "daily_ab_revealed"
    SHIFT_END = "shift_end"


# --- Errors


class WelfareError(Exception):
    """Base for the welfare policy's refusals."""


class PolicyError(WelfareError):
    """A transition that makes no sense in the current mode (a caller bug)."""


class ReviewLocked(WelfareError):
    """Review is locked (pause, break, cap, shift end); `reason` says why, for people."""

    def __init__(self, reason: str, mode: Mode | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.mode = mode


class BreakNotOver(WelfareError):
    """Only a lead, with a reason, can end a break before its time."""

    def __init__(self, ends_at: datetime, seconds_left: float) -> None:
        minutes = _minutes(seconds_left)
        super().__init__(f"The break is not over: {minutes} left.")
        self.ends_at = ends_at
        self.seconds_left = seconds_left


class PauseNotSkippable(WelfareError):
    def __init__(self, seconds_until_skippable: float) -> None:
        super().__init__(f"The pause can be skipped in {math.ceil(seconds_until_skippable)} s.")
        self.seconds_until_skippable = seconds_until_skippable


# --- Values


@dataclass(frozen=True)
class PolicyEvent:
    """Something the audit log must hold. `detail` is JSON-ready (no datetimes)."""

    kind: str
    detail: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class OptOuts:
    """Queues and kinds of material (severities such as "A", or e.g. "video") a
    moderator has opted out of. Opting out carries no penalty: the policy counts
    nothing against it, and a skip for it leaves every counter as it was."""

    queues: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # Case and stray spaces must not decide whether an opt-out holds.
        object.__setattr__(self, "queues", _names("queues", self.queues))
        object.__setattr__(self, "kinds", _names("kinds", self.kinds))

    def allows(self, queue_name: str, kind: str | None = None) -> bool:
        if queue_name.strip().casefold() in self.queues:
            return False
        return kind is None or kind.strip().casefold() not in self.kinds

    def to_dict(self) -> dict[str, list[str]]:
        return {"queues": sorted(self.queues), "kinds": sorted(self.kinds)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OptOuts:
        unknown = set(data) - {"queues", "kinds"}
        if unknown:
            raise ValueError(f"unknown opt-out keys: {sorted(unknown)}")
        return cls(_names("queues", data.get("queues", ())), _names("kinds", data.get("kinds", ())))


def _names(what: str, values: Iterable[str]) -> frozenset[str]:
    if isinstance(values, str):
        raise ValueError(f"opt-out {what} must be a set of names, not one string")
    out = set()
    for v in values:
        if not isinstance(v, str) or not v.strip():
            raise ValueError(f"opt-out {what} must be non-empty names, not {v!r}")
        out.add(v.strip().casefold())
    return frozenset(out)


@dataclass(frozen=True)
class DayTotals:
    """What must survive a restart within one moderator's day (see `totals()`):
    persist it, and hand it back as `carried` so a restart resets no cap or break."""

    shift_started_at: datetime | None = None
    shift_ended: bool = False
    active_seconds: float = 0.0
    ab_revealed_seconds: float = 0.0
    revealed_seconds: float = 0.0
    since_last_break_seconds: float = 0.0
    consecutive_a: int = 0
    breaks_taken: int = 0
    breaks_overridden: int = 0
    break_started_at: datetime | None = None


@dataclass(frozen=True)
class PolicyState:
    mode: Mode
    can_claim: bool
    reason: str
    warnings: tuple[str, ...]
    active_seconds_today: float
    ab_revealed_seconds_today: float
    revealed_seconds_today: float
    since_last_break_seconds: float
    consecutive_a: int
    # The next claim should prefer non-Category-A work when there is any.
    prefer_non_a: bool
    breaks_taken: int
    breaks_overridden: int
    seconds_until_break_due: float | None = None
    pause_seconds_left: float | None = None
    pause_skippable: bool = False
    break_ends_at: datetime | None = None
    break_seconds_left: float | None = None
    cap: Limit | None = None
    shift_ends_at: datetime | None = None


# --- The policy


class WelfarePolicy:
    """One moderator's shift. Safe to call from the GUI thread and the database
    worker at once (every public method holds one lock)."""

    def __init__(
        self,
        settings: WelfareSettings,
        clock: Clock,
        opt_outs: OptOuts | None = None,
        carried: DayTotals | None = None,
    ) -> None:
        self.settings = settings
        self.opt_outs = opt_outs or OptOuts()
        self._clock = clock
        self._carried = carried or DayTotals()
        self._resuming = carried is not None
        self._lock = threading.RLock()
        self._events: list[PolicyEvent] = []
        self._announced: set[str] = set()

        c = self._carried
        self._started = False
        self._ended: str | None = None
        self._shift_start = 0.0
        self._active = c.active_seconds
        # since_last_break = active - this; set to `active` when a break ends.
        self._since_break_base = c.active_seconds - c.since_last_break_seconds
        self._last_activity: float | None = None
        self._ab = c.ab_revealed_seconds
        self._revealed = c.revealed_seconds
        self._consecutive_a = c.consecutive_a
        self._breaks_taken = c.breaks_taken
        self._breaks_overridden = c.breaks_overridden
        self._break_start: float | None = None
        self._break_was_due = False
        self._pause_start: float | None = None
        self._cap: Limit | None = None
        self._hint: Severity | None = None

    # -- inputs

    def start_shift(self) -> None:
        """Start (or, with `carried`, resume) the shift. A resumed shift keeps its
        original start, so the hard stop does not move with a restart."""
        with self._lock:
            if self._started:
                raise PolicyError("the shift has already started")
            now = self._clock.monotonic()
            c = self._carried
            self._started = True
            if c.shift_ended:
                self._ended = "ended_earlier_today"
                return
            started = c.shift_started_at  # None: a first start, not a resumed shift
            self._shift_start = now if started is None else self._mono_of(started)
            if c.break_started_at is not None:
                self._break_start = self._mono_of(c.break_started_at)
            else:
                self._last_activity = now
            if self._resuming:
                # Thresholds the carried totals had crossed were announced back then.
                self._announce_silently(now)
            if started is None:
                self._emit("shift_started", {"shift_ends_at": self._iso(self._shift_end)}, now)
            self._sync(now)

    def activity(self) -> None:
        """Any interaction while reviewing. Active time accrues from one interaction to
        the next, but no gap counts for more than `idle_pause_seconds`."""
        with self._lock:
            now = self._clock.monotonic()
            self._sync(now)
            self._touch(now)

    def item_shown(self, severity_hint: Severity | None = None) -> None:
        """An item is about to be painted (protected). Raises ReviewLocked while review
        is locked: an item claimed ahead must not be opened during a pause or break."""
        with self._lock:
            now = self._clock.monotonic()
            self._sync(now)
            st = self._state(now)
            if not st.can_claim:
                raise ReviewLocked(st.reason, st.mode)
            self._hint = severity_hint
            self._touch(now)

    def decision_recorded(self, severity: Severity, exposure: Exposure) -> None:
        """The decision is stored. Its revealed seconds count towards today's totals
        (and the A/B cap if graded A or B, whatever the hint said); a Category A
        decision extends the run of consecutive A and starts the post-A pause."""
        with self._lock:
            self._require_started()
            now = self._clock.monotonic()
            self._sync(now)
            self._touch(now)
            self._count_exposure(exposure, severity in _AB)
            if severity is Severity.A:
                self._consecutive_a += 1
                s = self.settings
                pausable = self._closed_reason() is None and self._break_start is None
                if s.pause_after_a_seconds > 0 and pausable:
                    self._pause_start = now
                    self._emit(
                        "pause_started",
                        {
                            "seconds": s.pause_after_a_seconds,
                            "skippable_after_seconds": s.pause_skippable_after_seconds,
                        },
                        now,
                    )
            else:
                self._consecutive_a = 0
            self._sync(now)

    def item_released(self, exposure: Exposure) -> None:
        """The item went back undecided (skip, opt-out, lease lost, shift end). What
        was seen still counts, towards the A/B cap if the hint said A or B; nothing
        else changes (an opt-out skip costs the moderator nothing)."""
        with self._lock:
            self._require_started()
            now = self._clock.monotonic()
            self._sync(now)
            self._touch(now)
            self._count_exposure(exposure, self._hint in _AB)
            self._sync(now)

    def skip_pause(self) -> None:
        with self._lock:
            now = self._clock.monotonic()
            self._sync(now)
            if self._pause_start is None:
                raise PolicyError("there is no pause to skip")
            elapsed = now - self._pause_start
            wait = self.settings.pause_skippable_after_seconds - elapsed
            if wait > 0:
                raise PauseNotSkippable(wait)
            self._pause_start = None
            self._emit("pause_skipped", {"after_seconds": round(elapsed, 3)}, now)
            self._touch(now)

    def start_break(self) -> None:
        """Start a break, due or not. It lasts `break_minutes` (see `end_break`)."""
        with self._lock:
            now = self._clock.monotonic()
            self._sync(now)
            mode = self._mode(now)
            if mode in (Mode.NOT_STARTED, Mode.SHIFT_OVER, Mode.CAP_REACHED):
                raise PolicyError(f"no break to take: {self._state(now).reason}")
            if mode is Mode.ON_BREAK:
                raise PolicyError("already on a break")
            self._fold(now)
            self._last_activity = None
            self._pause_start = None  # the break supersedes the post-A pause
            self._break_start = now
            self._break_was_due = mode is Mode.BREAK_DUE
            self._emit(
                "break_started",
                {
                    "due": self._break_was_due,
                    "ends_at": self._iso(now + self.settings.break_seconds),
                    "active_since_last_break_seconds": round(self._since_break(now), 3),
                },
                now,
            )

    def start_due_break(self) -> bool:
        """Start the break if one is due; False if none is (e.g. another window showing
        this shift started it already). One shift can be on screen in more than one
        window (review and QA re-grades), each of which starts a break it sees due."""
        with self._lock:
            now = self._clock.monotonic()
            self._sync(now)
            if self._mode(now) is not Mode.BREAK_DUE:
                return False
            self.start_break()
            return True

    def end_break(self, by_lead: str | None = None, reason: str | None = None) -> PolicyEvent:
        """End the break. The moderator can once `break_minutes` have passed (else
        BreakNotOver); a lead can at any time, naming themselves and giving a reason.
        Returns the audit event (also queued for `drain_events`: audit it once)."""
        with self._lock:
            now = self._clock.monotonic()
            self._sync(now)
            if self._break_start is None:
                raise PolicyError("not on a break")
            elapsed = now - self._break_start
            left = self.settings.break_seconds - elapsed
            detail: dict[str, Any] = {
                "duration_seconds": round(elapsed, 3),
                "due": self._break_was_due,
            }
            if by_lead is None:
                if reason is not None:
                    raise ValueError("only a lead ending a break early gives a reason")
                if left > 0:
                    raise BreakNotOver(
                        self._wall_of(self._break_start + self.settings.break_seconds), left
                    )
                kind = "break_ended"
                self._breaks_taken += 1
            else:
                lead, why = by_lead.strip(), (reason or "").strip()
                if not lead:
                    raise ValueError("name the lead ending the break")
                if not why:
                    raise ValueError("a lead must give a reason to end a break early")
                detail |= {"lead": lead, "reason": why}
                if left > 0:
                    kind = "break_overridden"
                    detail["seconds_early"] = round(left, 3)
                    self._breaks_overridden += 1
                else:
                    kind = "break_ended"
                    self._breaks_taken += 1
            # Even an overridden break restarts the count, or the lock would be back at
            # once and the override would mean nothing.
            self._break_start = None
            self._since_break_base = self._active
            self._announced.discard("break_due")
            self._last_activity = now
            return self._emit(kind, detail, now)

    def end_shift(self) -> None:
        """The moderator signs off (idempotent). Review stays closed for this policy."""
        with self._lock:
            self._require_started()
            now = self._clock.monotonic()
            self._sync(now)
            if self._ended is None:
                self._close_shift(now, "ended")

    # -- outputs

    def state(self) -> PolicyState:
        with self._lock:
            now = self._clock.monotonic()
            self._sync(now)
            return self._state(now)

    def ensure_can_claim(self) -> PolicyState:
        """The service calls this before every claim; raises ReviewLocked if locked.
        Returns the state (read `prefer_non_a` from it)."""
        with self._lock:
            st = self.state()
            if not st.can_claim:
                raise ReviewLocked(st.reason, st.mode)
            return st

    def drain_events(self) -> list[PolicyEvent]:
        """Events since the last drain, oldest first, for the audit log."""
        with self._lock:
            if self._started:
                self._sync(self._clock.monotonic())
            out, self._events = self._events, []
            return out

    def totals(self) -> DayTotals:
        """Today's totals as they stand, to persist (e.g. after each decision and on
        every event) and hand back as `carried` after a restart."""
        with self._lock:
            now = self._clock.monotonic()
            if self._started:
                self._sync(now)
            return DayTotals(
                shift_started_at=self._wall_of(self._shift_start) if self._started else None,
                shift_ended=self._ended is not None,
                active_seconds=round(self._active_at(now), 3),
                ab_revealed_seconds=round(self._ab, 3),
                revealed_seconds=round(self._revealed, 3),
                since_last_break_seconds=round(self._since_break(now), 3),
                consecutive_a=self._consecutive_a,
                breaks_taken=self._breaks_taken,
                breaks_overridden=self._breaks_overridden,
                break_started_at=(
                    None if self._break_start is None else self._wall_of(self._break_start)
                ),
            )

    # -- time accounting

    @property
    def _shift_end(self) -> float:
        return self._shift_start + self.settings.shift_length_seconds

    def _tail(self, now: float) -> float:
        """Active time since the last interaction, not yet folded into the total."""
        if self._last_activity is None:
            return 0.0
        end = min(now, self._shift_end)
        return max(0.0, min(end - self._last_activity, self.settings.idle_pause_seconds))

    def _active_at(self, now: float) -> float:
        return self._active + self._tail(now)

    def _since_break(self, now: float) -> float:
        return self._active_at(now) - self._since_break_base

    def _fold(self, now: float) -> None:
        self._active += self._tail(now)
        self._last_activity = None

    def _touch(self, now: float) -> None:
        """An interaction: fold the gap behind it and start a new one (while accruing)."""
        if self._started and self._ended is None and self._break_start is None:
            self._fold(now)
            self._last_activity = now

    def _count_exposure(self, exposure: Exposure, is_ab: bool) -> None:
        seconds = max(0.0, exposure.seconds_revealed)
        self._revealed += seconds
        if is_ab:
            self._ab += seconds
        self._hint = None

    def _active_crossing(self, threshold: float, now: float) -> float:
        """When (monotonic) active time reached `threshold`: inside the open gap if it
        crossed there, else now."""
        if self._last_activity is not None and self._active < threshold:
            return min(now, self._last_activity + (threshold - self._active))
        return now

    # -- time-driven transitions

    def _sync(self, now: float) -> None:
        """Announce whatever the clock has brought about since the last call."""
        if not self._started or self._ended is not None:
            return
        s = self.settings
        t = min(now, self._shift_end)
        active = self._active_at(t)
        pending: list[tuple[float, str, dict[str, Any]]] = []

        if self._cap is None:
            due_at = self._since_break_base + s.break_after_seconds
            if (
                self._break_start is None
                and active >= due_at
                and "break_due" not in self._announced
                # A break falling due as the shift ends is moot.
                and self._active_crossing(due_at, t) < self._shift_end
            ):
                self._announced.add("break_due")
                pending.append(
                    (
                        self._active_crossing(due_at, t),
                        "break_due",
                        {"after_active_seconds": s.break_after_seconds},
                    )
                )
            for limit, value, cap, crossing in (
                (Limit.DAILY_ACTIVE, active, s.daily_active_cap_seconds, True),
                (Limit.DAILY_AB_REVEALED, self._ab, s.daily_ab_revealed_cap_seconds, False),
            ):
                if value >= cap:
                    if self._cap is None:
                        self._cap = limit
                        self._announced.add(f"reached:{limit}")
                        at = self._active_crossing(cap, t) if crossing else t
                        pending.append(
                            (at, "cap_reached", {"cap": limit.value, "limit_seconds": cap})
                        )
                elif (
                    cap - value <= s.cap_warning_seconds and f"warn:{limit}" not in self._announced
                ):
                    self._announced.add(f"warn:{limit}")
                    warn_at = cap - s.cap_warning_seconds
                    at = self._active_crossing(warn_at, t) if crossing else t
                    pending.append(
                        (
                            at,
                            "cap_warning",
                            {"cap": limit.value, "minutes_left": math.ceil((cap - value) / 60)},
                        )
                    )
            left = self._shift_end - t
            if (
                self._cap is None
                and left <= s.cap_warning_seconds
                and "warn:shift_end" not in self._announced
            ):
                self._announced.add("warn:shift_end")
                at = max(self._shift_end - s.cap_warning_seconds, self._shift_start)
                pending.append(
                    (
                        at,
                        "cap_warning",
                        {"cap": Limit.SHIFT_END.value, "minutes_left": math.ceil(left / 60)},
                    )
                )
        # The caps just found close review: a break falling due with them is moot.
        if self._cap is not None:
            pending = [p for p in pending if p[1] != "break_due"]
        for at, kind, detail in sorted(pending, key=lambda p: p[0]):
            self._emit(kind, detail, at)

        if self._pause_start is not None and now - self._pause_start >= s.pause_after_a_seconds:
            self._pause_start = None
        if now >= self._shift_end:
            self._close_shift(self._shift_end, "shift_length")

    def _close_shift(self, at: float, why: str) -> None:
        self._fold(at)
        detail: dict[str, Any] = {
            "reason": why,
            "active_seconds": round(self._active, 3),
            "ab_revealed_seconds": round(self._ab, 3),
            "revealed_seconds": round(self._revealed, 3),
            "breaks_taken": self._breaks_taken,
            "breaks_overridden": self._breaks_overridden,
        }
        if self._break_start is not None:
            detail["during_break"] = True
            self._break_start = None
        self._pause_start = None
        self._ended = why
        self._emit("shift_ended", detail, at)

    def _announce_silently(self, now: float) -> None:
        """Mark thresholds already crossed by carried totals as announced."""
        s = self.settings
        active = self._active_at(now)
        if self._since_break(now) >= s.break_after_seconds:
            self._announced.add("break_due")
        for limit, value, cap in (
            (Limit.DAILY_ACTIVE, active, s.daily_active_cap_seconds),
            (Limit.DAILY_AB_REVEALED, self._ab, s.daily_ab_revealed_cap_seconds),
        ):
            if value >= cap and self._cap is None:
                self._cap = limit
            if cap - value <= s.cap_warning_seconds:
                self._announced.add(f"warn:{limit}")
        if self._shift_end - now <= s.cap_warning_seconds:
            self._announced.add("warn:shift_end")

    # -- reading

    def _closed_reason(self) -> str | None:
        if self._ended is not None:
            return "shift"
        return None if self._cap is None else "cap"

    def _pause_left(self, now: float) -> float | None:
        if self._pause_start is None:
            return None
        left = self.settings.pause_after_a_seconds - (now - self._pause_start)
        return left if left > 0 else None

    def _mode(self, now: float) -> Mode:
        if not self._started:
            return Mode.NOT_STARTED
        if self._ended is not None:
            return Mode.SHIFT_OVER
        if self._cap is not None:
            return Mode.CAP_REACHED
        if self._break_start is not None:
            return Mode.ON_BREAK
        if self._since_break(now) >= self.settings.break_after_seconds:
            return Mode.BREAK_DUE
        if self._pause_left(now) is not None:
            return Mode.PAUSED_AFTER_A
        return Mode.REVIEWING

    def _state(self, now: float) -> PolicyState:
        s = self.settings
        mode = self._mode(now)
        prefer_non_a = self._consecutive_a >= s.max_consecutive_a
        since_break = self._since_break(now)
        st: dict[str, Any] = {}
        if mode is Mode.PAUSED_AFTER_A:
            assert self._pause_start is not None
            st["pause_seconds_left"] = self._pause_left(now)
            st["pause_skippable"] = now - self._pause_start >= s.pause_skippable_after_seconds
        if mode is Mode.ON_BREAK:
            assert self._break_start is not None
            end = self._break_start + s.break_seconds
            st["break_ends_at"] = self._wall_of(end)
            st["break_seconds_left"] = max(0.0, end - now)
        if mode is Mode.CAP_REACHED:
            st["cap"] = self._cap
        if mode in (Mode.REVIEWING, Mode.PAUSED_AFTER_A):
            st["seconds_until_break_due"] = max(0.0, s.break_after_seconds - since_break)
        if self._started and mode is not Mode.SHIFT_OVER:
            st["shift_ends_at"] = self._wall_of(self._shift_end)
        return PolicyState(
            mode=mode,
            can_claim=mode is Mode.REVIEWING,
            reason=self._reason(mode, now, prefer_non_a, st),
            warnings=self._warnings(mode, now),
            active_seconds_today=round(self._active_at(now), 3),
            ab_revealed_seconds_today=round(self._ab, 3),
            revealed_seconds_today=round(self._revealed, 3),
            since_last_break_seconds=round(since_break, 3),
            consecutive_a=self._consecutive_a,
            prefer_non_a=prefer_non_a,
            breaks_taken=self._breaks_taken,
            breaks_overridden=self._breaks_overridden,
            **st,
        )

    def _reason(self, mode: Mode, now: float, prefer_non_a: bool, st: dict[str, Any]) -> str:
        s = self.settings
        if mode is Mode.NOT_STARTED:
            return "Start your shift to begin reviewing."
        if mode is Mode.SHIFT_OVER:
            return "Your shift has ended. Review is closed until your next shift."
        if mode is Mode.CAP_REACHED:
            if self._cap is Limit.DAILY_AB_REVEALED:
                return (
                    "You have reached today's limit for viewing Category A/B material "
                    f"({s.daily_ab_revealed_cap_hours:g} h). Review is closed for today."
                )
            return (
                f"You have reached today's review limit ({s.daily_active_cap_hours:g} h"
                " of active review). Review is closed for today."
            )
        if mode is Mode.ON_BREAK:
            left = st["break_seconds_left"]
            if left <= 0:
                return "Your break is complete. End it when you are ready to continue."
            return f"On break: {_minutes(left)} left."
        if mode is Mode.BREAK_DUE:
            return (
                f"Time for a break: you have reviewed for {s.break_after_active_minutes}"
                f" minutes since your last one. Take {_minutes(s.break_seconds)} away"
                " from the screen to continue."
            )
        if mode is Mode.PAUSED_AFTER_A:
            text = (
                f"A short pause after a Category A item: {math.ceil(st['pause_seconds_left'])} s."
            )
            return text + (" You can skip it now." if st["pause_skippable"] else "")
        if prefer_non_a:
            return (
                f"Ready. After {self._consecutive_a} Category A items in a row, the next"
                " item will come from other work if there is any."
            )
        return "Ready to review."

    def _warnings(self, mode: Mode, now: float) -> tuple[str, ...]:
        if mode in (Mode.NOT_STARTED, Mode.SHIFT_OVER, Mode.CAP_REACHED):
            return ()
        s = self.settings
        warn = s.cap_warning_seconds
        out = []
        active_left = s.daily_active_cap_seconds - self._active_at(now)
        if 0 < active_left <= warn:
            out.append(f"{_minutes(active_left)} of review left today")
        ab_left = s.daily_ab_revealed_cap_seconds - self._ab
        if 0 < ab_left <= warn:
            out.append(f"{_minutes(ab_left)} of Category A/B viewing left today")
        shift_left = self._shift_end - now
        if 0 < shift_left <= warn:
            out.append(f"{_minutes(shift_left)} until your shift ends")
        return tuple(out)

    # -- helpers

    def _require_started(self) -> None:
        if not self._started:
            raise PolicyError("the shift has not started")

    def _emit(self, kind: str, detail: dict[str, Any], at: float) -> PolicyEvent:
        event = PolicyEvent(kind, detail, self._wall_of(at))
        self._events.append(event)
        return event

    def _wall_of(self, mono: float) -> datetime:
        return self._clock.now() - timedelta(seconds=self._clock.monotonic() - mono)

    def _mono_of(self, wall: datetime) -> float:
        # A persisted time in the future (clock skew) is taken as now.
        ago = max(0.0, (self._clock.now() - wall).total_seconds())
        return self._clock.monotonic() - ago

    def _iso(self, mono: float) -> str:
        return self._wall_of(mono).isoformat()


def _minutes(seconds: float) -> str:
    """Whole minutes, rounded up: "1 minute" is left until the last second has gone."""
    n = max(1, math.ceil(seconds / 60 - 1e-9))
    return f"{n} minute{'s' if n != 1 else ''}"
