"""The main window: the review screen, a menu, and the keyboard map."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMainWindow,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from reviewer.review import ReviewService
from ui import keymap
from ui.events import AppEvents
from ui.review_screen import ReviewScreen, Timings
from ui.tasks import Tasks
from ui.welfare_view import ResourcesDialog, WelfareGuard
from wellbeing.clock import Clock, SystemClock


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
        self.resize(640, 760)


class MainWindow(QMainWindow):
    """Hands back held items when it closes."""

    def __init__(self, review: ReviewScreen, user_name: str) -> None:
        super().__init__()
        self.review = review
        self.setWindowTitle(f"Reviewer — {user_name}")
        self.setCentralWidget(review)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.setAcceptDrops(False)

        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence(keymap.QUIT))
        quit_action.triggered.connect(self.close)
        shortcuts_action = QAction("&Keyboard shortcuts", self)
        shortcuts_action.setShortcut(QKeySequence(keymap.SHORTCUTS_HELP))
        shortcuts_action.triggered.connect(self.show_shortcuts)
        support_action = QAction("&Support and counselling", self)
        support_action.setShortcut(QKeySequence(keymap.SUPPORT))
        support_action.triggered.connect(self.show_support)
        self.menuBar().addMenu("&File").addAction(quit_action)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(shortcuts_action)
        help_menu.addAction(support_action)
        self.shortcuts_dialog: ShortcutsDialog | None = None
        self.support_dialog: ResourcesDialog | None = None
        # Set by build_main_window when the moderator's session has a welfare policy.
        self.welfare: WelfareGuard | None = None
        # Support is one click away on every screen (the welfare screens carry it too).
        self.support_link = QLabel("<a href='#'>Support and counselling</a>")
        self.support_link.linkActivated.connect(lambda _link: self.show_support())
        self.statusBar().addPermanentWidget(self.support_link)

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

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.welfare is not None and self.welfare.close_event(event):
            return  # a break or pause is not ended by closing the window
        self.review.close_session()
        super().closeEvent(event)


def build_main_window(
    service: ReviewService,
    tasks: Tasks,
    events: AppEvents | None = None,
    clock: Clock | None = None,
    timings: Timings | None = None,
) -> MainWindow:
    """The window for a signed-in moderator; call `window.review.start()` once shown."""
    clock = clock or SystemClock()
    review = ReviewScreen(service, tasks, events or AppEvents(), clock, timings)
    window = MainWindow(review, service.user.name)
    if service.welfare is not None:
        window.welfare = WelfareGuard(window, review, service.welfare, tasks, clock)
        window.statusBar().addWidget(window.welfare.banner, 1)
    return window
