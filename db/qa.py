"""QA sampling, blind re-grades, the golden set and adjudication: the repository.

Built on db.repo.Repo: each public method is one transaction, audit events are written
last, times come from `self.now()`. Blindness starts here: the methods a QA reviewer's
session calls (claim_sample, submit_qa_grade, release_sample) never read the first
grade into anything they return.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Integer,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import aliased

from db.claims import ITEM, QA_SAMPLE, ClaimsRepo, exposure_record
from db.gate import Granted
from db.items import ItemViews
from db.models import (
    AdjudicationRow,
    ClaimRow,
    DecisionRow,
    ExposureRow,
    GoldItemRow,
    GoldServeRow,
    ItemRow,
    MediaRow,
    QaGradeRow,
    QaSampleRow,
    QaSamplingDueRow,
    QaSettingRow,
    QueueRow,
    SkipRow,
    UserRow,
)
from db.repo import Repo, translate_errors
from db.unit_of_work import Event, UnitOfWork
from reviewer.agreement import GradePair
from reviewer.errors import LeaseLost, NotFound
from reviewer.grading import Grading
from reviewer.model import Claim, DecisionReceipt, Exposure, QueueSummary
from reviewer.permissions import Check
from reviewer.qa_model import (
    SYNTHETIC_KEY,
    CalibrationNote,
    Dispute,
    GoldCandidate,
    GoldItem,
    QaSettings,
    differences,
    grading_from,
    is_synthetic,
)
from reviewer.sampling import GoldenMix, Sampler, SampleReason
from reviewer.vocabulary import AgeConfidence, SkipReason, Source

samples = QaSampleRow.__table__
outbox = QaSamplingDueRow.__table__
grades = QaGradeRow.__table__
gold = GoldItemRow.__table__
serves = GoldServeRow.__table__
adjudications = AdjudicationRow.__table__
qa_settings = QaSettingRow.__table__
decisions = DecisionRow.__table__
items = ItemRow.__table__
claims = ClaimRow.__table__
exposures = ExposureRow.__table__
users = UserRow.__table__
queues = QueueRow.__table__
media_t = MediaRow.__table__
skips = SkipRow.__table__

GRADING_COLUMNS = (
    "severity",
    "csea_related",
    "not_assessable_reason",
    "age_band",
    "age_confidence",
    "production_context",
)
QA_QUEUE_NAME = "QA re-grades"


def _grading_values(grading: Grading) -> dict[str, Any]:
    record = grading.to_record()
    return {k: record[k] for k in GRADING_COLUMNS}


def _grading(row: Any, table: Any) -> Grading:
    m = row._mapping
    return grading_from(
        {k: m[table.c[k]] for k in (*GRADING_COLUMNS, "actions", "note") if k in table.c}
    )


def settings_in(conn: Connection) -> QaSettings:
    """The QA settings as stored (defaults for keys never set), read in `conn`'s
    transaction: the hash export reads its consensus bar here too."""
    rows = conn.execute(select(qa_settings.c.key, qa_settings.c.value)).all()
    return QaSettings.from_dict({k: v for k, v in rows})


def _as_holder(claim: Claim, granted: Granted) -> Claim:
    """The claim as the account the gate let through (which holds it, as read in the
    transaction), never as the user id the Claim object carries."""
    if granted.account.id == claim.user_id:
        return claim
    return dataclasses.replace(claim, user_id=granted.account.id)


def _is_gold_item(item_id: Any) -> Any:
    """SQL: the item is a gold original or a gold serving."""
    # Named columns, not *: on a team server a moderator may read which items are gold,
    # not their answers (column privileges, migration 0018).
    return or_(
        exists(select(serves.c.id).where(serves.c.item_id == item_id)),
        exists(select(gold.c.id).where(gold.c.item_id == item_id)),
    )


class QaRepo(Repo):
    def __init__(self, uow: UnitOfWork, claims: ClaimsRepo) -> None:
        super().__init__(uow)
        # A re-grade and a gold serve are claims: one lifecycle (db.claims) for all.
        self._claims = claims
        self._views = ItemViews(uow.dialect)

    @translate_errors
    def record_event(
        self,
        user_id: int | None,
        kind: str,
        item_id: int | None,
        detail: dict[str, Any],
        *,
        check: Check,
    ) -> None:
        with self.write() as conn:
            self.store.gate.enforce(conn, check)
            self.audit(conn, user_id, kind, item_id, detail)

    # -- settings -----------------------------------------------------------------------

    def _settings(self, conn: Connection) -> QaSettings:
        return settings_in(conn)

    @translate_errors
    def settings(self) -> QaSettings:
        with self.read() as conn:
            return self._settings(conn)

    @translate_errors
    def set_settings(self, user_id: int, new: QaSettings, *, check: Check) -> None:
        with self.write() as conn:
            self.store.gate.enforce(conn, check)
            before = self._settings(conn).to_dict()
            for key, value in new.to_dict().items():
                exists_ = conn.execute(
                    select(qa_settings.c.key).where(qa_settings.c.key == key)
                ).first()
                values = {"value": value, "updated_at": self.now(), "updated_by": user_id}
                if exists_ is None:
                    conn.execute(insert(qa_settings).values(key=key, **values))
                else:
                    conn.execute(
                        update(qa_settings).where(qa_settings.c.key == key).values(**values)
                    )
            self.audit(
                conn,
                user_id,
                "qa_settings_changed",
                None,
                {"before": before, "after": new.to_dict()},
            )

    # -- sampling -----------------------------------------------------------------------

    @translate_errors
    def sample_decision(
        self,
        decision_id: int,
        sampler: Sampler,
        requested_by: int | None = None,
        *,
        check: Check | None = None,
    ) -> SampleReason | None:
        """Ask the sampler about one stored decision and record a sample if it says so
        (a lead's on-demand request when `requested_by` is given).

        Idempotent: a decision already sampled keeps its sample (and reason). Decisions
        on gold items are never sampled: their answer is already known. `check`: the
        gate's question when a lead asks for the sample (None: the sampling policy's own
        pick after a decision)."""
        with self.write() as conn:
            if check is not None:
                self.store.gate.enforce(conn, check)
            reason, event = self._sample(conn, decision_id, sampler, requested_by)
            if reason is None and not self._exists(conn, decision_id):
                raise NotFound(f"decision {decision_id}")
            if event is not None:
                self.audit(conn, requested_by, "qa_sampled", *event)
            return reason

    @translate_errors
    def sample_due(self, sampler: Sampler, limit: int = 200) -> int:
        """Put decisions waiting in the sampling outbox (qa_sampling_due, filled by a
        trigger in each decision's own transaction) to the sampler; returns how many.

        One transaction: the samples, their audit events and the outbox rows removed
        commit together, so a crash anywhere leaves the rows to the next call, which
        finds any sample already taken (qa_samples.decision_id is unique) and keeps it.
        Two workstations draining at once pass each other's rows by on PostgreSQL (SKIP
        LOCKED); on SQLite the write lock serialises them."""
        with self.write() as conn:
            due = (
                conn.execute(
                    select(outbox.c.decision_id)
                    .order_by(outbox.c.decision_id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
                .scalars()
                .all()
            )
            events = [self._sample(conn, decision_id, sampler, None)[1] for decision_id in due]
            if due:
                conn.execute(delete(outbox).where(outbox.c.decision_id.in_(due)))
            for event in events:
                if event is not None:
                    self.audit(conn, None, "qa_sampled", *event)
            return len(due)

    @staticmethod
    def _exists(conn: Connection, decision_id: int) -> bool:
        return bool(conn.execute(select(exists().where(decisions.c.id == decision_id))).scalar())

    def _sample(
        self, conn: Connection, decision_id: int, sampler: Sampler, requested_by: int | None
    ) -> tuple[SampleReason | None, tuple[int, dict[str, Any]] | None]:
        """The sampling of one decision, inside the caller's transaction: its reason
        (None for a decision not sampled, on a gold item, or not stored) and, for a new
        sample, the (item id, detail) of its qa_sampled event, for the caller to audit
        last."""
        d = conn.execute(
            select(
                decisions.c.id,
                decisions.c.item_id,
                decisions.c.user_id,
                decisions.c.age_confidence,
            ).where(decisions.c.id == decision_id)
        ).first()
        if d is None:
            return None, None
        prior = conn.execute(
            select(samples.c.reason).where(samples.c.decision_id == decision_id)
        ).scalar()
        if prior is not None:
            return SampleReason(prior), None
        if conn.execute(select(_is_gold_item(d.item_id))).scalar():
            return None, None
        earlier = conn.execute(
            select(func.count())
            .select_from(decisions)
            .where(decisions.c.user_id == d.user_id, decisions.c.id < decision_id)
        ).scalar_one()
        confidence = AgeConfidence(d.age_confidence) if d.age_confidence else None
        reason = sampler.should_sample(
            decision_id, int(earlier), confidence, on_demand=requested_by is not None
        )
        if reason is None:
            return None, None
        sid = conn.execute(
            insert(samples)
            .values(
                decision_id=decision_id,
                item_id=d.item_id,
                moderator_id=d.user_id,
                reason=reason.value,
                requested_by=requested_by,
                sampled_at=self.now(),
                status="pending",
            )
            .returning(samples.c.id)
        ).scalar_one()
        return reason, (
            d.item_id,
            {"sample_id": sid, "decision_id": decision_id, "reason": reason.value},
        )

    # -- the QA reviewer's queue --------------------------------------------------------

    def _claimable(self, qa_user_id: int, blocked: frozenset[int]) -> Any:
        # Never one's own decision; never an item this reviewer skipped; never an item
        # of a restricted queue the reviewer has no access to (`blocked`, from the gate).
        out = and_(
            samples.c.status == "pending",
            samples.c.moderator_id != qa_user_id,
            ~exists().where(
                and_(skips.c.item_id == samples.c.item_id, skips.c.user_id == qa_user_id)
            ),
        )
        if blocked:
            out = and_(
                out,
                ~exists().where(
                    and_(items.c.id == samples.c.item_id, items.c.queue_id.in_(sorted(blocked)))
                ),
            )
        return out

    @translate_errors
    def qa_queue(self, qa_user_id: int, *, check: Check) -> QueueSummary:
        with self.read() as conn:
            blocked = self.store.gate.enforce(conn, check).blocked_queues
            claimable = self._claimable(qa_user_id, blocked)
            row = conn.execute(
                select(
                    func.count().filter(claimable),
                    func.count().filter(samples.c.status == "claimed"),
                    func.min(samples.c.sampled_at).filter(claimable),
                ).select_from(samples)
            ).one()
        oldest = row[2]
        if isinstance(oldest, str):  # SQLite aggregates lose the column type
            oldest = datetime.fromisoformat(oldest)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return QueueSummary(0, QA_QUEUE_NAME, 24 * 60, int(row[0]), int(row[1]), oldest)

    @translate_errors
    def claim_sample(self, qa_user_id: int, lease_seconds: float, *, check: Check) -> Claim | None:
        """Lease the next sample to a QA reviewer: a claims row of their own (so their
        exposure goes into the same ledger), the item as a moderator saw it, nothing of
        the first grade."""
        with self.write() as conn:
            blocked = self.store.gate.enforce(conn, check).blocked_queues
            # Samples whose lease ran out go back first (their events are written last).
            _n, events = self._claims.expire_in(conn, self.store.stamp(), QA_SAMPLE)
            on_demand_first = case((samples.c.reason == SampleReason.ON_DEMAND.value, 0), else_=1)
            pick = conn.execute(
                select(samples.c.id, samples.c.item_id)
                .where(self._claimable(qa_user_id, blocked))
                .order_by(on_demand_first, samples.c.sampled_at, samples.c.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if pick is None:
                self.store.audit(conn, *events)
                return None
            sid, item_id = pick
            claim_id, lease_expires_at = self._claims.open_claim(
                conn, QA_SAMPLE, sid, item_id, qa_user_id, lease_seconds
            )
            detail = {"claim_id": claim_id, "sample_id": sid}
            self.store.audit(conn, *events, Event(qa_user_id, "qa_claim", item_id, detail))
            # The one item reader: the same ItemView a moderator gets, no decision in it.
            view = self._views.read(conn, item_id)
            return Claim(claim_id, view, qa_user_id, lease_expires_at)

    def _held(self, conn: Connection, claim: Claim) -> int | None:
        return conn.execute(
            select(samples.c.id).where(
                samples.c.claim_id == claim.claim_id,
                samples.c.claimed_by == claim.user_id,
                samples.c.status == "claimed",
            )
        ).scalar()

    @translate_errors
    def renew_sample(self, claim: Claim, lease_seconds: float, *, check: Check) -> Claim:
        with self.write() as conn:
            self.store.gate.enforce(conn, check)
            return self._claims.renew_claim(conn, QA_SAMPLE, claim, lease_seconds)

    def _lost(self, claim: Claim, exposure: Exposure, attempted: str) -> LeaseLost:
        return self._claims.lease_lost(claim, exposure, attempted, QA_SAMPLE)

    @translate_errors
    def submit_qa_grade(
        self,
        claim: Claim,
        grading: Grading,
        exposure: Exposure,
        client_token: str,
        *,
        check: Check,
    ) -> DecisionReceipt:
        """QA grade + exposure record + claim closed + sample outcome + audit, in one
        transaction. A retry with the same token returns the stored grade."""
        grading.validated()
        with self.write() as conn:
            claim = _as_holder(claim, self.store.gate.enforce(conn, check))
            prior = conn.execute(
                select(grades.c.id, grades.c.graded_at).where(grades.c.client_token == client_token)
            ).first()
            if prior is not None:
                return DecisionReceipt(prior.id, claim.item.id, prior.graded_at)
            sid = self._held(conn, claim)
            if sid is None:
                conn.rollback()
                raise self._lost(claim, exposure, "re-grade")
            gid, graded_at = conn.execute(
                insert(grades)
                .values(
                    sample_id=sid,
                    qa_user_id=claim.user_id,
                    claim_id=claim.claim_id,
                    client_token=client_token,
                    graded_at=self.now(),
                    actions=sorted(a.value for a in grading.actions),
                    note=grading.note,
                    **_grading_values(grading),
                )
                .returning(grades.c.id, grades.c.graded_at)
            ).one()
            # Compared here, inside the service's transaction; the reviewer is told only
            # that the re-grade was stored.
            first = _grading(
                conn.execute(
                    select(decisions)
                    .join(samples, samples.c.decision_id == decisions.c.id)
                    .where(samples.c.id == sid)
                ).one(),
                decisions,
            )
            status = "disputed" if differences(first, grading) else "agreed"
            # The graded sample keeps naming the claim that graded it.
            closed = self._claims.close_claim(
                conn, QA_SAMPLE, claim, exposure, "qa_graded", status, keep_claim_id=True
            )
            assert closed == sid  # held in this transaction (_held above)
            self.audit(
                conn,
                claim.user_id,
                "qa_grade",
                claim.item.id,
                {
                    "sample_id": sid,
                    "qa_grade_id": gid,
                    "claim_id": claim.claim_id,
                    "grading": grading.to_record(),
                    "outcome": status,
                    "exposure": exposure_record(exposure),
                },
            )
            return DecisionReceipt(gid, claim.item.id, graded_at)

    @translate_errors
    def release_sample(
        self,
        claim: Claim,
        exposure: Exposure,
        why: str,
        skip_reason: SkipReason | None = None,
        note: str = "",
        *,
        check: Check,
    ) -> None:
        """Back to the QA queue; with a skip reason, this reviewer's claims pass it by."""
        with self.write() as conn:
            claim = _as_holder(claim, self.store.gate.enforce(conn, check))
            sid = self._held(conn, claim)
            if sid is None:
                conn.rollback()
                raise self._lost(claim, exposure, "skip" if skip_reason else "release")
            outcome = "skipped" if skip_reason else "released"
            closed = self._claims.close_claim(conn, QA_SAMPLE, claim, exposure, outcome, "pending")
            assert closed == sid  # held in this transaction (_held above)
            detail: dict[str, Any] = {
                "claim_id": claim.claim_id,
                "sample_id": sid,
                "exposure": exposure_record(exposure),
            }
            if skip_reason is not None:
                conn.execute(
                    insert(skips).values(
                        item_id=claim.item.id,
                        user_id=claim.user_id,
                        reason=skip_reason.value,
                        note=note,
                        at=self.now(),
                    )
                )
                detail |= {"reason": skip_reason.value, "note": note}
            else:
                detail["why"] = why
            kind = "qa_skip" if skip_reason else "qa_release"
            self.audit(conn, claim.user_id, kind, claim.item.id, detail)

    # -- adjudication -------------------------------------------------------------------

    @translate_errors
    def disputes(self, *, check: Check) -> list[Dispute]:
        mod = aliased(users)
        qa_user = aliased(users)
        q = (
            select(
                samples,
                decisions,
                grades,
                mod.c.name.label("mod_name"),
                qa_user.c.name.label("qa_name"),
            )
            .join(decisions, decisions.c.id == samples.c.decision_id)
            .join(grades, grades.c.sample_id == samples.c.id)
            .join(mod, mod.c.id == samples.c.moderator_id)
            .join(qa_user, qa_user.c.id == grades.c.qa_user_id)
            .where(samples.c.status == "disputed")
            .order_by(grades.c.graded_at, samples.c.id)
        )
        with self.read() as conn:
            self.store.gate.enforce(conn, check)
            out = []
            for r in conn.execute(q):
                m = r._mapping
                out.append(
                    Dispute(
                        sample_id=m[samples.c.id],
                        decision_id=m[samples.c.decision_id],
                        item_id=m[samples.c.item_id],
                        moderator_id=m[samples.c.moderator_id],
                        moderator_name=m["mod_name"],
                        qa_user_name=m["qa_name"],
                        reason=SampleReason(m[samples.c.reason]),
                        first=_grading(r, decisions),
                        qa=_grading(r, grades),
                        decided_at=m[decisions.c.decided_at],
                        graded_at=m[grades.c.graded_at],
                    )
                )
            return out

    @translate_errors
    def qa_grade_of(self, sample_id: int, *, check: Check) -> Grading | None:
        with self.read() as conn:
            self.store.gate.enforce(conn, check)
            row = conn.execute(select(grades).where(grades.c.sample_id == sample_id)).first()
            return None if row is None else _grading(row, grades)

    @translate_errors
    def adjudicate(
        self, sample_id: int, lead_id: int, final: Grading, reason: str, *, check: Check
    ) -> None:
        final.validated()
        with self.write() as conn:
            self.store.gate.enforce(conn, check)  # never a decision of the lead's own
            row = conn.execute(
                select(samples.c.status, samples.c.item_id, samples.c.moderator_id)
                .where(samples.c.id == sample_id)
                .with_for_update()
            ).first()
            if row is None:
                raise NotFound(f"QA sample {sample_id}")
            if row.status != "disputed":
                raise ValueError(f"sample {sample_id} is {row.status}, not awaiting a lead")
            conn.execute(
                insert(adjudications).values(
                    sample_id=sample_id,
                    lead_id=lead_id,
                    reason=reason,
                    decided_at=self.now(),
                    **_grading_values(final),
                )
            )
            conn.execute(
                update(samples).where(samples.c.id == sample_id).values(status="adjudicated")
            )
            self.audit(
                conn,
                lead_id,
                "qa_adjudicated",
                row.item_id,
                {
                    "sample_id": sample_id,
                    "moderator_id": row.moderator_id,
                    "final": final.to_record(),
                    "reason": reason,
                },
            )

    @translate_errors
    def calibration_notes(self, moderator_id: int, *, check: Check) -> list[CalibrationNote]:
        """Adjudicated outcomes of this moderator's decisions, and only those."""
        q = (
            select(samples.c.id, samples.c.item_id, decisions, adjudications)
            .join(decisions, decisions.c.id == samples.c.decision_id)
            .join(adjudications, adjudications.c.sample_id == samples.c.id)
            .where(samples.c.moderator_id == moderator_id, samples.c.status == "adjudicated")
            .order_by(adjudications.c.decided_at.desc(), samples.c.id.desc())
        )
        with self.read() as conn:
            self.store.gate.enforce(conn, check)
            return [
                CalibrationNote(
                    sample_id=r._mapping[samples.c.id],
                    item_id=r._mapping[samples.c.item_id],
                    decided_at=r._mapping[decisions.c.decided_at],
                    yours=_grading(r, decisions),
                    final=_grading(r, adjudications),
                    reason=r._mapping[adjudications.c.reason],
                    adjudicated_at=r._mapping[adjudications.c.decided_at],
                    seen=r._mapping[adjudications.c.seen_by_moderator_at] is not None,
                )
                for r in conn.execute(q)
            ]

    @translate_errors
    def mark_notes_seen(self, moderator_id: int, sample_ids: list[int], *, check: Check) -> int:
        with self.write() as conn:
            self.store.gate.enforce(conn, check)
            mine = select(samples.c.id).where(
                samples.c.moderator_id == moderator_id, samples.c.id.in_(sample_ids)
            )
            n = conn.execute(
                update(adjudications)
                .where(
                    adjudications.c.sample_id.in_(mine),
                    adjudications.c.seen_by_moderator_at.is_(None),
                )
                .values(seen_by_moderator_at=self.now())
            ).rowcount
            if n:
                self.audit(
                    conn, moderator_id, "calibration_seen", None, {"sample_ids": sorted(sample_ids)}
                )
            return int(n)

    # -- agreement ----------------------------------------------------------------------

    @translate_errors
    def qa_pairs(self, since: datetime, until: datetime, *, check: Check) -> list[GradePair]:
        """First grade vs blind QA re-grade, for decisions made in [since, until)."""
        joined = decisions.join(samples, samples.c.decision_id == decisions.c.id).join(
            grades, grades.c.sample_id == samples.c.id
        )
        return self._pairs(joined, grades, since, until, check)

    @translate_errors
    def gold_pairs(self, since: datetime, until: datetime, *, check: Check) -> list[GradePair]:
        """A moderator's grade of a gold serving vs the gold item's known answer."""
        joined = decisions.join(serves, serves.c.item_id == decisions.c.item_id).join(
            gold, gold.c.id == serves.c.gold_id
        )
        return self._pairs(joined, gold, since, until, check)

    def _pairs(
        self,
        joined: FromClause,
        reference: Table,
        since: datetime,
        until: datetime,
        check: Check,
    ) -> list[GradePair]:
        """(moderator's grade, reference grade) for decisions made in [since, until)."""
        q = (
            select(decisions, reference)
            .select_from(joined)
            .where(decisions.c.decided_at >= since, decisions.c.decided_at < until)
            .order_by(decisions.c.id)
        )
        with self.read() as conn:
            self.store.gate.enforce(conn, check)
            return [
                GradePair(
                    r._mapping[decisions.c.user_id],
                    _grading(r, decisions),
                    _grading(r, reference),
                    r._mapping[decisions.c.id],
                )
                for r in conn.execute(q)
            ]

    # -- the golden set -----------------------------------------------------------------

    @translate_errors
    def mark_gold(self, item_id: int, expected: Grading, admin_id: int, *, check: Check) -> int:
        """Make an item gold: its known answer is stored, and it leaves the ordinary
        queue (it is served only as gold from now on). Only a synthetic item whose
        media is still kept can be gold (ValueError otherwise)."""
        expected.validated()
        with self.write() as conn:
            self.store.gate.enforce(conn, check)
            item = conn.execute(
                select(items.c.status, items.c.extra, items.c.media_disposed_at).where(
                    items.c.id == item_id
                )
            ).first()
            if item is None:
                raise NotFound(f"item {item_id}")
            status = item.status
            if not is_synthetic(item.extra or {}):
                raise ValueError(
                    f"item {item_id} is not synthetic: only generated items can be gold, "
                    "since gold is shown to every moderator in turn"
                )
            if item.media_disposed_at is not None:
                raise ValueError(f"item {item_id}'s media was disposed of")
            if status == "claimed":
                raise ValueError(f"item {item_id} is being reviewed; mark it gold afterwards")
            if conn.execute(select(exists().where(serves.c.item_id == item_id))).scalar():
                raise ValueError(f"item {item_id} is itself a gold serving")
            prior = conn.execute(select(gold.c.id).where(gold.c.item_id == item_id)).scalar()
            values = {
                "active": True,
                "marked_by": admin_id,
                "marked_at": self.now(),
                **_grading_values(expected),
            }
            if prior is None:
                gid = conn.execute(
                    insert(gold).values(item_id=item_id, **values).returning(gold.c.id)
                ).scalar_one()
            else:
                gid = prior
                conn.execute(update(gold).where(gold.c.id == gid).values(**values))
            if status == "pending":
                conn.execute(update(items).where(items.c.id == item_id).values(status="gold"))
            self.audit(
                conn,
                admin_id,
                "gold_marked",
                item_id,
                {"gold_id": gid, "expected": expected.to_record()},
            )
            return int(gid)

    @translate_errors
    def unmark_gold(self, gold_id: int, admin_id: int, *, check: Check) -> None:
        with self.write() as conn:
            self.store.gate.enforce(conn, check)
            item_id = conn.execute(select(gold.c.item_id).where(gold.c.id == gold_id)).scalar()
            if item_id is None:
                raise NotFound(f"gold item {gold_id}")
            conn.execute(update(gold).where(gold.c.id == gold_id).values(active=False))
            self.audit(conn, admin_id, "gold_unmarked", item_id, {"gold_id": gold_id})

    @translate_errors
    def gold_items(self, *, check: Check) -> list[GoldItem]:
        q = (
            select(gold, queues.c.name.label("queue_name"), items.c.extra)
            .join(items, items.c.id == gold.c.item_id)
            .join(queues, queues.c.id == items.c.queue_id)
            .order_by(gold.c.id)
        )
        with self.read() as conn:
            self.store.gate.enforce(conn, check)
            return [
                GoldItem(
                    r.id,
                    r.item_id,
                    _grading(r, gold),
                    bool(r.active),
                    r.queue_name,
                    str((r.extra or {}).get(SYNTHETIC_KEY, "")),
                    r.marked_at,
                )
                for r in conn.execute(q)
            ]

    @translate_errors
    def gold_candidates(self, limit: int = 200, *, check: Check) -> list[GoldCandidate]:
        """Synthetic items that could be marked gold, newest first: not held, not a
        gold serving, not active gold already, media still kept."""
        q = (
            select(
                items.c.id,
                items.c.source,
                items.c.received_at,
                items.c.status,
                items.c.extra,
                queues.c.name.label("queue_name"),
            )
            .join(queues, queues.c.id == items.c.queue_id)
            .where(
                items.c.status != "claimed",
                items.c.media_disposed_at.is_(None),
                # Narrows in SQL; is_synthetic below has the last word.
                items.c.extra[SYNTHETIC_KEY].as_string().is_not(None),
                ~exists().where(serves.c.item_id == items.c.id),
                ~exists().where(and_(gold.c.item_id == items.c.id, gold.c.active.is_(True))),
            )
            .order_by(items.c.id.desc())
            .limit(limit)
        )
        with self.read() as conn:
            self.store.gate.enforce(conn, check)
            return [
                GoldCandidate(
                    r.id,
                    r.queue_name,
                    Source(r.source),
                    r.received_at,
                    str(r.extra[SYNTHETIC_KEY]),
                    r.status,
                )
                for r in conn.execute(q)
                if is_synthetic(r.extra or {})
            ]

    @translate_errors
    def serve_gold(
        self,
        user_id: int,
        queue_id: int | None,
        lease_seconds: float,
        mix: GoldenMix,
        *,
        check: Check,
    ) -> Claim | None:
        """If this moderator's next serve is a gold one, claim a fresh serving of a gold
        item they have not had, looking like any other item of its queue; else None.

        Never ahead of imminent risk: while an imminent-risk item waits in the chosen
        queue, no gold is served. A gold serve is a claim: the gate decides it as one,
        and a gold item of a restricted queue goes only to those with access to it."""
        with self.write() as conn:
            blocked = self.store.gate.enforce(conn, check).blocked_queues
            serve_number = conn.execute(
                select(func.count()).select_from(claims).where(claims.c.user_id == user_id)
            ).scalar_one()
            if not mix.is_gold(int(serve_number)):
                return None
            waiting = select(items.c.priority, items.c.received_at).where(
                items.c.status == "pending"
            )
            if queue_id is not None:
                waiting = waiting.where(items.c.queue_id == queue_id)
            nxt = conn.execute(
                waiting.order_by(items.c.priority, items.c.received_at, items.c.id).limit(1)
            ).first()
            if nxt is not None and nxt.priority == 0:
                return None
            # Received as the item it stands in for, so its age reads like the others'.
            received_at = nxt.received_at if nxt is not None else self.now_value(conn)
            expires = self.now(lease_seconds)
            if self.pg:
                # A moderator's login role may neither read a gold item (its status is
                # 'gold') nor insert items: the server picks and copies it, re-checking
                # the claim rule for the account (see migration 0025).
                fn = func.reviewer_serve_gold_copy(
                    user_id,
                    queue_id,
                    postgresql.array(sorted(blocked), type_=Integer),
                    received_at,
                    expires,
                ).table_valued("gold_id", "item_id")
                served = conn.execute(select(fn.c.gold_id, fn.c.item_id)).first()
                if served is None:
                    return None
                gold_id, item_id = int(served.gold_id), int(served.item_id)
            else:
                picked = self._pick_and_copy_gold(
                    conn, user_id, queue_id, blocked, received_at, expires
                )
                if picked is None:
                    return None
                gold_id, item_id = picked
            # The serving copy was made leased to this moderator (as the server does on
            # PostgreSQL); the claim is opened on it as on any item.
            claim_id, lease_expires_at = self._claims.open_claim(
                conn, ITEM, item_id, item_id, user_id, lease_seconds
            )
            self.audit(
                conn,
                None,
                "gold_served",
                item_id,
                {"gold_id": gold_id, "user_id": user_id, "claim_id": claim_id},
            )
            self.audit(conn, user_id, "claim", item_id, {"claim_id": claim_id})
            return Claim(claim_id, self._views.read(conn, item_id), user_id, lease_expires_at)

    def _pick_and_copy_gold(
        self,
        conn: Connection,
        user_id: int,
        queue_id: int | None,
        blocked: Collection[int],
        received_at: datetime,
        expires: ColumnElement[datetime],
    ) -> tuple[int, int] | None:
        """The first active gold item this moderator has not had, of a queue they may
        see, copied as a fresh item claimed by them, the serve recorded: (gold id,
        serving item id). The
        embedded database's statements; on PostgreSQL reviewer_serve_gold_copy (0025)
        does the same as the server, for a role that may not read gold or insert items."""
        pick = (
            select(gold.c.id, items)
            .join(items, items.c.id == gold.c.item_id)
            .where(
                gold.c.active.is_(True),
                ~exists().where(and_(serves.c.gold_id == gold.c.id, serves.c.user_id == user_id)),
            )
            .order_by(gold.c.id)
            .limit(1)
        )
        if queue_id is not None:
            pick = pick.where(items.c.queue_id == queue_id)
        if blocked:
            pick = pick.where(items.c.queue_id.not_in(sorted(blocked)))
        g = conn.execute(pick).first()
        if g is None:
            return None
        m = g._mapping
        item_id = conn.execute(
            insert(items)
            .values(
                queue_id=m[items.c.queue_id],
                media_id=m[items.c.media_id],
                dedupe_key=f"gold-serve:{uuid.uuid4()}",
                source=m[items.c.source],
                priority=m[items.c.priority],
                imminent_risk=False,
                received_at=received_at,
                status="claimed",
                claimed_by=user_id,
                lease_expires_at=expires,
                report_text=m[items.c.report_text],
                reported_accounts=m[items.c.reported_accounts],
                upload_ip=m[items.c.upload_ip],
                upload_time=m[items.c.upload_time],
                extra=m[items.c.extra],
            )
            .returning(items.c.id)
        ).scalar_one()
        conn.execute(
            insert(serves).values(
                gold_id=m[gold.c.id], user_id=user_id, item_id=item_id, served_at=self.now()
            )
        )
        return int(m[gold.c.id]), int(item_id)

    @translate_errors
    def is_gold_item(self, item_id: int) -> bool:
        with self.read() as conn:
            return bool(conn.execute(select(_is_gold_item(item_id))).scalar())
