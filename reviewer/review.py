"""What the review screen asks of the rest of the system, for one signed-in moderator.

Every method blocks (it talks to the database or the media store), so the UI calls
them only from its database worker, never from the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, Protocol

from reviewer.grading import Grading
from reviewer.model import AuditEvent, Claim, DecisionReceipt, Exposure, QueueSummary, User
from reviewer.vocabulary import SkipReason

DEFAULT_LEASE_SECONDS = 600


class StorePort(Protocol):
    """The subset of db.store.Store the services use."""

    def ensure_user(self, name: str, role: str = ...) -> User: ...
    def users(self) -> list[User]: ...
    def queue_summaries(self) -> list[QueueSummary]: ...
    def item_count(self) -> int: ...
    def record_event(
        self,
        user_id: int | None,
        kind: str,
        item_id: int | None = ...,
        detail: dict[str, Any] | None = ...,
    ) -> None: ...
    def claim_next(
        self,
        user_id: int,
        queue_id: int | None = ...,
        lease_seconds: float = ...,
        exclude_queue_ids: Collection[int] = ...,
    ) -> Claim | None: ...
    def renew_lease(self, claim: Claim, lease_seconds: float = ...) -> Claim: ...
    def submit_decision(
        self, claim: Claim, grading: Grading, exposure: Exposure, client_token: str
    ) -> DecisionReceipt: ...
    def skip(self, claim: Claim, reason: SkipReason, note: str, exposure: Exposure) -> None: ...
    def release(self, claim: Claim, exposure: Exposure, why: str = ...) -> None: ...
    def audit_events(
        self, item_id: int | None = ..., kind: str | None = ...
    ) -> list[AuditEvent]: ...


class MediaPort(Protocol):
    def get(self, sha256: str) -> bytes: ...


class ReviewService:
    """One moderator's session at the workstation."""

    def __init__(
        self,
        store: StorePort,
        media: MediaPort,
        user: User,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self._store = store
        self._media = media
        self.user = user
        self.lease_seconds = lease_seconds

    def queues(self) -> list[QueueSummary]:
        return self._store.queue_summaries()

    def claim_next(self, queue_id: int | None = None) -> Claim | None:
        """Lease the next item; the claim is audited. None when the queue is empty."""
        return self._store.claim_next(self.user.id, queue_id, self.lease_seconds)

    def open_item(self, claim: Claim) -> None:
        """The item is now on screen (protected). Claims rendered ahead are not 'opened'
        until the moderator actually moves to them."""
        self._store.record_event(
            self.user.id, "item_opened", claim.item.id, {"claim_id": claim.claim_id}
        )

    def media_bytes(self, claim: Claim) -> bytes:
        return self._media.get(claim.item.media.sha256)

    def renew_lease(self, claim: Claim) -> Claim:
        return self._store.renew_lease(claim, self.lease_seconds)

    def record_reveal(self, claim: Claim, revealed: bool, area_fraction: float = 1.0) -> None:
        self._store.record_event(
            self.user.id,
            "reveal_on" if revealed else "reveal_off",
            claim.item.id,
            {"claim_id": claim.claim_id, "area_fraction": round(area_fraction, 4)},
        )

    def submit(
        self, claim: Claim, grading: Grading, exposure: Exposure, client_token: str
    ) -> DecisionReceipt:
        """Store the decision (raises GradingInvalid with what is missing, LeaseLost, or
        StoreUnavailable; retrying with the same client_token never stores twice)."""
        return self._store.submit_decision(claim, grading.validated(), exposure, client_token)

    def skip(self, claim: Claim, reason: SkipReason, note: str, exposure: Exposure) -> None:
        self._store.skip(claim, reason, note, exposure)

    def release(self, claim: Claim, exposure: Exposure, why: str = "released") -> None:
        self._store.release(claim, exposure, why)


class Workstation:
    """Before anyone signs in: profiles and the first-run demo queue."""

    def __init__(
        self,
        store: StorePort,
        media: MediaPort,
        seed_demo: Callable[[Callable[[int, int], None]], int] | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self._store = store
        self._media = media
        self._seed_demo = seed_demo
        self._lease_seconds = lease_seconds

    def profiles(self) -> list[User]:
        return self._store.users()

    def sign_in(self, name: str) -> ReviewService:
        """Choose (or create, on first run) a profile. Full accounts come later; every
        event and decision already names its user."""
        user = self._store.ensure_user(name)
        self._store.record_event(user.id, "profile_chosen", detail={"name": user.name})
        return ReviewService(self._store, self._media, user, self._lease_seconds)

    def seed_demo_if_empty(self, progress: Callable[[int, int], None]) -> int:
        """On an empty database, ingest a synthetic demo queue; returns items added."""
        if self._seed_demo is None or self._store.item_count() > 0:
            return 0
        return self._seed_demo(progress)


def lease_seconds_left(claim: Claim, now: datetime) -> float:
    return (claim.lease_expires_at - now).total_seconds()
