"""The picture under review: protected from the first pixel painted.

Before anything is loaded the canvas paints neutral grey; an item's picture is painted
from its protected raster (greyscale, tiny, smoothly scaled up so it reads as a blur).
The unprotected picture appears only as much as the moderator asks for, every bit of
it metered: a spotlight under the cursor (S; radius with [ ] or Shift+wheel), a hold
(H or the right mouse button), a toggle (Space or a click); in between, blur steps
(- / =) and colour (G) on the protected picture, which can be zoomed (Ctrl+wheel,
Ctrl+0 resets). It protects itself again after a spell without interaction, when the
window loses focus or is minimised, and on every move to another item.

Nothing here decodes or processes an image: rasters arrive finished from
wellbeing.render on the render pool (protected, at display size, packed as the screen
paints them), and this module only wraps their bytes in QImage and paints them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QHideEvent,
    QImage,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QShortcut,
    QWheelEvent,
    QWindow,
)
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from reviewer.clock import Clock
from reviewer.model import Exposure
from ui import keymap
from ui.flow_layout import FlowLayout, flow_policy
from ui.tasks import Tasks
from wellbeing.exposure import RevealMeter
from wellbeing.render import (
    BLUR_STEPS,
    DEFAULT_BLUR_STEP,
    SCREEN_MODE,
    Rendered,
    display_size,
    render_protected,
    render_revealed,
)
from wellbeing.reveal import RevealMode, RevealState

REPROTECT_AFTER_MS: Final = 10_000
# X auto-repeat sends release/press pairs while a key is held; not every pair is
# flagged as a repeat. H's release counts once no press follows within this long (the
# pairs arrive together), so a held H is one hold however it repeats.
KEY_RELEASE_GRACE_MS: Final = 40
# A toggle this soon after an automatic re-protect (idle, focus lost) is taken as the
# moderator's own "protect" arriving late, not as a request to reveal again.
AFTER_AUTO_PROTECT_S: Final = 1.5
# The canvas's smallest height: a 1366 x 768 laptop at 150 % scaling leaves the window
# 432 px. A video's single frames make do with less, so that the keyframe sheet above
# them fits there too.
CANVAS_MIN_HEIGHT: Final = 220
FRAME_MIN_HEIGHT: Final = 140
# Used to render ahead before the canvas has been laid out.
DEFAULT_BOX: Final = (1280, 960)

# Greys only (r == g == b): nothing the canvas paints around a protected picture may
# carry colour either.
BACKDROP: Final = QColor(38, 38, 38)
MESSAGE: Final = QColor(190, 190, 190)
FRAME: Final = QColor(110, 110, 110)

# Any of these, anywhere in the window, counts as the moderator still being there.
_INTERACTION: Final = frozenset(
    {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.Wheel}
)


@dataclass(frozen=True)
class Raster:
    """A decoded picture as Qt paints it. `image` owns its pixels."""

    image: QImage
    source_width: int
    source_height: int
    protected: bool


def raster_from(rendered: Rendered) -> Raster:
    """Wrap a raster finished for a screen (wellbeing.render, screen=True) in a QImage:
    no conversion, no scaling. QImage keeps a reference to the bytes it wraps."""
    if rendered.mode != SCREEN_MODE:
        raise ValueError(f"a {rendered.mode} raster is not finished for a screen")
    image = QImage(
        rendered.data,
        rendered.width,
        rendered.height,
        rendered.width * 4,
        QImage.Format.Format_RGB32,
    )
    return Raster(image, rendered.source_width, rendered.source_height, rendered.protected)


def protected_raster(
    data: bytes,
    box: tuple[int, int],
    blur_step: int = DEFAULT_BLUR_STEP,
    colour: bool = False,
    stylised: bool = False,
) -> Raster:
    """Render pool job: the protected picture, finished by wellbeing.render at its
    display size in `box` (a long strip's short side fitted). Raises MediaUnreadable."""
    return raster_from(render_protected(data, box, blur_step, colour, stylised, screen=True))


def thumbnail_raster(data: bytes, box: tuple[int, int]) -> Raster:
    """Render pool job: a protected thumbnail fitted to `box`, as protected as the full
    view."""
    return raster_from(render_protected(data, box, thumbnail=True, screen=True))


def revealed_raster(data: bytes, box: tuple[int, int]) -> Raster:
    """Render pool job: the unprotected colour raster, for a metered reveal only."""
    return raster_from(render_revealed(data, box, screen=True))


def _snapped(rect: QRectF, image: QImage, dpr: float) -> QRectF:
    """`rect` on whole pixels when it is the image's own size to within a pixel: the
    painter then copies the pixels instead of resampling them (a fraction of a pixel
    of offset or size costs a full smooth scale on the GUI thread at every paint)."""
    w, h = image.width() / dpr, image.height() / dpr
    if abs(rect.width() - w) < 1 and abs(rect.height() - h) < 1:
        return QRectF(round(rect.x()), round(rect.y()), w, h)
    return rect


class _Canvas(QWidget):
    """Paints the backdrop, then the picture (protected, with the revealed raster clipped
    to the spotlight, or revealed whole) or a message; nothing else."""

    def __init__(self, view: ProtectedImageView) -> None:
        super().__init__(view)
        self._view = view
        self._message = ""
        self._framed = False
        # Every pixel is painted by paintEvent, so Qt never shows stale content first.
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.setAcceptDrops(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)  # the spotlight follows the cursor
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, CANVAS_MIN_HEIGHT)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._view._refit.start()

    def show_picture(self) -> None:
        self._message = ""
        # repaint, not update: a protect must not wait for the next event-loop turn.
        self.repaint()

    def show_message(self, text: str, framed: bool) -> None:
        self._message, self._framed = text, framed
        self.repaint()

    @property
    def painted_raster(self) -> Raster | None:
        """The raster painted over the whole picture (None while a message is shown)."""
        return None if self._message else self._view._whole_raster()

    @property
    def message(self) -> str:
        """The placeholder text on screen ('' while a picture is painted)."""
        return self._message

    def fitted_rect(self) -> QRectF:
        """The picture fitted and centred, never enlarged past its source (zoom 1). A
        long strip is fitted across and starts at the canvas's left or top edge."""
        raster = self._view._base_raster()
        if raster is None or self._message:
            return QRectF()
        dpr = self.devicePixelRatioF()
        source = (raster.source_width, raster.source_height)
        dw, dh = display_size(source, (round(self.width() * dpr), round(self.height() * dpr)))
        w, h = dw / dpr, dh / dpr
        x = 0.0 if w > self.width() else (self.width() - w) / 2
        y = 0.0 if h > self.height() else (self.height() - h) / 2
        return QRectF(x, y, w, h)

    def picture_rect(self) -> QRectF:
        """Where the picture is painted: fitted, then zoomed and moved."""
        rect = self.fitted_rect()
        if rect.isEmpty():
            return rect
        zoom, pan = self._view.zoom, self._view._pan
        centre = rect.center() + pan
        w, h = rect.width() * zoom, rect.height() * zoom
        return QRectF(centre.x() - w / 2, centre.y() - h / 2, w, h)

    def fraction_at(self, pos: QPointF) -> tuple[float, float] | None:
        rect = self.picture_rect()
        if rect.isEmpty():
            return None
        return ((pos.x() - rect.x()) / rect.width(), (pos.y() - rect.y()) / rect.height())

    def spotlight_path(self) -> QPainterPath:
        """The spotlight circle on screen, clipped to the picture."""
        rect = self.picture_rect()
        state = self._view.reveal_state
        cx, cy = state.spotlight_centre
        r = state.spotlight_radius * min(rect.width(), rect.height())
        circle = QPainterPath()
        centre = QPointF(rect.x() + cx * rect.width(), rect.y() + cy * rect.height())
        circle.addEllipse(centre, r, r)
        frame = QPainterPath()
        frame.addRect(rect)
        return circle.intersected(frame)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKDROP)
        whole = self.painted_raster
        if whole is not None:
            rect = self.picture_rect()
            # The raster is at its display size, painted as a plain copy; only a zoom (or
            # a resize not yet rendered for) scales it, smoothly, which keeps it a blur.
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(_snapped(rect, whole.image, self.devicePixelRatioF()), whole.image)
            spot = self._view._spotlight_raster()
            if spot is not None:
                painter.save()
                painter.setRenderHint(QPainter.RenderHint.Antialiasing)
                painter.setClipPath(self.spotlight_path())
                painter.drawImage(rect, spot.image)
                painter.restore()
        elif self._message:
            box = QRectF(self.rect()).adjusted(40, 40, -40, -40)
            if self._framed:
                painter.setPen(QPen(FRAME, 2, Qt.PenStyle.DashLine))
                painter.drawRoundedRect(box, 12, 12)
            font = QFont(self.font())
            font.setPointSizeF(font.pointSizeF() * 1.3)
            painter.setFont(font)
            painter.setPen(MESSAGE)
            painter.drawText(
                box.adjusted(24, 24, -24, -24),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._message,
            )
        painter.end()

    # -- the mouse: click toggles, the right button holds, the spotlight follows ----------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._view.toggle_reveal()
        elif event.button() == Qt.MouseButton.RightButton:
            self._view.hold_start()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.RightButton:
            self._view.hold_end()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._view._pointer_moved(event.position())

    def leaveEvent(self, event: QEvent) -> None:
        self._view._pointer_left()
        super().leaveEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta()
        steps = (delta.y() or delta.x()) / 120
        mods = event.modifiers()
        if mods & Qt.KeyboardModifier.ControlModifier:
            self._view.zoom_by(1.25**steps, event.position())
        elif mods & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.AltModifier):
            self._view.adjust_spotlight(0.02 * steps)
        else:
            self._view.scroll_by(-steps * 120)
        event.accept()


