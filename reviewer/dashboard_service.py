"""The team lead's view: queue depth and age, workload, exposure against the caps,
breaks, QA agreement; and the lead's actions on it (all audited, all OVERRIDE).

Exposure is shown as spread and people over the cap, never as a team average: one
person at twice the cap and three at half of it average out to "fine".

Breaks are read from audit events of the kinds in BREAK_TAKEN_KINDS /
BREAK_OVERRIDDEN_KINDS. Ending a break early from here records the lead's audited
decision only; the break lock on the moderator's screen is lifted at that workstation,
where the lead signs in (reviewer.welfare_service.WelfareSession.lead_end_break).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from reviewer.accounts import Account
from reviewer.clock import Clock
from reviewer.model import PRIORITY_LABELS
from reviewer.permissions import Check, Operation
from reviewer.qa_service import AgreementSummary, QaService
from reviewer.referral_service import ReferralDeadlines
from reviewer.untrusted import MAX_NOTE, text
from wellbeing.settings import WelfareSettings

BREAK_TAKEN_KINDS: Final = ("break_started",)
BREAK_OVERRIDDEN_KINDS: Final = ("break_ended_by_lead",)
# An audit checkpoint older than this is flagged on the dashboard: take one at least
# weekly (README, "Audit trail").
AUDIT_CHECKPOINT_STALE: Final = timedelta(days=7)
# The welfare settings cap A/B revealed time per day; a week is five working days.
WORK_DAYS_PER_WEEK: Final = 5


@dataclass(frozen=True)
class QueueDepth:
    """Items of one priority in one queue."""

    queue_id: int
    queue_name: str
    target_minutes: int
    priority: int
    pending: int
    claimed: int
    oldest_pending_at: datetime | None

    @property
    def priority_label(self) -> str:
        return PRIORITY_LABELS.get(self.priority, f"Priority {self.priority}")


@dataclass(frozen=True)
class QueueAge:
    """A queue's oldest waiting item against its target time."""

    queue_id: int
    queue_name: str
    target_minutes: int
    pending: int
    oldest_pending_at: datetime | None
    oldest_age_s: float

    @property
    def target_s(self) -> float:
        return self.target_minutes * 60.0

    @property
    def over_target(self) -> bool:
        return self.oldest_age_s > self.target_s


@dataclass(frozen=True)
class PersonLoad:
    """One person's workload and exposure (moderators and QA reviewers alike)."""

    user_id: int
    name: str
    role: str
    decisions_last_hour: int
    decisions_today: int
    held: int
    revealed_today_s: float
    ab_revealed_today_s: float
    ab_revealed_week_s: float
    breaks_taken: int
    breaks_overridden: int


@dataclass(frozen=True)
class Caps:
    daily_ab_s: float
    weekly_ab_s: float
    warning_s: float

    @classmethod
    def from_welfare(cls, s: WelfareSettings) -> Caps:
        daily = s.daily_ab_revealed_cap_seconds
        return cls(daily, daily * WORK_DAYS_PER_WEEK, s.cap_warning_seconds)


