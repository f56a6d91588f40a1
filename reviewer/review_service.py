"""What the screens ask of the rest of the system, for one signed-in person.

Every method blocks (it talks to the database or the media store), so the UI calls
them only from its database worker, never from the GUI thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any, Protocol

from reviewer.accounts import (
    Account,
    AccountsPort,
    DecisionSummary,
    Permission,
    SecuritySettings,
)
from reviewer.admin_service import AdminService
from reviewer.clock import Clock
from reviewer.errors import StoreUnavailable
from reviewer.grading import Grading, GradingInvalid
from reviewer.matching import ShowLess
from reviewer.model import Claim, DecisionReceipt, Exposure, QueueSummary, User
from reviewer.permissions import Check, Operation
from reviewer.qa_service import QaPort, per_user_seed
from reviewer.sampling import Sampler, Seed, golden_mix
from reviewer.segments import Segment
from reviewer.sessions import (
    DEFAULT_LEASE_SECONDS,
    MAX_OPT_OUT_SKIPS,
    REVIEW,
    LeasedSession,
    MediaPort,
    counted_release,
)
from reviewer.team_service import TeamServices
from reviewer.untrusted import MAX_NOTE, text
from reviewer.video_model import VideoMeta, VideoPort, segment_problems
from reviewer.vocabulary import SkipReason
from reviewer.welfare_service import WelfareSession


class ClaimsPort(Protocol):
    """The claim lifecycle (db.claims.ClaimsRepo). Every call a person makes carries
    the gate's question (`check`), answered inside the call's own transaction."""

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


class QueuesPort(Protocol):
    """Queue listings (db.items.ItemsRepo)."""

    def queue_summaries(self) -> list[QueueSummary]: ...
    def item_count(self) -> int: ...


class StorePort(Protocol):
    """The unit of work as the review services use it (db.store.Store): its gate and
    audit events, and the repositories it hands out for claims and queues."""

    @property
    def claims(self) -> ClaimsPort: ...
    @property
    def items(self) -> QueuesPort: ...
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


class ReviewService(LeasedSession):
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
        *,
        show_less: ShowLess,
        welfare: WelfareSession,
        videos: VideoPort,
        accounts: AccountsPort,
        clock: Clock,
        team_for: Callable[[Account], TeamServices],
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        super().__init__(store, media, account, welfare, REVIEW, lease_seconds)
        self._store = store
        self._accounts = accounts
        self._clock = clock
        # Known matches and near-duplicate groups of this person's items.
        self.show_less = show_less
        self._videos = videos
        # Dashboard, QA queue, referrals...: what this account's roles open besides the
        # review screen, and how to choose them again when an admin changes the roles
        # (refresh_team).
        self._team_for = team_for
        self.team = team_for(account)

    @property
    def user(self) -> User:
        return User(self.account.id, self.account.name, self.account.role)

    # -- permissions --------------------------------------------------------------------

    def can(self, permission: Permission) -> bool:
        """For screens deciding what to offer; the gate decides every call itself."""
        return self.account.can(permission)

    def refresh_team(self) -> bool:
        """Re-read the account; if an admin changed its roles since the team tools were
        chosen, choose them again (`team`, which the open windows then follow) and
        return True. (Every call is still decided by the gate on the stored account.)"""
        fresh = self._accounts.account(self.account.id)
        if fresh.roles == self.account.roles:
            return False
        self.account = fresh
        self.team = self._team_for(fresh)
        return True

    def _blocked_queues(self) -> frozenset[int]:
        """Restricted queues this account (as stored now) may not claim from."""
        fresh = self._accounts.account(self.account.id)
        return self._accounts.restricted_queue_ids() - fresh.queue_ids

    # -- the queue ----------------------------------------------------------------------

    def queues(self) -> list[QueueSummary]:
        """The queues this account may claim from (restricted ones only with access),
        with how many livestream captures wait in each."""
        blocked = self._blocked_queues()
        queues = [q for q in self._store.items.queue_summaries() if q.id not in blocked]
        live = self._videos.livestream_waiting()
        return [dataclasses.replace(q, livestream=live.get(q.id, 0)) for q in queues]

    def video_meta(self, claim: Claim) -> VideoMeta | None:
        """What ingest stored about the item's video (None: a picture, or unknown)."""
        return self._videos.video_meta(claim.item.media.sha256)

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
        avoid_a = welfare.ensure_can_claim().prefer_non_a
        for _ in range(MAX_OPT_OUT_SKIPS):
            claim = self._claim_one(queue_id, avoid_a)
            if claim is None or welfare.allows(claim):
                return claim
            self._store.claims.skip(
                claim,
                SkipReason.OPTED_OUT,
                "",
                Exposure(),
                check=self._check(Operation.SKIP, claim),
            )
        return None

    def _claim_one(self, queue_id: int | None, avoid_a: bool = False) -> Claim | None:
        """One claim, through the gate (which also decides the queues passed by)."""
        return self._store.claims.claim_next(
            self.account.id,
            queue_id,
            self.lease_seconds,
            avoid_category_a=avoid_a,
            check=self._check(Operation.CLAIM, queue_id=queue_id),
        )

    def _renew(self, claim: Claim, check: Check) -> Claim:
        return self._store.claims.renew_lease(claim, self.lease_seconds, check=check)

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
            meta = self._videos.video_meta(claim.item.media.sha256)
            problems = segment_problems(grading, segments, meta.duration_s if meta else None)
            if problems:
                raise GradingInvalid(problems)
            self._videos.stage_segments(claim, client_token, segments)
        receipt = self._store.claims.submit_decision(
            claim, grading, exposure, client_token, check=self._check(Operation.SUBMIT, claim)
        )
        if grading.severity is not None:
            self.welfare.decision_recorded(grading.severity, exposure)
        return receipt

    def skip(self, claim: Claim, reason: SkipReason, note: str, exposure: Exposure) -> None:
        text("note", note, MAX_NOTE)  # Untrusted (a ValueError) before anything changes
        with counted_release(self.welfare, exposure):
            self._store.claims.skip(
                claim, reason, note, exposure, check=self._check(Operation.SKIP, claim)
            )

    def release(self, claim: Claim, exposure: Exposure, why: str = "released") -> None:
        with counted_release(self.welfare, exposure):
            self._store.claims.release(
                claim, exposure, why, check=self._check(Operation.RELEASE, claim)
            )

    # -- history and QA -----------------------------------------------------------------

    def my_history(self, limit: int = 200) -> list[DecisionSummary]:
        """This account's own decisions, newest first."""
        return self._accounts.decision_history(self.account, self.account.id, limit)

    def history_of(self, user_id: int, limit: int = 200) -> list[DecisionSummary]:
        """Another person's decisions: leads only (AccessDenied otherwise)."""
        return self._accounts.decision_history(self.account, user_id, limit)

    def qa_grades(self, item_id: int | None = None) -> list[Any]:
        """QA's blind re-grades before adjudication: leads only.

        The hook for the QA screens: the check is enforced now; the QA screens read
        the grades through reviewer.qa_service.QaService."""
        self._store.authorise(self._check(Operation.QA_GRADES))
        return []

    # -- administration and the idle lock ------------------------------------------------

    def admin(self) -> AdminService:
        """The account administration door; the gate checks every call."""
        return AdminService(self._accounts, self.account)

    def security_settings(self) -> SecuritySettings:
        return self._accounts.security_settings()

    def record_lock(self, idle_seconds: float) -> None:
        # Not gated: recording that one's own screen locked protects, never refused.
        self._store.record_event(
            self.account.id, "screen_locked", detail={"idle_seconds": round(idle_seconds)}
        )

    def unlock(self, password: str) -> bool:
        """True if `password` is this account's and it may still sign in (audited)."""
        return self._accounts.check_password(self.account.id, password)


