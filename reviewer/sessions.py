"""What every review-shaped session shares: the moderator's (reviewer.review_service) and the QA
reviewer's blind re-grade (reviewer.qa_service). Both show an item under a lease, meter
what is revealed and hand the item back; the rules they must apply alike live here, so
that neither session module has to import the other."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from reviewer.errors import LeaseLost
from reviewer.model import Exposure
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
