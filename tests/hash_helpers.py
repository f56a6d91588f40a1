"""Builders for the hash-list tests: ingest synthetic pictures through the hashing
and matching hook, and give a stored item its hashes without storing a blob."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from qa_helpers import SEED, account

from db.hashes import HashRepo
from db.media_store import MediaStore
from db.store import Store
from reviewer import synthetic
from reviewer.accounts import Role
from reviewer.clock import SystemClock
from reviewer.hashing import compute_hashes
from reviewer.ingest import Entry, IngestReport, ingest_bytes
from reviewer.matching import HashIngest
from reviewer.qa_service import QaService
from reviewer.vocabulary import Severity, Source


def ingest_one(
    store: Store,
    media: MediaStore,
    hook: HashIngest,
    data: bytes,
    tag: str,
    suspected: Severity | None = None,
) -> int:
    """Ingest one upload as the CLI does (hashing, matching, grouping); its item id."""
    report = IngestReport()
    entry = Entry(
        line=1,
        source=Source.USER_REPORT,
        queue="General",
        external_id=tag,
        imminent_risk=False,
        reported_accounts=(),
        upload_ip=None,
        upload_time=datetime(2026, 1, 5, tzinfo=UTC),
        report_text="",
        extra={},
        suspected_category=suspected,
    )
    ingest_bytes(store.items, media, entry, data, report, hook)
    assert report.item_ids, "item not created"
    return report.item_ids[-1]


def give_hashes(repo: HashRepo, item_id: int, seed: int) -> str:
    """Record hashes of a synthetic picture for an item made without a blob; its MD5."""
    hashes = compute_hashes(synthetic.encode(synthetic.make_image(320, 240, seed), "JPEG"))
    repo.record_item_hashes(item_id, hashes, [], None)
    return hashes.md5


def set_grades_needed(store: Store, needed: int) -> None:
    """The admin's "independent grades needed before export", set as an admin does."""
    qa = store.qa
    admin = account(store, "Hash Admin", Role.ADMIN)
    service = QaService(qa, admin, SystemClock(), SEED)
    service.set_settings(replace(service.settings(), export_grades_needed=needed))
