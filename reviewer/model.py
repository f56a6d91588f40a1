"""Immutable data objects handed between the store, the services and the UI.

The UI never sees ORM objects; the store converts rows into these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reviewer.vocabulary import Severity, Source

# Lower is more urgent. Imminent risk jumps every queue (DOMAIN.md, Principle 5).
PRIORITY_IMMINENT_RISK = 0
_SOURCE_PRIORITY = {
    Source.LIVESTREAM: 1,
    Source.NGO: 2,
    Source.TRUSTED_FLAGGER: 2,
    Source.HASH_MATCH: 3,
    Source.CLASSIFIER: 4,
    Source.USER_REPORT: 5,
}


def priority_for(source: Source, imminent_risk: bool) -> int:
    return PRIORITY_IMMINENT_RISK if imminent_risk else _SOURCE_PRIORITY[source]


PRIORITY_LABELS = {
    0: "Imminent risk",
    1: "Livestream",
    2: "NGO / trusted flagger",
    3: "Known hash",
    4: "Classifier",
    5: "User report",
}


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str


@dataclass(frozen=True)
class QueueSummary:
    id: int
    name: str
    target_minutes: int
    pending: int
    claimed: int
    oldest_pending_at: datetime | None
    # Pending livestream captures (a live stream goes first), filled in by the review service.
    livestream: int = 0


@dataclass(frozen=True)
class MediaInfo:
    sha256: str
    size_bytes: int
    format: str | None
    width: int | None
    height: int | None
    unreadable_reason: str | None

    @property
    def readable(self) -> bool:
        return self.unreadable_reason is None


@dataclass(frozen=True)
class ItemView:
    id: int
    queue_id: int
    queue_name: str
    source: Source
    priority: int
    imminent_risk: bool
    received_at: datetime
    media: MediaInfo
    report_text: str = ""
    reported_accounts: tuple[str, ...] = ()
    upload_ip: str | None = None
    upload_time: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The severity hint (items.suspected_category): what the item is expected to be
    # before anyone grades it; None when nothing is known.
    suspected_category: Severity | None = None


@dataclass(frozen=True)
class Claim:
    """An item leased to one moderator until `lease_expires_at` (server clock)."""

    claim_id: int
    item: ItemView
    user_id: int
    lease_expires_at: datetime


@dataclass(frozen=True)
class Exposure:
    """What the moderator actually saw of one item (the metered reveal)."""

    seconds_revealed: float = 0.0
    reveal_count: int = 0
    max_area_fraction: float = 0.0
    full_unprotected: bool = False
    # Revealed area x seconds: a spotlight on a tenth of the image for 10 s is 1.0.
    area_seconds: float = 0.0
    # The least protection used: lowest blur step painted (0 = unblurred), whether
    # colour was shown, and the most revealing mode that uncovered anything
    # ("protected", "spotlight", "hold", "toggled"; see wellbeing.reveal.RevealMode).
    min_blur_step: int | None = None
    colour_shown: bool = False
    least_mode: str = "protected"
    # Seconds the reduced-detail (flat-tone) view was on screen instead of the blur.
    stylised_seconds: float = 0.0

    @property
    def viewed(self) -> bool:
        return self.reveal_count > 0


@dataclass(frozen=True)
class DecisionReceipt:
    decision_id: int
    item_id: int
    decided_at: datetime


@dataclass(frozen=True)
class AuditEvent:
    id: int
    at: datetime
    user_id: int | None
    kind: str
    item_id: int | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class NewItem:
    """An item about to be enqueued (its media already in the media store)."""

    queue: str
    source: Source
    media_sha256: str
    dedupe_key: str
    imminent_risk: bool = False
    report_text: str = ""
    reported_accounts: tuple[str, ...] = ()
    upload_ip: str | None = None
    upload_time: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # A classifier's or NGO's suspected category, from the manifest (None: none given).
    suspected_category: Severity | None = None
