"""What the review screen asks of the rest of the system, for one signed-in moderator.

Every method blocks (it talks to the database or the media store), so the UI calls
them only from its database worker, never from the GUI thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol

from reviewer.errors import LeaseLost
from reviewer.grading import Grading, GradingInvalid
from reviewer.matching import ShowLess
from reviewer.model import AuditEvent, Claim, DecisionReceipt, Exposure, QueueSummary, User
from reviewer.segments import Segment
from reviewer.video_review import VideoMeta, VideoPort, segment_problems
from reviewer.vocabulary import SkipReason
from reviewer.welfare import WelfareSession

DEFAULT_LEASE_SECONDS = 600
# Items of opted-out queues or kinds passed by in one claim before saying "none now".
MAX_OPT_OUT_SKIPS = 50


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
        self, user_id: int, queue_id: int | None = ..., lease_seconds: float = ...
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
        show_less: ShowLess | None = None,
        welfare: WelfareSession | None = None,
        videos: VideoPort | None = None,
    ) -> None:
        self._store = store
        self._media = media
        self.user = user
        self.lease_seconds = lease_seconds
        # Known matches and near-duplicate groups (issue 6); None where not wired.
        self.show_less = show_less
        # The welfare policy, enforced here and not only on screen (None: no limits,
        # for tools and tests that exercise the queue alone).
        self.welfare = welfare
        self._videos = videos

    def queues(self) -> list[QueueSummary]:
        queues = self._store.queue_summaries()
        if self._videos is None:
            return queues
        live = self._videos.livestream_waiting()
        return [dataclasses.replace(q, livestream=live.get(q.id, 0)) for q in queues]

    def video_meta(self, claim: Claim) -> VideoMeta | None:
        """What ingest stored about the item's video (None: a picture, or unknown)."""
        return None if self._videos is None else self._videos.video_meta(claim.item.media.sha256)

    def claim_next(self, queue_id: int | None = None) -> Claim | None:
        """Lease the next item; the claim is audited. None when the queue is empty.

        Raises wellbeing.policy.ReviewLocked during a pause, a break, at a cap or after
        the shift. Items of a queue or kind the moderator opted out of are passed by
        (skipped as "opted out", which costs the moderator nothing).
        TODO(welfare): the policy's `prefer_non_a` needs Store.claim_next to order by a
        severity hint; until then it is shown to the moderator but not applied."""
        welfare = self.welfare
        if welfare is not None:
            welfare.ensure_can_claim()
        for _ in range(MAX_OPT_OUT_SKIPS):
            claim = self._store.claim_next(self.user.id, queue_id, self.lease_seconds)
            if claim is None or welfare is None or welfare.allows(claim):
                return claim
            self._store.skip(claim, SkipReason.OPTED_OUT, "", Exposure())
        return None

    def open_item(self, claim: Claim) -> None:
        """The item is now on screen (protected). Claims rendered ahead are not 'opened'
        until the moderator actually moves to them. Raises ReviewLocked while review is
        locked (an item claimed ahead waits)."""
        if self.welfare is not None:
            self.welfare.item_shown(claim)
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

    def record_audio(self, claim: Claim, unmuted: bool) -> None:
        """Unmuting a video's sound is a deliberate reveal: audited like one."""
        self._store.record_event(
            self.user.id,
            "audio_unmuted" if unmuted else "audio_muted",
            claim.item.id,
            {"claim_id": claim.claim_id, "reveal": "audio"},
        )

    def submit(
        self,
        claim: Claim,
        grading: Grading,
        exposure: Exposure,
        client_token: str,
        segments: Sequence[Segment] = (),
    ) -> DecisionReceipt:
        """Store the decision (raises GradingInvalid with what is missing, LeaseLost, or
        StoreUnavailable; retrying with the same client_token never stores twice).

        A video's `segments` must roll up to the grading's severity; they are staged
        under `client_token` just before the decision (see db/video.py)."""
        grading = grading.validated()
        if segments:
            if self._videos is None:
                raise GradingInvalid(["Segments cannot be stored on this workstation."])
            meta = self._videos.video_meta(claim.item.media.sha256)
            problems = segment_problems(grading, segments, meta.duration_s if meta else None)
            if problems:
                raise GradingInvalid(problems)
            self._videos.stage_segments(claim, client_token, segments)
        receipt = self._store.submit_decision(claim, grading, exposure, client_token)
        if self.welfare is not None and grading.severity is not None:
            self.welfare.decision_recorded(grading.severity, exposure)
        return receipt

    def skip(self, claim: Claim, reason: SkipReason, note: str, exposure: Exposure) -> None:
        with self._count_released(exposure):
            self._store.skip(claim, reason, note, exposure)

    def release(self, claim: Claim, exposure: Exposure, why: str = "released") -> None:
        with self._count_released(exposure):
            self._store.release(claim, exposure, why)

    @contextmanager
    def _count_released(self, exposure: Exposure) -> Iterator[None]:
        """What was seen counts once the ledger has it: on success, and on LeaseLost
        (the store records the exposure then too), never on an unreachable store."""
        try:
            yield
        except LeaseLost:
            if self.welfare is not None:
                self.welfare.item_released(exposure)
            raise
        if self.welfare is not None:
            self.welfare.item_released(exposure)


class Workstation:
    """Before anyone signs in: profiles and the first-run demo queue."""

    def __init__(
        self,
        store: StorePort,
        media: MediaPort,
        seed_demo: Callable[[Callable[[int, int], None]], int] | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        show_less_for: Callable[[User], ShowLess] | None = None,
        welfare: Callable[[User], WelfareSession] | None = None,
        videos: VideoPort | None = None,
    ) -> None:
        self._store = store
        self._media = media
        self._seed_demo = seed_demo
        self._lease_seconds = lease_seconds
        self._show_less_for = show_less_for
        self._welfare = welfare
        self._videos = videos

    def profiles(self) -> list[User]:
        return self._store.users()

    def sign_in(self, name: str) -> ReviewService:
        """Choose (or create, on first run) a profile. Full accounts come later; every
        event and decision already names its user."""
        user = self._store.ensure_user(name)
        self._store.record_event(user.id, "profile_chosen", detail={"name": user.name})
        show_less = None if self._show_less_for is None else self._show_less_for(user)
        welfare = None
        if self._welfare is not None:
            welfare = self._welfare(user)
            welfare.start_shift()
        return ReviewService(
            self._store,
            self._media,
            user,
            self._lease_seconds,
            show_less=show_less,
            welfare=welfare,
            videos=self._videos,
        )

    def seed_demo_if_empty(self, progress: Callable[[int, int], None]) -> int:
        """On an empty database, ingest a synthetic demo queue; returns items added."""
        if self._seed_demo is None or self._store.item_count() > 0:
            return 0
        return self._seed_demo(progress)


def lease_seconds_left(claim: Claim, now: datetime) -> float:
    return (claim.lease_expires_at - now).total_seconds()
