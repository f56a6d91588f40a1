"""What the screens ask of the rest of the system, for one signed-in person.

Every method blocks (it talks to the database or the media store), so the UI calls
them only from its database worker, never from the GUI thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from reviewer.accounts import (
    Account,
    AccountsPort,
    DecisionSummary,
    Permission,
    SecuritySettings,
)
from reviewer.admin import AdminService
from reviewer.clock import Clock, SystemClock
from reviewer.errors import LeaseLost
from reviewer.grading import Grading, GradingInvalid
from reviewer.matching import ShowLess
from reviewer.model import AuditEvent, Claim, DecisionReceipt, Exposure, QueueSummary, User
from reviewer.permissions import Check, Operation
from reviewer.segments import Segment
from reviewer.untrusted import MAX_NOTE, text
from reviewer.video_review import VideoMeta, VideoPort, segment_problems
from reviewer.vocabulary import SkipReason
from reviewer.welfare import WelfareSession
from wellbeing.settings import WelfareSettings

if TYPE_CHECKING:  # team.py imports services that import this module
    from reviewer.team import TeamServices

DEFAULT_LEASE_SECONDS = 600
# Items of opted-out queues or kinds passed by in one claim before saying "none now".
MAX_OPT_OUT_SKIPS = 50


class StorePort(Protocol):
    """The subset of db.store.Store the services use. Every call a person makes carries
    the gate's question (`check`), answered inside the call's own transaction."""

    def ensure_user(self, name: str, role: str = ...) -> User: ...
    def users(self) -> list[User]: ...
    def queue_summaries(self) -> list[QueueSummary]: ...
    def item_count(self) -> int: ...
    def authorise(self, check: Check) -> object: ...
    def record_event(
        self,
        user_id: int | None,
        kind: str,
        item_id: int | None = ...,
        detail: dict[str, Any] | None = ...,
        *,
        check: Check | None = ...,
    ) -> None: ...
    def claim_next(
        self,
        user_id: int,
        queue_id: int | None = ...,
        lease_seconds: float = ...,
        exclude_queue_ids: Collection[int] = ...,
        avoid_category_a: bool = ...,
        *,
        check: Check | None = ...,
    ) -> Claim | None: ...
    def renew_lease(
        self, claim: Claim, lease_seconds: float = ..., *, check: Check | None = ...
    ) -> Claim: ...
    def submit_decision(
        self,
        claim: Claim,
        grading: Grading,
        exposure: Exposure,
        client_token: str,
        *,
        check: Check | None = ...,
    ) -> DecisionReceipt: ...
    def skip(
        self,
        claim: Claim,
        reason: SkipReason,
        note: str,
        exposure: Exposure,
        *,
        check: Check | None = ...,
    ) -> None: ...
    def release(
        self, claim: Claim, exposure: Exposure, why: str = ..., *, check: Check | None = ...
    ) -> None: ...
    def audit_events(
        self, item_id: int | None = ..., kind: str | None = ...
    ) -> list[AuditEvent]: ...


class MediaPort(Protocol):
    def get(self, sha256: str) -> bytes: ...


def reprotect_after(welfare: WelfareSession | None) -> float:
    settings = WelfareSettings() if welfare is None else welfare.policy.settings
    return float(settings.reprotect_after_seconds)


@contextmanager
def counted_release(welfare: WelfareSession | None, exposure: Exposure) -> Iterator[None]:
    """Around handing an item back: what was seen counts once the ledger has it, on
    success and on LeaseLost (the store records the exposure then too), never on an
    unreachable store."""
    try:
        yield
    except LeaseLost:
        if welfare is not None:
            welfare.item_released(exposure)
        raise
    if welfare is not None:
        welfare.item_released(exposure)


class ReviewService:
    """One signed-in person's session at the workstation.

    Built for one Account at sign-in; every call asks the permission gate
    (reviewer.permissions, enforced by db.gate) with that account's id, and the gate
    re-reads the account in the call's own transaction: a role removed, vetting revoked
    or account disabled since sign-in counts from the next call. A refusal is audited
    by the gate and raised as AccessDenied. `self.account` is the sign-in snapshot,
    for screens choosing what to offer only."""

    def __init__(
        self,
        store: StorePort,
        media: MediaPort,
        account: Account,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        show_less: ShowLess | None = None,
        welfare: WelfareSession | None = None,
        videos: VideoPort | None = None,
        *,
        accounts: AccountsPort | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self._media = media
        self._accounts = accounts
        self._clock = clock or SystemClock()
        # Dashboard, QA queue, referrals: set at sign-in by the Workstation (None: none),
        # with how to build them again for the account as it is now (refresh_team).
        self.team: TeamServices | None = None
        self.team_for: Callable[[Account], TeamServices] | None = None
        self.account = account
        self.lease_seconds = lease_seconds
        # Known matches and near-duplicate groups (issue 6); None where not wired.
        self.show_less = show_less
        # The welfare policy, enforced here and not only on screen (None: no limits,
        # for tools and tests that exercise the queue alone).
        self.welfare = welfare
        # The admin's re-protect delay, as loaded with the welfare policy at sign-in:
        # the image view protects itself again after this long without interaction. A
        # plain value, so the screen reads it without calling into the service.
        self.reprotect_after_s = reprotect_after(welfare)
        self._videos = videos

    @property
    def user(self) -> User:
        return User(self.account.id, self.account.name, self.account.role)


    # -- permissions --------------------------------------------------------------------

    def can(self, permission: Permission) -> bool:
        """For screens deciding what to offer; the gate decides every call itself."""
        return self.account.can(permission)

    def _check(self, op: Operation, claim: Claim | None = None, **on: int | None) -> Check:
        """The gate's question for one call by this session's account."""
        return Check(
            self.account.id,
            self.account.name,
            op,
            claim_id=None if claim is None else claim.claim_id,
            **on,
        )

    def refresh_team(self) -> bool:
        """Re-read the account; if an admin changed its roles since the team tools were
        chosen, choose them again (`team`, which the open windows then follow) and
        return True. (Every call is still decided by the gate on the stored account.)"""
        if self._accounts is None:
            return False
        fresh = self._accounts.account(self.account.id)
        if fresh.roles == self.account.roles:
            return False
        self.account = fresh
        if self.team_for is not None:
            self.team = self.team_for(fresh)
        return True

    def _blocked_queues(self) -> frozenset[int]:
        """Restricted queues this account (as stored now) may not claim from."""
        if self._accounts is None:
            return frozenset()
        fresh = self._accounts.account(self.account.id)
        return self._accounts.restricted_queue_ids() - fresh.queue_ids

    def _needs_accounts(self) -> AccountsPort:
        if self._accounts is None:
            raise RuntimeError("this workstation was started without accounts")
        return self._accounts

    # -- the queue ----------------------------------------------------------------------

    def queues(self) -> list[QueueSummary]:
        """The queues this account may claim from (restricted ones only with access),
        with how many livestream captures wait in each."""
        blocked = self._blocked_queues()
        queues = [q for q in self._store.queue_summaries() if q.id not in blocked]
        if self._videos is None:
            return queues
        live = self._videos.livestream_waiting()
        return [dataclasses.replace(q, livestream=live.get(q.id, 0)) for q in queues]

    def video_meta(self, claim: Claim) -> VideoMeta | None:
        """What ingest stored about the item's video (None: a picture, or unknown)."""
        return None if self._videos is None else self._videos.video_meta(claim.item.media.sha256)

    def claim_next(self, queue_id: int | None = None) -> Claim | None:
        """Lease the next item; the claim is audited. None when the queue is empty.

        AccessDenied (from the gate) without the moderator role, without a current
        vetting, or for a restricted queue this account has no access to; "All queues"
        passes such queues by. Raises wellbeing.policy.ReviewLocked during a pause, a
        break, at a cap or after the shift. Items of a queue or kind the moderator opted
        out of are passed by (skipped as "opted out", which costs the moderator nothing).
        After N Category A decisions in a row (the policy's `prefer_non_a`) items
        suspected A are passed by while there is other work; imminent risk still comes
        first."""
        welfare = self.welfare
        avoid_a = False
        if welfare is not None:
            avoid_a = welfare.ensure_can_claim().prefer_non_a
        for _ in range(MAX_OPT_OUT_SKIPS):
            claim = self._claim_one(queue_id, avoid_a)
            if claim is None or welfare is None or welfare.allows(claim):
                return claim
            self._store.skip(
                claim,
                SkipReason.OPTED_OUT,
                "",
                Exposure(),
                check=self._check(Operation.SKIP, claim),
            )
        return None

    def _claim_one(self, queue_id: int | None, avoid_a: bool = False) -> Claim | None:
        """One claim, through the gate (which also decides the queues passed by)."""
        return self._store.claim_next(
            self.account.id,
            queue_id,
            self.lease_seconds,
            avoid_category_a=avoid_a,
            check=self._check(Operation.CLAIM, queue_id=queue_id),
        )

    def open_item(self, claim: Claim) -> None:
        """The item is now on screen (protected). Claims rendered ahead are not 'opened'
        until the moderator actually moves to them. Raises ReviewLocked while review is
        locked (an item claimed ahead waits)."""
        if self.welfare is not None:
            self.welfare.item_shown(claim)
        self._store.record_event(
            self.account.id,
            "item_opened",
            claim.item.id,
            {"claim_id": claim.claim_id},
            check=self._check(Operation.OPEN, claim),
        )

    def media_bytes(self, claim: Claim) -> bytes:
        self._store.authorise(self._check(Operation.VIEW_MEDIA, claim))
        return self._media.get(claim.item.media.sha256)

    def renew_lease(self, claim: Claim) -> Claim:
        return self._store.renew_lease(
            claim, self.lease_seconds, check=self._check(Operation.RENEW, claim)
        )

    def record_reveal(self, claim: Claim, revealed: bool, area_fraction: float = 1.0) -> None:
        self._store.record_event(
            self.account.id,
            "reveal_on" if revealed else "reveal_off",
            claim.item.id,
            {"claim_id": claim.claim_id, "area_fraction": round(area_fraction, 4)},
            check=self._check(Operation.REVEAL, claim),
        )

    def record_audio(self, claim: Claim, unmuted: bool) -> None:
        """Unmuting a video's sound is a deliberate reveal: audited like one."""
        self._store.record_event(
            self.account.id,
            "audio_unmuted" if unmuted else "audio_muted",
            claim.item.id,
            {"claim_id": claim.claim_id, "reveal": "audio"},
            check=self._check(Operation.REVEAL, claim),
        )

    def submit(
        self,
        claim: Claim,
        grading: Grading,
        exposure: Exposure,
        client_token: str,
        segments: Sequence[Segment] = (),
    ) -> DecisionReceipt:
        """Store the decision (raises GradingInvalid with what is missing, LeaseLost,
        StoreUnavailable or AccessDenied; retrying with the same client_token never
        stores twice). The gate refuses a claim held by someone else.

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
        receipt = self._store.submit_decision(
            claim, grading, exposure, client_token, check=self._check(Operation.SUBMIT, claim)
        )
        if self.welfare is not None and grading.severity is not None:
            self.welfare.decision_recorded(grading.severity, exposure)
        return receipt

    def skip(self, claim: Claim, reason: SkipReason, note: str, exposure: Exposure) -> None:
        text("note", note, MAX_NOTE)  # Untrusted (a ValueError) before anything changes
        with counted_release(self.welfare, exposure):
            self._store.skip(
                claim, reason, note, exposure, check=self._check(Operation.SKIP, claim)
            )

    def release(self, claim: Claim, exposure: Exposure, why: str = "released") -> None:
        with counted_release(self.welfare, exposure):
            self._store.release(claim, exposure, why, check=self._check(Operation.RELEASE, claim))

    # -- history and QA -----------------------------------------------------------------

    def my_history(self, limit: int = 200) -> list[DecisionSummary]:
        """This account's own decisions, newest first."""
        return self._needs_accounts().decision_history(self.account, self.account.id, limit)

    def history_of(self, user_id: int, limit: int = 200) -> list[DecisionSummary]:
        """Another person's decisions: leads only (AccessDenied otherwise)."""
        return self._needs_accounts().decision_history(self.account, user_id, limit)

    def qa_grades(self, item_id: int | None = None) -> list[Any]:
        """QA's blind re-grades before adjudication: leads only.

        The hook for the QA screens: the check is enforced now; the QA screens read
        the grades through reviewer.qa_service.QaService."""
        self._store.authorise(self._check(Operation.QA_GRADES))
        return []

    # -- administration and the idle lock ------------------------------------------------

    def admin(self) -> AdminService:
        """The account administration door; the gate checks every call."""
        return AdminService(self._needs_accounts(), self.account)

    def security_settings(self) -> SecuritySettings:
        if self._accounts is None:
            return SecuritySettings()
        return self._accounts.security_settings()

    def record_lock(self, idle_seconds: float) -> None:
        # Not gated: recording that one's own screen locked protects, never refused.
        self._store.record_event(
            self.account.id, "screen_locked", detail={"idle_seconds": round(idle_seconds)}
        )

    def unlock(self, password: str) -> bool:
        """True if `password` is this account's and it may still sign in (audited)."""
        return self._needs_accounts().check_password(self.account.id, password)


