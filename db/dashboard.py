"""What the team lead's dashboard reads, and the lead's override actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from db.audit_checkpoint import last_taken_at
from db.gate import restricted_queues
from db.models import (
    AuditRow,
    ClaimRow,
    DecisionRow,
    ExposureRow,
    ItemRow,
    QaGradeRow,
    QaSampleRow,
    QueueRow,
    UserRow,
)
from db.open_items import CLAIMED, open_counts
from db.repo import Repo, translate_errors
from reviewer.dashboard_service import (
    BREAK_OVERRIDDEN_KINDS,
    BREAK_TAKEN_KINDS,
    PersonLoad,
    QueueDepth,
)
from reviewer.errors import NotFound
from reviewer.permissions import Check

items = ItemRow.__table__
queues = QueueRow.__table__
claims = ClaimRow.__table__
decisions = DecisionRow.__table__
exposures = ExposureRow.__table__
grades = QaGradeRow.__table__
samples = QaSampleRow.__table__
users = UserRow.__table__
audit = AuditRow.__table__

_AB = ("A", "B")


class DashboardRepo(Repo):
    @translate_errors
    def queue_depths(self, *, check: Check) -> list[QueueDepth]:
        with self.read() as conn:
            self.store.gate.enforce(conn, check)
            counts = open_counts(conn, by_priority=True)
            names = {
                r.id: r
                for r in conn.execute(select(queues.c.id, queues.c.name, queues.c.target_minutes))
            }
        depths = [
            QueueDepth(
                queue_id,
                names[queue_id].name,
                names[queue_id].target_minutes,
                priority,
                c.pending,
                c.claimed,
                c.oldest_pending_at,
            )
            for (queue_id, priority), c in counts.items()
        ]
        return sorted(depths, key=lambda d: (d.queue_name, d.priority))

    @translate_errors
    def people(
        self, hour_ago: datetime, day_start: datetime, week_start: datetime, *, check: Check
    ) -> list[PersonLoad]:
        # A/B-ness of an exposure: the grade given during that claim, by a moderator
        # (decisions) or a QA reviewer (qa_grades).
        is_ab = or_(decisions.c.severity.in_(_AB), grades.c.severity.in_(_AB))
        exp = (
            select(
                exposures.c.user_id,
                func.coalesce(
                    func.sum(exposures.c.seconds_revealed).filter(
                        exposures.c.recorded_at >= day_start
                    ),
                    0.0,
                ).label("today"),
                func.coalesce(
                    func.sum(exposures.c.seconds_revealed).filter(
                        and_(exposures.c.recorded_at >= day_start, is_ab)
                    ),
                    0.0,
                ).label("ab_today"),
                func.coalesce(func.sum(exposures.c.seconds_revealed).filter(is_ab), 0.0).label(
                    "ab_week"
                ),
            )
            .select_from(
                exposures.outerjoin(
                    decisions, decisions.c.claim_id == exposures.c.claim_id
                ).outerjoin(grades, grades.c.claim_id == exposures.c.claim_id)
            )
            .where(exposures.c.recorded_at >= week_start)
            .group_by(exposures.c.user_id)
        )
        dec = (
            select(
                decisions.c.user_id,
                func.count().filter(decisions.c.decided_at >= hour_ago).label("hour"),
                func.count().label("today"),
            )
            .where(decisions.c.decided_at >= day_start)
            .group_by(decisions.c.user_id)
        )
        held = (
            select(items.c.claimed_by, func.count().label("n"))
            .where(items.c.status == CLAIMED)
            .group_by(items.c.claimed_by)
        )
        brk = (
            select(
                audit.c.user_id,
                func.count().filter(audit.c.kind.in_(BREAK_TAKEN_KINDS)).label("taken"),
                func.count().filter(audit.c.kind.in_(BREAK_OVERRIDDEN_KINDS)).label("over"),
            )
            .where(
                audit.c.at >= day_start,
                audit.c.kind.in_((*BREAK_TAKEN_KINDS, *BREAK_OVERRIDDEN_KINDS)),
            )
            .group_by(audit.c.user_id)
        )
        active = select(claims.c.user_id).where(claims.c.claimed_at >= week_start)
        with self.read() as conn:
            self.store.gate.enforce(conn, check)
            e = {r.user_id: r for r in conn.execute(exp)}
            d = {r.user_id: r for r in conn.execute(dec)}
            h = {r.claimed_by: r.n for r in conn.execute(held)}
            b = {r.user_id: r for r in conn.execute(brk)}
            people = conn.execute(
                select(users.c.id, users.c.name, users.c.role)
                .where(or_(users.c.role.in_(("moderator", "qa")), users.c.id.in_(active)))
                .order_by(users.c.name)
            ).all()
        out = []
        for u in people:
            ex, de, br = e.get(u.id), d.get(u.id), b.get(u.id)
            out.append(
                PersonLoad(
                    user_id=u.id,
                    name=u.name,
                    role=u.role,
                    decisions_last_hour=de.hour if de else 0,
                    decisions_today=de.today if de else 0,
                    held=h.get(u.id, 0),
                    revealed_today_s=float(ex.today) if ex else 0.0,
                    ab_revealed_today_s=float(ex.ab_today) if ex else 0.0,
                    ab_revealed_week_s=float(ex.ab_week) if ex else 0.0,
                    breaks_taken=br.taken if br else 0,
                    breaks_overridden=br.over if br else 0,
                )
            )
        return out

    # -- lead actions -------------------------------------------------------------------

    def _release_held(
        self,
        conn: Connection,
        lead_id: int,
        user_id: int,
        kind: str,
        detail: dict[str, Any],
        queue_id: int | None = None,
    ) -> int:
        held = conn.execute(
            select(items.c.id, items.c.claim_id, items.c.queue_id)
            .where(items.c.status == "claimed", items.c.claimed_by == user_id)
            .with_for_update()
        ).all()
        values: dict[str, Any] = {
            "status": "pending",
            "claimed_by": None,
            "claim_id": None,
            "lease_expires_at": None,
        }
        # An item of a restricted queue is never moved into an unrestricted one (its
        # audience would widen to everyone): it goes back to its own queue instead.
        restricted = restricted_queues(conn)
        for item_id, claim_id, from_queue in held:
            moved = dict(values)
            if queue_id is not None and (from_queue not in restricted or queue_id in restricted):
                moved["queue_id"] = queue_id
            conn.execute(update(items).where(items.c.id == item_id).values(**moved))
            conn.execute(
                update(claims)
                .where(claims.c.id == claim_id, claims.c.closed_at.is_(None))
                .values(closed_at=self.now(), outcome="released")
            )
        qa_held = conn.execute(
            update(samples)
            .where(samples.c.status == "claimed", samples.c.claimed_by == user_id)
            .values(status="pending", claimed_by=None, claim_id=None, lease_expires_at=None)
            .returning(samples.c.item_id)
        ).all()
        for item_id, _claim, from_queue in held:
            kept = queue_id is not None and from_queue in restricted and queue_id not in restricted
            extra = {"kept_in_restricted_queue": from_queue} if kept else {}
            self.audit(conn, lead_id, kind, item_id, {"user_id": user_id, **detail, **extra})
        for (item_id,) in qa_held:
            self.audit(conn, lead_id, kind, item_id, {"user_id": user_id, "qa": True, **detail})
        return len(held) + len(qa_held)

    @translate_errors
    def release_claims(self, lead_id: int, user_id: int, reason: str, *, check: Check) -> int:
        """Hand back every item (and QA sample) `user_id` holds. Their workstation learns
        at its next renew or submit (LeaseLost), and the exposure it metered is still
        recorded then."""
        with self.write() as conn:
            self.store.gate.enforce(conn, check)
            return self._release_held(conn, lead_id, user_id, "lead_released", {"reason": reason})

    @translate_errors
    def reassign_held(
        self, lead_id: int, user_id: int, queue_id: int, reason: str, *, check: Check
    ) -> int:
        with self.write() as conn:
            self.store.gate.enforce(conn, check)
            if conn.execute(select(queues.c.id).where(queues.c.id == queue_id)).first() is None:
                raise NotFound(f"queue {queue_id}")
            return self._release_held(
                conn,
                lead_id,
                user_id,
                "lead_reassigned",
                {"reason": reason, "to_queue_id": queue_id},
                queue_id=queue_id,
            )

    @translate_errors
    def record_break_ended(self, lead_id: int, user_id: int, reason: str, *, check: Check) -> None:
        with self.write() as conn:
            self.store.gate.enforce(conn, check)
            self.audit(
                conn, user_id, "break_ended_by_lead", None, {"lead_id": lead_id, "reason": reason}
            )

    @translate_errors
    def last_audit_checkpoint(self, *, check: Check) -> datetime | None:
        with self.read() as conn:
            self.store.gate.enforce(conn, check)
            return last_taken_at(conn)

    @translate_errors
    def queue_names(self, *, check: Check) -> list[tuple[int, str]]:
        with self.read() as conn:
            self.store.gate.enforce(conn, check)
            return [
                (r.id, r.name)
                for r in conn.execute(select(queues.c.id, queues.c.name).order_by(queues.c.name))
            ]