class ProtectedImageView(QWidget):
    """The canvas, the reveal tools and a line saying what is on screen.

    Every reveal goes through a wellbeing.reveal.RevealState, which meters it; this
    widget only forwards input to it and paints what it says. A reveal asked for
    before the unprotected raster has been rendered waits for it, so the meter counts
    only what was actually painted.
    """

    # revealed: True once any part of the picture is unprotected on screen, False once
    # all of it is protected again. Emitted only on a change, so each is one audit event.
    reveal_changed = Signal(bool)

    def __init__(
        self,
        tasks: Tasks,
        clock: Clock,
        reprotect_after_ms: int = REPROTECT_AFTER_MS,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._clock = clock
        self.reveal_state = RevealState(
            clock, RevealMeter(clock), reprotect_after_seconds=reprotect_after_ms / 1000
        )
        self._data: bytes | None = None
        # Renders the revealed raster for a box, when the picture is not `_data` itself
        # (one frame of a video); None: revealed_raster(_data).
        self._reveal_job: Callable[[tuple[int, int]], Raster] | None = None
        # Protected rasters per (blur step, colour, stylised); the item opens at its own
        # starting step (see show_item).
        self._rasters: dict[tuple[int, bool, bool], Raster] = {}
        self._default_key = (DEFAULT_BLUR_STEP, False, False)
        self._revealed: Raster | None = None  # rendered on first reveal, kept for the item
        self._revealed_loading = False
        self._pending: Callable[[], None] | None = None  # a reveal waiting for its raster
        self._showing_revealed = False
        self._reveal_enabled = True
        self._spotlight_tool = False
        self.reveal_area = 0.0  # the unprotected fraction when last revealed
        self.zoom = 1.0
        self._pan = QPointF()
        self._serial = 0  # bumps per item, so a late render for another is dropped

        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.setAcceptDrops(False)
        # A resize (a window dragged larger) settles before the picture is rendered
        # again for the canvas's new size.
        self._refit = QTimer(self)
        self._refit.setSingleShot(True)
        self._refit.setInterval(150)
        self._refit.timeout.connect(self._fit_to_canvas)
        self.canvas = _Canvas(self)
        self.canvas.setAccessibleName("Protected picture")
        self.reveal_button = self._tool_button(self.toggle_reveal)
        self.spotlight_button = self._tool_button(self.toggle_spotlight_tool, checkable=True)
        self.less_blur_button = self._tool_button(lambda: self.step_blur(-1))
        self.more_blur_button = self._tool_button(lambda: self.step_blur(+1))
        self.colour_button = self._tool_button(self.toggle_colour, checkable=True)
        self.stylised_button = self._tool_button(self.toggle_stylised, checkable=True)
        self._hint = QLabel()
        self._hint.setObjectName("revealHint")
        self._hint.setWordWrap(True)
        # The tools wrap onto a second row where the view is narrow (a small screen,
        # a high scaling): never a clipped label.
        tools = QWidget()
        flow_policy(tools)
        bar = FlowLayout(tools)
        for button in (
            self.reveal_button,
            self.spotlight_button,
            self.less_blur_button,
            self.more_blur_button,
            self.colour_button,
            self.stylised_button,
        ):
            bar.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(tools)
        layout.addWidget(self._hint)

        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.setInterval(reprotect_after_ms)
        self._idle.timeout.connect(lambda: self._auto_protect())
        # Hold and toggle keys act once per physical press (see eventFilter); the
        # others may repeat while held (a blur step, the spotlight's size).
        self._toggles: dict[int, Callable[[], None]] = {
            _key(keymap.REVEAL): self.toggle_reveal,
            _key(keymap.SPOTLIGHT): self.toggle_spotlight_tool,
            _key(keymap.COLOUR): self.toggle_colour,
            _key(keymap.STYLISED): self.toggle_stylised,
        }
        self._down: dict[int, int] = {}  # keys physically held -> their press's timestamp
        self._released_at: dict[int, int] = {}  # toggle keys -> their last release's stamp
        self._hold_release = QTimer(self)
        self._hold_release.setSingleShot(True)
        self._hold_release.setInterval(KEY_RELEASE_GRACE_MS)
        self._hold_release.timeout.connect(self._hold_released)
        self._auto_protected_at: float | None = None
        for key, slot in (
            (keymap.SPOTLIGHT_SMALLER, lambda: self.adjust_spotlight(-0.02)),
            (keymap.SPOTLIGHT_LARGER, lambda: self.adjust_spotlight(+0.02)),
            (keymap.LESS_BLUR, lambda: self.step_blur(-1)),
            (keymap.MORE_BLUR, lambda: self.step_blur(+1)),
            (keymap.MORE_BLUR_ALT, lambda: self.step_blur(+1)),
            (keymap.ZOOM_RESET, self.reset_zoom),
        ):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(slot)
        app = QGuiApplication.instance()
        assert isinstance(app, QGuiApplication)
        app.applicationStateChanged.connect(self._application_state_changed)
        app.focusWindowChanged.connect(self._focus_window_changed)
        # The hold key is watched for press AND release, which shortcuts cannot do.
        app.installEventFilter(self)
        self.show_placeholder("Loading…")

    def _tool_button(self, slot: Callable[[], None], checkable: bool = False) -> QPushButton:
        button = QPushButton()
        # Keyboard focus stays on the canvas; the keys are window shortcuts anyway.
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.setCheckable(checkable)
        button.clicked.connect(lambda _checked=False: slot())
        return button

    # -- what is shown ------------------------------------------------------------------

    @property
    def revealed(self) -> bool:
        """True while any part of the unprotected picture is on screen."""
        return self._showing_revealed

    @property
    def can_reveal(self) -> bool:
        return self._reveal_enabled and self._data is not None

    @property
    def spotlight_tool(self) -> bool:
        return self._spotlight_tool

    def set_reveal_enabled(self, enabled: bool) -> None:
        """Allow or refuse reveals (refused while a decision is stored or review is
        locked)."""
        was_revealed = self._showing_revealed
        self._reveal_enabled = enabled
        self._pending = None
        self.reveal_state.set_enabled(enabled)
        # The picture changes only if this protects it (then at once); otherwise the
        # controls follow and the canvas is left alone (a synchronous repaint of a
        # large canvas is the costliest thing a decision does on the GUI thread).
        self._sync(repaint=was_revealed)

    def exposure(self) -> Exposure:
        """What the moderator has seen of the current item so far."""
        return self.reveal_state.exposure()

    def set_compact(self, compact: bool) -> None:
        """Let the canvas shrink to FRAME_MIN_HEIGHT (a video's frames under its sheet)."""
        self.canvas.setMinimumHeight(FRAME_MIN_HEIGHT if compact else CANVAS_MIN_HEIGHT)

    def render_box(self) -> tuple[int, int]:
        """The canvas size in device pixels: the size to render pictures for."""
        dpr = self.canvas.devicePixelRatioF()
        w, h = self.canvas.width(), self.canvas.height()
        laid_out = w >= 320 and h >= FRAME_MIN_HEIGHT  # before layout: a guess
        return (int(w * dpr), int(h * dpr)) if laid_out else DEFAULT_BOX

    def show_placeholder(self, text: str) -> None:
        """No item: a neutral message (loading, queue empty)."""
        self._begin_item((1, 1))
        self.canvas.show_message(text, framed=False)
        self._sync()

    def show_item(self, protected: Raster, data: bytes, blur_step: int = DEFAULT_BLUR_STEP) -> None:
        """A new item: its protected raster (rendered at `blur_step`, the item's starting
        protection) now, and its encoded bytes (memory only) to render a reveal from on
        demand."""
        if not protected.protected:
            raise ValueError("show_item needs the protected raster")
        self._begin_item((protected.source_width, protected.source_height), blur_step)
        self._data = data
        # The stylised view is a preference that carries over: render it for this item.
        self._default_key = (blur_step, False, False)
        self._rasters[self._default_key] = protected
        self._ensure_protected_raster()
        self.canvas.show_picture()  # repaints
        self._sync(repaint=False)

    def show_part(
        self, protected: Raster, data: bytes, reveal_job: Callable[[tuple[int, int]], Raster]
    ) -> None:
        """Another part of the SAME item (a video frame): protected now, revealed by
        `reveal_job` on the render pool. Unlike show_item the meter carries on, so the
        item's exposure counts every frame revealed."""
        if not protected.protected:
            raise ValueError("show_part needs the protected raster")
        self.protect()
        self._pending = None
        self._serial += 1
        self._data, self._revealed, self._revealed_loading = data, None, False
        self._rasters = {self._default_key: protected}
        self._reveal_job = reveal_job
        self.canvas.show_picture()
        self._sync()

    def show_unreadable(self, reason: str) -> None:
        """A new item whose file cannot be shown: say so, and offer no reveal."""
        self._begin_item((1, 1))
        self.canvas.show_message(
            f"This file cannot be displayed: {reason}.\n\nGrade it Not assessable.", framed=True
        )
        self._sync()

    def _begin_item(self, size: tuple[int, int], blur_step: int = DEFAULT_BLUR_STEP) -> None:
        # Protect (closing the old item's meter) before anything of the new one exists.
        self._pending = None
        self.reveal_state.item_changed(RevealMeter(self._clock), size, blur_step)
        self._sync(repaint=False)
        self._serial += 1
        self._data = self._revealed = None
        self._reveal_job = None
        self._rasters = {}
        self._default_key = (self.reveal_state.blur_step, False, False)
        self._revealed_loading = False
        self.zoom, self._pan = 1.0, QPointF()
        if not self._reveal_enabled:
            self.reveal_state.set_enabled(False)

    # -- rasters for the painter --------------------------------------------------------

    def _base_raster(self) -> Raster | None:
        """The protected raster at the chosen blur and colour, or (while that one is
        rendered) the default one."""
        state = self.reveal_state
        key = (state.blur_step, state.colour and not state.stylised, state.stylised)
        return self._rasters.get(key) or self._rasters.get(self._default_key)

    def _whole_raster(self) -> Raster | None:
        if self.reveal_state.mode in (RevealMode.HOLD, RevealMode.TOGGLED) and self._revealed:
            return self._revealed
        return self._base_raster()

    def _spotlight_raster(self) -> Raster | None:
        if self.reveal_state.mode is RevealMode.SPOTLIGHT:
            return self._revealed
        return None

    # -- reveal -------------------------------------------------------------------------

    def toggle_reveal(self) -> None:
        """The whole picture on, or everything protected again."""
        if self.reveal_state.mode is RevealMode.TOGGLED or self._pending is not None:
            self.protect()
        elif self._just_auto_protected():
            # Meant to protect what had just protected itself: stay protected.
            self._hint.setText(
                f"Re-protected automatically. Press {keymap.REVEAL} again to reveal."
            )
        else:
            self._with_revealed(self.reveal_state.toggle)

    def _just_auto_protected(self) -> bool:
        at, self._auto_protected_at = self._auto_protected_at, None
        return at is not None and self._clock.monotonic() - at < AFTER_AUTO_PROTECT_S

    def reveal(self) -> None:
        """Show the whole unprotected picture (rendered off-thread on first use)."""
        if self.reveal_state.mode is not RevealMode.TOGGLED:
            self._with_revealed(self.reveal_state.toggle)

    def hold_start(self) -> None:
        """The hold key or right button went down: the whole picture until released."""
        self._with_revealed(self.reveal_state.hold_start)

    def hold_end(self) -> None:
        if self._pending is not None:
            self._pending = None
        self.reveal_state.hold_end()
        self._sync()

    def toggle_spotlight_tool(self) -> None:
        """The spotlight follows the cursor over the picture while this tool is on."""
        self._spotlight_tool = not self._spotlight_tool
        if not self._spotlight_tool:
            self._pending = None
            self.reveal_state.spotlight_off()
        self._sync()

    def spotlight_at(self, x: float, y: float) -> None:
        """Spotlight centred at (x, y), fractions of the picture."""
        self._with_revealed(lambda: self.reveal_state.spotlight_at(x, y))

    def adjust_spotlight(self, delta: float) -> None:
        self.reveal_state.adjust_spotlight_radius(delta)
        self._sync()

    def step_blur(self, delta: int) -> None:
        """More or less blur, between step 1 and 4 (unblurred is a reveal: use one)."""
        step = min(BLUR_STEPS, max(1, self.reveal_state.blur_step + delta))
        self.reveal_state.set_blur_step(step)
        self._ensure_protected_raster()
        self._sync()

    def toggle_stylised(self) -> None:
        """Flat tones instead of the blur, or back (metered, like a blur step)."""
        self.reveal_state.set_stylised(not self.reveal_state.stylised)
        self._ensure_protected_raster()
        self._sync()

    def toggle_colour(self) -> None:
        if self.can_reveal or self.reveal_state.colour:
            self.reveal_state.set_colour(not self.reveal_state.colour)
            self._ensure_protected_raster()
        self._sync()

    def zoom_by(self, factor: float, at: QPointF | None = None) -> None:
        """Zoom the picture (protected or not) keeping the point under `at` still."""
        new = min(8.0, max(1.0, self.zoom * factor))
        rect = self.canvas.picture_rect()
        if rect.isEmpty():
            return
        at = at if at is not None else rect.center()
        scale = new / self.zoom
        centre = rect.center()
        new_centre = at + (centre - at) * scale
        self.zoom = new
        self._pan = self._clamped_pan(new_centre - self.canvas.fitted_rect().center())
        self.reveal_state.interaction()
        self._sync()

    def reset_zoom(self) -> None:
        self.zoom, self._pan = 1.0, QPointF()
        self._sync()

    def scroll_by(self, pixels: float) -> None:
        """Move along a picture larger than the canvas (a long strip, or zoomed in):
        down a tall one, right a wide one. The picture never leaves the canvas edge."""
        rect = self.canvas.picture_rect()
        if rect.isEmpty():
            return
        wide = rect.width() - self.canvas.width() > rect.height() - self.canvas.height()
        step = QPointF(-pixels, 0.0) if wide else QPointF(0.0, -pixels)
        self._pan = self._clamped_pan(self._pan + step)
        self.reveal_state.interaction()
        self._sync()

    def _clamped_pan(self, pan: QPointF) -> QPointF:
        """`pan` limited so that the picture covers the canvas wherever it is larger."""
        fitted = self.canvas.fitted_rect()
        w, h = fitted.width() * self.zoom, fitted.height() * self.zoom
        cw, ch = self.canvas.width(), self.canvas.height()

        def along(offset: float, centre: float, size: float, room: float) -> float:
            if size <= room:
                return 0.0  # smaller than the canvas: stays centred
            lo = room - size / 2 - centre  # far edge on the canvas's far edge
            hi = size / 2 - centre  # near edge on the canvas's near edge
            return min(hi, max(lo, offset))

        c = fitted.center()
        return QPointF(along(pan.x(), c.x(), w, cw), along(pan.y(), c.y(), h, ch))

    def protect(self) -> None:
        """Everything protected again (the moderator's own choice); closes the meter."""
        was_revealed = self._showing_revealed
        self._pending = None
        self.reveal_state.protect()
        self._sync(repaint=was_revealed)  # already protected: nothing to paint again

    def _auto_protect(self) -> None:
        """Idle, focus lost, minimised, hidden: protect without counting it as input."""
        if self._showing_revealed:
            self._auto_protected_at = self._clock.monotonic()
        self._pending = None
        self.reveal_state.focus_lost()
        self._sync()
        self._forget_keys()  # their releases may go to another window

    def _with_revealed(self, action: Callable[[], None]) -> None:
        """Run a reveal `action` once the unprotected raster exists (render it first)."""
        if not self.can_reveal:
            return
        if self._revealed is not None:
            action()
            self._sync()
            return
        self._pending = action
        self._sync()
        if self._revealed_loading:
            return
        self._revealed_loading = True
        serial = self._serial
        job = self._reveal_job
        self._tasks.render.submit(
            *((job,) if job is not None else (revealed_raster, self._data)),
            self.render_box(),
            on_done=lambda raster: self._revealed_ready(serial, raster),
            on_error=lambda exc: self._render_failed(serial, exc),
        )

    def _revealed_ready(self, serial: int, raster: Raster) -> None:
        if serial != self._serial:
            return
        self._revealed_loading = False
        self._revealed = raster
        pending, self._pending = self._pending, None
        if pending is not None and self.can_reveal:
            pending()
        self._sync()

    def _ensure_protected_raster(self) -> None:
        state = self.reveal_state
        key = (state.blur_step, state.colour and not state.stylised, state.stylised)
        # A video frame keeps the sheet's protection level: its bytes are the whole video,
        # which the picture renderer cannot step through.
        if self._data is None or key in self._rasters or self._reveal_job is not None:
            return
        serial = self._serial
        self._tasks.render.submit(
            protected_raster,
            self._data,
            self.render_box(),
            key[0],
            key[1],
            key[2],
            on_done=lambda raster: self._protected_ready(serial, key, raster),
            on_error=lambda exc: self._render_failed(serial, exc),
        )

    def _fit_to_canvas(self) -> None:
        """The canvas changed size: render the protected picture again for it (off the
        GUI thread), so that it is painted as it is rather than scaled. Until then the
        raster on screen is painted scaled. A video frame keeps its raster (its bytes
        are the whole video; the next frame chosen is rendered for the new size)."""
        raster = self._base_raster()
        if raster is None or self._data is None or self._reveal_job is not None:
            return
        box = self.render_box()
        shown = display_size((raster.source_width, raster.source_height), box)
        if (raster.image.width(), raster.image.height()) == shown:
            return
        if not self._showing_revealed:
            self._revealed = None  # the next reveal is rendered for the new size too
        state = self.reveal_state
        key = (state.blur_step, state.colour and not state.stylised, state.stylised)
        serial = self._serial
        self._tasks.render.submit(
            protected_raster,
            self._data,
            box,
            key[0],
            key[1],
            key[2],
            on_done=lambda fitted: self._fitted(serial, key, fitted),
            on_error=lambda exc: self._render_failed(serial, exc),
        )

    def _fitted(self, serial: int, key: tuple[int, bool, bool], raster: Raster) -> None:
        if serial != self._serial:
            return
        # Rasters of another size are dropped; the view now on screen is rendered again
        # if it changed meanwhile (a blur step while this one was rendered).
        size = raster.image.size()
        self._rasters = {k: r for k, r in self._rasters.items() if r.image.size() == size}
        self._rasters[key] = raster
        self._default_key = key
        self._ensure_protected_raster()
        self._sync()

    def _protected_ready(self, serial: int, key: tuple[int, bool, bool], raster: Raster) -> None:
        if serial == self._serial:
            self._rasters[key] = raster
            self._sync()

    def _render_failed(self, serial: int, exc: Exception) -> None:
        if serial == self._serial:
            self._pending = None
            self._revealed_loading = False
            self._hint.setText(f"Could not render: {exc}")

    def _pointer_moved(self, pos: QPointF) -> None:
        if not self._spotlight_tool:
            return
        at = self.canvas.fraction_at(pos)
        if at is None:
            return
        x, y = at
        if -0.2 <= x <= 1.2 and -0.2 <= y <= 1.2:
            self.spotlight_at(x, y)
        else:
            self._pointer_left()

    def _pointer_left(self) -> None:
        if self.reveal_state.mode is RevealMode.SPOTLIGHT or self._pending is not None:
            self._pending = None
            self.reveal_state.spotlight_off()
            self._sync()

    # -- keeping the screen in step with the model --------------------------------------

    def _sync(self, repaint: bool = True) -> None:
        """Announce a change of protected/unprotected, arm the idle re-protect, repaint."""
        state = self.reveal_state
        unprotected = state.is_unprotected()
        changed = unprotected != self._showing_revealed
        self._showing_revealed = unprotected
        if unprotected and state.mode is not RevealMode.HOLD:
            self._idle.start()
        else:
            self._idle.stop()
        if changed and unprotected:
            self.reveal_area = state.area_fraction()
        if repaint:
            self.canvas.repaint()
        self._update_controls()
        if changed:
            self.reveal_changed.emit(unprotected)

    def _update_controls(self) -> None:
        state = self.reveal_state
        whole = state.mode in (RevealMode.TOGGLED, RevealMode.HOLD)
        self.reveal_button.setText(f"{'Protect' if whole else 'Reveal'}  ({keymap.REVEAL})")
        self.reveal_button.setEnabled(self.can_reveal)
        self.spotlight_button.setText(f"Spotlight ({keymap.SPOTLIGHT})")
        self.spotlight_button.setChecked(self._spotlight_tool)
        self.spotlight_button.setEnabled(self.can_reveal)
        self.less_blur_button.setText(f"Blur − ({keymap.LESS_BLUR})")
        self.more_blur_button.setText(f"Blur + ({keymap.MORE_BLUR})")
        self.colour_button.setText(f"Colour ({keymap.COLOUR})")
        self.colour_button.setChecked(state.colour)
        self.stylised_button.setText(f"Flat tones ({keymap.STYLISED})")
        self.stylised_button.setChecked(state.stylised)
        for button in (
            self.less_blur_button,
            self.more_blur_button,
            self.colour_button,
            self.stylised_button,
        ):
            button.setEnabled(self._data is not None)
        if self.canvas.message:
            self._hint.setText("Nothing to reveal." if self._data is None else "")
            return
        tone = "flat tones" if state.stylised else "colour" if state.colour else "greyscale"
        looks = f"blur {state.blur_step}/{BLUR_STEPS}, {tone}"
        if self.zoom > 1.0:
            looks += f", zoom {self.zoom:.0%}"
        seconds = self._idle.interval() / 1000
        if self._pending is not None:
            text = "Revealing…"
        elif state.mode is RevealMode.SPOTLIGHT:
            text = (
                f"SPOTLIGHT: {state.area_fraction():.0%} of the picture unprotected, counted"
                f" as exposure. Re-protects after {seconds:g} s idle."
            )
        elif whole:
            text = "REVEALED: counted as exposure."
            if state.mode is RevealMode.TOGGLED:
                text += f" Re-protects after {seconds:g} s idle."
        elif self._spotlight_tool:
            text = f"Protected ({looks}). Spotlight on: move over the picture."
        else:
            text = f"Protected ({looks})."
        self._hint.setText(text)

    # -- automatic re-protection --------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not (isinstance(watched, QWidget) and watched.window() is self.window()):
            return False
        if not self.isVisible():
            return False  # a pause or lock screen is up: its keys are its own
        kind = event.type()
        focus = QApplication.focusWidget()
        if (
            kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease)
            and isinstance(event, QKeyEvent)
            and (event.key() == HOLD_KEY or event.key() in self._toggles)
            and _plain(event)
            and not _typing_into(focus)
        ):
            # Each key event reaches the filter once per widget it visits; act on the
            # one addressed to the focus widget, and swallow it so nothing else sees it.
            if watched is focus:
                self._physical_key(event, pressed=kind == QEvent.Type.KeyPress)
            return watched is focus
        if self._showing_revealed:
            if kind in _INTERACTION:
                self.reveal_state.interaction()
                if self.reveal_state.mode is not RevealMode.HOLD:
                    self._idle.start()
            elif kind == QEvent.Type.WindowStateChange and watched.isMinimized():
                self._auto_protect()
        return False

    def _physical_key(self, event: QKeyEvent, pressed: bool) -> None:
        """Follow the physical key: its first press acts and auto-repeats do nothing.

        X auto-repeat sends release/press pairs, not always flagged as repeats; a pair's
        two events carry the same timestamp. A toggle ignores a press stamped like the
        release before it. H's release ends the hold only once no press has followed
        within KEY_RELEASE_GRACE_MS, so a held H never flickers."""
        key = event.key()
        stamp = event.timestamp()
        if not pressed:
            if event.isAutoRepeat() or key not in self._down:
                return
            if key == HOLD_KEY:
                self._hold_release.start()
            else:
                del self._down[key]
                self._released_at[key] = stamp
            return
        if key == HOLD_KEY and self._hold_release.isActive():
            self._hold_release.stop()  # the release was half of a repeat pair
            return
        paired = stamp != 0 and self._released_at.get(key) == stamp  # 0: no time known
        if event.isAutoRepeat() or key in self._down or paired:
            self._down[key] = stamp
            return
        self._down[key] = stamp
        if key == HOLD_KEY:
            self.hold_start()
        else:
            self._toggles[key]()

    def _hold_released(self) -> None:
        if self._down.pop(HOLD_KEY, None) is not None:
            self.hold_end()

    def _forget_keys(self) -> None:
        """Releases may now go to another window: every key counts as up."""
        self._hold_release.stop()
        self._down.clear()
        self._released_at.clear()

    def _application_state_changed(self, state: Qt.ApplicationState) -> None:
        if state != Qt.ApplicationState.ApplicationActive:
            self._auto_protect()

    def _focus_window_changed(self, window: QWindow | None) -> None:
        if window is None or window is not self.window().windowHandle():
            self._auto_protect()

    def hideEvent(self, event: QHideEvent) -> None:
        self._auto_protect()
        super().hideEvent(event)


HOLD_KEY: Final = Qt.Key.Key_H


def _key(sequence: str) -> int:
    """The Qt key code of a one-key shortcut from ui.keymap ("Space" -> Key_Space)."""
    # PySide6's stubs lack QKeySequence.__getitem__, which the binding has.
    combination = QKeySequence(sequence)[0]  # type: ignore[index]
    code: int = combination.key().value
    return code


def _plain(event: QKeyEvent) -> bool:
    """No Ctrl, Alt or Meta held (Shift and the keypad are fine)."""
    mods = event.modifiers() & ~(
        Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier
    )
    return mods == Qt.KeyboardModifier.NoModifier


def _typing_into(widget: QWidget | None) -> bool:
    return isinstance(widget, QLineEdit | QTextEdit | QPlainTextEdit | QAbstractSpinBox)
