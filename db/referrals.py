"""Referral packages and the reporting settings, in the database.

Each public method is one transaction; every state change carries its audit event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, or_, select, update

from db.items import ItemViews
from db.models import (
    DecisionRow,
    ExposureRow,
    ItemRow,
    ReferralRow,
    ReportingSettingsRow,
    UserRow,
)
from db.repo import Repo, translate_errors
from db.unit_of_work import UnitOfWork
from reviewer.destinations import (
    MIN_REPORT_HOLD_DAYS,
    Destination,
    DestinationRules,
    Priority,
    PriorReport,
    due_at,
    refuse_duplicate,
)
from reviewer.errors import NotFound
from reviewer.grading import Grading
from reviewer.permissions import Check
from reviewer.referral_model import IncidentType
from reviewer.referral_service import (
    AwaitingReferral,
    DecisionFacts,
    NewReferral,
    Referral,
    ReferralKind,
    ReferralSource,
    ReportingSettings,
    incident_type_for,
    is_urgent,
    priority_for,
)
from reviewer.vocabulary import (
    Action,
    AgeBand,
    AgeConfidence,
    NotAssessableReason,
    ProductionContext,
    Severity,
)

items = ItemRow.__table__
decisions = DecisionRow.__table__
exposures = ExposureRow.__table__
referrals_t = ReferralRow.__table__
settings_t = ReportingSettingsRow.__table__
users_t = UserRow.__table__

_SETTING_LIMITS = {
    "organisation": 200,
    "contact_name": 200,
    "contact_email": 200,
    "contact_phone": 60,
}


def grading_of(r: Any) -> Grading:
    """A decision row back into the Grading it was stored from."""
    return Grading(
        severity=Severity(r.severity),
        csea_related=bool(r.csea_related),
        not_assessable_reason=(
            NotAssessableReason(r.not_assessable_reason) if r.not_assessable_reason else None
        ),
        age_band=AgeBand(r.age_band) if r.age_band else None,
        age_confidence=AgeConfidence(r.age_confidence) if r.age_confidence else None,
        production_context=(
            ProductionContext(r.production_context) if r.production_context else None
        ),
        actions=frozenset(Action(a) for a in (r.actions or ()) if a in Action._value2member_map_),
        note=r.note or "",
    )


def read_settings(conn: Connection) -> ReportingSettings:
    r = conn.execute(select(settings_t).where(settings_t.c.id == 1)).first()
    if r is None:
        return ReportingSettings()
    return ReportingSettings(
        organisation=r.organisation,
        contact_name=r.contact_name,
        contact_email=r.contact_email,
        contact_phone=r.contact_phone,
        report_hold_days=r.report_hold_days,
        non_illegal_dispose_days=r.non_illegal_dispose_days,
        destinations=DestinationRules.from_json(r.destination_rules),
    )


def prior_reports(conn: Connection, item_id: int) -> tuple[PriorReport, ...]:
    """Every referral built for the item (JSON item lists: filtered here, few rows)."""
    rows = conn.execute(
        select(
            referrals_t.c.item_ids,
            referrals_t.c.destination,
            referrals_t.c.reference,
            referrals_t.c.exported_at,
        ).order_by(referrals_t.c.id)
    )
    return tuple(
        PriorReport(Destination(r.destination), r.reference, r.exported_at)
        for r in rows
        if item_id in (int(i) for i in r.item_ids or ())
    )


class ReferralRepo(Repo):
    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self._views = ItemViews(uow.dialect)

    # -- settings ------------------------------------------------------------------------

    @translate_errors
    def settings(self) -> ReportingSettings:
        with self.read() as conn:
            return read_settings(conn)

    @translate_errors
    def update_settings(self, check: Check, **changes: Any) -> ReportingSettings:
        """Change the reporter details and/or retention periods (audited with old → new)."""
        allowed = set(ReportingSettings.__dataclass_fields__) - {"destinations"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        hold = changes.get("report_hold_days")
        if hold is not None and (not isinstance(hold, int) or hold < MIN_REPORT_HOLD_DAYS):
            raise ValueError(f"report_hold_days must be at least {MIN_REPORT_HOLD_DAYS}")
        days = changes.get("non_illegal_dispose_days")
        if days is not None and (not isinstance(days, int) or days < 0):
            raise ValueError("non_illegal_dispose_days must be 0 or more")
        for name, limit in _SETTING_LIMITS.items():
            v = changes.get(name)
            if v is not None and (not isinstance(v, str) or len(v) > limit):
                raise ValueError(f"{name} must be text of at most {limit} characters")
        with self.write() as conn:
            user_id = self.store.gate.enforce(conn, check).account.id
            before = read_settings(conn)
            values = {k: v for k, v in changes.items() if v is not None}
            if not values:
                return before
            conn.execute(
                update(settings_t)
                .where(settings_t.c.id == 1)
                .values(**values, updated_by=user_id, updated_at=self.now())
            )
            after = read_settings(conn)
            diff = {
                k: {"from": getattr(before, k), "to": getattr(after, k)}
                for k in values
                if getattr(before, k) != getattr(after, k)
            }
            if diff:
                self.audit(conn, user_id, "reporting_settings_changed", None, diff)
            return after

    @translate_errors
    def update_destination_rules(
        self,
        check: Check,
        destination: Destination | None = None,
        *,
        default_destination: Destination | None = None,
        **changes: Any,
    ) -> DestinationRules:
        """Change one destination's figures and/or the default destination (audited
        with old -> new). Values are validated by reviewer.destinations."""
        with self.write() as conn:
            user_id = self.store.gate.enforce(conn, check).account.id
            before = read_settings(conn).destinations
            after = before
            if destination is not None and changes:
                after = after.changed(destination, **changes)
            if default_destination is not None:
                after = DestinationRules(after.rules, default_destination)
            old, new = before.to_json(), after.to_json()
            if old == new:
                return before
            conn.execute(
                update(settings_t)
                .where(settings_t.c.id == 1)
                .values(destination_rules=new, updated_by=user_id, updated_at=self.now())
            )
            self.audit(conn, user_id, "reporting_rules_changed", None, {"from": old, "to": new})
            return after

    # -- what a referral is built from -----------------------------------------------------

    def current_time(self) -> datetime:
        with self.read() as conn:
            return self.now_value(conn)

    @translate_errors
    def source(self, item_id: int, check: Check) -> ReferralSource:
        """What the referral is built from (personal data): only past the gate. The
        package's save passes it again, in its own transaction."""
        self.store.authorise(check)
        with self.read() as conn:
            item = self._views.read(conn, item_id)  # raises NotFound
            row = conn.execute(
                select(items.c.media_id, items.c.personal_data_disposed_at).where(
                    items.c.id == item_id
                )
            ).one()
            reported = None
            for d in conn.execute(
                select(decisions).where(decisions.c.item_id == item_id).order_by(decisions.c.id)
            ):
                if Action.REPORT.value in (d.actions or ()):
                    reported = DecisionFacts(d.id, d.user_id, d.decided_at, grading_of(d))
            # A file is viewed when any person revealed it: this item or another with the
            # same bytes. Only real reveals count; a claim with none is not "viewed".
            same_media = select(items.c.id).where(items.c.media_id == row.media_id)
            first_reveal = conn.execute(
                select(func.min(exposures.c.recorded_at)).where(
                    exposures.c.item_id.in_(same_media),
                    or_(
                        exposures.c.reveal_count > 0,
                        exposures.c.seconds_revealed > 0,
                        exposures.c.full_unprotected.is_(True),
                    ),
                )
            ).scalar()
            if isinstance(first_reveal, str):  # SQLite aggregates lose the column type
                first_reveal = datetime.fromisoformat(first_reveal)
            if first_reveal is not None and first_reveal.tzinfo is None:
                first_reveal = first_reveal.replace(tzinfo=UTC)
            return ReferralSource(
                item=item,
                decision=reported,
                viewed_by_company=first_reveal is not None,
                viewed_at=first_reveal,
                personal_data_disposed=row.personal_data_disposed_at is not None,
                reporting=read_settings(conn),
                prior=prior_reports(conn, item_id),
            )

    @translate_errors
    def awaiting(self, check: Check) -> list[AwaitingReferral]:
        """Items whose latest decision says "Report to authority", whose personal data is
        still held and that have no referral yet; most urgent (earliest due) first."""
        with self.read() as conn:
            self.store.gate.enforce(conn, check)
            rules = read_settings(conn).destinations
            referred: set[int] = set()
            for (ids,) in conn.execute(select(referrals_t.c.item_ids)):
                referred.update(int(i) for i in ids or ())
            latest = (
                select(func.max(decisions.c.id)).group_by(decisions.c.item_id).scalar_subquery()
            )
            q = (
                select(decisions, items.c.imminent_risk, users_t.c.name.label("decider"))
                .join(items, items.c.id == decisions.c.item_id)
                .outerjoin(users_t, users_t.c.id == decisions.c.user_id)
                .where(
                    decisions.c.id.in_(latest),
                    items.c.personal_data_disposed_at.is_(None),
                )
            )
            out = []
            for d in conn.execute(q):
                actions = d.actions or ()
                if Action.REPORT.value not in actions or d.item_id in referred:
                    continue
                g = grading_of(d)
                urgent = is_urgent(bool(d.imminent_risk), g)
                level = priority_for(g, urgent)
                dest = rules.default_destination
                out.append(
                    AwaitingReferral(
                        item_id=d.item_id,
                        decision_id=d.id,
                        decided_at=d.decided_at,
                        decided_by=d.decider,
                        severity=Severity(d.severity),
                        urgent=urgent,
                        destination=dest,
                        priority=level,
                        due_at=due_at(rules, dest, level, d.decided_at),
                        incident_type=incident_type_for(g),
                    )
                )
            out.sort(key=lambda a: (a.due_at, a.item_id))
            return out

    # -- stored packages ---------------------------------------------------------------------

    def _lock_items(self, conn: Connection, item_ids: Sequence[int]) -> None:
        """Serialise referral writes per item on PostgreSQL (SQLite's writer is already
        alone), so two people cannot each build the one report the other makes."""
        if self.pg:
            conn.execute(select(items.c.id).where(items.c.id.in_(item_ids)).with_for_update())

    @translate_errors
    def save(self, new: NewReferral, check: Check) -> Referral:
        """Store a package with its audit event; the duplicate and exemption rule is
        checked again here, inside the transaction (a concurrent build loses)."""
        with self.write() as conn:
            user_id = self.store.gate.enforce(conn, check).account.id
            self._lock_items(conn, new.item_ids)
            rules = read_settings(conn).destinations
            for item_id in new.item_ids:
                refuse_duplicate(rules, new.destination, prior_reports(conn, item_id))
            rid = conn.execute(
                insert(referrals_t)
                .values(
                    reference=new.reference,
                    kind=new.kind.value,
                    item_ids=list(new.item_ids),
                    decision_id=new.decision_id,
                    created_by=user_id,
                    created_at=new.created_at,
                    complete=new.complete,
                    missing=list(new.missing),
                    urgent=new.urgent,
                    package=new.package,
                    summary=new.summary,
                    destination=new.destination.value,
                    priority=int(new.priority),
                    due_at=new.due_at,
                    incident_type=new.incident_type.value,
                )
                .returning(referrals_t.c.id)
            ).scalar_one()
            for item_id in new.item_ids:
                self.audit(
                    conn,
                    user_id,
                    "referral_created",
                    item_id,
                    {
                        "referral_id": rid,
                        "reference": new.reference,
                        "kind": new.kind.value,
                        "complete": new.complete,
                        "missing": len(new.missing),
                        "urgent": new.urgent,
                        "decision_id": new.decision_id,
                        "destination": new.destination.value,
                        "priority": int(new.priority),
                        "due_at": new.due_at.isoformat() if new.due_at else None,
                        "incident_type": new.incident_type.value,
                    },
                )
            return self._get(conn, rid)

    def _query(self) -> Any:
        return select(referrals_t, users_t.c.name.label("creator")).outerjoin(
            users_t, users_t.c.id == referrals_t.c.created_by
        )

    def _get(self, conn: Connection, referral_id: int) -> Referral:
        r = conn.execute(self._query().where(referrals_t.c.id == referral_id)).first()
        if r is None:
            raise NotFound(f"referral {referral_id}")
        return _referral(r)

    @translate_errors
    def get(self, referral_id: int, check: Check) -> Referral:
        with self.read() as conn:
            self.store.gate.enforce(conn, check)
            return self._get(conn, referral_id)

    @translate_errors
    def referrals(self, check: Check) -> list[Referral]:
        """Not yet sent first; among those urgent escalations (a child at immediate
        risk) first, then the earliest due; then newest first."""
        q = self._query().order_by(
            referrals_t.c.exported_at.is_(None).desc(),  # not yet sent first
            referrals_t.c.urgent.desc(),
            referrals_t.c.due_at.is_(None),
            referrals_t.c.due_at,
            referrals_t.c.created_at.desc(),
            referrals_t.c.id.desc(),
        )
        with self.read() as conn:
            self.store.gate.enforce(conn, check)
            return [_referral(r) for r in conn.execute(q)]

    @translate_errors
    def mark_exported(
        self, referral_id: int, check: Check, folder: str, files: Sequence[str]
    ) -> Referral:
        """Audit an export (sending); the first one starts the report hold of its items.
        Refused when another referral covering the same content was sent already."""
        with self.write() as conn:
            user_id = self.store.gate.enforce(conn, check).account.id
            ref = self._get(conn, referral_id)
            self._lock_items(conn, ref.item_ids)
            rules = read_settings(conn).destinations
            for item_id in ref.item_ids:
                others = [
                    p
                    for p in prior_reports(conn, item_id)
                    if p.reference != ref.reference and p.sent_at is not None
                ]
                refuse_duplicate(rules, ref.destination, others)
            conn.execute(
                update(referrals_t)
                .where(referrals_t.c.id == referral_id, referrals_t.c.exported_at.is_(None))
                .values(exported_at=self.now())
            )
            conn.execute(
                update(items)
                .where(and_(items.c.id.in_(ref.item_ids), items.c.reported_at.is_(None)))
                .values(reported_at=self.now())
            )
            for item_id in ref.item_ids:
                self.audit(
                    conn,
                    user_id,
                    "referral_exported",
                    item_id,
                    {
                        "referral_id": referral_id,
                        "reference": ref.reference,
                        "folder": folder,
                        "files": list(files),
                    },
                )
            return self._get(conn, referral_id)


def _referral(r: Row[Any]) -> Referral:
    m = r._mapping
    return Referral(
        id=m["id"],
        reference=m["reference"],
        kind=ReferralKind(m["kind"]),
        item_ids=tuple(int(i) for i in m["item_ids"] or ()),
        created_by=m["created_by"],
        created_by_name=m["creator"],
        created_at=m["created_at"],
        complete=bool(m["complete"]),
        missing=tuple(m["missing"] or ()),
        urgent=bool(m["urgent"]),
        package=m["package"],
        summary=m["summary"],
        exported_at=m["exported_at"],
        disposed_at=m["disposed_at"],
        destination=Destination(m["destination"]),
        priority=Priority(m["priority"]),
        due_at=m["due_at"],
        incident_type=IncidentType(m["incident_type"]) if m["incident_type"] else None,
    )
