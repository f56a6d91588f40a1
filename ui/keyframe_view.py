"""A video under review: the protected keyframe sheet first, one frame at a time after.

DOMAIN.md: "Video: muted, no autoplay, graded from a blurred keyframe sheet first."

- Nothing plays on its own. The sheet (greyscale, blurred keyframes with their times,
  wellbeing.keyframes) is rendered on the render pool for the sheet view's size and
  painted here as it is; when the view changes size, it is rendered again.
- Clicking a cell (or Left/Right) shows that keyframe in the item's ProtectedImageView,
  protected; Space reveals it there, metered on the item's meter and audited, with the
  same re-protect rules as a picture. Shift-click selects a range of cells.
- Play (P) steps through the keyframes of the selected range (from the selected cell
  to the end, if one is selected) at PLAY_FPS, protected; a reveal stops it. Only
  keyframes are decoded: frames between keyframes are not shown.
- Sound starts muted on every item. Unmuting (M) is a deliberate act, recorded as an
  audio reveal in the audit trail; this workstation does not play sound yet, so
  unmuting changes nothing audible.
- Segments: the selected range (or typed mm:ss) graded with a severity
  (ui.segments_panel); the item's grade must be their roll-up.

No decoding happens on the GUI thread: sheets and frames come from render-pool jobs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QHideEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from reviewer.segments import Segment
from reviewer.video import inspect_video, keyframe_at
from reviewer.video_container import looks_like_video
from reviewer.video_types import (
    DEFAULT_MAX_FRAMES,
    DEFAULT_MAX_SIDE,
    REVEAL_MAX_SIDE,
    KeyFrame,
    VideoProbe,
)
from ui.flow_layout import FlowLayout, flow_policy
from ui.image_view import (
    BACKDROP,
    FRAME,
    ProtectedImageView,
    Raster,
    protected_raster,
    raster_from,
)
from ui.segments_panel import SegmentsPanel
from ui.tasks import Tasks
from wellbeing.keyframes import (
    SheetCell,
    format_time,
    render_frame_protected,
    render_frame_revealed,
    render_keyframe_sheet,
)
from wellbeing.render import DEFAULT_BLUR_STEP

PLAY_FPS: Final = 2.0
# Used before the sheet canvas has been laid out (it is hidden until the first video).
DEFAULT_SHEET_BOX: Final = (1200, 560)
MUTE_KEY: Final = "M"
PLAY_KEY: Final = "P"
PREV_KEY: Final = "Left"
NEXT_KEY: Final = "Right"
SEGMENT_KEY: Final = "T"  # time range; G is colour in the image view
# Grey only: the selection outline must not bring colour to the sheet.
SELECTED: Final = FRAME.lighter(190)


@dataclass(frozen=True)
class VideoSheet:
    """A video's protected sheet, with the small keyframes it was made from (memory
    only, for protected single frames) and what the video is."""

    raster: Raster
    cells: tuple[SheetCell, ...]
    frames: tuple[KeyFrame, ...]
    probe: VideoProbe
    box: tuple[int, int]  # what it was rendered for


def protected_sheet(data: bytes, box: tuple[int, int]) -> VideoSheet:
    """Render pool job: keyframes (isolated worker, time limit), then the protected
    sheet. Raises MediaUnreadable."""
    probe, frames = inspect_video(data, DEFAULT_MAX_FRAMES, max_side=DEFAULT_MAX_SIDE, pdq=False)
    return sheet_for(tuple(sorted(frames, key=lambda f: f.time_s)), probe, box)


def sheet_for(frames: tuple[KeyFrame, ...], probe: VideoProbe, box: tuple[int, int]) -> VideoSheet:
    """Render pool job: the protected sheet of keyframes already decoded, for `box`
    (the sheet view resized: nothing is decoded again)."""
    sheet = render_keyframe_sheet(frames, box, screen=True)
    return VideoSheet(raster_from(sheet), sheet.cells, frames, probe, box)


def protected_media(
    data: bytes,
    box: tuple[int, int],
    sheet_box: tuple[int, int] = DEFAULT_SHEET_BOX,
    blur_step: int = DEFAULT_BLUR_STEP,
) -> Raster | VideoSheet:
    """Render pool job for any item: a video's sheet (for `sheet_box`), or a picture's
    protected raster (for `box`, at `blur_step`: the item's starting protection).
    Raises MediaUnreadable."""
    if looks_like_video(data):
        return protected_sheet(data, sheet_box)
    return protected_raster(data, box, blur_step)


def protected_frame(frame: KeyFrame, box: tuple[int, int]) -> Raster:
    """Render pool job: one keyframe, greyscale and blurred, at its display size."""
    return raster_from(render_frame_protected(frame, box, screen=True))


def revealed_frame(data: bytes, time_s: float, box: tuple[int, int]) -> Raster:
    """Render pool job: the keyframe at `time_s` decoded afresh at up to full HD, in
    colour, unblurred. A reveal: the view meters it."""
    frame = keyframe_at(data, time_s, max_side=REVEAL_MAX_SIDE)
    return raster_from(render_frame_revealed(frame, box, screen=True))


class KeyframeSheetView(QWidget):
    """Paints the protected sheet as it was rendered (never scaled), outlines the
    selected cells in grey and turns clicks into cell choices."""

    # index, extend: a cell was clicked; extend when Shift was held (select a range).
    cell_clicked = Signal(int, bool)
    # The view's size changed: the sheet on it may want rendering for the new size.
    resized = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._sheet: VideoSheet | None = None
        self._selected: tuple[int, int] | None = None
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.setAcceptDrops(False)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 180)

    @property
    def sheet(self) -> VideoSheet | None:
        return self._sheet

    def show_sheet(self, sheet: VideoSheet | None) -> None:
        self._sheet, self._selected = sheet, None
        self.repaint()

    def set_selected(self, first: int | None, last: int | None = None) -> None:
        self._selected = None if first is None else (first, first if last is None else last)
        self.update()

    def render_box(self) -> tuple[int, int]:
        dpr = self.devicePixelRatioF()
        w, h = int(self.width() * dpr), int(self.height() * dpr)
        return (w, h) if w >= 320 and h >= 180 and self.isVisible() else DEFAULT_SHEET_BOX

    def _placement(self) -> tuple[float, float, float]:
        """(scale, x, y): where the sheet is painted, in widget coordinates: pixel for
        pixel, centred (from the top left while a sheet rendered for a larger view
        waits for its re-render)."""
        assert self._sheet is not None
        image = self._sheet.raster.image
        k = 1 / self.devicePixelRatioF()
        w, h = image.width() * k, image.height() * k
        return k, round(max(0.0, (self.width() - w) / 2)), round(max(0.0, (self.height() - h) / 2))

    def cell_rect(self, index: int) -> QRectF:
        """Where cell `index`'s picture is painted, in widget coordinates."""
        if self._sheet is None:
            return QRectF()
        k, x0, y0 = self._placement()
        c = self._sheet.cells[index]
        return QRectF(x0 + c.x * k, y0 + c.y * k, c.w * k, c.h * k)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKDROP)
        if self._sheet is not None:
            k, x0, y0 = self._placement()
            image = self._sheet.raster.image
            painter.drawImage(QRectF(x0, y0, image.width() * k, image.height() * k), image)
            if self._selected is not None:
                painter.setPen(QPen(SELECTED, 3))
                first, last = sorted(self._selected)
                for i in range(first, last + 1):
                    painter.drawRect(self.cell_rect(i).adjusted(-2, -2, 2, 2))
        painter.end()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.resized.emit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self._sheet is None or event.button() != Qt.MouseButton.LeftButton:
            return
        pos = event.position()
        for i in range(len(self._sheet.cells)):
            if self.cell_rect(i).adjusted(-4, -4, 4, 24).contains(pos):  # label strip too
                shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
                self.cell_clicked.emit(i, shift)
                return


