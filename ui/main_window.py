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
        self.menuBar().addMenu("&File").addAction(quit_action)
        self.menuBar().addMenu("&Help").addAction(shortcuts_action)
        self.shortcuts_dialog: ShortcutsDialog | None = None

    def show_shortcuts(self) -> None:
        if self.shortcuts_dialog is None:
            self.shortcuts_dialog = ShortcutsDialog(self)
        self.shortcuts_dialog.show()
        self.shortcuts_dialog.raise_()

    def closeEvent(self, event: QCloseEvent) -> None:
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
    review = ReviewScreen(service, tasks, events or AppEvents(), clock or SystemClock(), timings)
    return MainWindow(review, service.user.name)
