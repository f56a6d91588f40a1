"""Start the workstation: sign-in (or first-run enrolment), demo queue, main window.

Every step that touches the database runs on the database worker; the GUI thread only
shows dialogs and waits for the outcomes.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from typing import Protocol

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QProgressDialog

from reviewer.accounts import AccessDenied, LoginFailed, SecuritySettings
from reviewer.errors import StoreUnavailable
from reviewer.review_service import ReviewService
from ui.events import AppEvents
from ui.idle_lock import LockTimings
from ui.login import LoginDialog
from ui.main_window import build_main_window
from ui.screen_fit import fit_to_screen
from ui.tasks import Tasks
from ui.theme import apply_theme
from ui.window import MainWindow


class SignInDoor(Protocol):
    """What start-up needs before anyone is signed in: a workstation on its own database
    (reviewer.review_service.Workstation) or one signing in to a team server
    (reviewer.team_session.TeamSignIn)."""

    def needs_first_account(self) -> bool: ...
    def enrol_first_admin(self, name: str, password: str) -> ReviewService: ...
    def log_in(self, name: str, password: str) -> ReviewService: ...
    def seed_demo_if_empty(self, progress: Callable[[int, int], None]) -> int: ...


class _Progress(QObject):
    """Carries the seeding progress from the database worker to the GUI thread."""

    # done, total: items ingested so far, and how many there will be.
    advanced = Signal(int, int)

    def report(self, done: int, total: int) -> None:
        self.advanced.emit(done, total)


class Startup(QObject):
    """The asynchronous steps between launch and the main window."""

    def __init__(
        self, app: QApplication, workstation: SignInDoor, tasks: Tasks, events: AppEvents
    ) -> None:
        super().__init__()
        self._app = app
        self._workstation = workstation
        self._tasks = tasks
        self._events = events
        self._progress = _Progress()
        self._dialog: QDialog | None = None  # kept alive while shown
        self._signed_in = False
        self.window: MainWindow | None = None

    @property
    def dialog(self) -> QDialog | None:
        """The start-up dialog on screen (sign-in, then seeding progress), if any."""
        return self._dialog

    def begin(self) -> None:
        self._tasks.db.submit(
            self._workstation.needs_first_account, on_done=self._ask_login, on_error=self._fail
        )

    def _ask_login(self, first_run: bool) -> None:
        dialog = LoginDialog(first_run)
        dialog.submitted.connect(lambda name, password: self._log_in(first_run, name, password))
        dialog.rejected.connect(self._login_cancelled)
        self._dialog = dialog
        dialog.show()

    def _login_cancelled(self) -> None:
        if not self._signed_in:
            self._app.exit(0)

    def _log_in(self, first_run: bool, name: str, password: str) -> None:
        do = self._workstation.enrol_first_admin if first_run else self._workstation.log_in
        self._tasks.db.submit(
            do, name, password, on_done=self._load_settings, on_error=self._refused
        )

    def _refused(self, exc: Exception) -> None:
        dialog = self._dialog
        if not isinstance(dialog, LoginDialog):
            self._fail(exc)
            return
        if dialog.first_run and isinstance(exc, AccessDenied):
            # Someone else enrolled the first account meanwhile: sign in instead.
            dialog.rejected.disconnect(self._login_cancelled)
            self._close_dialog()
            self.begin()
        elif isinstance(exc, LoginFailed | AccessDenied | ValueError):
            dialog.show_refusal(str(exc))
        elif isinstance(exc, StoreUnavailable):
            dialog.show_refusal("The database cannot be reached; try again in a moment.")
        else:
            self._fail(exc)

    def _load_settings(self, service: ReviewService) -> None:
        self._signed_in = True
        self._close_dialog()
        self._tasks.db.submit(
            service.security_settings,
            on_done=lambda settings: self._seed(service, settings),
            on_error=self._fail,
        )

    def _seed(self, service: ReviewService, settings: SecuritySettings) -> None:
        dialog = QProgressDialog("Preparing the synthetic demo queue…", "", 0, 0)
        dialog.setWindowTitle("Reviewer")
        dialog.setCancelButton(None)
        dialog.setWindowModality(Qt.WindowModality.ApplicationModal)
        dialog.setMinimumDuration(300)
        self._progress.advanced.connect(lambda done, total: _advance(dialog, done, total))
        self._dialog = dialog
        self._tasks.db.submit(
            self._workstation.seed_demo_if_empty,
            self._progress.report,
            on_done=lambda _added: self._open(service, settings),
            on_error=self._fail,
        )

    def _close_dialog(self) -> None:
        if isinstance(self._dialog, QProgressDialog):
            # reset() also stops the timer that would show it after minimumDuration.
            self._dialog.reset()
        if self._dialog is not None:
            self._dialog.close()
            # Deleted by Qt, children before parents, rather than left to Python's
            # collector to free in its own order.
            self._dialog.deleteLater()
        self._dialog = None

    def _open(self, service: ReviewService, settings: SecuritySettings) -> None:
        self._close_dialog()
        window = build_main_window(
            service, self._tasks, self._events, lock=LockTimings.from_settings(settings)
        )
        fit_to_screen(window, (1600, 1000))
        window.show()
        window.review.start()
        if window.welfare is not None:
            window.welfare.offer_check_in()  # optional; private to the moderator
        self.window = window
        # From now on closing the main window ends the session.
        self._app.setQuitOnLastWindowClosed(True)
        # What start-up made (modules, the window, the service) lives for the session.
        # Out of the collector's generations, a full collection on the GUI thread does
        # not walk it again: 70 ms on the demo workstation's 177,000 objects, ~0 after.
        gc.freeze()

    def _fail(self, exc: Exception) -> None:
        self._close_dialog()
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            "Reviewer",
            f"The workstation could not start:\n\n{type(exc).__name__}: {exc}",
        )
        # open(), not exec(): no nested event loop; the application ends when it closes.
        box.finished.connect(lambda _result: self._app.exit(1))
        self._dialog = box
        box.open()


def _advance(dialog: QProgressDialog, done: int, total: int) -> None:
    dialog.setMaximum(total)
    dialog.setValue(done)


def run_app(workstation: SignInDoor, argv: list[str] | None = None) -> int:
    """Run the desktop workstation until the moderator quits; returns the exit code.

    The process's last use of Qt: the application (made here or by the passphrase
    dialog) is destroyed before returning."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv or sys.argv[:1])
    app.setApplicationName("Reviewer")
    apply_theme(app)
    # Between the sign-in dialog closing and the main window opening no window is
    # shown; that must not end the application.
    app.setQuitOnLastWindowClosed(False)
    tasks = Tasks()
    startup = Startup(app, workstation, tasks, AppEvents())
    startup.begin()
    try:
        return app.exec()
    finally:
        # Releases queued when the window closed still run before we return.
        tasks.shutdown()
        tear_down(app)


def tear_down(app: QApplication) -> None:
    """Destroy every window, then the application, while Python is still
    whole. Left to the interpreter's exit, Qt destroys them in an order of its own and
    still delivers events to Python event filters (the review screen, the image view,
    the idle lock and the welfare guard watch the whole application) whose wrappers are
    being torn down: the "Fatal Python error: bool_dealloc" of an unlucky quit."""
    for widget in app.topLevelWidgets():
        if widget.parent() is None:
            widget.hide()
            widget.deleteLater()
    # Deferred deletions run here, outside any event loop, children with their windows.
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()
    shiboken6.delete(app)