class VideoPane(QWidget):
    """The sheet, the video controls and the segments panel, driving the item's
    ProtectedImageView for single frames."""

    # unmuted: the moderator unmuted (True) or muted (False) the sound; audited.
    audio_changed = Signal(bool)
    # segments: tuple[Segment, ...] after every change.
    segments_changed = Signal(object)

    def __init__(self, tasks: Tasks, view: ProtectedImageView, parent: QWidget | None = None):
        super().__init__(parent)
        self._tasks = tasks
        self._view = view
        self._data: bytes | None = None
        self._serial = 0  # bumps per item and per frame, so late renders are dropped
        self._anchor: int | None = None
        self._range: tuple[int, int] | None = None
        self._current: int | None = None
        self._unmuted = False
        self._playing: list[int] = []
        self._frame_pending = False
        self._segmenting = True

        self.sheet = KeyframeSheetView()
        self.sheet.cell_clicked.connect(self._cell_clicked)
        # A resize (a window dragged larger) settles before the sheet is rendered again.
        self._resheet = QTimer(self)
        self._resheet.setSingleShot(True)
        self._resheet.setInterval(120)
        self._resheet.timeout.connect(self._fit_sheet)
        self.sheet.resized.connect(self._resheet.start)
        self.info = QLabel()
        self.info.setObjectName("videoInfo")
        self.audio_button = QPushButton()
        self.info.setWordWrap(True)
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.play_button = QPushButton(f"Play [{PLAY_KEY}]")
        self.segment_button = QPushButton(f"Add segment [{SEGMENT_KEY}]")
        for button in (self.audio_button, self.play_button, self.segment_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.audio_button.clicked.connect(self.toggle_audio)
        self.play_button.clicked.connect(self.toggle_play)
        self.segment_button.clicked.connect(self._selection_to_segment)
        self.segments = SegmentsPanel()
        self.segments.segments_changed.connect(self.segments_changed)
        # The buttons wrap under one another where the column is narrow (a small
        # screen, a high scaling) rather than widen the window.
        buttons = QWidget()
        flow_policy(buttons)
        flow = FlowLayout(buttons)
        for button in (self.play_button, self.segment_button, self.audio_button):
            flow.addWidget(button)
        content = QWidget()
        inner = QVBoxLayout(content)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addWidget(self.sheet, 1)
        inner.addWidget(self.info)
        inner.addWidget(buttons)
        inner.addWidget(self.segments)
        # Sheet, player and segment fields need more height than a laptop screen leaves
        # above the picture: where it is short they scroll (the sheet at its smallest)
        # instead of making the window taller than the screen. With room, the sheet
        # grows and nothing scrolls.
        self.scroller = QScrollArea()
        self.scroller.setWidget(content)
        self.scroller.setWidgetResizable(True)
        self.scroller.setFrameShape(QFrame.Shape.NoFrame)
        self.scroller.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroller)

        self._player = QTimer(self)
        self._player.setInterval(int(1000 / PLAY_FPS))
        self._player.timeout.connect(self._play_step)
        for key, slot in (
            (MUTE_KEY, self.toggle_audio),
            (PLAY_KEY, self.toggle_play),
            (PREV_KEY, lambda: self._step(-1)),
            (NEXT_KEY, lambda: self._step(1)),
            (SEGMENT_KEY, self._selection_to_segment),
        ):
            shortcut = QShortcut(QKeySequence(key), self)
            # Only while the pane is shown (a video is on screen).
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(slot)
        view.reveal_changed.connect(self._reveal_changed)
        self.clear()

    # -- the item -----------------------------------------------------------------------

    @property
    def unmuted(self) -> bool:
        return self._unmuted

    @property
    def playing(self) -> bool:
        return self._player.isActive()

    @property
    def current_frame(self) -> int | None:
        return self._current

    def render_box(self) -> tuple[int, int]:
        return self.sheet.render_box()

    def show_video(self, sheet: VideoSheet, data: bytes) -> None:
        """A new video item: its protected sheet; sound muted; nothing playing; the frame
        view waits for a choice."""
        self.clear()
        self._data = data
        self.sheet.show_sheet(sheet)
        p = sheet.probe
        fps = f", {p.fps:g} fps" if p.fps else ""
        self.info.setText(
            f"Video {format_time(p.duration_s)} ({p.duration_s:.1f} s), {p.width}×{p.height}"
            f"{fps}, {p.codec}; {len(sheet.cells)} keyframes. Shift-click selects a range."
        )
        self.audio_button.setEnabled(p.has_audio)
        self.play_button.setEnabled(True)
        self.segment_button.setEnabled(True)
        self.segments.setEnabled(True)
        self.segments.clear(p.duration_s)
        self._update_audio()
        self._view.show_placeholder(
            "Keyframe sheet above: greyscale and blurred.\n\n"
            "Click a keyframe (or ←/→) to see it here, protected; Space reveals it (metered)."
        )
        self.show()
        # Rendered ahead for a guessed box (the view was hidden): fit it as soon as it is
        # laid out (a zero timer runs after the layout requests that show() posted).
        QTimer.singleShot(0, self._fit_sheet)

    def showEvent(self, event: QShowEvent) -> None:
        # The frame view below gives up some height to the sheet while a video is on.
        self._view.set_compact(True)
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        if not event.spontaneous():  # minimised: the layout stays as it is
            self._view.set_compact(False)
        super().hideEvent(event)

    def clear(self) -> None:
        """No video (a picture, a placeholder, or between items): hidden and silent."""
        self.stop()
        self._serial += 1
        self._data = None
        self._anchor = self._range = self._current = None
        self.sheet.show_sheet(None)
        if self._unmuted:
            self._unmuted = False
            self.audio_changed.emit(False)
        self.segments.clear()
        self.audio_button.setEnabled(False)
        self.play_button.setEnabled(False)
        self.segment_button.setEnabled(False)
        self._update_audio()
        self.hide()

    def _fit_sheet(self) -> None:
        """Render the sheet again for the view's size, if that changed (off-thread)."""
        sheet = self.sheet.sheet
        box = self.sheet.render_box()
        if sheet is None or sheet.box == box or not self.sheet.isVisible():
            return
        serial = self._serial
        self._tasks.render.submit(
            sheet_for,
            sheet.frames,
            sheet.probe,
            box,
            on_done=lambda fitted: self._sheet_fitted(serial, sheet, fitted),
            on_error=lambda exc: self._frame_failed(serial, exc),
        )

    def _sheet_fitted(self, serial: int, old: VideoSheet, fitted: VideoSheet) -> None:
        if serial != self._serial or self.sheet.sheet is not old:
            return  # another item, or another sheet, since
        selected = self._range
        self.sheet.show_sheet(fitted)
        if selected is not None:
            self.sheet.set_selected(*selected)

    def set_enabled(self, enabled: bool) -> None:
        """While a decision is being stored, nothing changes on the video."""
        if not enabled:
            self.stop()
        self.setEnabled(enabled)

    def segment_list(self) -> tuple[Segment, ...]:
        return self.segments.segments() if self._data is not None and self._segmenting else ()

    # -- frames -------------------------------------------------------------------------

    def choose(self, index: int, extend: bool = False) -> None:
        """Select cell `index` (with `extend`, the range from the last anchor) and show
        that keyframe, protected, in the frame view."""
        sheet = self.sheet.sheet
        if sheet is None or not 0 <= index < len(sheet.frames):
            return
        if extend and self._anchor is not None:
            self._range = (min(self._anchor, index), max(self._anchor, index))
        else:
            self._anchor, self._range = index, (index, index)
        self.sheet.set_selected(*self._range)
        start, end = self._range_times()
        self.segments.set_range(start, end)
        self._show_frame(index)

    def _cell_clicked(self, index: int, extend: bool) -> None:
        self.stop()
        self.choose(index, extend)

    def _step(self, delta: int) -> None:
        sheet = self.sheet.sheet
        if sheet is None or not self.isVisible():
            return
        self.stop()
        here = -1 if self._current is None else self._current
        self.choose(max(0, min(len(sheet.frames) - 1, here + delta)))

    def _range_times(self) -> tuple[float, float]:
        """The selected cells as a time range: from the first cell's keyframe to the
        keyframe after the last (or the end of the video)."""
        sheet = self.sheet.sheet
        assert sheet is not None and self._range is not None
        first, last = self._range
        frames = sheet.frames
        end = frames[last + 1].time_s if last + 1 < len(frames) else sheet.probe.duration_s
        return frames[first].time_s, max(end, frames[first].time_s + 0.1)

    def _show_frame(self, index: int) -> None:
        sheet, data = self.sheet.sheet, self._data
        if sheet is None or data is None:
            return
        self._current = index
        self._serial += 1
        serial = self._serial
        frame = sheet.frames[index]
        self._frame_pending = True
        self._tasks.render.submit(
            protected_frame,
            frame,
            self._view.render_box(),
            on_done=lambda raster: self._frame_ready(serial, data, frame, raster),
            on_error=lambda exc: self._frame_failed(serial, exc),
        )

    def _frame_ready(self, serial: int, data: bytes, frame: KeyFrame, raster: Raster) -> None:
        self._frame_pending = False
        if serial != self._serial:
            return
        self._view.show_part(raster, data, functools.partial(revealed_frame, data, frame.time_s))

    def _frame_failed(self, serial: int, exc: Exception) -> None:
        self._frame_pending = False
        if serial == self._serial:
            self.stop()
            self.info.setText(f"Could not show that frame: {exc}")

    # -- playing a segment --------------------------------------------------------------

    def toggle_play(self) -> None:
        if self.playing:
            self.stop()
            return
        sheet = self.sheet.sheet
        if sheet is None or not self.isVisible() or not self.isEnabled():
            return
        self._view.protect()  # playing is protected unless the moderator reveals
        # A range plays itself; one cell (or none) plays from there to the end.
        first, last = self._range or (0, 0)
        if first == last:
            last = len(sheet.frames) - 1
        self._playing = list(range(first, last + 1))
        self.play_button.setText(f"Stop [{PLAY_KEY}]")
        self._player.start()
        self._play_step()

    def stop(self) -> None:
        self._player.stop()
        self._playing = []
        self.play_button.setText(f"Play [{PLAY_KEY}]")

    def _play_step(self) -> None:
        if self._frame_pending:
            return  # the render pool is behind: hold this frame a little longer
        if not self._playing:
            self.stop()
            return
        self._show_frame(self._playing.pop(0))

    def _reveal_changed(self, revealed: bool) -> None:
        if revealed:
            self.stop()  # a revealed frame stays put: nothing moves while unprotected

    # -- segments -----------------------------------------------------------------------

    def _selection_to_segment(self) -> None:
        if not self._segmenting or self.sheet.sheet is None or not self.isVisible():
            return
        if self._range is None:
            return
        self.segments.add_typed()

    def without_segments(self) -> None:
        """No segment marking here: a QA re-grade grades the video as a whole (the
        segments are the moderator's breakdown, and the QA session stores none)."""
        self._segmenting = False
        self.segment_button.hide()
        self.segments.hide()

    # -- sound --------------------------------------------------------------------------

    def mute(self) -> None:
        """Back to silence (moving on, a decision, the screen closing); audited."""
        if self._unmuted:
            self._unmuted = False
            self._update_audio()
            self.audio_changed.emit(False)

    def toggle_audio(self) -> None:
        if not self.audio_button.isEnabled() or not self.isVisible():
            return
        self._unmuted = not self._unmuted
        self._update_audio()
        self.audio_changed.emit(self._unmuted)

    def _update_audio(self) -> None:
        sheet = self.sheet.sheet
        if sheet is None or not sheet.probe.has_audio:
            self.audio_button.setText("No sound track")
        elif self._unmuted:
            self.audio_button.setText(f"Sound UNMUTED (recorded) [{MUTE_KEY}]")
        else:
            self.audio_button.setText(f"Sound muted [{MUTE_KEY}]")
