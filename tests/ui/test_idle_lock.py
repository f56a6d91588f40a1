"""The idle lock: the image is protected and hidden, the password unlocks, and a long
lock hands the held items back (audited, why="idle_lock"). The clock is a FakeClock:
time passes when the test says so."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot
from ui_helpers import ADMIN_PASSWORD, WindowFactory, press

from db.store import Store
from reviewer.clock import FakeClock
from reviewer.review_service import ReviewService
from ui.idle_lock import LockTimings
from ui.main_window import MainWindow

LOCK = LockTimings(lock_after_s=300, release_after_s=600, check_ms=10)


def _release_whys(store: Store) -> list[str]:
    return [e.detail["why"] for e in store.audit_events(kind="release")]


def _unlock(qtbot: QtBot, window: MainWindow, password: str) -> None:
    screen = window.lock_screen
    qtbot.keyClicks(screen.password, password)
    screen.unlock_button.click()


@pytest.fixture
def locked_window(
    qtbot: QtBot,
    make_window: WindowFactory,
    admin_service: ReviewService,
    clock: FakeClock,
    seeded: int,
) -> MainWindow:
    """An item on screen, revealed, then five idle minutes: locked."""
    window = make_window(review_service=admin_service, lock=LOCK)
    review = window.review
    qtbot.waitUntil(lambda: review.prefetched_claim is not None, timeout=15_000)
    with qtbot.waitSignal(review.view.reveal_changed, timeout=10_000):
        press(qtbot, "Space")
    assert review.view.revealed
    clock.advance(299)
    qtbot.wait(50)
    assert not window.idle.is_locked  # not yet
    with qtbot.waitSignal(window.idle.locked, timeout=5_000):
        clock.advance(2)
    return window


def test_idle_lock_protects_and_hides_the_image_until_the_password_is_given(
    qtbot: QtBot, locked_window: MainWindow, store: Store
) -> None:
    window = locked_window
    review = window.review
    claim = review.current_claim
    assert claim is not None
    # Re-protected, then hidden: nothing of the item is on screen behind the lock.
    assert not review.view.revealed
    assert window.pages.currentWidget() is window.lock_screen
    assert not review.isVisible() and not review.view.canvas.isVisible()
    assert not review.isEnabled()
    qtbot.waitUntil(lambda: bool(store.audit_events(kind="screen_locked")), timeout=5_000)
    kinds = [e.kind for e in store.audit_events() if e.item_id in (None, claim.item.id)]
    assert kinds.index("reveal_off") < kinds.index("screen_locked")

    # The review keys do nothing while locked (they type into the password field).
    press(qtbot, "Space")
    assert not review.view.revealed
    assert review.panel.grading().severity is None
    window.lock_screen.password.clear()

    _unlock(qtbot, window, "not the password")
    qtbot.waitUntil(lambda: window.lock_screen.error.isVisible(), timeout=5_000)
    assert window.idle.is_locked and window.lock_screen.password.text() == ""

    with qtbot.waitSignal(window.idle.unlocked, timeout=5_000):
        _unlock(qtbot, window, ADMIN_PASSWORD)
    assert window.pages.currentWidget() is review and review.isVisible()
    # Same item, still held, still protected; nothing went back to the queue.
    assert review.current_claim == claim
    assert not review.view.revealed
    assert _release_whys(store) == []
    assert [e.kind for e in store.audit_events() if e.kind.startswith("unlock_")] == [
        "unlock_failed",
        "unlock_ok",
    ]


def test_a_long_lock_releases_the_held_items_as_idle_lock(
    qtbot: QtBot, locked_window: MainWindow, store: Store, clock: FakeClock
) -> None:
    window = locked_window
    review = window.review
    held = {review.current_claim.item.id, review.prefetched_claim.item.id}  # type: ignore[union-attr]
    with qtbot.waitSignal(window.idle.release_due, timeout=5_000):
        clock.advance(600)
    qtbot.waitUntil(lambda: len(_release_whys(store)) == 2, timeout=10_000)
    assert _release_whys(store) == ["idle_lock", "idle_lock"]
    released = {e.item_id for e in store.audit_events(kind="release")}
    assert released == held
    assert all(store.items.item_status(i) == "pending" for i in held)
    assert review.current_claim is None and review.prefetched_claim is None
    assert "gone back to the queue" in window.lock_screen.message.text()
    # Still locked: nothing is claimed while nobody can see the screen.
    claims = len(store.audit_events(kind="claim"))
    clock.advance(60)
    qtbot.wait(100)
    assert len(store.audit_events(kind="claim")) == claims

    with qtbot.waitSignal(review.item_shown, timeout=15_000):
        _unlock(qtbot, window, ADMIN_PASSWORD)
    assert review.current_claim is not None and not review.view.revealed


def test_lock_screen_now_from_the_menu(
    qtbot: QtBot, make_window: WindowFactory, admin_service: ReviewService, seeded: int
) -> None:
    window = make_window(review_service=admin_service, lock=LOCK)
    with qtbot.waitSignal(window.idle.locked, timeout=5_000):
        press(qtbot, "Ctrl+Shift+L")
    assert window.pages.currentWidget() is window.lock_screen
    assert window.admin_menu is not None and not window.admin_menu.isEnabled()
