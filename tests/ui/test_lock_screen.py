"""The lock screen is opaque: while locked (idle or Ctrl+Shift+L) nothing of the item or
of the person reported is on screen or reachable through the accessibility tree, even
as the welfare guard's clock ticks; the message says why the screen locked."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import wiring
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)
from pytestqt.qtbot import QtBot
from ui_helpers import ADMIN_PASSWORD, WindowFactory, pixels, press

from db.accounts import AccountsRepo
from db.media_store import MediaStore
from db.store import Store
from reviewer.clock import FakeClock
from reviewer.model import User
from reviewer.review_service import ReviewService
from reviewer.welfare_service import WelfareSession
from ui.idle_lock import LockTimings
from ui.main_window import MainWindow

LOCK = LockTimings(lock_after_s=300, release_after_s=3_600, check_ms=10)


@pytest.fixture
def store(migrated_db_url: str, clock: FakeClock) -> Iterator[Store]:
    s = Store.open(migrated_db_url, clock=clock)
    yield s
    s.close()


@pytest.fixture
def welfare_admin(
    store: Store, media: MediaStore, accounts: AccountsRepo, clock: FakeClock
) -> ReviewService:
    """Signed in with a password (the lock needs one), with the welfare guard running."""
    repo = store.welfare

    def welfare(user: User) -> WelfareSession:
        return WelfareSession(repo, user, clock, store.accounts.authenticate)

    ws = wiring.workstation(store, media, accounts=accounts, clock=clock, welfare=welfare)
    return ws.enrol_first_admin("Ada Admin", ADMIN_PASSWORD)


def _visible_text(window: MainWindow) -> str:
    """Every piece of text a sighted person or a screen reader could get from the window."""
    parts = [window.windowTitle()]
    for w in window.findChildren(QWidget):
        if not w.isVisible():
            continue  # hidden widgets are neither painted nor in the accessibility tree
        parts += [w.accessibleName(), w.accessibleDescription(), w.toolTip()]
        if isinstance(w, QLabel | QAbstractButton | QLineEdit):
            parts.append(w.text())
        elif isinstance(w, QTextEdit | QPlainTextEdit):
            parts.append(w.toPlainText())
        elif isinstance(w, QComboBox):
            parts.append(w.currentText())
    return "\n".join(p for p in parts if p)


def _item_words(window: MainWindow) -> list[str]:
    claim = window.review.current_claim
    assert claim is not None
    item = claim.item
    words = [f"#{item.id}", item.media.sha256[:12]]
    context = window.review.context
    words += [label.text() for label in context.findChildren(QLabel) if "@" in label.text()]
    words += [t for t in (label.text() for label in context.findChildren(QLabel)) if "192.0." in t]
    assert len(words) >= 3, words  # the reported account and the upload IP are among them
    return words


@pytest.mark.parametrize("how", ["manual", "idle"])
def test_nothing_of_the_item_shows_while_locked(
    qtbot: QtBot,
    make_window: WindowFactory,
    welfare_admin: ReviewService,
    clock: FakeClock,
    seeded: int,
    how: str,
) -> None:
    window = make_window(review_service=welfare_admin, lock=LOCK)
    assert window.welfare is not None and window.idle is not None
    words = _item_words(window)
    text = _visible_text(window)
    assert all(word in text for word in words)  # the probe sees them while unlocked

    with qtbot.waitSignal(window.idle.locked, timeout=5_000):
        if how == "manual":
            press(qtbot, "Ctrl+Shift+L")
        else:
            clock.advance(301)
    for _ in range(3):
        window.welfare.refresh()  # the guard's tick, which used to show the review again
        clock.advance(1)
        qtbot.wait(20)

    assert not window.review.isVisible()
    text = _visible_text(window)
    assert [w for w in words if w in text] == []
    # What the window paints is the lock screen's own picture: nothing painted from
    # behind it, and no image pixels (the lock screen is flat colour and text).
    shown, own = pixels(window.pages), pixels(window.lock_screen)
    field = window.lock_screen.password.geometry()  # its text cursor blinks between grabs
    for picture in (shown, own):
        picture[field.top() : field.bottom() + 1, field.left() : field.right() + 1] = 0
    assert shown.shape == own.shape and np.array_equal(shown, own)
    assert len(np.unique(own.reshape(-1, 3), axis=0)) < 400  # text on a flat fill

    message = window.lock_screen.message.text()
    if how == "manual":
        assert "locked the screen" in message and "without input" not in message
    else:
        assert "after 5 minutes without input" in message

    with qtbot.waitSignal(window.idle.unlocked, timeout=5_000):
        qtbot.keyClicks(window.lock_screen.password, ADMIN_PASSWORD)
        window.lock_screen.unlock_button.click()
    assert window.review.isVisible()
