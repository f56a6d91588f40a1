"""Start the workstation: profile, first-run demo queue, then the main window.

Every step that touches the database runs on the database worker; the GUI thread only
shows dialogs and waits for the outcomes.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QProgressDialog,
    QVBoxLayout,
    QWidget,
)

from reviewer.model import User
from reviewer.review import ReviewService, Workstation
from ui.events import AppEvents
from ui.main_window import MainWindow, build_main_window
from ui.tasks import Tasks
from ui.theme import apply_theme


class ProfileDialog(QDialog):
    """Pick an existing profile or type a new name (the first run has none)."""

    def __init__(self, profiles: list[User], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Reviewer — choose your profile")
        self.names = QComboBox()
        self.names.setEditable(True)
        self.names.addItems([p.name for p in profiles])
        self.names.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.names.setCurrentIndex(0 if profiles else -1)
        self.names.lineEdit().setPlaceholderText("Your name")
        # Typing replaces the suggested profile instead of appending to it.
        self.names.lineEdit().selectAll()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Sign in")
        ok.setEnabled(bool(self.name()))
        self.names.editTextChanged.connect(lambda _t: ok.setEnabled(bool(self.name())))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        prompt = (
            "Choose your profile, or type a new name."
            if profiles
            else "No profiles yet: type your name to create one."
        )
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(prompt))
        layout.addWidget(self.names)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)

    def name(self) -> str:
        return self.names.currentText().strip()


class _Progress(QObject):
    """Carries the seeding progress from the database worker to the GUI thread."""

    # done, total: items ingested so far, and how many there will be.
    advanced = Signal(int, int)

    def report(self, done: int, total: int) -> None:
        self.advanced.emit(done, total)


class Startup(QObject):
    """The asynchronous steps between launch and the main window."""

    def __init__(
        self, app: QApplication, workstation: Workstation, tasks: Tasks, events: AppEvents
    ) -> None:
        super().__init__()
        self._app = app
        self._workstation = workstation
        self._tasks = tasks
        self._events = events
        self._progress = _Progress()
        self._dialog: QDialog | None = None  # kept alive while shown
        self.window: MainWindow | None = None

    @property
    def dialog(self) -> QDialog | None:
        """The start-up dialog on screen (profile, then seeding progress), if any."""
        return self._dialog

    def begin(self) -> None:
        self._tasks.db.submit(
            self._workstation.profiles, on_done=self._choose_profile, on_error=self._fail
        )

    def _choose_profile(self, profiles: list[User]) -> None:
        dialog = ProfileDialog(profiles)
        dialog.accepted.connect(lambda: self._sign_in(dialog.name()))
        dialog.rejected.connect(lambda: self._app.exit(0))
        self._dialog = dialog
        dialog.show()

    def _sign_in(self, name: str) -> None:
        self._tasks.db.submit(
            self._workstation.sign_in, name, on_done=self._seed, on_error=self._fail
        )

    def _seed(self, service: ReviewService) -> None:
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
            on_done=lambda _added: self._open(service),
            on_error=self._fail,
        )

    def _close_dialog(self) -> None:
        if isinstance(self._dialog, QProgressDialog):
            # reset() also stops the timer that would show it after minimumDuration.
            self._dialog.reset()
        if self._dialog is not None:
            self._dialog.close()
        self._dialog = None

    def _open(self, service: ReviewService) -> None:
        self._close_dialog()
        window = build_main_window(service, self._tasks, self._events)
        window.resize(1600, 1000)
        window.show()
        window.review.start()
        if window.welfare is not None:
            window.welfare.offer_check_in()  # optional; private to the moderator
        self.window = window
        # From now on closing the main window ends the session.
        self._app.setQuitOnLastWindowClosed(True)

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


def run_app(workstation: Workstation, argv: list[str] | None = None) -> int:
    """Run the desktop workstation until the moderator quits; returns the exit code."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv or sys.argv[:1])
    app.setApplicationName("Reviewer")
    apply_theme(app)
    # Between the profile dialog closing and the main window opening no window is
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
