"""The window a review-shaped screen lives in: the screen (or, while idle-locked, the
lock screen), the File and Help menus, the idle lock. The moderator's window
(ui.main_window) and the QA re-grade window (ui.qa_screen) are both this window."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMainWindow,
    QMenu,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from reviewer.accounts import Permission, SecuritySettings
from reviewer.clock import Clock, SystemClock
from reviewer.review_service import ReviewService
from ui import keymap
from ui.admin_users import SecuritySettingsDialog, UsersDialog
from ui.idle_lock import IdleLock, LockScreen, LockTimings
from ui.review_screen import ReviewScreen
from ui.screen_fit import fit_to_screen
from ui.tasks import Tasks
from ui.welfare_view import ResourcesDialog, WelfareGuard

log = logging.getLogger(__name__)


class ShortcutsDialog(QDialog):
    """Every shortcut, grouped as the form is."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = []
        for section, entries in keymap.shortcut_table():
            rows.append(f"<tr><td colspan=2><h3>{html.escape(section)}</h3></td></tr>")
            rows.extend(
                f"<tr><td style='padding-right:24px'><b>{html.escape(keys)}</b></td>"
                f"<td>{html.escape(does)}</td></tr>"
                for keys, does in entries
            )
        self.table = QLabel(f"<table>{''.join(rows)}</table>")
        self.table.setTextFormat(Qt.TextFormat.RichText)
        area = QScrollArea()
        area.setWidget(self.table)
        area.setWidgetResizable(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(area)
        layout.addWidget(buttons)
        fit_to_screen(self, (640, 760))


class MainWindow(QMainWindow):
    """The review screen (or, while idle-locked, the lock screen) and the menus. Hands
    back held items when it closes.

    Given the signed-in `service` and the `tasks` lanes, it also runs the idle lock (the
    lock is audited and the password checked through `service`). The moderator's window
    adds the Admin menu (`add_admin_menu`); the QA window, built on the same person's
    sign-in, does not.
    """

    def __init__(
        self,
        review: ReviewScreen,
        user_name: str,
        *,
        service: ReviewService | None = None,
        tasks: Tasks | None = None,
        clock: Clock | None = None,
        lock: LockTimings | None = None,
    ) -> None:
        super().__init__()
        self.review = review
        self._service = service
        self._tasks = tasks
        self._clock = clock or SystemClock()
        self.setWindowTitle(f"Reviewer — {user_name}")
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.setAcceptDrops(False)

        self.lock_screen = LockScreen(user_name)
        self.pages = QStackedWidget()
        self.pages.addWidget(review)
        self.pages.addWidget(self.lock_screen)
        self.setCentralWidget(self.pages)
        self.idle: IdleLock | None = None
        self.lock_action: QAction | None = None

        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence(keymap.QUIT))
        quit_action.triggered.connect(self.close)
        shortcuts_action = QAction("&Keyboard shortcuts", self)
        shortcuts_action.setShortcut(QKeySequence(keymap.SHORTCUTS_HELP))
        shortcuts_action.triggered.connect(self.show_shortcuts)
        support_action = QAction("&Support and counselling", self)
        support_action.setShortcut(QKeySequence(keymap.SUPPORT))
        support_action.triggered.connect(self.show_support)
        file_menu = self.menuBar().addMenu("&File")
        if service is not None and tasks is not None:
            self.idle = IdleLock(self._clock, lock or LockTimings(), self)
            self.idle.locked.connect(self._locked)
            self.idle.release_due.connect(self._release_due)
            self.lock_screen.unlock_requested.connect(self._try_unlock)
            self.lock_action = QAction("&Lock screen", self)
            self.lock_action.setShortcut(QKeySequence(keymap.LOCK))
            self.lock_action.triggered.connect(lambda: self._lock_now())
            file_menu.addAction(self.lock_action)
        file_menu.addAction(quit_action)

        self.admin_menu: QMenu | None = None
        self.users_action: QAction | None = None
        self.settings_action: QAction | None = None
        self.help_menu = self.menuBar().addMenu("&Help")
        self.help_menu.addAction(shortcuts_action)
        self.help_menu.addAction(support_action)
        self.shortcuts_dialog: ShortcutsDialog | None = None
        self.support_dialog: ResourcesDialog | None = None
        self.users_dialog: UsersDialog | None = None
        self.settings_dialog: SecuritySettingsDialog | None = None
        # Set by build_main_window and build_qa_window (every session has a welfare policy).
        self.welfare: WelfareGuard | None = None
        # Team tools open in windows of their own (Team and Admin menus), kept until closed.
        self.team_menu: QMenu | None = None
        self.team_windows: list[QWidget] = []
        # Re-reads the account's roles now and then (build_main_window sets it).
        self.role_check: QTimer | None = None
        self._hidden_by_lock: list[QWidget] = []
        # How many calibration notes the person has not read (None: not offered).
        self.unseen_notes: int | None = None
        self.calibration_action: QAction | None = None
        self.calibration_link = QLabel()
        self.calibration_link.hide()
        self.calibration_link.linkActivated.connect(lambda _link: self._open_calibration())
        self.statusBar().addPermanentWidget(self.calibration_link)
        # Support is one click away on every screen (the welfare screens carry it too).
        self.support_link = QLabel("<a href='#'>Support and counselling</a>")
        self.support_link.linkActivated.connect(lambda _link: self.show_support())
        self.statusBar().addPermanentWidget(self.support_link)
        if self.idle is not None:
            self.idle.start()

    def add_admin_menu(self) -> None:
        """Admin > Users and Admin > Idle lock, each for accounts allowed to use it (the
        repository checks every call anyway)."""
        account = None if self._service is None else self._service.account
        if account is None or not (
            account.can(Permission.MANAGE_USERS) or account.can(Permission.MANAGE_SETTINGS)
        ):
            return
        self.admin_menu = QMenu("&Admin", self)
        self.menuBar().insertMenu(self.help_menu.menuAction(), self.admin_menu)
        if account.can(Permission.MANAGE_USERS):
            self.users_action = self.admin_menu.addAction("&Users…")
            self.users_action.triggered.connect(self.show_users)
        if account.can(Permission.MANAGE_SETTINGS):
            self.settings_action = self.admin_menu.addAction("&Idle lock…")
            self.settings_action.triggered.connect(self.ask_security_settings)

    # -- the idle lock ------------------------------------------------------------------

    def _lock_now(self) -> None:
        if self.idle is not None:
            self.idle.lock(0.0)

    def _locked(self, idle_seconds: float) -> None:
        assert self._service is not None and self._tasks is not None
        # Protect first, then hide: the review screen is never visible behind the lock.
        self.review.idle_lock()
        self.pages.setCurrentWidget(self.lock_screen)
        self.review.hide()  # hidden, so out of sight and out of the accessibility tree
        self.statusBar().clearMessage()
        for dialog in (self.users_dialog, self.settings_dialog, self.shortcuts_dialog):
            if dialog is not None:
                dialog.hide()
        # Team windows show names, grades and exposure: hidden too. A QA window is a
        # MainWindow with an idle lock of its own.
        self._hidden_by_lock = [
            w for w in self.team_windows if w.isVisible() and not isinstance(w, MainWindow)
        ]
        for w in self._hidden_by_lock:
            w.hide()
        self._set_menus_enabled(False)
        self.lock_screen.reset(idle_seconds)
        self._tasks.db.submit(
            self._service.record_lock, idle_seconds, on_done=_ignore, on_error=self._lock_failed
        )

    def _release_due(self) -> None:
        self.review.release_idle_held()
        self.lock_screen.set_released(True)

    def _try_unlock(self, password: str) -> None:
        assert self._service is not None and self._tasks is not None
        self._tasks.db.submit(
            self._service.unlock,
            password,
            on_done=self._unlock_checked,
            on_error=lambda exc: self.lock_screen.show_refusal(
                f"Could not check the password ({type(exc).__name__}); try again."
            ),
        )

    def _unlock_checked(self, ok: bool) -> None:
        if not ok:
            self.lock_screen.show_refusal("That is not the password of this account.")
            return
        assert self.idle is not None
        self.pages.setCurrentWidget(self.review)
        self._set_menus_enabled(True)
        for w in self._hidden_by_lock:
            if w in self.team_windows:  # not closed meanwhile
                w.show()
        self._hidden_by_lock = []
        self.idle.unlock()
        self.review.idle_unlock()
        if self.welfare is not None:
            self.welfare.refresh()  # a break that began meanwhile keeps the review hidden

    def _lock_failed(self, exc: Exception) -> None:
        log.warning("could not audit the screen lock: %r", exc)

    def _set_menus_enabled(self, enabled: bool) -> None:
        if self.lock_action is not None:
            self.lock_action.setEnabled(enabled)
        for menu in (self.admin_menu, self.team_menu):
            if menu is not None:
                menu.setEnabled(enabled)
        self.calibration_link.setEnabled(enabled)

    # -- team windows -------------------------------------------------------------------

    def add_status_banner(self, banner: QLabel) -> None:
        """A banner (the welfare warning) in the status bar beside the support link, no
        taller than the link: the bar is there on every screen, and a padded banner
        would make a window fitted to a small screen taller than the screen."""
        banner.setStyleSheet("QLabel { padding-top: 0px; padding-bottom: 0px; }")
        banner.setVisible(bool(banner.text()))
        self.statusBar().addWidget(banner, 1)

    def open_team_window(
        self, widget: QWidget, title: str, start: Callable[[], None] | None = None
    ) -> None:
        """Show a team tool in a window of its own, kept until closed (then deleted),
        and start it loading."""
        widget.setWindowTitle(title)
        widget.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        # A team window closes as any document window does (Esc, Ctrl+W); Ctrl+Q quits
        # the whole session from it as from here. The QA window has its own File menu.
        if not isinstance(widget, MainWindow):
            for keys in (keymap.CLOSE_WINDOW, keymap.LEAVE_FIELD):
                QShortcut(QKeySequence(keys), widget).activated.connect(widget.close)
            QShortcut(QKeySequence(keymap.QUIT), widget).activated.connect(self.close)
        fit_to_screen(widget, (1400, 900))
        widget.show()
        self.team_windows.append(widget)
        widget.destroyed.connect(lambda _o=None: self.team_windows.remove(widget))
        if start is not None:
            start()

    def _open_calibration(self) -> None:
        if self.calibration_action is not None:
            self.calibration_action.trigger()

    def show_unseen_notes(self, unseen: int) -> None:
        """The count of unread calibration notes, in the Team menu and the status bar."""
        self.unseen_notes = unseen
        if self.calibration_action is not None:
            new = f" ({unseen} new)" if unseen else ""
            self.calibration_action.setText(f"My &calibration notes{new}…")
        self.calibration_link.setText(
            f"<a href='#'>{unseen} new calibration note{'s' if unseen != 1 else ''}</a>"
        )
        self.calibration_link.setVisible(unseen > 0)

    # -- dialogs ------------------------------------------------------------------------

    def show_support(self) -> None:
        if self.welfare is not None:
            self.welfare.show_resources()
            return
        if self.support_dialog is None:
            self.support_dialog = ResourcesDialog(self)
        self.support_dialog.show()
        self.support_dialog.raise_()

    def show_shortcuts(self) -> None:
        if self.shortcuts_dialog is None:
            self.shortcuts_dialog = ShortcutsDialog(self)
        self.shortcuts_dialog.show()
        self.shortcuts_dialog.raise_()

    def show_users(self) -> None:
        if self._service is None or self._tasks is None:
            return
        if self.users_dialog is None:
            self.users_dialog = UsersDialog(self._service.admin(), self._tasks, self._clock, self)
        self.users_dialog.show()
        self.users_dialog.raise_()
        self.users_dialog.reload()

    def ask_security_settings(self) -> None:
        if self._service is None or self._tasks is None:
            return
        self._tasks.db.submit(
            self._service.security_settings,
            on_done=self._edit_security_settings,
            on_error=lambda exc: self.statusBar().showMessage(f"Could not load settings: {exc}"),
        )

    def _edit_security_settings(self, settings: SecuritySettings) -> None:
        assert self._service is not None and self._tasks is not None
        tasks = self._tasks
        dialog = SecuritySettingsDialog(settings, self)
        self.settings_dialog = dialog
        admin = self._service.admin()
        dialog.accepted.connect(
            lambda: tasks.db.submit(
                admin.set_security_settings,
                dialog.chosen(),
                on_done=lambda _none: self.statusBar().showMessage(
                    "Idle lock settings saved; they apply from the next sign-in.", 10_000
                ),
                on_error=lambda exc: self.statusBar().showMessage(f"Not saved: {exc}", 10_000),
            )
        )
        dialog.open()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.welfare is not None and self.welfare.close_event(event):
            return  # a break or pause is not ended by closing the window
        if self.idle is not None:
            self.idle.stop()
        self.review.close_session()
        # The session ends here: its team tools with it (a QA window hands back its items).
        for w in list(self.team_windows):
            w.close()
        super().closeEvent(event)


def _ignore(_result: object) -> None:
    """on_done for jobs whose only outcome of interest is an error."""
