"""Builders shared by the referral and retention tests.

Items go in through the real manifest parser (so the `subject` and `chat` validation is
exercised) with synthetic pictures; decisions through the real claim and submit path,
so the exposure ledger is the one the workstation writes.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sign_in import stored_account

from db.media_store import MediaStore
from db.store import Store
from reviewer.accounts import Account, Role
from reviewer.grading import Grading
from reviewer.ingest import IngestReport, ingest_bytes, parse_line
from reviewer.model import Exposure
from reviewer.permissions import Check, Operation
from reviewer.synthetic import encode, make_image
from reviewer.vocabulary import (
    Action,
    AgeBand,
    AgeConfidence,
    ProductionContext,
    Severity,
)

FULL_SUBJECT: dict[str, Any] = {
    "account_id": "user-8841",
    "email": "subject@example.test",
    "phone": "+44 7700 900123",
    "linked_accounts": ["user-9912"],
    "device_ids": ["android-7f3a09c1"],
    "upload_ips": [{"ip": "203.0.113.7", "at": "2026-01-04T10:00:00Z", "port": 51234}],
    "login_ips": [
        {"ip": "198.51.100.21", "at": "2026-01-04T09:00:00Z", "port": 40001},
        {"ip": "198.51.100.22", "at": "2026-01-03T09:00:00Z", "port": 40002},
        {"ip": "192.0.2.5", "at": "2026-01-02T09:00:00Z", "port": 40003},
    ],
}
FULL_CHAT = [
    {"at": "2026-01-04T09:58:00Z", "sender": "user-8841", "ip": "203.0.113.7", "text": "hi"},
    {"at": "2026-01-04T09:59:00Z", "sender": "other", "ip": "192.0.2.77", "text": "synthetic"},
]

REPORT_B = Grading(
    severity=Severity.B,
    age_band=AgeBand.B11_13,
    age_confidence=AgeConfidence.PROBABLE,
    production_context=ProductionContext.GROOMED,
    actions=frozenset({Action.REMOVE, Action.REPORT}),
)
NOT_ILLEGAL = Grading(severity=Severity.NOT_ILLEGAL, actions=frozenset({Action.REMOVE}))
REVEALED = Exposure(seconds_revealed=2.5, reveal_count=1, max_area_fraction=0.3)
UNSEEN = Exposure()


def add_item(
    store: Store,
    media: MediaStore,
    *,
    seed: int = 1,
    subject: dict[str, Any] | None = None,
    chat: list[dict[str, Any]] | None = None,
    imminent_risk: bool = False,
    data: bytes | None = None,
    **fields: Any,
) -> int:
    line: dict[str, Any] = {
        "media": "unused.jpg",
        "source": "user_report",
        "id": uuid.uuid4().hex,
        "imminent_risk": imminent_risk,
        "reported_accounts": ["acct@example.test"],
        "upload_ip": "192.0.2.10",
        "upload_time": "2026-01-04T10:00:00Z",
        "report_text": "synthetic report",
        **fields,
    }
    if subject is not None:
        line["subject"] = subject
    if chat is not None:
        line["chat"] = chat
    entry, _ = parse_line(json.dumps(line), 1)
    data = data or encode(make_image(64, 48, seed=seed, label="SYNTHETIC"), "JPEG")
    report = IngestReport()
    ingest_bytes(store.items, media, entry, data, report)
    if report.item_ids:
        return report.item_ids[0]
    raise AssertionError("item not added")


def decide(
    store: Store,
    item_id: int,
    grading: Grading = REPORT_B,
    exposure: Exposure = UNSEEN,
    user: str = "mod",
) -> int:
    """Claim `item_id` (it must be the only pending item) and submit `grading`."""
    uid = store.accounts.ensure_user(user).id
    claim = store.claims.claim_next(uid)
    assert claim is not None and claim.item.id == item_id, "expected to claim that item"
    store.claims.submit_decision(claim, grading, exposure, str(uuid.uuid4()))
    return uid


def reporting_lead(store: Store) -> Account:
    """A stored, vetted team lead: referrals are built and exported by a lead."""
    return stored_account(store, "Rita Reporter", Role.LEAD)


def settings_check(store: Store) -> Check:
    """The gate's question for an admin changing the reporting settings."""
    admin = stored_account(store, "Reporting Admin", Role.ADMIN)
    return Check(admin.id, admin.name, Operation.REPORTING_SETTINGS)


def retention_check(store: Store) -> Check:
    admin = stored_account(store, "Retention Admin", Role.ADMIN)
    return Check(admin.id, admin.name, Operation.RETENTION)
