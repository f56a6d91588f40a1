"""The review screen: claim, show protected, grade, store, next.

The flow (claims, rendering ahead, leases, locks, decisions) is ui.review_presenter's;
this widget lays out the screen, renders what the presenter tells it and forwards the
moderator's input. Everything that blocks runs on the task lanes: claims, media reads,
audit events and decisions on the database worker, decoding on the render pool. One
more item than the one on screen is held ahead, claimed and with its protected raster
already rendered in memory, so that once a decision is stored the next protected
picture appears at once. Decoded pixels live in memory only; nothing decoded ever
reaches the disk.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from reviewer.clock import Clock
from reviewer.grading import Grading
from reviewer.matching import DupGroup, Propagated
from reviewer.model import Claim, DecisionReceipt, Exposure, QueueSummary
from reviewer.segments import Segment
from reviewer.video_model import segment_problems
from reviewer.vocabulary import NotAssessableReason
from ui import text
from ui.context_panel import ContextPanel
from ui.dup_group import DupGroupGrid
from ui.events import AppEvents, Change
from ui.grading_panel import GradingPanel
from ui.image_view import REPROTECT_AFTER_MS, ProtectedImageView, Raster
from ui.keyframe_view import VideoPane, VideoSheet, protected_media
from ui.known_match import KnownMatchPanel, grade_text
from ui.review_presenter import (
    OUTCOME_UNKNOWN,
    UNREACHABLE,
    ReviewFlow,
    ReviewPresenter,
    Slot,
)
from ui.tasks import Tasks
from ui.theme import set_style_property

__all__ = ["OUTCOME_UNKNOWN", "UNREACHABLE", "ReviewScreen", "Timings"]

_INPUT: Final = frozenset(
    {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.Wheel}
)


@dataclass(frozen=True)
class Timings:
    """The screen's clocks, in one place so tests can shorten them."""

    reprotect_after_ms: int = REPROTECT_AFTER_MS
    renew_lease_ms: int = 60_000
    # Leases are renewed only for a moderator who did something this recently.
    interaction_recent_s: float = 120.0
    empty_queue_poll_ms: int = 30_000
    # Other workstations take and add items: the queue picker's counts and ages are
    # re-read this often (on the database worker), with no manual refresh.
    queue_refresh_ms: int = 15_000


