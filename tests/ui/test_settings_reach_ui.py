"""Admin settings that reach a screen, end to end on SQLite and PostgreSQL: the admin
changes the setting as they do at the workstation, then a moderator signs in through
the application's own start-up (sign-in dialog, settings read on the database worker,
main window built from them) and the window behaves by the new value.

The list of every admin setting, and which test covers it, is in
tests/db/test_settings_reach.py (its registry test names the tests here).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from ui_helpers import ADMIN, ADMIN_PASSWORD, press

import ui.app
from db.media_store import MediaStore
from db.store import Store
from reviewer.accounts import Role, VettingStatus
from reviewer.cli import main
from reviewer.clock import FakeClock
from reviewer.composition import build_workstation
from reviewer.review_service import ReviewService, Workstation
from ui.admin_users import SecuritySettingsDialog
from ui.events import AppEvents
from ui.idle_lock import LockTimings
from ui.login import LoginDialog
from ui.main_window import MainWindow, build_main_window
from ui.tasks import Tasks

MO, MO_PW = "Mo Derator", "mo's password 123"


@pytest.fixture
def workstation(store: Store, media: MediaStore, clock: FakeClock) -> Workstation:
    """The workstation as the GUI builds it (the composition root)."""
    return build_workstation(store, media, b"team seed for tests", None, clock)


@pytest.fixture
def admin(workstation: Workstation, clock: FakeClock) -> ReviewService:
    """The first admin, signed in; they create and vet the moderator."""
    svc = workstation.enrol_first_admin(ADMIN, ADMIN_PASSWORD)
    users = svc.admin()
    mo = users.create_user(MO, MO_PW, {Role.MODERATOR})
    users.set_vetting(mo.id, VettingStatus.VETTED, clock.now().date())
    return svc


@pytest.fixture
def start_app(
    qtbot: QtBot,
    workstation: Workstation,
    tasks: Tasks,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[], MainWindow]]:
    """Launch the application's start-up and sign Mo in through the sign-in dialog; the
    window it opens. The start-up builds the window exactly as it does at the desk, lock
    timings included; only its clock is the test's, so that idle time can pass (and the
    test asks the lock to look, as its once-a-second timer does)."""
    real_build = ui.app.build_main_window
    built: list[MainWindow] = []

    def build_with_test_clock(
        service: ReviewService,
        tasks: Tasks,
        events: AppEvents | None = None,
        *,
        lock: LockTimings | None = None,
    ) -> MainWindow:
        window = real_build(service, tasks, events, clock=clock, lock=lock)
        built.append(window)
        return window

    monkeypatch.setattr(ui.app, "build_main_window", build_with_test_clock)

    def start() -> MainWindow:
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        startup = ui.app.Startup(app, workstation, tasks, AppEvents())
        startup.begin()
        qtbot.waitUntil(lambda: isinstance(startup.dialog, LoginDialog), timeout=10_000)
        dialog = startup.dialog
        assert isinstance(dialog, LoginDialog) and not dialog.first_run
        qtbot.keyClicks(dialog.name, MO)
        qtbot.keyClicks(dialog.password, MO_PW)
        dialog.ok.click()
        qtbot.waitUntil(lambda: startup.window is not None, timeout=15_000)
        window = startup.window
        assert window is not None and window in built
        qtbot.addWidget(window)
        qtbot.waitUntil(lambda: window.review.current_claim is not None, timeout=15_000)
        # The optional check-in offered at the start of a shift: Mo passes on it.
        check_in = window.welfare.check_in if window.welfare is not None else None
        if check_in is not None:
            check_in.reject()
            qtbot.waitUntil(lambda: not check_in.isVisible(), timeout=5_000)

        def active() -> bool:
            window.activateWindow()
            return window.isActiveWindow()

        qtbot.waitUntil(active, timeout=5_000)
        return window

    # pytest-qt closes and deletes each window after the test.
    yield start


def set_idle_lock_in_the_admin_window(
    qtbot: QtBot, admin: ReviewService, tasks: Tasks, clock: FakeClock, lock: int, release: int
) -> None:
    """Admin > Idle lock…, the two figures typed in, OK: saved on the database worker."""
    window = build_main_window(admin, tasks, clock=clock)
    qtbot.addWidget(window)
    window.show()
    assert window.settings_action is not None
    window.settings_action.trigger()
    qtbot.waitUntil(lambda: window.settings_dialog is not None, timeout=10_000)
    dialog = window.settings_dialog
    assert isinstance(dialog, SecuritySettingsDialog)
    dialog.lock_after.setValue(lock)
    dialog.release_after.setValue(release)
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: "saved" in window.statusBar().currentMessage(), timeout=10_000)
    window.close()


def _idle(window: MainWindow, clock: FakeClock, seconds: float) -> None:
    """Time passes with no input; then the lock looks, as its timer makes it do."""
    assert window.idle is not None
    clock.advance(seconds)
    window.idle.check()


def test_the_admins_idle_lock_minutes_lock_the_window(
    qtbot: QtBot,
    admin: ReviewService,
    tasks: Tasks,
    clock: FakeClock,
    seeded: int,
    start_app: Callable[[], MainWindow],
) -> None:
    set_idle_lock_in_the_admin_window(qtbot, admin, tasks, clock, lock=2, release=9)
    window = start_app()
    assert window.idle is not None
    assert window.idle.timings == LockTimings(2 * 60.0, 9 * 60.0)
    _idle(window, clock, 2 * 60 - 1)
    assert not window.idle.is_locked  # (the default, 5 minutes, is further off still)
    with qtbot.waitSignal(window.idle.locked, timeout=5_000):
        _idle(window, clock, 1)
    assert window.pages.currentWidget() is window.lock_screen


def test_the_admins_release_after_minutes_hand_items_back(
    qtbot: QtBot,
    admin: ReviewService,
    tasks: Tasks,
    clock: FakeClock,
    store: Store,
    seeded: int,
    start_app: Callable[[], MainWindow],
) -> None:
    set_idle_lock_in_the_admin_window(qtbot, admin, tasks, clock, lock=1, release=3)
    window = start_app()
    assert window.idle is not None
    held = window.review.current_claim
    assert held is not None
    with qtbot.waitSignal(window.idle.locked, timeout=5_000):
        _idle(window, clock, 60)
    with qtbot.assertNotEmitted(window.idle.release_due):
        _idle(window, clock, 3 * 60 - 1)
    with qtbot.waitSignal(window.idle.release_due, timeout=5_000):
        _idle(window, clock, 1)  # three minutes locked (the default is ten)

    def handed_back() -> bool:
        return any(
            e.item_id == held.item.id and e.detail["why"] == "idle_lock"
            for e in store.audit_events(kind="release")
        )

    qtbot.waitUntil(handed_back, timeout=10_000)


def test_the_admins_reprotect_delay_reaches_the_image_view(
    qtbot: QtBot,
    admin: ReviewService,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    clock: FakeClock,
    seeded: int,
    start_app: Callable[[], MainWindow],
) -> None:
    # No screen edits the welfare settings: the admin runs the command.
    monkeypatch.setattr("sys.stdin", io.StringIO(ADMIN_PASSWORD + "\n"))
    argv = ["welfare", "settings", "--set", "reprotect_after_seconds=4", "--db", db_url]
    assert main([*argv, "--user", ADMIN, "--password-stdin"]) == 0
    window = start_app()
    view = window.review.view
    press(qtbot, "Space")
    qtbot.waitUntil(lambda: view.revealed, timeout=10_000)
    assert view.reveal_state.reprotect_due_in() == pytest.approx(4)
    clock.advance(3.5)
    assert not view.reveal_state.tick() and view.revealed
    clock.advance(1.0)
    assert view.reveal_state.tick()  # protected again after 4 s (the default: 10 s)


def test_the_admins_starting_blur_reaches_the_image_view(
    qtbot: QtBot,
    admin: ReviewService,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    seeded: int,
    start_app: Callable[[], MainWindow],
) -> None:
    # Every item opens at the strongest step, whatever it is suspected to be.
    steps = [f"blur_step_{k}=4" for k in ("default", "suspected_a", "suspected_b", "suspected_c")]
    monkeypatch.setattr("sys.stdin", io.StringIO(ADMIN_PASSWORD + "\n"))
    argv = ["welfare", "settings", "--set", *steps, "--db", db_url]
    assert main([*argv, "--user", ADMIN, "--password-stdin"]) == 0
    window = start_app()
    # The item on screen was rendered and opened at step 4 (the defaults: 2 or 3).
    view = window.review.view
    assert view.reveal_state.blur_step == 4
    assert "blur 4/4" in view._hint.text()  # what the moderator reads under the picture
