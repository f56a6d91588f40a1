"""The one door to the database: every public method is one transaction.

A moderator's state change (decision, exposure record, audit event, lease closed)
happens inside a single `engine.begin()` block, so it is stored whole or not at all.
Methods return immutable objects from reviewer.model, never ORM rows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    exists,
    func,
    insert,
    literal,
    select,
    type_coerce,
    update,
)
from sqlalchemy.exc import DBAPIError

from db.engine import WRITE, make_engine
from db.migrate import upgrade
from db.models import (
    AuditRow,
    ClaimRow,
    DecisionRow,
    ExposureRow,
    ItemRow,
    MediaRow,
    QueueRow,
    SkipRow,
    UserRow,
    UTCDateTime,
)
from reviewer.errors import LeaseLost, NotFound, StoreUnavailable
from reviewer.grading import Grading
from reviewer.model import (
    AuditEvent,
    Claim,
    DecisionReceipt,
    Exposure,
    ItemView,
    MediaInfo,
    NewItem,
    QueueSummary,
    User,
    priority_for,
)
from reviewer.vocabulary import SkipReason, Source
from wellbeing.clock import Clock

items = ItemRow.__table__
media_t = MediaRow.__table__
claims = ClaimRow.__table__
decisions = DecisionRow.__table__
exposures = ExposureRow.__table__
audit = AuditRow.__table__
users_t = UserRow.__table__
queues_t = QueueRow.__table__
skips = SkipRow.__table__

P = ParamSpec("P")
R = TypeVar("R")


def _translate_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a lost connection into StoreUnavailable, so callers need not know SQLAlchemy."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except DBAPIError as exc:
            if exc.connection_invalidated or _looks_disconnected(exc):
                raise StoreUnavailable(f"database unreachable: {exc.orig}") from exc
            raise

    return wrapper


def _looks_disconnected(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return (
        any(
            s in text
            for s in ("connection refused", "server closed", "terminating connection", "connection")
        )
        and "unique" not in text
    )


class Store:
    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self._write = engine.execution_options(**{WRITE: True})
        self._clock = clock
        self._pg = engine.dialect.name == "postgresql"

    @classmethod
    def open(cls, url: str, clock: Clock | None = None, migrate: bool = True) -> Store:
        engine = make_engine(url)
        if migrate:
            upgrade(engine)
        return cls(engine, clock)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    # -- time ---------------------------------------------------------------------------

    def _now(self, offset_s: float = 0.0) -> ColumnElement[datetime]:
        """'Now' as the rules must see it. PostgreSQL leases run on the server's clock so
        that workstations with skewed clocks agree; tests inject a clock instead."""
        delta = timedelta(seconds=offset_s)
        if self._clock is not None:
            return literal(self._clock.now() + delta, UTCDateTime())
        if self._pg:
            expr = func.now() + delta if offset_s else func.now()
            return type_coerce(expr, UTCDateTime())
        return literal(datetime.now(UTC) + delta, UTCDateTime())

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self._write.begin() as conn:
            yield conn

    # -- audit --------------------------------------------------------------------------

    def _audit(
        self,
        conn: Connection,
        user_id: int | None,
        kind: str,
        item_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        conn.execute(
            insert(audit).values(
                at=self._now(), user_id=user_id, kind=kind, item_id=item_id, detail=detail or {}
            )
        )

    @_translate_errors
    def record_event(
        self,
        user_id: int | None,
        kind: str,
        item_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        with self._tx() as conn:
            self._audit(conn, user_id, kind, item_id, detail)

    @_translate_errors
    def audit_events(self, item_id: int | None = None, kind: str | None = None) -> list[AuditEvent]:
        q = select(audit).order_by(audit.c.id)
        if item_id is not None:
            q = q.where(audit.c.item_id == item_id)
        if kind is not None:
            q = q.where(audit.c.kind == kind)
        with self.engine.connect() as conn:
            return [
                AuditEvent(r.id, r.at, r.user_id, r.kind, r.item_id, dict(r.detail or {}))
                for r in conn.execute(q)
            ]

    # -- users and queues ---------------------------------------------------------------

    @_translate_errors
    def ensure_user(self, name: str, role: str = "moderator") -> User:
        name = name.strip()
        if not name:
            raise ValueError("a profile needs a name")
        with self._tx() as conn:
            row = conn.execute(select(users_t).where(users_t.c.name == name)).first()
            if row is None:
                uid = conn.execute(
                    insert(users_t)
                    .values(name=name, role=role, created_at=self._now())
                    .returning(users_t.c.id)
                ).scalar_one()
                self._audit(conn, uid, "user_created", detail={"name": name, "role": role})
                return User(uid, name, role)
            return User(row.id, row.name, row.role)

    @_translate_errors
    def users(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(users_t).order_by(users_t.c.name))
            return [User(r.id, r.name, r.role) for r in rows]

    @_translate_errors
    def ensure_queue(self, name: str, target_minutes: int = 24 * 60) -> int:
        with self._tx() as conn:
            qid = conn.execute(select(queues_t.c.id).where(queues_t.c.name == name)).scalar()
            if qid is None:
                qid = conn.execute(
                    insert(queues_t)
                    .values(name=name, target_minutes=target_minutes, created_at=self._now())
                    .returning(queues_t.c.id)
                ).scalar_one()
            return int(qid)

    @_translate_errors
    def queue_summaries(self) -> list[QueueSummary]:
        q = (
            select(
                queues_t.c.id,
                queues_t.c.name,
                queues_t.c.target_minutes,
                func.count(items.c.id).filter(items.c.status == "pending").label("pending"),
                func.count(items.c.id).filter(items.c.status == "claimed").label("claimed"),
                func.min(items.c.received_at).filter(items.c.status == "pending").label("oldest"),
            )
            .select_from(queues_t.outerjoin(items, items.c.queue_id == queues_t.c.id))
            .group_by(queues_t.c.id, queues_t.c.name, queues_t.c.target_minutes)
            .order_by(queues_t.c.name)
        )
        with self.engine.connect() as conn:
            out = []
            for r in conn.execute(q):
                oldest = r.oldest
                if isinstance(oldest, str):  # SQLite aggregates lose the column type
                    oldest = datetime.fromisoformat(oldest).replace(tzinfo=UTC)
                elif oldest is not None and oldest.tzinfo is None:
                    oldest = oldest.replace(tzinfo=UTC)
                out.append(
                    QueueSummary(r.id, r.name, r.target_minutes, r.pending, r.claimed, oldest)
                )
            return out

    @_translate_errors
    def item_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(items)).scalar_one())

    # -- ingest -------------------------------------------------------------------------

    @_translate_errors
    def add_media(
        self,
        sha256: str,
        size_bytes: int,
        format: str | None,
        width: int | None,
        height: int | None,
        unreadable_reason: str | None,
    ) -> int:
        with self._tx() as conn:
            mid = conn.execute(select(media_t.c.id).where(media_t.c.sha256 == sha256)).scalar()
            if mid is not None:
                return int(mid)
            return int(
                conn.execute(
                    insert(media_t)
                    .values(
                        sha256=sha256,
                        size_bytes=size_bytes,
                        format=format,
                        width=width,
                        height=height,
                        unreadable_reason=unreadable_reason,
                        stored_at=self._now(),
                    )
                    .returning(media_t.c.id)
                ).scalar_one()
            )

    @_translate_errors
    def add_item(self, new: NewItem, queue_target_minutes: int = 24 * 60) -> tuple[int, bool]:
        """Enqueue an item; returns (item id, created). A known dedupe key is not re-added."""
        qid = self.ensure_queue(new.queue, queue_target_minutes)
        with self._tx() as conn:
            existing = conn.execute(
                select(items.c.id).where(items.c.dedupe_key == new.dedupe_key)
            ).scalar()
            if existing is not None:
                return int(existing), False
            mid = conn.execute(
                select(media_t.c.id).where(media_t.c.sha256 == new.media_sha256)
            ).scalar()
            if mid is None:
                raise NotFound(f"media {new.media_sha256} is not in the store")
            iid = conn.execute(
                insert(items)
                .values(
                    queue_id=qid,
                    media_id=mid,
                    dedupe_key=new.dedupe_key,
                    source=new.source.value,
                    priority=priority_for(new.source, new.imminent_risk),
                    imminent_risk=new.imminent_risk,
                    received_at=self._now(),
                    status="pending",
                    report_text=new.report_text,
                    reported_accounts=list(new.reported_accounts),
                    upload_ip=new.upload_ip,
                    upload_time=new.upload_time,
                    extra=new.extra,
                )
                .returning(items.c.id)
            ).scalar_one()
            self._audit(
                conn,
                None,
                "item_ingested",
                iid,
                {"sha256": new.media_sha256, "source": new.source.value, "queue": new.queue},
            )
            return int(iid), True

    # -- reading items ------------------------------------------------------------------

    def _item_view(self, conn: Connection, item_id: int) -> ItemView:
        r = conn.execute(
            select(items, media_t, queues_t.c.name.label("queue_name"))
            .join(media_t, media_t.c.id == items.c.media_id)
            .join(queues_t, queues_t.c.id == items.c.queue_id)
            .where(items.c.id == item_id)
        ).first()
        if r is None:
            raise NotFound(f"item {item_id}")
        m = r._mapping
        return ItemView(
            id=m[items.c.id],
            queue_id=m[items.c.queue_id],
            queue_name=m["queue_name"],
            source=Source(m[items.c.source]),
            priority=m[items.c.priority],
            imminent_risk=bool(m[items.c.imminent_risk]),
            received_at=m[items.c.received_at],
            media=MediaInfo(
                sha256=m[media_t.c.sha256],
                size_bytes=m[media_t.c.size_bytes],
                format=m[media_t.c.format],
                width=m[media_t.c.width],
                height=m[media_t.c.height],
                unreadable_reason=m[media_t.c.unreadable_reason],
            ),
            report_text=m[items.c.report_text] or "",
            reported_accounts=tuple(m[items.c.reported_accounts] or ()),
            upload_ip=m[items.c.upload_ip],
            upload_time=m[items.c.upload_time],
            extra=dict(m[items.c.extra] or {}),
        )

    @_translate_errors
    def item(self, item_id: int) -> ItemView:
        with self.engine.connect() as conn:
            return self._item_view(conn, item_id)

    @_translate_errors
    def item_status(self, item_id: int) -> str:
        with self.engine.connect() as conn:
            status = conn.execute(select(items.c.status).where(items.c.id == item_id)).scalar()
            if status is None:
                raise NotFound(f"item {item_id}")
            return str(status)

    @_translate_errors
    def decisions(self, item_id: int | None = None) -> list[dict[str, Any]]:
        q = select(decisions).order_by(decisions.c.id)
        if item_id is not None:
            q = q.where(decisions.c.item_id == item_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    @_translate_errors
    def exposures(self, item_id: int | None = None) -> list[dict[str, Any]]:
        q = select(exposures).order_by(exposures.c.id)
        if item_id is not None:
            q = q.where(exposures.c.item_id == item_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    # -- the queue ----------------------------------------------------------------------

    def _expire_leases(self, conn: Connection) -> int:
        stale = (
            select(items.c.id)
            .where(items.c.status == "claimed", items.c.lease_expires_at < self._now())
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        rows = conn.execute(
            update(items)
            .where(items.c.id.in_(stale))
            .values(status="pending", claimed_by=None, lease_expires_at=None, claim_id=None)
            .returning(items.c.id, items.c.claim_id, items.c.claimed_by)
        ).all()
        # RETURNING gives post-update values on both backends; find the open claims instead.
        for item_id, _cid, _uid in rows:
            open_claims = conn.execute(
                update(claims)
                .where(claims.c.item_id == item_id, claims.c.closed_at.is_(None))
                .values(closed_at=self._now(), outcome="expired")
                .returning(claims.c.id, claims.c.user_id)
            ).all()
            for claim_id, user_id in open_claims:
                self._audit(conn, user_id, "lease_expired", item_id, {"claim_id": claim_id})
        return len(rows)

    @_translate_errors
    def expire_leases(self) -> int:
        """Return items whose lease ran out to the queue; returns how many."""
        with self._tx() as conn:
            return self._expire_leases(conn)

    @_translate_errors
    def claim_next(
        self,
        user_id: int,
        queue_id: int | None = None,
        lease_seconds: float = 600,
        exclude_queue_ids: Collection[int] = (),
    ) -> Claim | None:
        """Lease the most urgent pending item (priority, then age) to `user_id`.

        One UPDATE picks and takes the row: FOR UPDATE SKIP LOCKED on PostgreSQL, the
        write lock taken at BEGIN IMMEDIATE on SQLite, so two workstations never hold
        the same item. Items of `exclude_queue_ids` are passed by (restricted queues the
        user may not claim from, when claiming from every queue)."""
        with self._tx() as conn:
            self._expire_leases(conn)
            pick = select(items.c.id).where(
                items.c.status == "pending",
                ~exists().where(and_(skips.c.item_id == items.c.id, skips.c.user_id == user_id)),
            )
            if queue_id is not None:
                pick = pick.where(items.c.queue_id == queue_id)
            if exclude_queue_ids:
                pick = pick.where(items.c.queue_id.not_in(sorted(exclude_queue_ids)))
            pick = (
                pick.order_by(items.c.priority, items.c.received_at, items.c.id)
                .limit(1)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            expires = self._now(lease_seconds)
            row = conn.execute(
                update(items)
                .where(items.c.id == pick, items.c.status == "pending")
                .values(status="claimed", claimed_by=user_id, lease_expires_at=expires)
                .returning(items.c.id, items.c.lease_expires_at)
            ).first()
            if row is None:
                return None
            item_id, lease_expires_at = row
            claim_id = conn.execute(
                insert(claims)
                .values(
                    item_id=item_id,
                    user_id=user_id,
                    claimed_at=self._now(),
                    expires_at=lease_expires_at,
                )
                .returning(claims.c.id)
            ).scalar_one()
            conn.execute(update(items).where(items.c.id == item_id).values(claim_id=claim_id))
            self._audit(conn, user_id, "claim", item_id, {"claim_id": claim_id})
            return Claim(claim_id, self._item_view(conn, item_id), user_id, lease_expires_at)

    @_translate_errors
    def renew_lease(self, claim: Claim, lease_seconds: float = 600) -> Claim:
        with self._tx() as conn:
            row = conn.execute(
                update(items)
                .where(
                    items.c.id == claim.item.id,
                    items.c.claim_id == claim.claim_id,
                    items.c.status == "claimed",
                )
                .values(lease_expires_at=self._now(lease_seconds))
                .returning(items.c.lease_expires_at)
            ).first()
            if row is None:
                raise LeaseLost(f"item {claim.item.id} is no longer held by this workstation")
            conn.execute(
                update(claims).where(claims.c.id == claim.claim_id).values(expires_at=row[0])
            )
            return Claim(claim.claim_id, claim.item, claim.user_id, row[0])

    def _record_exposure(self, conn: Connection, claim: Claim, exposure: Exposure) -> None:
        """One ledger row per claim; a retried call finds it there and leaves it."""
        already = conn.execute(
            select(exposures.c.id).where(exposures.c.claim_id == claim.claim_id)
        ).scalar()
        if already is not None:
            return
        conn.execute(
            insert(exposures).values(
                item_id=claim.item.id,
                user_id=claim.user_id,
                claim_id=claim.claim_id,
                recorded_at=self._now(),
                seconds_revealed=exposure.seconds_revealed,
                reveal_count=exposure.reveal_count,
                max_area_fraction=exposure.max_area_fraction,
                full_unprotected=exposure.full_unprotected,
            )
        )

    def _close(
        self, conn: Connection, claim: Claim, status: str, outcome: str, exposure: Exposure
    ) -> bool:
        """Close the claim and move the item to `status`; False if the lease was lost."""
        took = conn.execute(
            update(items)
            .where(
                items.c.id == claim.item.id,
                items.c.claim_id == claim.claim_id,
                items.c.status == "claimed",
            )
            .values(status=status, claimed_by=None, lease_expires_at=None, claim_id=None)
        ).rowcount
        self._record_exposure(conn, claim, exposure)
        conn.execute(
            update(claims)
            .where(claims.c.id == claim.claim_id, claims.c.closed_at.is_(None))
            .values(closed_at=self._now(), outcome=outcome if took else "expired")
        )
        return took == 1

    def _lease_lost(self, claim: Claim, exposure: Exposure, attempted: str) -> LeaseLost:
        # Record what was seen even though the grading cannot be stored: a reveal is
        # evidence, and exposure counts against the moderator whatever happened next.
        with self._tx() as conn:
            self._record_exposure(conn, claim, exposure)
            self._audit(
                conn,
                claim.user_id,
                "lease_lost",
                claim.item.id,
                {"claim_id": claim.claim_id, "attempted": attempted},
            )
        return LeaseLost(
            "Your hold on this item ran out and it went back to the queue; "
            f"the {attempted} was not stored."
        )

    @_translate_errors
    def submit_decision(
        self, claim: Claim, grading: Grading, exposure: Exposure, client_token: str
    ) -> DecisionReceipt:
        """Decision + exposure record + audit event + lease closed, in one transaction.

        Retrying with the same client_token after a dropped connection returns the
        stored decision instead of storing it twice."""
        grading.validated()
        with self._tx() as conn:
            prior = conn.execute(
                select(decisions.c.id, decisions.c.item_id, decisions.c.decided_at).where(
                    decisions.c.client_token == client_token
                )
            ).first()
            if prior is not None:
                return DecisionReceipt(prior.id, prior.item_id, prior.decided_at)
            if self._close(conn, claim, "decided", "decided", exposure):
                record = grading.to_record()
                did, decided_at = conn.execute(
                    insert(decisions)
                    .values(
                        client_token=client_token,
                        item_id=claim.item.id,
                        user_id=claim.user_id,
                        claim_id=claim.claim_id,
                        decided_at=self._now(),
                        severity=record["severity"],
                        csea_related=grading.csea_related,
                        not_assessable_reason=record["not_assessable_reason"],
                        age_band=record["age_band"],
                        age_confidence=record["age_confidence"],
                        production_context=record["production_context"],
                        actions=record["actions"],
                        note=grading.note,
                    )
                    .returning(decisions.c.id, decisions.c.decided_at)
                ).one()
                self._audit(
                    conn,
                    claim.user_id,
                    "decision",
                    claim.item.id,
                    {
                        "decision_id": did,
                        "claim_id": claim.claim_id,
                        "grading": record,
                        "exposure": _exposure_record(exposure),
                    },
                )
                return DecisionReceipt(did, claim.item.id, decided_at)
            conn.rollback()
        raise self._lease_lost(claim, exposure, "decision")

    @_translate_errors
    def skip(self, claim: Claim, reason: SkipReason, note: str, exposure: Exposure) -> None:
        """Put the item back for someone else; this moderator's claims pass it by."""
        with self._tx() as conn:
            if self._close(conn, claim, "pending", "skipped", exposure):
                conn.execute(
                    insert(skips).values(
                        item_id=claim.item.id,
                        user_id=claim.user_id,
                        reason=reason.value,
                        note=note,
                        at=self._now(),
                    )
                )
                self._audit(
                    conn,
                    claim.user_id,
                    "skip",
                    claim.item.id,
                    {
                        "claim_id": claim.claim_id,
                        "reason": reason.value,
                        "note": note,
                        "exposure": _exposure_record(exposure),
                    },
                )
                return
            conn.rollback()
        raise self._lease_lost(claim, exposure, "skip")

    @_translate_errors
    def release(self, claim: Claim, exposure: Exposure, why: str = "released") -> None:
        """Hand the item back untouched (moving on, quitting, a break, an idle lock)."""
        with self._tx() as conn:
            if self._close(conn, claim, "pending", "released", exposure):
                self._audit(
                    conn,
                    claim.user_id,
                    "release",
                    claim.item.id,
                    {
                        "claim_id": claim.claim_id,
                        "why": why,
                        "exposure": _exposure_record(exposure),
                    },
                )
                return
            conn.rollback()
        raise self._lease_lost(claim, exposure, "release")


def _exposure_record(e: Exposure) -> dict[str, Any]:
    return {
        "seconds_revealed": e.seconds_revealed,
        "reveal_count": e.reveal_count,
        "max_area_fraction": e.max_area_fraction,
        "full_unprotected": e.full_unprotected,
    }
