"""Welfare persistence: day counters, settings, opt-outs, support-request counts.

Built on db.repo.Repo (one transaction per public method, audit events last). The
exposure ledger stays the source of truth for revealed time: `revealed_floor` reads it,
so a restart can never carry less revealed time than was actually recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update

from db.models import (
    DecisionRow,
    ExposureRow,
    QaGradeRow,
    SupportRequestRow,
    UserRow,
    WelfareDayRow,
    WelfareOptOutRow,
    WelfareSettingsRow,
)
from db.repo import Repo, translate_errors
from reviewer.permissions import Check
from wellbeing.policy import DayTotals, OptOuts, PolicyEvent
from wellbeing.settings import WelfareSettings

days = WelfareDayRow.__table__
settings_t = WelfareSettingsRow.__table__
opt_outs_t = WelfareOptOutRow.__table__
support_t = SupportRequestRow.__table__
exposures = ExposureRow.__table__
decisions = DecisionRow.__table__
grades = QaGradeRow.__table__
users_t = UserRow.__table__
_AB = ("A", "B")

_TOTALS = (
    "shift_started_at",
    "shift_ended",
    "active_seconds",
    "ab_revealed_seconds",
    "revealed_seconds",
    "since_last_break_seconds",
    "consecutive_a",
    "breaks_taken",
    "breaks_overridden",
    "break_started_at",
)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


class WelfareRepo(Repo):
    # -- the gate for a second person at this desk ---------------------------------------

    @translate_errors
    def authorise(self, check: Check) -> None:
        """The gate for `check`, made at this desk for a second person who proved who
        they are (a lead ending a break at the moderator's workstation): AccessDenied
        unless they may. A refusal is audited as `access_denied` by the desk's own
        person on a team server (its connection is that person's login role, which
        writes events only as itself), naming the person refused in the detail; on the
        embedded database, by the person refused, as every refusal is."""
        self.store.authorise(check, at_desk=True)

    # -- day counters -------------------------------------------------------------------

    @translate_errors
    def load_day(self, user_id: int, day: date) -> DayTotals | None:
        with self.read() as conn:
            row = conn.execute(
                select(days).where(days.c.user_id == user_id, days.c.day == day)
            ).first()
        if row is None:
            return None
        m = row._mapping
        return DayTotals(**{k: m[k] for k in _TOTALS})

    @translate_errors
    def save_day(
        self,
        user_id: int,
        day: date,
        totals: DayTotals,
        events: Sequence[PolicyEvent] = (),
    ) -> None:
        """Store the counters and audit the policy's events, in one transaction."""
        values: dict[str, Any] = {k: getattr(totals, k) for k in _TOTALS}
        with self.write() as conn:
            updated = conn.execute(
                update(days)
                .where(days.c.user_id == user_id, days.c.day == day)
                .values(**values, updated_at=self.now())
            ).rowcount
            if not updated:
                conn.execute(
                    insert(days).values(user_id=user_id, day=day, updated_at=self.now(), **values)
                )
            for event in events:
                detail = dict(event.detail) | {"at": event.at.isoformat()}
                self.audit(conn, user_id, event.kind, None, detail)

    @translate_errors
    def revealed_floor(self, user_id: int, day: date) -> tuple[float, float]:
        """(all revealed seconds, revealed seconds on items graded A or B) in the
        exposure ledger for this user on this UTC day. Graded by them: in a decision,
        or in a QA re-grade (the same caps cover both)."""
        start, end = day_bounds(day)
        in_day = (
            exposures.c.user_id == user_id,
            exposures.c.recorded_at >= start,
            exposures.c.recorded_at < end,
        )
        with self.read() as conn:
            total = conn.execute(
                select(func.coalesce(func.sum(exposures.c.seconds_revealed), 0.0)).where(*in_day)
            ).scalar_one()
            ab = conn.execute(
                select(func.coalesce(func.sum(exposures.c.seconds_revealed), 0.0))
                .select_from(
                    exposures.outerjoin(
                        decisions, decisions.c.claim_id == exposures.c.claim_id
                    ).outerjoin(grades, grades.c.claim_id == exposures.c.claim_id)
                )
                .where(
                    *in_day,
                    or_(decisions.c.severity.in_(_AB), grades.c.severity.in_(_AB)),
                )
            ).scalar_one()
        return float(total), float(ab)

    # -- settings -----------------------------------------------------------------------

    @translate_errors
    def settings(self) -> WelfareSettings:
        """The admin's settings, or the defaults if none were saved."""
        with self.read() as conn:
            data = conn.execute(select(settings_t.c.data).where(settings_t.c.id == 1)).scalar()
        return WelfareSettings() if data is None else WelfareSettings.from_dict(dict(data))

    @translate_errors
    def save_settings(self, settings: WelfareSettings, check: Check) -> None:
        """The admin's new settings (the gate: WELFARE_SETTINGS), audited."""
        data = settings.to_dict()
        with self.write() as conn:
            by_user_id = self.store.gate.enforce(conn, check).account.id
            updated = conn.execute(
                update(settings_t)
                .where(settings_t.c.id == 1)
                .values(data=data, updated_at=self.now(), updated_by=by_user_id)
            ).rowcount
            if not updated:
                conn.execute(
                    insert(settings_t).values(
                        id=1, data=data, updated_at=self.now(), updated_by=by_user_id
                    )
                )
            self.audit(conn, by_user_id, "welfare_settings_changed", None, data)

    # -- opt-outs -----------------------------------------------------------------------

    @translate_errors
    def opt_outs(self, user_id: int) -> OptOuts:
        with self.read() as conn:
            data = conn.execute(
                select(opt_outs_t.c.data).where(opt_outs_t.c.user_id == user_id)
            ).scalar()
        return OptOuts() if data is None else OptOuts.from_dict(dict(data))

    @translate_errors
    def set_opt_outs(self, user_id: int, opt_outs: OptOuts) -> None:
        data = opt_outs.to_dict()
        with self.write() as conn:
            updated = conn.execute(
                update(opt_outs_t)
                .where(opt_outs_t.c.user_id == user_id)
                .values(data=data, updated_at=self.now())
            ).rowcount
            if not updated:
                conn.execute(
                    insert(opt_outs_t).values(user_id=user_id, data=data, updated_at=self.now())
                )
            self.audit(conn, user_id, "opt_outs_changed", None, data)

    # -- check-ins ----------------------------------------------------------------------

    @translate_errors
    def count_support_request(self, day: date) -> None:
        """One more check-in asked for support today. Nothing names who (no user id,
        no audit event): leads see only the count."""
        with self.write() as conn:
            updated = conn.execute(
                update(support_t)
                .where(support_t.c.day == day)
                .values(requests=support_t.c.requests + 1)
            ).rowcount
            if not updated:
                conn.execute(insert(support_t).values(day=day, requests=1))

    @translate_errors
    def support_requests(self, day: date) -> int:
        with self.read() as conn:
            n = conn.execute(select(support_t.c.requests).where(support_t.c.day == day)).scalar()
        return int(n or 0)
