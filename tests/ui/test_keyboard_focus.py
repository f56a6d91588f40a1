"""Keyboard and screen readers: every control has a name a screen reader can say, the
first field of every dialog has the focus (typing is never lost), the idle-lock setting
takes digits at once, the Category A pause's Continue is reachable from the keyboard,
and a video segment starts with no severity chosen."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

import pytest
import wiring
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)
from pytestqt.qtbot import QtBot
from sign_in import sign_in
from ui_helpers import MODERATOR, WindowFactory, press

from db.media_store import MediaStore
from db.store import Store
from reviewer.accounts import Account, Role, SecuritySettings
from reviewer.clock import FakeClock
from reviewer.model import User
from reviewer.review_service import ReviewService
from reviewer.welfare_service import WelfareSession
from ui.admin_users import (
    NewUserDialog,
    PasswordDialog,
    RolesDialog,
    SecuritySettingsDialog,
    TrainingDialog,
    VettingDialog,
)
from ui.dashboard_screen import ReasonDialog
from ui.login import LoginDialog
from ui.main_window import MainWindow
from ui.passphrase import PassphraseDialog
from ui.segments_panel import SegmentsPanel


def _label_buddies(root: QWidget) -> set[int]:
    return {id(label.buddy()) for label in root.findChildren(QLabel) if label.buddy() is not None}


def unnamed_controls(root: QWidget) -> list[str]:
    """Controls a screen reader could only call by their type."""
    buddies = _label_buddies(root)
    out = []
    for w in root.findChildren(QWidget):
        if not w.isVisibleTo(root) or (
            w.focusPolicy() == Qt.FocusPolicy.NoFocus and not isinstance(w, QAbstractButton)
        ):
            continue
        if isinstance(w.parentWidget(), QAbstractSpinBox):
            continue  # a spin box's own editor: the spin box carries the name
        if isinstance(w, QAbstractButton):
            named = bool(w.text().strip() or w.accessibleName())
        elif isinstance(
            w,
            QLineEdit
            | QPlainTextEdit
            | QTextEdit
            | QComboBox
            | QAbstractSpinBox
            | QAbstractItemView,
        ):
            named = bool(w.accessibleName()) or id(w) in buddies
        else:
            continue
        if not named:
            out.append(
                f"{type(w).__name__} {w.objectName()!r} in {type(w.parentWidget()).__name__}"
            )
    return out


def test_every_control_of_the_review_window_has_a_name(
    qtbot: QtBot, make_window: WindowFactory, seeded: int
) -> None:
    window = make_window()
    assert unnamed_controls(window) == []


def test_dialogs_open_with_the_first_field_focused(qtbot: QtBot) -> None:
    add = NewUserDialog()
    qtbot.addWidget(add)
    add.show()
    qtbot.waitExposed(add)
    assert add.focusWidget() is add.name  # typed text goes into the name
    assert unnamed_controls(add) == []

    settings = SecuritySettingsDialog(SecuritySettings())
    qtbot.addWidget(settings)
    settings.show()
    qtbot.waitExposed(settings)
    assert settings.focusWidget() is settings.lock_after
    qtbot.keyClicks(settings.lock_after, "7")  # digits replace the value at once
    assert settings.chosen().idle_lock_minutes == 7


ROBIN = Account(7, "Robin", frozenset({Role.MODERATOR}))
TODAY = date(2026, 1, 15)


@pytest.mark.parametrize(
    ("make", "first"),
    [
        (lambda: NewUserDialog(), "name"),
        (lambda: PasswordDialog(ROBIN), "password"),
        (lambda: VettingDialog(ROBIN, TODAY), "status"),
        (lambda: TrainingDialog(ROBIN, TODAY), "course"),
        (lambda: SecuritySettingsDialog(SecuritySettings()), "lock_after"),
        (lambda: LoginDialog(first_run=False), "name"),
        (lambda: PassphraseDialog(False, "/data/keys.vault.json", 8), "passphrase"),
        (lambda: ReasonDialog("Override", "Why?"), "reason"),
    ],
)
def test_every_dialog_opens_with_its_first_field_focused(
    qtbot: QtBot, make: Callable[[], QDialog], first: str
) -> None:
    dialog = make()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.focusWidget() is getattr(dialog, first)
    assert unnamed_controls(dialog) == []


def test_the_roles_dialog_focuses_its_first_role(qtbot: QtBot) -> None:
    dialog = RolesDialog(ROBIN)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.focusWidget() is next(iter(dialog.roles.values()))


def test_a_segment_starts_with_no_severity(qtbot: QtBot) -> None:
    panel = SegmentsPanel()
    qtbot.addWidget(panel)
    assert panel.severity.currentIndex() == -1
    panel.start.setText("0:00")
    panel.end.setText("0:05")
    panel.add_typed()
    assert panel.segments() == () and "choose the segment's severity" in panel.message.text()
    panel.severity.setCurrentIndex(4)
    panel.add_typed()
    assert len(panel.segments()) == 1
    assert panel.severity.currentIndex() == -1  # the next one is chosen afresh


@pytest.fixture
def store(migrated_db_url: str, clock: FakeClock) -> Iterator[Store]:
    s = Store.open(migrated_db_url, clock=clock)
    yield s
    s.close()


def _welfare_service(store: Store, media: MediaStore, clock: FakeClock) -> ReviewService:
    repo = store.welfare

    def welfare(user: User) -> WelfareSession:
        return WelfareSession(repo, user, clock, store.accounts.authenticate)

    return sign_in(wiring.workstation(store, media, welfare=welfare), MODERATOR)


def test_the_category_a_pause_continues_from_the_keyboard(
    qtbot: QtBot,
    make_window: WindowFactory,
    store: Store,
    media: MediaStore,
    clock: FakeClock,
    seeded: int,
) -> None:
    window: MainWindow = make_window(review_service=_welfare_service(store, media, clock))
    guard = window.welfare
    assert guard is not None
    review = window.review
    qtbot.waitUntil(lambda: review.prefetched_claim is not None, timeout=15_000)
    press(qtbot, "A 4 W F7 Ctrl+Return")
    qtbot.waitUntil(lambda: guard.screen is guard.pause, timeout=10_000)
    clock.advance(10)
    guard.refresh()
    button = guard.pause.continue_button
    assert button.isEnabled() and window.focusWidget() is button
    with qtbot.waitSignal(review.item_shown, timeout=10_000):
        press(qtbot, "Return")
