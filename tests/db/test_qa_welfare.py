"""QA re-grading under the welfare policy, over a real database: the QA session is
refused claims and opens while review is locked, a Category A re-grade pauses, and
what QA reveals counts towards the same caps (in memory and in the ledger's floor)."""

from __future__ import annotations

import uuid

import pytest
import wiring
from qa_helpers import SEED, NoMedia, account, add_items, decide_next, graded, moderator_session

from db.accounts import AccountsRepo
from db.media_store import MediaStore
from db.qa import QaRepo
from db.store import Store
from reviewer.accounts import Account, Role, VettingStatus
from reviewer.clock import FakeClock
from reviewer.model import Exposure, User
from reviewer.qa_model import QaSettings
from reviewer.qa_service import QaReviewSession, QaService, per_user_seed
from reviewer.review_service import CalibratedReviewService, ReviewService
from reviewer.sampling import SamplingPolicy, golden_mix
from reviewer.vocabulary import AgeBand, Severity
from reviewer.welfare_service import WelfareSession
from wellbeing.policy import Mode, OptOuts, ReviewLocked

PASSWORD = "a long enough passphrase"


def seen(seconds: float) -> Exposure:
    return Exposure(seconds_revealed=seconds, reveal_count=1, max_area_fraction=1.0)


@pytest.fixture
def qa(store: Store, clock: FakeClock) -> QaRepo:
    repo = store.qa
    admin = account(store, "Ad Min", Role.ADMIN)
    QaService(repo, admin, clock, SEED).set_settings(
        QaSettings(SamplingPolicy(1.0, True, 1.0, 0), gold_rate=0.0)
    )
    return repo


def sampled(store: Store, qa: QaRepo, n: int, queue: str = "General") -> None:
    """n decisions by a moderator, each sampled for QA."""
    add_items(store, n, queue=queue, tag=queue)
    mod = moderator_session(store, qa, account(store, f"Mo {queue}", Role.MODERATOR))
    for _ in range(n):
        decide_next(mod, graded(Severity.B, AgeBand.B11_13))


def under_welfare(
    store: Store, qa: QaRepo, reviewer: Account, clock: FakeClock
) -> tuple[QaReviewSession, WelfareSession]:
    welfare = WelfareSession(
        store.welfare,
        User(reviewer.id, reviewer.name, "qa"),
        clock,
        store.accounts.authenticate,
    )
    welfare.start_shift()
    return QaReviewSession(qa, NoMedia(), reviewer, clock, welfare=welfare), welfare


def test_qa_is_locked_paused_and_counted_like_review(
    qa: QaRepo, store: Store, clock: FakeClock
) -> None:
    sampled(store, qa, 3)
    reviewer = account(store, "Quinn", Role.QA)
    session, welfare = under_welfare(store, qa, reviewer, clock)

    claim = session.claim_next()
    assert claim is not None
    session.open_item(claim)
    session.submit(claim, graded(Severity.A, AgeBand.B7_10), seen(120), str(uuid.uuid4()))
    state = welfare.state()
    assert state.mode is Mode.PAUSED_AFTER_A and state.consecutive_a == 1
    assert state.ab_revealed_seconds_today == 120 and state.revealed_seconds_today == 120
    with pytest.raises(ReviewLocked):
        session.claim_next()

    clock.advance(30)  # the pause is over
    ahead = session.claim_next()  # claimed ahead, as the screen does
    assert ahead is not None
    for _ in range(100):  # 50 minutes of active work: a break falls due
        clock.advance(30)
        welfare.activity()
    assert welfare.state().mode is Mode.BREAK_DUE
    with pytest.raises(ReviewLocked):
        session.claim_next()
    with pytest.raises(ReviewLocked):
        session.open_item(ahead)  # an item claimed ahead waits until the break is over
    session.release(ahead, seen(5), "break")
    assert welfare.state().revealed_seconds_today == 125

    # A restart carries at least what the ledger says, QA's A re-grade on the A/B cap.
    assert store.welfare.revealed_floor(reviewer.id, clock.now().date()) == (125.0, 120.0)
    assert welfare.start_due_break()
    assert any(e.kind == "break_started" for e in store.audit_events())


def test_qa_passes_by_opted_out_queues_without_penalty(
    qa: QaRepo, store: Store, clock: FakeClock
) -> None:
    sampled(store, qa, 2, queue="Livestream")
    sampled(store, qa, 1, queue="General")
    reviewer = account(store, "Quinn", Role.QA)
    store.welfare.set_opt_outs(reviewer.id, OptOuts(queues=frozenset({"livestream"})))
    session, welfare = under_welfare(store, qa, reviewer, clock)
    claim = session.claim_next()
    assert claim is not None and claim.item.queue_name == "General"
    skips = store.audit_events(kind="qa_skip")
    assert [e.detail["reason"] for e in skips] == ["opted_out", "opted_out"]
    assert welfare.state().revealed_seconds_today == 0
    session.release(claim, Exposure(), "closed")
    assert session.claim_next() is not None  # the General sample again, not Livestream


