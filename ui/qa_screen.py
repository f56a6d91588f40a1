"""The QA reviewer's blind re-grade screen.

It is the review screen itself, driven by a QaReviewSession: the same protected image
(greyscale and blur from the first pixel, metered reveal, re-protection), the same
grading panel and keys, the same leases and prefetch. Only a banner is added. The
first grade is not hidden here but never sent: the session has no way to return it.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from reviewer.qa_service import QaReviewSession
from ui.events import AppEvents
from ui.main_window import MainWindow
from ui.review_screen import ReviewScreen, Timings
from ui.tasks import Tasks
from wellbeing.clock import Clock, SystemClock

BANNER = (
    "Blind QA re-grade — grade what you see. The first grade stays hidden until a lead "
    "has looked at both. The picture is protected and every reveal is metered, as in review."
)


class QaScreen(ReviewScreen):
    def __init__(
        self,
        session: QaReviewSession,
        tasks: Tasks,
        events: AppEvents,
        clock: Clock,
        timings: Timings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        # The session has ReviewService's shape (claim, submit, skip, release, reveal).
        super().__init__(session, tasks, events, clock, timings, parent)  # type: ignore[arg-type]
        self.banner = QLabel(BANNER)
        self.banner.setObjectName("qaBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(
            "QLabel#qaBanner { padding: 6px 10px; border-radius: 6px;"
            " background: #2b3a3c; color: #cfe3e5; font-weight: 600; }"
        )
        layout = self.layout()
        layout.insertWidget(0, self.banner)  # type: ignore[attr-defined]


def build_qa_window(
    session: QaReviewSession,
    tasks: Tasks,
    events: AppEvents | None = None,
    clock: Clock | None = None,
    timings: Timings | None = None,
) -> MainWindow:
    """The window for a QA reviewer; call `window.review.start()` once shown."""
    screen = QaScreen(session, tasks, events or AppEvents(), clock or SystemClock(), timings)
    window = MainWindow(screen, session.user.name)
    window.setWindowTitle(f"Reviewer — QA re-grades — {session.user.name}")
    return window