class CalibratedReviewService(ReviewService):
    """A moderator's session with QA wired in: gold serves mixed into the claims, and
    every stored decision offered to the sampler. Built as ReviewService is (the
    Workstation's `review_service`), plus the QA repository and the team's seed."""

    def __init__(
        self,
        store: StorePort,
        media: MediaPort,
        account: Account,
        qa: QaPort,
        seed: Seed,
        *,
        show_less: ShowLess,
        welfare: WelfareSession,
        videos: VideoPort,
        accounts: AccountsPort,
        clock: Clock,
        team_for: Callable[[Account], TeamServices],
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        super().__init__(
            store,
            media,
            account,
            show_less=show_less,
            welfare=welfare,
            videos=videos,
            accounts=accounts,
            clock=clock,
            team_for=team_for,
            lease_seconds=lease_seconds,
        )
        self._qa = qa
        self._seed = seed

    def _claim_one(self, queue_id: int | None, avoid_a: bool = False) -> Claim | None:
        # Here, not in claim_next: a gold serve passes the same permission and welfare
        # checks as any claim (nothing tells the two apart). None while the moderator is
        # steered off Category A: a gold item may be one, and can wait for the next claim.
        rate = self._qa.settings().gold_rate
        if rate > 0 and not avoid_a:
            mix = golden_mix(per_user_seed(self._seed, self.user.id), rate)
            claim = self._qa.serve_gold(
                self.user.id,
                queue_id,
                self.lease_seconds,
                mix,
                check=self._check(Operation.CLAIM, queue_id=queue_id),
            )
            if claim is not None:
                return claim
        return super()._claim_one(queue_id, avoid_a)

    def submit(
        self,
        claim: Claim,
        grading: Grading,
        exposure: Exposure,
        client_token: str,
        segments: Sequence[Segment] = (),
    ) -> DecisionReceipt:
        receipt = super().submit(claim, grading, exposure, client_token, segments)
        # This decision's sampling, and any a crashed workstation left behind. If the
        # server is gone now, the decision is stored and its sampling waits in the
        # outbox for the next submit on any workstation: "not stored" would be untrue.
        with contextlib.suppress(StoreUnavailable):
            self._qa.sample_due(Sampler(self._qa.settings().policy, self._seed))
        return receipt


class Workstation:
    """Before anyone signs in: first-run enrolment, sign-in and the first-run demo queue.

    Built by the composition root (reviewer.composition) with every collaborator a
    sign-in needs; each sign-in gets its own welfare session, known-match service and
    team tools from the factories given here."""

    def __init__(
        self,
        store: StorePort,
        media: MediaPort,
        *,
        accounts: AccountsPort,
        welfare: Callable[[User], WelfareSession],
        show_less_for: Callable[[User], ShowLess],
        videos: VideoPort,
        clock: Clock,
        team_for: Callable[[Account, WelfareSession], TeamServices],
        review_service: Callable[..., ReviewService],
        seed_demo: Callable[[Callable[[int, int], None]], int] | None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self._team_for = team_for
        # What a sign-in gets: a ReviewService class (the composition root gives
        # CalibratedReviewService with the QA repository and the team's seed bound).
        self._review_service = review_service
        self._store = store
        self._media = media
        # The first-run demo queue (None: this workstation seeds none, e.g. a team's).
        self._seed_demo = seed_demo
        self._lease_seconds = lease_seconds
        self._show_less_for = show_less_for
        self._welfare = welfare
        self._videos = videos
        self._accounts = accounts
        self._clock = clock

    def _service(self, account: Account) -> ReviewService:
        user = User(account.id, account.name, account.role)
        welfare = self._welfare(user)
        welfare.start_shift()
        team_for = self._team_for

        def team(now: Account) -> TeamServices:
            # Team tools get this sign-in's welfare session: QA re-grading is exposure
            # under the same caps.
            return team_for(now, welfare)

        return self._review_service(
            self._store,
            self._media,
            account,
            lease_seconds=self._lease_seconds,
            show_less=self._show_less_for(user),
            welfare=welfare,
            videos=self._videos,
            accounts=self._accounts,
            clock=self._clock,
            team_for=team,
        )

    def needs_first_account(self) -> bool:
        """True on first run: nobody can sign in yet, so the first account is created."""
        return not self._accounts.login_accounts_exist()

    def enrol_first_admin(self, name: str, password: str) -> ReviewService:
        """First run only: create the first account (admin and moderator, vetted by
        first-run self-enrolment; audited) and sign it in."""
        return self._service(self._accounts.enrol_first_admin(name, password))

    def log_in(self, name: str, password: str) -> ReviewService:
        """Sign in with a password; LoginFailed (one message for every reason)."""
        return self._service(self._accounts.authenticate(name, password))

    def seed_demo_if_empty(self, progress: Callable[[int, int], None]) -> int:
        """On an empty database, ingest a synthetic demo queue; returns items added."""
        if self._seed_demo is None or self._store.items.item_count() > 0:
            return 0
        return self._seed_demo(progress)


def lease_seconds_left(claim: Claim, now: datetime) -> float:
    return (claim.lease_expires_at - now).total_seconds()
