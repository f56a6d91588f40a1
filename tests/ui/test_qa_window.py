"""The QA window as a QA reviewer opens it from the Team menu: it locks on idle like the
moderator's window, and the sign-in's welfare policy locks QA re-grading too (a break
due blocks QA claims). Real store, FakeClock."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import wiring
from pytestqt.qtbot import QtBot
from qa_helpers import SEED, graded
from ui_helpers import press

from db.media_store import MediaStore
from db.store import Store
from reviewer.accounts import Role, VettingStatus
from reviewer.clock import FakeClock
from reviewer.demo import generate_demo
from reviewer.model import Exposure
from reviewer.qa_model import QaSettings
from reviewer.qa_service import QaService
from reviewer.review_service import ReviewService
from reviewer.sampling import SamplingPolicy
from reviewer.vocabulary import AgeBand, Severity
from reviewer.welfare_service import WelfareSession
from ui.idle_lock import LockTimings
from ui.main_window import MainWindow, build_main_window
from ui.tasks import Tasks
from wellbeing.policy import Mode, ReviewLocked

PASSWORD = "a long enough passphrase"
LOCK = LockTimings(lock_after_s=300, release_after_s=600, check_ms=10)
NEVER = LockTimings(lock_after_s=math.inf, release_after_s=math.inf)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(migrated_db_url: str, clock: FakeClock) -> Iterator[Store]:
    # Leases on the policy's clock, so a break can outlast one.
    s = Store.open(migrated_db_url, clock=clock)
    yield s
    s.close()


@pytest.fixture
def tasks(store: Store) -> Iterator[Tasks]:
    t = Tasks()
    yield t
    t.shutdown()


@pytest.fixture
def quinn(store: Store, media: MediaStore, clock: FakeClock) -> ReviewService:
    """A QA reviewer signed in as the app does it, with three decisions waiting in QA."""
    generate_demo(store.items, media, 3, seed=3, max_megapixels=1, broken=False)
    accounts = store.accounts
    admin = accounts.enrol_first_admin("Admin", PASSWORD)
    qa = store.qa
    QaService(qa, admin, clock, SEED).set_settings(
        QaSettings(SamplingPolicy(1.0, True, 1.0, 0), gold_rate=0.0)
    )
    for name, roles in (("Mo", {Role.MODERATOR}), ("Quinn", {Role.QA})):
        person = accounts.create_user(admin, name, PASSWORD, roles)
        accounts.set_vetting(admin, person.id, VettingStatus.VETTED, clock.now().date())
    mod = wiring.session(
        store,
        media,
        accounts.authenticate("Mo", PASSWORD),
        review_service=wiring.calibrated(qa, SEED),
    )
    while (claim := mod.claim_next()) is not None:
        mod.submit(claim, graded(Severity.B, AgeBand.B11_13), Exposure(), f"t{claim.claim_id}")
    welfare = store.welfare
    workstation = wiring.workstation(
        store,
        media,
        accounts=accounts,
        clock=clock,
        team_for=wiring.team_tools(store, media),
        welfare=lambda user: WelfareSession(welfare, user, clock, accounts.authenticate),
    )
    return workstation.log_in("Quinn", PASSWORD)


def open_qa(
    qtbot: QtBot, service: ReviewService, tasks: Tasks, clock: FakeClock, lock: LockTimings
) -> tuple[MainWindow, MainWindow]:
    """The main window, and the QA window opened from its Team menu with a sample on
    screen."""
    main = build_main_window(service, tasks, clock=clock, lock=lock)
    qtbot.addWidget(main)
    main.resize(1200, 800)
    main.show()
    [action] = [a for a in main.team_menu.actions() if "QA" in a.text()]
    action.trigger()
    [qa_window] = main.team_windows  # deleted when closed, like every team window
    assert isinstance(qa_window, MainWindow)
    qa_window.activateWindow()
    qtbot.waitActive(qa_window)
    qtbot.waitUntil(lambda: qa_window.review.prefetched_claim is not None, timeout=15_000)
    return main, qa_window


def _qa_releases(store: Store) -> list[str]:
    return [e.detail["why"] for e in store.audit_events(kind="qa_release")]


def test_the_qa_window_locks_on_idle_and_hands_samples_back(
    qtbot: QtBot, quinn: ReviewService, tasks: Tasks, store: Store, clock: FakeClock
) -> None:
    main, qa_window = open_qa(qtbot, quinn, tasks, clock, LOCK)
    review = qa_window.review
    assert qa_window.idle is not None and qa_window.lock_action is not None
    assert qa_window.admin_menu is None  # the QA window is for re-grading only
    with qtbot.waitSignal(review.view.reveal_changed, timeout=10_000):
        press(qtbot, "Space")
    held = {review.current_claim.item.id, review.prefetched_claim.item.id}  # type: ignore[union-attr]

    with qtbot.waitSignal(qa_window.idle.locked, timeout=5_000):
        clock.advance(301)
    assert qa_window.pages.currentWidget() is qa_window.lock_screen
    assert not review.view.revealed and not review.isVisible()
    qtbot.waitUntil(lambda: main.idle is not None and main.idle.is_locked, timeout=5_000)
    qtbot.waitUntil(
        lambda: (
            [e.user_id for e in store.audit_events(kind="screen_locked")] == [quinn.account.id] * 2
        ),
        timeout=5_000,
    )

    with qtbot.waitSignal(qa_window.idle.release_due, timeout=5_000):
        clock.advance(600)
    qtbot.waitUntil(lambda: len(_qa_releases(store)) == 2, timeout=10_000)
    assert _qa_releases(store) == ["idle_lock", "idle_lock"]
    assert {e.item_id for e in store.audit_events(kind="qa_release")} == held

    screen = qa_window.lock_screen
    qtbot.keyClicks(screen.password, PASSWORD)
    with qtbot.waitSignal(review.item_shown, timeout=15_000):
        screen.unlock_button.click()
    assert qa_window.pages.currentWidget() is review and not review.view.revealed
    # Closing hands the samples back; work still in flight finds the window gone.
    qa_window.close()
    qtbot.waitUntil(lambda: not main.team_windows and tasks.pending == 0, timeout=10_000)
    queue = quinn.team.qa_session.queues()[0]  # type: ignore[union-attr]
    assert (queue.pending, queue.claimed) == (3, 0)
    assert set(_qa_releases(store)) == {"idle_lock", "closed"}


def test_a_break_due_locks_qa_in_every_window_and_blocks_qa_claims(
    qtbot: QtBot, quinn: ReviewService, tasks: Tasks, store: Store, clock: FakeClock
) -> None:
    main, qa_window = open_qa(qtbot, quinn, tasks, clock, NEVER)
    welfare = quinn.welfare
    session = quinn.team.qa_session  # type: ignore[union-attr]
    assert welfare is not None and session is not None and session.welfare is welfare
    assert main.welfare is not None and qa_window.welfare is not None
    review = qa_window.review
    first = review.current_claim
    assert first is not None

    for _ in range(100):  # 50 minutes of active re-grading
        clock.advance(30)
        welfare.activity()
    qa_window.welfare.refresh()
    main.welfare.refresh()
    qtbot.waitUntil(lambda: welfare.state().mode is Mode.ON_BREAK, timeout=5_000)
    for window in (qa_window, main):
        assert window.welfare is not None
        window.welfare.refresh()
        assert window.welfare.screen is window.welfare.lock
    assert not review.isVisible()
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=5_000)
    assert len(store.audit_events(kind="break_started")) == 1  # one break, two windows

    with pytest.raises(ReviewLocked):
        session.claim_next()
    qa_window.close()
    assert qa_window.isVisible()  # a break is not ended by closing the window
    # The samples held go back before their leases run out.
    clock.advance(560)
    qa_window.welfare.refresh()
    qtbot.waitUntil(lambda: len(_qa_releases(store)) == 2, timeout=10_000)
    assert _qa_releases(store) == ["break", "break"]
    assert first.item.id in {e.item_id for e in store.audit_events(kind="qa_release")}

    # Over: ended in the QA window, review is open again in both.
    clock.advance(60)
    qa_window.welfare.refresh()
    with qtbot.waitSignal(review.item_shown, timeout=15_000):
        qa_window.welfare.lock.end_button.click()
    main.welfare.refresh()
    assert qa_window.welfare.screen is None and main.welfare.screen is None
    main.close()  # closes the QA window with it, handing its samples back
    qtbot.waitUntil(lambda: not main.team_windows and tasks.pending == 0, timeout=10_000)