class Workstation:
    """Before anyone signs in: first-run enrolment, sign-in and the first-run demo queue."""

    def __init__(
        self,
        store: StorePort,
        media: MediaPort,
        seed_demo: Callable[[Callable[[int, int], None]], int] | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        show_less_for: Callable[[User], ShowLess] | None = None,
        welfare: Callable[[User], WelfareSession] | None = None,
        videos: VideoPort | None = None,
        accounts: AccountsPort | None = None,
        clock: Clock | None = None,
        team_for: Callable[[Account, WelfareSession | None], TeamServices] | None = None,
        review_service: Callable[..., ReviewService] | None = None,
    ) -> None:
        self._team_for = team_for
        # What a sign-in gets: ReviewService, or one with QA wired in (the sampling
        # hook and gold serves: reviewer.qa_service.CalibratedReviewService).
        self._review_service = review_service or ReviewService
        self._store = store
        self._media = media
        self._seed_demo = seed_demo
        self._lease_seconds = lease_seconds
        self._show_less_for = show_less_for
        self._welfare = welfare
        self._videos = videos
        self._accounts = accounts
        self._clock = clock or SystemClock()

    def _service(self, account: Account) -> ReviewService:
        accounts = self._accounts
        user = User(account.id, account.name, account.role)
        show_less = None if self._show_less_for is None else self._show_less_for(user)
        welfare = None
        if self._welfare is not None:
            welfare = self._welfare(user)
            welfare.start_shift()
        service = self._review_service(
            self._store,
            self._media,
            account,
            lease_seconds=self._lease_seconds,
            show_less=show_less,
            welfare=welfare,
            videos=self._videos,
            accounts=accounts,
            clock=self._clock,
        )
        # Team tools get this sign-in's welfare session: QA re-grading is exposure
        # under the same caps.
        if self._team_for is not None:
            team_for = self._team_for
            service.team_for = lambda now: team_for(now, welfare)
            service.team = service.team_for(account)
        return service

    def _needs_accounts(self) -> AccountsPort:
        if self._accounts is None:
            raise RuntimeError("this workstation was started without accounts")
        return self._accounts

    def needs_first_account(self) -> bool:
        """True on first run: nobody can sign in yet, so the first account is created."""
        return not self._needs_accounts().login_accounts_exist()

    def enrol_first_admin(self, name: str, password: str) -> ReviewService:
        """First run only: create the first account (admin and moderator, vetted by
        first-run self-enrolment; audited) and sign it in."""
        accounts = self._needs_accounts()
        return self._service(accounts.enrol_first_admin(name, password))

    def log_in(self, name: str, password: str) -> ReviewService:
        """Sign in with a password; LoginFailed (one message for every reason)."""
        accounts = self._needs_accounts()
        return self._service(accounts.authenticate(name, password))

    def profiles(self) -> list[User]:
        return self._store.users()

    def seed_demo_if_empty(self, progress: Callable[[int, int], None]) -> int:
        """On an empty database, ingest a synthetic demo queue; returns items added."""
        if self._seed_demo is None or self._store.item_count() > 0:
            return 0
        return self._seed_demo(progress)


def lease_seconds_left(claim: Claim, now: datetime) -> float:
    return (claim.lease_expires_at - now).total_seconds()