def app_people(store: Store, clock: FakeClock) -> tuple[AccountsRepo, Account, Account]:
    """An admin and a vetted moderator, as a first run of the app would enrol them."""
    accounts = store.accounts
    accounts.enrol_first_admin("Admin", PASSWORD)
    admin = accounts.authenticate("Admin", PASSWORD)
    mod = accounts.create_user(admin, "Mo", PASSWORD, {Role.MODERATOR})
    accounts.set_vetting(admin, mod.id, VettingStatus.VETTED, clock.now().date())
    return accounts, admin, mod


def app_sign_in(
    store: Store, media: MediaStore, accounts: AccountsRepo, clock: FakeClock
) -> ReviewService:
    """Mo signs in through the Workstation wired as the composition root wires it."""
    welfare_repo = store.welfare
    return wiring.workstation(
        store,
        media,
        accounts=accounts,
        clock=clock,
        review_service=wiring.calibrated(store.qa, SEED.encode()),  # a known gold schedule
        welfare=lambda user: WelfareSession(welfare_repo, user, clock, accounts.authenticate),
    ).log_in("Mo", PASSWORD)


def test_a_sign_in_as_the_app_wires_it_samples_and_locks_gold_too(
    qa: QaRepo,
    store: Store,
    media: MediaStore,
    clock: FakeClock,
) -> None:
    """The composition root wires QA into every sign-in: decisions are offered to the sampler,
    and a gold serve is refused with any other claim while the policy locks review."""
    accounts, admin, mod = app_people(store, clock)
    QaService(qa, admin, clock, SEED).set_settings(
        QaSettings(SamplingPolicy(1.0, True, 1.0, 0), gold_rate=0.5)
    )
    [gold_item] = add_items(store, 1, tag="gold", synthetic=True)
    QaService(qa, admin, clock, SEED).mark_gold(gold_item, graded(Severity.C))
    add_items(store, 8, tag="work")
    service = app_sign_in(store, media, accounts, clock)
    assert isinstance(service, CalibratedReviewService)
    claims = []
    while (claim := service.claim_next()) is not None:
        service.submit(claim, graded(Severity.C), Exposure(), str(uuid.uuid4()))
        claims.append(claim.item.id)
    mix = golden_mix(per_user_seed(SEED.encode(), mod.id), 0.5)
    first_gold = next(n for n, gold in enumerate(mix) if gold)
    assert first_gold < len(claims)
    # Served where the schedule says, and once only (each moderator gets it once).
    served = [i for i in claims if qa.is_gold_item(i)]
    assert served == [claims[first_gold]]
    sampled_items = {e.item_id for e in store.audit_events(kind="qa_sampled")}
    assert sampled_items == set(claims) - set(served)  # known answers are not sampled

    # A second gold item, and a break due: no claim of any kind gets through.
    [gold_2] = add_items(store, 1, tag="gold2", synthetic=True)
    QaService(qa, admin, clock, SEED).mark_gold(gold_2, graded(Severity.C))
    assert service.welfare is not None
    for _ in range(100):
        clock.advance(30)
        service.welfare.activity()
    serves = len(store.audit_events(kind="gold_served"))
    for _ in range(4):
        with pytest.raises(ReviewLocked):
            service.claim_next()
    assert len(store.audit_events(kind="gold_served")) == serves


def test_no_gold_is_mixed_in_while_the_moderator_is_steered_off_category_a(
    qa: QaRepo,
    store: Store,
    media: MediaStore,
    clock: FakeClock,
) -> None:
    """A gold item may be Category A: after N A decisions in a row the next claim is
    other work even where the gold schedule has a slot; gold comes back after."""
    accounts, admin, mod = app_people(store, clock)
    QaService(qa, admin, clock, SEED).set_settings(
        QaSettings(SamplingPolicy(0.0, False, 0.0, 0), gold_rate=0.5)
    )
    mix = golden_mix(per_user_seed(SEED.encode(), mod.id), 0.5)
    slot = next(n for n in range(3, 200) if mix.is_gold(n))  # claim number that gets gold
    later = next(n for n in range(slot + 1, 400) if mix.is_gold(n))
    add_items(store, later + 2, tag="work")
    service = app_sign_in(store, media, accounts, clock)
    assert service.welfare is not None

    def decide(severity: Severity) -> int:
        claim = service.claim_next()
        assert claim is not None
        service.open_item(claim)
        clock.advance(20)
        service.submit(claim, graded(severity), Exposure(), str(uuid.uuid4()))
        clock.advance(60)  # sit out the pause after a Category A decision
        return claim.item.id

    for n in range(slot):  # Category A for the three claims before the gold slot
        decide(Severity.A if n >= slot - 3 else Severity.C)
    assert service.welfare.state().prefer_non_a
    [gold] = add_items(store, 1, tag="gold", synthetic=True)
    QaService(qa, admin, clock, SEED).mark_gold(gold, graded(Severity.A))
    # (A gold serve is a fresh item row copying the gold item: qa.is_gold_item says.)
    assert not qa.is_gold_item(decide(Severity.C))  # the slot passes: other work instead
    assert not service.welfare.state().prefer_non_a
    served = [decide(Severity.C) for _ in range(slot + 1, later + 1)]
    assert [qa.is_gold_item(i) for i in served] == [False] * (len(served) - 1) + [True]
