"""Builders for the QA and dashboard tests: people with roles, decisions, re-grades."""

from __future__ import annotations

import hashlib
import uuid

import wiring
from sign_in import stored_account

from db.qa import QaRepo
from db.store import Store
from reviewer.accounts import Account, Role
from reviewer.clock import Clock
from reviewer.grading import Grading
from reviewer.model import Exposure, NewItem
from reviewer.qa_service import QaReviewSession
from reviewer.review_service import CalibratedReviewService
from reviewer.vocabulary import AgeBand, AgeConfidence, ProductionContext, Severity, Source

SEED = "team-secret-for-tests"


class NoMedia:
    def get(self, sha256: str) -> bytes:
        raise AssertionError("these tests never decode media")


def account(store: Store, name: str, *roles: Role) -> Account:
    """A stored, vetted account with `roles` (the gate reads the stored one)."""
    return stored_account(store, name, *roles)


def moderator_session(store: Store, qa: QaRepo, acc: Account) -> CalibratedReviewService:

    # The Account itself: a dual-role account acts with all its roles (a User would
    # carry only its primary one).
    return wiring.session(store, NoMedia(), acc, review_service=wiring.calibrated(qa, SEED))


def qa_session(qa: QaRepo, acc: Account, clock: Clock) -> QaReviewSession:
    return wiring.qa_review(qa, NoMedia(), acc, clock)


def graded(
    severity: Severity,
    band: AgeBand | None = None,
    context: ProductionContext | None = None,
    confidence: AgeConfidence | None = AgeConfidence.PROBABLE,
    note: str = "",
) -> Grading:
    if severity.is_category:
        band = band or AgeBand.B11_13
        context = context or ProductionContext.UNKNOWN
    return Grading(
        severity=severity,
        age_band=band,
        age_confidence=confidence if band is not None else None,
        production_context=context,
        note=note,
    )


def add_items(
    store: Store,
    n: int,
    queue: str = "General",
    tag: str = "",
    source: Source = Source.CLASSIFIER,
    imminent_risk: bool = False,
    synthetic: bool = False,
) -> list[int]:
    """`synthetic`: marked as generated at ingest, as gold items must be."""
    ids = []
    for i in range(n):
        sha = hashlib.sha256(f"{tag}{queue}{source}{i}".encode()).hexdigest()
        store.items.add_media(sha, 100, "JPEG", 10, 10, None)
        item_id, _ = store.items.add_item(
            NewItem(
                queue=queue,
                source=source,
                media_sha256=sha,
                dedupe_key=sha,
                imminent_risk=imminent_risk,
                report_text=f"report {tag}{i}",
                extra={"synthetic": f"test {tag}{i}"} if synthetic else {},
            )
        )
        ids.append(item_id)
    return ids


def decide_next(
    session: CalibratedReviewService, grading: Grading, seconds: float = 0.0
) -> tuple[int, int]:
    """Claim the next item and decide it; returns (item id, decision id)."""
    claim = session.claim_next()
    assert claim is not None, "the queue ran dry"
    exposure = Exposure(
        seconds_revealed=seconds,
        reveal_count=1 if seconds else 0,
        max_area_fraction=1.0 if seconds else 0.0,
    )
    receipt = session.submit(claim, grading, exposure, str(uuid.uuid4()))
    return claim.item.id, receipt.decision_id


def regrade_next(session: QaReviewSession, grading: Grading, seconds: float = 0.0) -> int:
    claim = session.claim_next()
    assert claim is not None, "no sample waiting"
    session.submit(claim, grading, Exposure(seconds_revealed=seconds), str(uuid.uuid4()))
    return claim.item.id