@dataclass(frozen=True)
class DashboardSnapshot:
    at: datetime
    day_start: datetime
    week_start: datetime
    queues: tuple[QueueDepth, ...]
    people: tuple[PersonLoad, ...]
    caps: Caps
    agreement: AgreementSummary
    referrals: ReferralDeadlines
    # When the newest audit checkpoint was taken (None: never). Only a checkpoint kept
    # outside the database shows events cut from the end of the log; a stale one
    # leaves everything after it unanchored.
    last_audit_checkpoint: datetime | None = None

    def audit_checkpoint_stale(self) -> bool:
        last = self.last_audit_checkpoint
        return last is None or self.at - last > AUDIT_CHECKPOINT_STALE

    def queue_ages(self) -> list[QueueAge]:
        by_queue: dict[int, list[QueueDepth]] = {}
        for q in self.queues:
            by_queue.setdefault(q.queue_id, []).append(q)
        out = []
        for qid, rows in by_queue.items():
            oldest = min((r.oldest_pending_at for r in rows if r.oldest_pending_at), default=None)
            age = (self.at - oldest).total_seconds() if oldest else 0.0
            out.append(
                QueueAge(
                    qid,
                    rows[0].queue_name,
                    rows[0].target_minutes,
                    sum(r.pending for r in rows),
                    oldest,
                    max(0.0, age),
                )
            )
        return sorted(out, key=lambda a: a.queue_name)

    def over_daily_cap(self) -> list[PersonLoad]:
        return [p for p in self.people if p.ab_revealed_today_s >= self.caps.daily_ab_s]

    def near_daily_cap(self) -> list[PersonLoad]:
        lo = self.caps.daily_ab_s - self.caps.warning_s
        return [p for p in self.people if lo <= p.ab_revealed_today_s < self.caps.daily_ab_s]

    def over_weekly_cap(self) -> list[PersonLoad]:
        return [p for p in self.people if p.ab_revealed_week_s >= self.caps.weekly_ab_s]


class DashboardPort(Protocol):
    """The subset of db.dashboard.DashboardRepo the service uses."""

    def queue_depths(self, *, check: Check) -> list[QueueDepth]: ...
    def people(
        self, hour_ago: datetime, day_start: datetime, week_start: datetime, *, check: Check
    ) -> list[PersonLoad]: ...
    def release_claims(self, lead_id: int, user_id: int, reason: str, *, check: Check) -> int: ...
    def reassign_held(
        self, lead_id: int, user_id: int, queue_id: int, reason: str, *, check: Check
    ) -> int: ...
    def record_break_ended(
        self, lead_id: int, user_id: int, reason: str, *, check: Check
    ) -> None: ...
    def queue_names(self, *, check: Check) -> list[tuple[int, str]]: ...
    def last_audit_checkpoint(self, *, check: Check) -> datetime | None: ...


def day_and_week_start(now: datetime) -> tuple[datetime, datetime]:
    """Local midnight today and on Monday, as aware datetimes (a lead's day is local)."""
    local = now.astimezone()
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day - timedelta(days=local.weekday())


