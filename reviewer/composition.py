"""The composition root: the one place that builds every service for a signed-in
person, for the GUI (reviewer.cli's `cmd_gui`) and for tests that want the workstation
as it really runs.

Everything a service needs is passed to it here, as a required argument; nothing else
constructs services with collaborators of its own choosing. Only entry points import
this module (the CLI, and tests through tests/wiring.py): it knows every package, the
database layer included. No engine or service is built at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from db.media_store import MediaStore
from db.store import Store
from reviewer.accounts import Account, Permission
from reviewer.clock import Clock, SystemClock
from reviewer.dashboard_service import DashboardService
from reviewer.matching import HashIngest, ShowLess
from reviewer.model import User
from reviewer.qa_service import QaReviewSession, QaService
from reviewer.referral_service import ReferralService
from reviewer.review_service import CalibratedReviewService, ReviewService, Workstation
from reviewer.sampling import Seed
from reviewer.team_service import TeamServices
from reviewer.video_types import FramePdq
from reviewer.welfare_service import WelfareSession


def ingest_hook(store: Store) -> HashIngest:
    """The ingest hook that hashes, matches and groups each new item (known lists are
    matched per video keyframe too)."""
    videos = store.videos

    def frame_pdqs(sha256: str) -> tuple[FramePdq, ...]:
        meta = videos.video_meta(sha256)
        return () if meta is None else meta.keyframe_pdqs

    return HashIngest(store.hashes, frame_pdqs=frame_pdqs)


def show_less_for(store: Store, media: MediaStore) -> Callable[[User], ShowLess]:
    """Each signed-in moderator's known-match and near-duplicate group service."""
    repo = store.hashes
    return lambda user: ShowLess(repo, store, user, media.get)


def calibrated(store: Store, seed: Seed) -> Callable[..., ReviewService]:
    """Sign-ins get a review session with QA wired in: every decision is offered to
    the sampler and gold items are mixed into the claims."""
    return partial(CalibratedReviewService, qa=store.qa, seed=seed)


def team_tools(
    store: Store, media: MediaStore, seed: Seed, clock: Clock
) -> Callable[[Account, WelfareSession], TeamServices]:
    """What each signed-in person may open besides the review screen (the menus follow
    the account's roles; the gate decides every call again)."""
    qa = store.qa
    welfare_settings = store.welfare.settings

    def team_for(account: Account, welfare: WelfareSession) -> TeamServices:
        now = clock
        qa_service = QaService(qa, account, now, seed)
        referrals = ReferralService(store.referrals, media, account)
        dashboard = qa_session = None
        if account.can(Permission.SEE_EXPOSURE):
            dashboard = DashboardService(
                store.dashboard,
                qa_service,
                account,
                now,
                welfare_settings,
                referral_deadlines=referrals.deadlines,
            )
        if account.can(Permission.QA_REGRADE):
            qa_session = QaReviewSession(qa, media, account, now, welfare=welfare)
        reports = account.can(Permission.SEE_TEAM_HISTORY) or account.can(Permission.EXPORT_AUDIT)
        return TeamServices(
            dashboard,
            qa_session,
            referrals if reports else None,
            adjudication=qa_service if account.can(Permission.ADJUDICATE) else None,
            # Those who decide items get the outcomes of their adjudicated decisions.
            calibration=qa_service if account.can(Permission.REVIEW) else None,
            gold=qa_service if account.can(Permission.MANAGE_SETTINGS) else None,
        )

    return team_for


def build_workstation(
    store: Store,
    media: MediaStore,
    qa_seed: Seed,
    seed_demo: Callable[[Callable[[int, int], None]], int] | None,
    clock: Clock | None = None,
) -> Workstation:
    """The workstation with every collaborator: accounts, the welfare policy with the
    admin's settings, known matches and near-duplicate groups, videos, QA sampling and
    gold, and the team tools. `seed_demo`: the first-run demo queue (None: none).
    `clock`: the system clock unless a test gives its own."""
    accounts = store.accounts
    welfare_repo = store.welfare
    now = clock or SystemClock()

    def welfare(user: User) -> WelfareSession:
        # A lead proves who they are at this person's desk: audited as this person's
        # session, naming the lead (a login role writes events only as itself).
        return WelfareSession(
            welfare_repo, user, now, partial(accounts.authenticate_at_desk, user.id)
        )

    return Workstation(
        store,
        media,
        accounts=accounts,
        welfare=welfare,
        show_less_for=show_less_for(store, media),
        videos=store.videos,
        clock=now,
        team_for=team_tools(store, media, qa_seed, now),
        review_service=calibrated(store, qa_seed),
        seed_demo=seed_demo,
    )
