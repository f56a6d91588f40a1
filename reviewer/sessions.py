"""What every review-shaped session shares: the moderator's (reviewer.review_service) and the QA
reviewer's blind re-grade (reviewer.qa_service). Both show an item under a lease, meter
what is revealed and hand the item back; the rules they must apply alike live here, so
that neither session module has to import the other."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from reviewer.accounts import Account
from reviewer.errors import LeaseLost
from reviewer.model import Claim, Exposure
from reviewer.permissions import Check, Operation
from reviewer.welfare_service import WelfareSession

DEFAULT_LEASE_SECONDS = 600
# Items of opted-out queues or kinds passed by in one claim before saying "none now".
MAX_OPT_OUT_SKIPS = 50


class MediaPort(Protocol):
    def get(self, sha256: str) -> bytes: ...


def reprotect_after(welfare: WelfareSession) -> float:
    """The admin's re-protect delay, as loaded with the welfare policy at sign-in: the
    image view protects itself again after this long without interaction."""
    return float(welfare.policy.settings.reprotect_after_seconds)


@contextmanager
def counted_release(welfare: WelfareSession, exposure: Exposure) -> Iterator[None]:
    """Around handing an item back: what was seen counts once the ledger has it, on
    success and on LeaseLost (the store records the exposure then too), never on an
    unreachable store."""
    try:
        yield
    except LeaseLost:
        welfare.item_released(exposure)
        raise
    welfare.item_released(exposure)


class EventsPort(Protocol):
    """Where a session's metering goes: audit events and the gate's answers, each in
    its own transaction (db.store.Store for review, db.qa.QaRepo for QA)."""

    def record_event(
        self,
        user_id: int | None,
        kind: str,
        item_id: int | None,
        detail: dict[str, Any],
        *,
        check: Check,
    ) -> None: ...
    def authorise(self, check: Check) -> object: ...


@dataclass(frozen=True)
class Metered:
    """The gate's operations a session shows and meters an item under, and the name
    of the audit event that says the item is on screen."""

    open: Operation
    view_media: Operation
    renew: Operation
    reveal: Operation
    opened_event: str


REVIEW = Metered(
    Operation.OPEN, Operation.VIEW_MEDIA, Operation.RENEW, Operation.REVEAL, "item_opened"
)
QA_REGRADE = Metered(
    Operation.QA_OPEN,
    Operation.QA_VIEW_MEDIA,
    Operation.QA_RENEW,
    Operation.QA_REVEAL,
    "qa_item_opened",
)


class LeasedSession:
    """Showing an item under a lease, as review and QA re-grading both do: opening it
    (welfare sees it shown), its bytes, renewing the lease, and every reveal and
    unmute audited. One copy, so that a rule added here holds on both screens; each
    session says which operations the gate decides (`metered`) and how its lease is
    renewed (`_renew`)."""

    def __init__(
        self,
        events: EventsPort,
        media: MediaPort,
        account: Account,
        welfare: WelfareSession,
        metered: Metered,
        lease_seconds: float,
    ) -> None:
        self._events = events
        self._media = media
        self._metered = metered
        self.account = account
        self.lease_seconds = lease_seconds
        # The welfare policy, enforced here and not only on screen.
        self.welfare = welfare
        # A plain value, so the screen reads it without calling into the service.
        self.reprotect_after_s = reprotect_after(welfare)

    def _check(self, op: Operation, claim: Claim | None = None, **on: int | None) -> Check:
        """The gate's question for one call by this session's account."""
        return Check(
            self.account.id,
            self.account.name,
            op,
            claim_id=None if claim is None else claim.claim_id,
            **on,
        )

    def _renew(self, claim: Claim, check: Check) -> Claim:
        raise NotImplementedError

    def open_item(self, claim: Claim) -> None:
        """The item is now on screen (protected). Claims rendered ahead are not 'opened'
        until the person actually moves to them. Raises ReviewLocked while review is
        locked (an item claimed ahead waits)."""
        self.welfare.item_shown(claim)
        self._events.record_event(
            self.account.id,
            self._metered.opened_event,
            claim.item.id,
            {"claim_id": claim.claim_id},
            check=self._check(self._metered.open, claim),
        )

    def media_bytes(self, claim: Claim) -> bytes:
        self._events.authorise(self._check(self._metered.view_media, claim))
        return self._media.get(claim.item.media.sha256)

    def renew_lease(self, claim: Claim) -> Claim:
        return self._renew(claim, self._check(self._metered.renew, claim))

    def record_reveal(self, claim: Claim, revealed: bool, area_fraction: float = 1.0) -> None:
        self._events.record_event(
            self.account.id,
            "reveal_on" if revealed else "reveal_off",
            claim.item.id,
            {"claim_id": claim.claim_id, "area_fraction": round(area_fraction, 4)},
            check=self._check(self._metered.reveal, claim),
        )

    def record_audio(self, claim: Claim, unmuted: bool) -> None:
        """Unmuting a video's sound is a deliberate reveal: audited like one."""
        self._events.record_event(
            self.account.id,
            "audio_unmuted" if unmuted else "audio_muted",
            claim.item.id,
            {"claim_id": claim.claim_id, "reveal": "audio"},
            check=self._check(self._metered.reveal, claim),
        )