class DashboardService:
    def __init__(
        self,
        repo: DashboardPort,
        qa: QaService,
        account: Account,
        clock: Clock,
        welfare_settings: Callable[[], WelfareSettings],
        *,
        referral_deadlines: Callable[[], ReferralDeadlines],
    ) -> None:
        """`welfare_settings`: the admin's welfare settings as stored now (read again
        for every snapshot, so a cap the admin changes shows at the next refresh)."""
        self._repo = repo
        self._referral_deadlines = referral_deadlines
        self._qa = qa
        self.account = account
        self._clock = clock
        self._welfare_settings = welfare_settings
        self.caps = Caps.from_welfare(welfare_settings())

    def snapshot(self, agreement_days: int = 30) -> DashboardSnapshot:
        check = self._check(Operation.DASHBOARD)
        self.caps = Caps.from_welfare(self._welfare_settings())
        now = self._clock.now()
        day, week = day_and_week_start(now)
        return DashboardSnapshot(
            at=now,
            day_start=day,
            week_start=week,
            queues=tuple(self._repo.queue_depths(check=check)),
            people=tuple(self._repo.people(now - timedelta(hours=1), day, week, check=check)),
            caps=self.caps,
            agreement=self._qa.agreement(now - timedelta(days=agreement_days), now),
            referrals=self._referral_deadlines(),
            last_audit_checkpoint=self._repo.last_audit_checkpoint(check=check),
        )

    def queues(self) -> list[tuple[int, str]]:
        """(id, name) of every queue, for the reassign choice."""
        return self._repo.queue_names(check=self._check(Operation.DASHBOARD))

    # -- actions: every one needs OVERRIDE and a reason, and is audited -----------------

    def _check(self, op: Operation, **on: int | None) -> Check:
        return Check(self.account.id, self.account.name, op, **on)

    @staticmethod
    def _reason(reason: str) -> str:
        text("reason", reason, MAX_NOTE)  # Untrusted (a ValueError) before anything changes
        if not reason.strip():
            raise ValueError("A lead's override needs a reason; it goes into the audit trail.")
        return reason.strip()

    def release_claims(self, user_id: int, reason: str) -> int:
        """Hand back every item this person holds (e.g. they left the desk)."""
        return self._repo.release_claims(
            self.account.id,
            user_id,
            self._reason(reason),
            check=self._check(Operation.RELEASE_HELD),
        )

    def reassign(self, user_id: int, queue_id: int, reason: str) -> int:
        """Move the items this person holds to another queue (e.g. a specialist one)."""
        return self._repo.reassign_held(
            self.account.id,
            user_id,
            queue_id,
            self._reason(reason),
            check=self._check(Operation.REASSIGN, queue_id=queue_id),
        )

    def end_break_early(self, user_id: int, reason: str) -> None:
        why = self._reason(reason)
        self._repo.record_break_ended(
            self.account.id, user_id, why, check=self._check(Operation.END_BREAK)
        )


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def snapshot_csv(s: DashboardSnapshot) -> str:
    """The snapshot as one CSV with a section column, for a spreadsheet."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["section", "name", "field", "value", "n"])
    w.writerow(["snapshot", "", "taken_at", s.at.isoformat(), ""])
    last = s.last_audit_checkpoint
    w.writerow(["audit", "", "last_checkpoint_at", last.isoformat() if last else "never", ""])
    for q in s.queues:
        w.writerow(["queue_depth", q.queue_name, f"{q.priority_label} waiting", q.pending, ""])
        w.writerow(["queue_depth", q.queue_name, f"{q.priority_label} in review", q.claimed, ""])
    for a in s.queue_ages():
        w.writerow(["queue_age", a.queue_name, "oldest_minutes", _minutes(a.oldest_age_s), ""])
        w.writerow(["queue_age", a.queue_name, "target_minutes", a.target_minutes, ""])
    r = s.referrals
    for field, value in (
        ("awaiting", r.awaiting),
        ("built_not_sent", r.unsent),
        ("due_soon", r.due_soon),
        ("overdue", r.overdue),
    ):
        w.writerow(["referrals", "", field, value, ""])
    caps = s.caps
    w.writerow(["caps", "", "daily_ab_revealed_minutes", _minutes(caps.daily_ab_s), ""])
    w.writerow(["caps", "", "weekly_ab_revealed_minutes", _minutes(caps.weekly_ab_s), ""])
    for p in s.people:
        for field, figure in (
            ("decisions_last_hour", p.decisions_last_hour),
            ("decisions_today", p.decisions_today),
            ("items_held", p.held),
            ("revealed_today_minutes", _minutes(p.revealed_today_s)),
            ("ab_revealed_today_minutes", _minutes(p.ab_revealed_today_s)),
            ("ab_revealed_week_minutes", _minutes(p.ab_revealed_week_s)),
            ("breaks_taken_today", p.breaks_taken),
            ("breaks_overridden_today", p.breaks_overridden),
        ):
            w.writerow(["person", p.name, field, figure, ""])
    names = {p.user_id: p.name for p in s.people}
    for uid, report in s.agreement.combined.items():
        name = names.get(uid, f"user {uid}")
        for field, fig in (
            ("severity_kappa", report.severity_kappa),
            ("severity_agreement", report.severity_agreement),
            ("age_band_exact", report.age_band_exact),
            ("age_band_adjacent", report.age_band_adjacent),
            ("production_context_agreement", report.production_context_agreement),
        ):
            shown = "" if fig.value is None else f"{fig.value:.3f}"
            w.writerow(["agreement", name, field, shown, fig.n])
    return out.getvalue()
