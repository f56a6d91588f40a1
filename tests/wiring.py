"""Tests only: the workstation and its sessions wired as the composition root wires them
(reviewer.composition), every collaborator given. A test replaces one collaborator by
naming it; what it does not name is the real one over the test's store.

Three defaults differ from the GUI's, on purpose and explicitly: `welfare` never locks
(WithoutLimits; the welfare tests pass the real policy), `team_for` gives no team tools
(the menus are tested where a test asks for `team_tools`), and `review_service` is the
plain ReviewService (QA sampling and gold are tested where a test binds `calibrated`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from db.qa import QaRepo
from db.store import Store
from reviewer import composition
from reviewer.accounts import Account, AccountsPort
from reviewer.clock import Clock, SystemClock
from reviewer.errors import MediaMissing
from reviewer.matching import ShowLess
from reviewer.model import Claim, Exposure, User
from reviewer.qa_service import QaReviewSession
from reviewer.review_service import CalibratedReviewService, MediaPort, ReviewService, Workstation
from reviewer.sampling import Seed
from reviewer.team_service import TeamServices
from reviewer.video_model import VideoPort
from reviewer.vocabulary import Severity
from reviewer.welfare_service import WelfareSession
from wellbeing.policy import PolicyState

SEED = "team-secret-for-tests"


class NoMedia:
    """A media store holding nothing: for services whose tests never read or delete
    media (a read is MediaMissing, as for media gone from the store)."""

    def get(self, sha256: str) -> bytes:
        raise MediaMissing(sha256)

    def discard(self, sha256: str) -> bool:
        return False


def no_team(_account: Account, _welfare: WelfareSession) -> TeamServices:
    """This person is given no team tools (an empty set, as for a plain moderator)."""
    return TeamServices()


class WithoutLimits(WelfareSession):
    """A welfare session that never locks, pauses or counts: for tests of the queue, the
    gate and the screens that are not about welfare and would otherwise meet the
    Category A pause or a cap. Explicit at every use (the workstation has no "no
    welfare" of its own); the welfare tests use the real one (`welfare_for`)."""

    def ensure_can_claim(self) -> PolicyState:
        return self.policy.state()

    def item_shown(self, claim: Claim) -> None:
        pass

    def decision_recorded(self, severity: Severity, exposure: Exposure) -> None:
        pass

    def item_released(self, exposure: Exposure) -> None:
        pass


def without_limits(store: Store, clock: Clock) -> Callable[[User], WelfareSession]:
    repo, accounts = store.welfare, store.accounts
    return lambda user: WithoutLimits(repo, user, clock, accounts.authenticate)


def welfare_for(
    store: Store, clock: Clock, accounts: AccountsPort
) -> Callable[[User], WelfareSession]:
    """The real welfare policy with the admin's settings stored in `store`."""
    repo = store.welfare
    return lambda user: WelfareSession(repo, user, clock, accounts.authenticate)


def workstation(
    store: Store,
    media: Any,
    *,
    accounts: AccountsPort | None = None,
    clock: Clock | None = None,
    welfare: Callable[[User], WelfareSession] | None = None,
    show_less_for: Callable[[User], ShowLess] | None = None,
    videos: VideoPort | None = None,
    team_for: Callable[[Account, WelfareSession], TeamServices] = no_team,
    review_service: Callable[..., ReviewService] = ReviewService,
    seed_demo: Callable[[Callable[[int, int], None]], int] | None = None,
    **settings: Any,
) -> Workstation:
    accounts = accounts or store.accounts
    clock = clock or SystemClock()
    return Workstation(
        store,
        media,
        accounts=accounts,
        welfare=welfare or without_limits(store, clock),
        show_less_for=show_less_for or composition.show_less_for(store, media),
        videos=videos or store.videos,
        clock=clock,
        team_for=team_for,
        review_service=review_service,
        seed_demo=seed_demo,
        **settings,
    )


def team_tools(store: Store, media: Any, clock: Clock | None = None) -> Callable[..., Any]:
    """The composition root's team tools with the tests' QA seed."""
    return composition.team_tools(store, media, SEED, clock or SystemClock())


def calibrated(qa: Any, seed: Seed = SEED) -> Callable[..., ReviewService]:
    """A ReviewService factory with QA wired in (sampling hook and gold serves)."""
    return partial(CalibratedReviewService, qa=qa, seed=seed)


def session(store: Store, media: MediaPort, account: Account, **wiring: Any) -> ReviewService:
    """A signed-in session for `account` as Workstation.log_in would give it."""
    return workstation(store, media, **wiring)._service(account)


def qa_review(qa: QaRepo, media: MediaPort, account: Account, clock: Clock) -> QaReviewSession:
    """A QA reviewer's blind re-grade session (welfare WithoutLimits: the QA welfare
    tests build theirs with the real policy)."""
    user = User(account.id, account.name, account.role)
    welfare = without_limits(qa.store, clock)(user)
    welfare.start_shift()
    return QaReviewSession(qa, media, account, clock, welfare=welfare)
