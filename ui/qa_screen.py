"""The QA reviewer's blind re-grade screen.

It is the review screen itself, driven by a QaReviewSession: the same protected image
(greyscale and blur from the first pixel, metered reveal, re-protection), the same
grading panel and keys, the same leases and prefetch, in a window with the same idle
lock and welfare screens as the moderator's. Only a banner is added. The first grade
is not hidden here but never sent: the session has no way to return it.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from reviewer.clock import Clock, SystemClock
from reviewer.qa_service import QaReviewSession
from reviewer.review_service import ReviewService
from ui.events import AppEvents
from ui.idle_lock import LockTimings
from ui.review_screen import ReviewScreen, Timings
from ui.tasks import Tasks
from ui.welfare_view import WelfareGuard
from ui.window import MainWindow

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
        assert isinstance(layout, QVBoxLayout)  # ReviewScreen lays itself out in a column
        layout.insertWidget(0, self.banner)


def build_qa_window(
    session: QaReviewSession,
    tasks: Tasks,
    events: AppEvents | None = None,
    clock: Clock | None = None,
    timings: Timings | None = None,
    *,
    owner: ReviewService | None = None,
    lock: LockTimings | None = None,
) -> MainWindow:
    """The window for a QA reviewer; call `window.review.start()` once shown.

    QA re-grading is exposure as review is: given the reviewer's own sign-in (`owner`),
    the window locks after `lock.lock_after_s` without input as theirs does, and the
    session's welfare policy puts up the same break lock, pause and hard stop.
    """
    clock = clock or SystemClock()
    screen = QaScreen(session, tasks, events or AppEvents(), clock, timings)
    window = MainWindow(
        screen,
        session.user.name,
        service=owner,
        tasks=tasks if owner is not None else None,
        clock=clock,
        lock=lock,
    )
    window.setWindowTitle(f"Reviewer — QA re-grades — {session.user.name}")
    window.welfare = WelfareGuard(window, screen, session.welfare, tasks, clock)
    window.add_status_banner(window.welfare.banner)
    return window
