"""From launch to the first protected item: sign-in, demo seeding, main window, help."""

from __future__ import annotations

import gc
from collections.abc import Callable

import wiring
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from ui_helpers import press

from db.media_store import MediaStore
from db.store import Store
from reviewer.accounts import Role
from reviewer.demo import generate_demo
from ui.app import Startup
from ui.events import AppEvents
from ui.login import LoginDialog
from ui.tasks import Tasks


def test_first_run_creates_the_first_account_seeds_the_demo_and_opens_the_window(
    qtbot: QtBot, store: Store, media: MediaStore, tasks: Tasks
) -> None:
    seen_progress: list[tuple[int, int]] = []

    def seed(progress: Callable[[int, int], None]) -> int:
        def record(done: int, total: int) -> None:
            seen_progress.append((done, total))
            progress(done, total)

        return generate_demo(store.items, media, 3, max_megapixels=0.3, progress=record).added

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    workstation = wiring.workstation(store, media, seed_demo=seed, accounts=store.accounts)
    startup = Startup(app, workstation, tasks, AppEvents())
    startup.begin()
    qtbot.waitUntil(lambda: isinstance(startup.dialog, LoginDialog), timeout=10_000)
    dialog = startup.dialog
    assert isinstance(dialog, LoginDialog)
    assert dialog.first_run and dialog.again.isVisible()  # first run: create an account
    qtbot.keyClicks(dialog.name, "Robin")
    qtbot.keyClicks(dialog.password, "robin's password")
    qtbot.keyClicks(dialog.again, "robin's passwore")
    dialog.ok.click()
    assert "differ" in dialog.error.text()  # refused on the spot, nothing stored
    assert store.accounts.users() == []
    qtbot.keyClicks(dialog.password, "robin's password")
    qtbot.keyClicks(dialog.again, "robin's password")
    dialog.ok.click()

    qtbot.waitUntil(lambda: startup.window is not None, timeout=15_000)
    window = startup.window
    assert window is not None
    qtbot.addWidget(window)
    # Start-up's objects are out of the collector's reach: full collections on the GUI
    # thread stay short for the rest of the session.
    assert all(o is not window for o in gc.get_objects())
    assert window.windowTitle() == "Reviewer — Robin"
    assert seen_progress[-1] == (3, 3)
    assert store.items.item_count() == 3
    assert [u.name for u in store.accounts.users()] == ["Robin"]
    account = store.accounts.account(store.accounts.users()[0].id)
    assert account.roles == {Role.ADMIN, Role.MODERATOR}  # admin, and may review
    assert window.admin_menu is not None
    qtbot.waitUntil(lambda: window.review.current_claim is not None, timeout=15_000)
    # Every sign-in has its welfare policy: the optional check-in is offered first.
    check_in = window.welfare.check_in if window.welfare is not None else None
    assert check_in is not None
    check_in.reject()
    qtbot.waitUntil(lambda: not check_in.isVisible())

    window.activateWindow()
    qtbot.waitActive(window)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    press(qtbot, "Ctrl+/")
    shortcuts = window.shortcuts_dialog
    assert shortcuts is not None and shortcuts.isVisible()
    listed = shortcuts.table.text()
    for key in (
        "Space",
        "Ctrl+Return",
        "Ctrl+K",
        "Ctrl+L",
        "F1",
        "F7",
        "Ctrl+6",
        "Q",
        "U",
        "Ctrl+Shift+L",
    ):
        assert f"<b>{key}" in listed
    shortcuts.close()
    window.close()


def test_first_run_enrolled_elsewhere_meanwhile_turns_into_sign_in(
    qtbot: QtBot, store: Store, media: MediaStore, tasks: Tasks
) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    accounts = store.accounts
    startup = Startup(app, wiring.workstation(store, media, accounts=accounts), tasks, AppEvents())
    startup.begin()
    qtbot.waitUntil(lambda: isinstance(startup.dialog, LoginDialog), timeout=10_000)
    first = startup.dialog
    assert isinstance(first, LoginDialog) and first.first_run
    accounts.enrol_first_admin("Someone Else", "someone's password")  # another workstation
    qtbot.keyClicks(first.name, "Robin")
    qtbot.keyClicks(first.password, "robin's password")
    qtbot.keyClicks(first.again, "robin's password")
    first.ok.click()
    qtbot.waitUntil(
        lambda: isinstance(startup.dialog, LoginDialog) and not startup.dialog.first_run,
        timeout=10_000,
    )
    assert [u.name for u in store.accounts.users()] == ["Someone Else"]
    # Closing it would end the application (QApplication.exit), and with it every
    # event loop the later tests wait in.
    startup.dialog.rejected.disconnect()
    startup.dialog.close()