class ReviewScreen(QWidget):
    """Queue picker; context left, protected image centre, grading right; status line."""

    # item_id: the item now on screen (its protected picture or its placeholder).
    item_shown = Signal(int)
    # receipt: the DecisionReceipt of a decision just stored.
    decision_recorded = Signal(object)

    def __init__(
        self,
        service: ReviewFlow,
        tasks: Tasks,
        events: AppEvents,
        clock: Clock,
        timings: Timings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        # The image re-protects itself after the admin's delay, not a constant.
        timings = timings or Timings(reprotect_after_ms=round(service.reprotect_after_s * 1000))
        self._service = service
        self._tasks = tasks
        self._events = events
        self._clock = clock
        self._queue_ids: list[int | None] = [None]
        # Called just before the next item is put on screen, so that a pause or break
        # the last decision brought about is up first (ui.welfare_view sets it).
        self.before_next: Callable[[], None] = lambda: None
        # The flow itself (claims, rendering ahead, leases, locks, decisions) lives in
        # the presenter; this widget renders what it is told and forwards input.
        self.presenter = ReviewPresenter(
            service,
            tasks,
            self,
            lambda change: events.announce(
                *change.kinds, item_id=change.item_id, queue_id=change.queue_id
            ),
            clock,
            interaction_recent_s=timings.interaction_recent_s,
            empty_queue_poll_s=timings.empty_queue_poll_ms // 1000,
        )

        self.queue_picker = QComboBox()
        self.queue_picker.addItem("All queues")
        self.queue_picker.setMinimumContentsLength(36)
        self.queue_picker.currentIndexChanged.connect(self._queue_chosen)
        self.view = ProtectedImageView(tasks, clock, timings.reprotect_after_ms)
        # A video: its keyframe sheet above the view, which then shows single frames.
        self.video = VideoPane(tasks, self.view)
        self.context = ContextPanel(clock)
        self.panel = GradingPanel()
        self.panel.set_home(self.view.canvas)
        self.known = KnownMatchPanel()
        self.known.hide()
        self.group_grid: DupGroupGrid | None = None
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.known)
        side_layout.addWidget(self.panel)
        self.status = QLabel("Loading the first item…")
        self.status.setObjectName("status")
        self.status.setWordWrap(True)

        top = QHBoxLayout()
        picker_label = QLabel("Queue:")
        picker_label.setBuddy(self.queue_picker)
        top.addWidget(picker_label)
        top.addWidget(self.queue_picker)
        top.addStretch(1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(_scrolling(self.context))
        centre = QSplitter(Qt.Orientation.Vertical)
        centre.addWidget(self.video)
        centre.addWidget(self.view)
        centre.setStretchFactor(0, 3)
        centre.setStretchFactor(1, 2)
        centre.setChildrenCollapsible(False)
        splitter.addWidget(centre)
        splitter.addWidget(side)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([300, 760, 540])
        splitter.setChildrenCollapsible(False)
        self._columns = splitter
        self._columns_fitted = False
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)

        self._renew = QTimer(self)
        self._renew.setInterval(timings.renew_lease_ms)
        self._renew.timeout.connect(self.presenter.renew_leases)
        self._queue_refresh = QTimer(self)
        self._queue_refresh.setInterval(timings.queue_refresh_ms)
        self._queue_refresh.timeout.connect(self.presenter.refresh_queues)
        self._poll = QTimer(self)
        self._poll.setSingleShot(True)
        self._poll.setInterval(timings.empty_queue_poll_ms)
        self._poll.timeout.connect(self.presenter.poll)

        presenter = self.presenter
        self.view.reveal_changed.connect(
            lambda revealed: presenter.record_reveal(revealed, self.view.reveal_area)
        )
        self.video.audio_changed.connect(presenter.record_audio)
        self.video.segments_changed.connect(lambda _segments: self.panel.recheck())
        self.panel.set_extra_rule(self._segment_problems)
        self.panel.submitted.connect(presenter.submit)
        self.panel.skip_chosen.connect(presenter.skip)
        self.known.confirmed.connect(
            lambda match: presenter.confirm_known(match, grade_text(match))
        )
        self.known.rejected.connect(presenter.reject_known)
        events.changed.connect(presenter.changed)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._columns_fitted:
            self._columns_fitted = True
            # Once laid out at the window's real size (after this event).
            QTimer.singleShot(0, self._fit_columns)

    def _fit_columns(self) -> None:
        """The item context gets room for its labels and values (a quarter of the row,
        240 to 360 px: before the first item arrives its own size hint says nothing),
        the form the width it needs, the picture the rest."""
        total = sum(self._columns.sizes())
        form = self._columns.widget(2)
        assert form is not None  # the splitter is built with three columns
        side = form.minimumSizeHint().width()
        context = max(240, min(360, total * 26 // 100))
        if total > context + side + 240:
            self._columns.setSizes([context, total - context - side, side])

    # -- state, for the window and for tests ---------------------------------------------

    @property
    def current_claim(self) -> Claim | None:
        current = self.presenter.current
        return None if current is None else current.claim

    @property
    def prefetched_claim(self) -> Claim | None:
        """The claim rendered ahead, ready to be shown next."""
        ready = self.presenter.ready
        return None if ready is None else ready.claim

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Load the queues and bring the first item."""
        app = QGuiApplication.instance()
        assert app is not None
        app.installEventFilter(self)
        self._renew.start()
        self._queue_refresh.start()
        self.presenter.start()

    def close_session(self) -> None:
        """Hand back every held item (why="closed"). Call before the tasks shut down.
        Outcomes of work still in flight then change nothing on screen: a team window
        (QA) is deleted when it closes."""
        if self.presenter.closing.is_set():
            return
        self._renew.stop()
        self._queue_refresh.stop()
        self._poll.stop()
        app = QGuiApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self.presenter.close()

    # -- what the presenter asks of the screen (ui.review_presenter.ReviewView) ---------

    def render_job(self, data: bytes, blur_step: int) -> Callable[[], object]:
        # The boxes are read here, on the GUI thread; the job runs on the render pool.
        return functools.partial(
            protected_media, data, self.view.render_box(), self.video.render_box(), blur_step
        )

    def show_slot(self, slot: Slot) -> None:
        self.video.clear()
        item = slot.claim.item
        picture = slot.picture
        # The protected picture first: its synchronous repaint then paints only what is
        # dirty so far, not the context and form this item also changes (they follow in
        # the same turn of the event loop, painted with its next update).
        readable = slot.data is not None and isinstance(picture, VideoSheet | Raster)
        if isinstance(picture, VideoSheet) and slot.data is not None:
            self.video.show_video(picture, slot.data)
        elif isinstance(picture, Raster) and slot.data is not None:
            self.view.show_item(picture, slot.data, slot.blur_step)
        else:
            self.view.show_unreadable(slot.unreadable or "unknown reason")
        self.panel.clear()
        self.context.show_item(item)
        if not readable:
            self.panel.suggest_not_assessable(NotAssessableReason.UNREADABLE)
        self.show_known(slot)
        self.view.canvas.setFocus()
        self.say(f"Showing item #{item.id}.")
        self.item_shown.emit(item.id)

    def show_known(self, slot: Slot) -> None:
        """A graded known match replaces the form with the confirm flow."""
        if slot.matches:
            self.known.show_matches(list(slot.matches))
            self.panel.hide()
            self.known.show()
        else:
            self.known.hide()
            self.panel.show()

    def show_message(self, text: str) -> None:
        self.video.clear()
        self.panel.clear()
        self.context.show_item(None)
        self.view.show_placeholder(text)

    def show_problems(self, problems: Sequence[str]) -> None:
        self.panel.show_problems(list(problems), refused=True)

    def take_exposure(self) -> Exposure:
        """Close any open reveal (auditing it for the current item) and read the meter."""
        self.video.stop()
        self.video.mute()
        self.view.protect()
        return self.view.exposure()

    def segments(self) -> tuple[Segment, ...]:
        current = self.presenter.current
        if current is None or not isinstance(current.picture, VideoSheet):
            return ()
        return tuple(self.video.segment_list())

    def set_busy(self, busy: bool) -> None:
        self.panel.set_busy(busy)
        self.known.set_busy(busy)
        self.view.set_reveal_enabled(not busy)
        self.video.set_enabled(not busy)

    def poll_later(self) -> None:
        self._poll.start()

    def decision_stored(self, receipt: DecisionReceipt, grade: str) -> None:
        self.decision_recorded.emit(receipt)
        self._offer_group(receipt.item_id, grade)

    def show_queues(self, queues: list[QueueSummary]) -> None:
        chosen = self.presenter.queue_id
        now = self._clock.now()
        self._queue_ids = [None, *(q.id for q in queues)]
        total = sum(q.pending for q in queues)
        live = sum(q.livestream for q in queues)
        labels = [f"All queues — {total} waiting" + (f" ({live} livestream)" if live else "")]
        for q in queues:
            label = f"{q.name} — {q.pending} waiting"
            if q.livestream:
                label += f" ({q.livestream} livestream)"
            if q.oldest_pending_at is not None:
                waited = (now - q.oldest_pending_at).total_seconds()
                label += f", oldest {text.age(waited)}"
                if waited > q.target_minutes * 60:
                    label += " (over target)"
            labels.append(label)
        # Rebuilding the list is not a choice by the moderator.
        self.queue_picker.blockSignals(True)
        self.queue_picker.clear()
        self.queue_picker.addItems(labels)
        self.queue_picker.setCurrentIndex(
            self._queue_ids.index(chosen) if chosen in self._queue_ids else 0
        )
        self.queue_picker.blockSignals(False)

    def _segment_problems(self, grading: Grading) -> list[str]:
        current = self.presenter.current
        if current is None or not isinstance(current.picture, VideoSheet):
            return []
        return segment_problems(
            grading, self.video.segment_list(), current.picture.probe.duration_s
        )

    # -- near-duplicate groups, offered after a decision --------------------------------

    def _offer_group(self, item_id: int, grade: str) -> None:
        show_less = self._service.show_less
        if show_less is None or self.presenter.closing.is_set():
            return
        self._tasks.db.submit(
            show_less.group_after,
            item_id,
            on_done=lambda group: self._group_found(item_id, group, grade),
            on_error=self.presenter.background_failed,
        )

    def _group_found(self, item_id: int, group: DupGroup | None, grade: str) -> None:
        show_less = self._service.show_less
        if group is None or show_less is None or self.presenter.closing.is_set():
            return
        grid = DupGroupGrid(group, item_id, grade, self._tasks, show_less.member_bytes, self)
        grid.decided.connect(
            lambda ticked, unticked: self._group_decided(group, item_id, ticked, unticked)
        )
        self.group_grid = grid
        grid.open()

    def _group_decided(
        self, group: DupGroup, item_id: int, ticked: list[int], unticked: list[int]
    ) -> None:
        show_less = self._service.show_less
        if show_less is None:
            return

        self._tasks.db.submit(
            show_less.settle,
            group.id,
            item_id,
            ticked,
            unticked,
            on_done=lambda done: self._propagated(group, done),
            on_error=self.presenter.background_failed,
        )

    def _propagated(self, group: DupGroup, done: Propagated) -> None:
        held = f"; {len(done.skipped)} held elsewhere, left alone" if done.skipped else ""
        self.say(
            f"Grade applied to {len(done.decided)} near-duplicate(s) without viewing{held}."
            f"{self.presenter.now_showing()}"
        )
        self._events.announce(Change.DECISION_RECORDED, Change.QUEUE_CHANGED)

    # -- welfare lock -------------------------------------------------------------------

    def set_locked(self, locked: bool) -> None:
        """Lock (protect, refuse input, claim and open nothing) or unlock (bring the
        next item). The lock itself is enforced by the service; this only follows it."""
        self.presenter.set_locked(locked)

    def show_locked(self, locked: bool) -> None:
        busy = self.presenter.busy
        self.view.set_reveal_enabled(not locked and not busy)
        self.panel.setEnabled(not locked and not busy)

    def release_held(self, why: str) -> None:
        """Hand back every item held (on screen and ahead), e.g. before a lease would run
        out during a break; the exposure so far is recorded with the one on screen."""
        self.presenter.release_held(why)

    # -- idle lock ----------------------------------------------------------------------

    @property
    def idle_locked(self) -> bool:
        return self.presenter.idle_locked

    def idle_lock(self) -> None:
        """The window is locking (ui.idle_lock): protect the image and take, open and
        show nothing. Held items stay held, their leases renewed, until
        `release_idle_held` or `idle_unlock`."""
        self.presenter.idle_lock()
        self.view.protect()
        self.setEnabled(False)

    def release_idle_held(self) -> None:
        """Locked too long: hand every held item back (why="idle_lock"), including
        claims still being prepared or on their way."""
        self.presenter.release_idle_held()

    def idle_unlock(self) -> None:
        self.setEnabled(True)
        self.presenter.idle_unlock()
        self.view.canvas.setFocus()

    # -- input, noted for lease renewal -------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Installed on the application: notes when the moderator last did anything here.
        if (
            event.type() in _INPUT
            and isinstance(watched, QWidget)
            and watched.window() is self.window()
        ):
            self.presenter.note_interaction()
        return False

    def _queue_chosen(self, index: int) -> None:
        self.presenter.choose_queue(self._queue_ids[max(0, index)])

    # -- status -------------------------------------------------------------------------

    def say(self, message: str, level: str = "info") -> None:
        if self.presenter.closing.is_set():
            return  # late outcomes of a closed session: the window may be deleted
        self.status.setText(message)
        set_style_property(self.status, "level", level)


def _scrolling(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return area
