"""Retention in the database: records for the plan, legal holds, erasure
requests, and disposals, each one transaction with its audit event.

A disposal never touches audit_events, decisions or the media row (sha256, size): that
is the audit record (hashes, grade, who, when). Media blobs are deleted by the caller
after the commit, and only blobs that no item still kept references (`orphaned_blobs`):
identical uploads share one blob. If deleting a blob fails, the next run finds it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, insert, select, update

from db.models import DecisionRow, ItemRow, LegalHoldRow, MediaRow, ReferralRow
from db.referrals import read_settings
from db.repo import Repo, translate_errors
from reviewer.destinations import Destination
from reviewer.errors import NotFound
from reviewer.permissions import Check
from reviewer.retention_model import (
    Disposal,
    DisposalScope,
    RetentionPolicy,
    RetentionRecord,
    decide,
)
from reviewer.untrusted import text
from reviewer.vocabulary import Action, Severity

items = ItemRow.__table__
decisions = DecisionRow.__table__
holds = LegalHoldRow.__table__
media_t = MediaRow.__table__
referrals_t = ReferralRow.__table__

MAX_REASON = 2000


@dataclass(frozen=True)
class DisposalDone:
    """What one disposal transaction did."""

    item_id: int
    what: DisposalScope
    why: str
    sha256: str
    referrals_redacted: tuple[str, ...]


@dataclass(frozen=True)
class LegalHold:
    id: int
    item_id: int
    reason: str
    placed_by: int | None
    placed_at: datetime
    lifted_at: datetime | None


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("give a reason (e.g. the preservation order's reference)")
    if len(reason) > MAX_REASON:
        raise ValueError(f"the reason is longer than {MAX_REASON} characters")
    return reason


class RetentionRepo(Repo):
    @translate_errors
    def policy(self) -> RetentionPolicy:
        with self.read() as conn:
            s = read_settings(conn)
        return RetentionPolicy(s.report_hold_days, s.non_illegal_dispose_days, s.destinations)

    def current_time(self) -> datetime:
        with self.read() as conn:
            return self.now_value(conn)

    # -- what the plan reads -------------------------------------------------------------

    def _records(self, conn: Connection, item_ids: Iterable[int] | None) -> list[RetentionRecord]:
        q = select(
            items.c.id,
            items.c.received_at,
            items.c.reported_at,
            items.c.erasure_requested_at,
            items.c.media_disposed_at,
            items.c.personal_data_disposed_at,
            exists()
            .where(holds.c.item_id == items.c.id, holds.c.lifted_at.is_(None))
            .label("held"),
        ).order_by(items.c.id)
        dq = select(decisions).order_by(decisions.c.id)
        if item_ids is not None:
            ids = list(item_ids)
            q = q.where(items.c.id.in_(ids))
            dq = dq.where(decisions.c.item_id.in_(ids))
        latest: dict[int, Any] = {}
        reported: set[int] = set()
        for d in conn.execute(dq):
            latest[d.item_id] = d  # ordered by id: the last one wins
            if Action.REPORT.value in (d.actions or ()):
                reported.add(d.item_id)
        sent: dict[int, list[tuple[Destination, datetime]]] = {}
        for ids_json, dest, exported_at in conn.execute(
            select(referrals_t.c.item_ids, referrals_t.c.destination, referrals_t.c.exported_at)
        ):
            for i in ids_json or ():
                reported.add(int(i))
                if exported_at is not None:
                    sent.setdefault(int(i), []).append((Destination(dest), exported_at))
        out = []
        for r in conn.execute(q):
            last = latest.get(r.id)
            out.append(
                RetentionRecord(
                    item_id=r.id,
                    received_at=r.received_at,
                    decided_at=last.decided_at if last is not None else None,
                    severity=Severity(last.severity) if last is not None else None,
                    reported=r.id in reported,
                    reported_at=r.reported_at,
                    legal_hold=bool(r.held),
                    erasure_requested_at=r.erasure_requested_at,
                    media_present=r.media_disposed_at is None,
                    personal_data_present=r.personal_data_disposed_at is None,
                    csea_related=bool(last.csea_related) if last is not None else False,
                    sent_reports=tuple(sent.get(r.id, ())),
                )
            )
        return out

    @translate_errors
    def records(self) -> list[RetentionRecord]:
        with self.read() as conn:
            return self._records(conn, None)

    # -- holds and erasure -----------------------------------------------------------------

    def _require_item(self, conn: Connection, item_id: int) -> None:
        if conn.execute(select(items.c.id).where(items.c.id == item_id)).first() is None:
            raise NotFound(f"item {item_id}")

    @translate_errors
    def place_hold(self, item_id: int, check: Check, reason: str) -> LegalHold:
        reason = _reason(reason)
        with self.write() as conn:
            user_id = self.store.gate.enforce(conn, check).account.id
            self._require_item(conn, item_id)
            hid = conn.execute(
                insert(holds)
                .values(item_id=item_id, reason=reason, placed_by=user_id, placed_at=self.now())
                .returning(holds.c.id)
            ).scalar_one()
            self.audit(
                conn, user_id, "legal_hold_placed", item_id, {"hold_id": hid, "reason": reason}
            )
            r = conn.execute(select(holds).where(holds.c.id == hid)).one()
            return LegalHold(r.id, r.item_id, r.reason, r.placed_by, r.placed_at, r.lifted_at)

    @translate_errors
    def lift_hold(self, item_id: int, check: Check, reason: str) -> int:
        """Lift every active hold on the item; returns how many were lifted."""
        reason = _reason(reason)
        with self.write() as conn:
            user_id = self.store.gate.enforce(conn, check).account.id
            self._require_item(conn, item_id)
            lifted = conn.execute(
                update(holds)
                .where(holds.c.item_id == item_id, holds.c.lifted_at.is_(None))
                .values(lifted_at=self.now(), lifted_by=user_id, lift_reason=reason)
                .returning(holds.c.id)
            ).all()
            if not lifted:
                raise ValueError(f"item {item_id} is not under a legal hold")
            ids = sorted(int(h) for (h,) in lifted)
            self.audit(
                conn, user_id, "legal_hold_lifted", item_id, {"hold_ids": ids, "reason": reason}
            )
            return len(ids)

    @translate_errors
    def holds(self, item_id: int | None = None, active_only: bool = True) -> list[LegalHold]:
        q = select(holds).order_by(holds.c.id)
        if item_id is not None:
            q = q.where(holds.c.item_id == item_id)
        if active_only:
            q = q.where(holds.c.lifted_at.is_(None))
        with self.read() as conn:
            return [
                LegalHold(r.id, r.item_id, r.reason, r.placed_by, r.placed_at, r.lifted_at)
                for r in conn.execute(q)
            ]

    @translate_errors
    def request_erasure(self, item_id: int, check: Check, note: str = "") -> datetime:
        """Record an erasure request (the first one counts); the next run honours it
        for whatever no hold or report keeps. Returns when it was requested."""
        text("note", note, MAX_REASON)  # Untrusted (a ValueError) before anything changes
        with self.write() as conn:
            user_id = self.store.gate.enforce(conn, check).account.id
            self._require_item(conn, item_id)
            conn.execute(
                update(items)
                .where(items.c.id == item_id, items.c.erasure_requested_at.is_(None))
                .values(erasure_requested_at=self.now())
            )
            at: datetime = conn.execute(
                select(items.c.erasure_requested_at).where(items.c.id == item_id)
            ).scalar_one()
            self.audit(conn, user_id, "erasure_requested", item_id, {"note": note.strip()})
            return at

    # -- disposal ---------------------------------------------------------------------------

    @translate_errors
    def dispose(self, item_id: int, policy: RetentionPolicy, check: Check) -> DisposalDone | None:
        """Carry out the plan for one item in one transaction, re-deciding inside it (a
        hold placed since the plan was made wins). None when it is no longer due."""
        with self.write() as conn:
            user_id = self.store.gate.enforce(conn, check).account.id
            if self.pg:  # serialise with a concurrent hold or disposal of this item
                conn.execute(select(items.c.id).where(items.c.id == item_id).with_for_update())
            now = self.now_value(conn)
            recs = self._records(conn, [item_id])
            if not recs:
                raise NotFound(f"item {item_id}")
            outcome = decide(recs[0], now, policy)
            if not isinstance(outcome, Disposal):
                return None
            rec = recs[0]
            values: dict[str, Any] = {}
            if outcome.what in (DisposalScope.MEDIA, DisposalScope.BOTH) and rec.media_present:
                values["media_disposed_at"] = now
            redacted: list[str] = []
            if (
                outcome.what in (DisposalScope.PERSONAL_DATA, DisposalScope.BOTH)
                and rec.personal_data_present
            ):
                values.update(
                    personal_data_disposed_at=now,
                    report_text="",
                    reported_accounts=[],
                    upload_ip=None,
                    upload_time=None,
                    extra={},  # the manifest's subject (account, IPs, devices) and chat
                )
                redacted = self._redact_referrals(conn, item_id, now)
            conn.execute(update(items).where(items.c.id == item_id).values(**values))
            sha, media_id = conn.execute(
                select(media_t.c.sha256, media_t.c.id)
                .join(items, items.c.media_id == media_t.c.id)
                .where(items.c.id == item_id)
            ).one()
            shared = conn.execute(
                select(items.c.id).where(
                    items.c.media_id == media_id,
                    items.c.id != item_id,
                    items.c.media_disposed_at.is_(None),
                )
            ).all()
            self.audit(
                conn,
                user_id,
                "retention_disposed",
                item_id,
                {
                    "what": outcome.what.value,
                    "why": outcome.why,
                    "sha256": sha,
                    "severity": rec.severity.value if rec.severity else None,
                    "media_kept_for_items": sorted(int(i) for (i,) in shared),
                    "referrals_redacted": redacted,
                },
            )
            return DisposalDone(item_id, outcome.what, outcome.why, sha, tuple(redacted))

    def _redact_referrals(self, conn: Connection, item_id: int, now: datetime) -> list[str]:
        """Stored packages hold the same personal data: drop their text, keep the row
        (reference, kind, who, when, complete, urgent) as part of the record."""
        out = []
        rows = conn.execute(
            select(referrals_t.c.id, referrals_t.c.reference, referrals_t.c.item_ids).where(
                referrals_t.c.disposed_at.is_(None)
            )
        ).all()
        for rid, reference, ids in rows:
            if item_id in (int(i) for i in ids or ()):
                conn.execute(
                    update(referrals_t)
                    .where(referrals_t.c.id == rid)
                    .values(package=None, summary=None, missing=None, disposed_at=now)
                )
                out.append(reference)
        return out

    @translate_errors
    def orphaned_blobs(self) -> list[str]:
        """sha256 of media whose every item has had its media disposed of."""
        kept = select(items.c.id).where(
            items.c.media_id == media_t.c.id, items.c.media_disposed_at.is_(None)
        )
        any_item = select(items.c.id).where(items.c.media_id == media_t.c.id)
        q = select(media_t.c.sha256).where(exists(any_item), ~exists(kept)).order_by(media_t.c.id)
        with self.read() as conn:
            return [str(s) for (s,) in conn.execute(q)]
