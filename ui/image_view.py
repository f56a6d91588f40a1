"""The picture under review: protected from the first pixel painted.

Before anything is loaded the canvas paints neutral grey; an item's picture is painted
from its protected raster (greyscale, tiny, smoothly scaled up so it reads as a blur).
The unprotected picture appears only while the moderator holds a metered reveal, and
goes away again on its own: after a spell without interaction, when the window loses
focus or is minimised, and on every move to another item.

Nothing here decodes an image: rasters arrive already decoded from the render pool,
and this module only wraps their bytes in QImage and paints them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QEvent, QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QHideEvent,
    QImage,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QShortcut,
    QWindow,
)
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from reviewer.model import Exposure
from ui import keymap
from ui.tasks import Tasks
from wellbeing.clock import Clock
from wellbeing.exposure import RevealMeter
from wellbeing.render import Rendered, fit, render_protected, render_revealed

REPROTECT_AFTER_MS: Final = 10_000
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
    """Wrap rendered bytes in a QImage (allowed on any thread, unlike QPixmap)."""
    if rendered.mode == "L":
        fmt, depth = QImage.Format.Format_Grayscale8, 1
    else:
        fmt, depth = QImage.Format.Format_RGB888, 3
    image = QImage(rendered.data, rendered.width, rendered.height, rendered.width * depth, fmt)
    # copy(): QImage would otherwise borrow the bytes object's buffer.
    return Raster(image.copy(), rendered.source_width, rendered.source_height, rendered.protected)


def protected_raster(data: bytes, box: tuple[int, int]) -> Raster:
    """Render pool job: the greyscale, blurred raster. Raises MediaUnreadable.

    The tiny raster is enlarged here in smooth doubling steps towards its display size:
    one 8x bilinear stretch at paint time would leave a visible grid of tiles, while
    repeated doubling reads as an even blur. It stays greyscale throughout.
    """
    raster = raster_from(render_protected(data, box))
    display_w, _ = fit((raster.source_width, raster.source_height), box)
    image = raster.image
    while image.width() * 2 <= display_w:
        image = image.scaled(
            image.width() * 2,
            image.height() * 2,
            Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    return Raster(image, raster.source_width, raster.source_height, raster.protected)


def revealed_raster(data: bytes, box: tuple[int, int]) -> Raster:
    """Render pool job: the unprotected colour raster, for a metered reveal only."""
    return raster_from(render_revealed(data, box))


class _Canvas(QWidget):
    """Paints the backdrop, then a raster or a message; nothing else, nothing more."""

    def __init__(self, view: ProtectedImageView) -> None:
        super().__init__(view)
        self._view = view
        self._raster: Raster | None = None
        self._message = ""
        self._framed = False
        # Every pixel is painted by paintEvent, so Qt never shows stale content first.
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.setAcceptDrops(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)

    def show_raster(self, raster: Raster) -> None:
        self._raster, self._message = raster, ""
        # repaint, not update: a protect must not wait for the next event-loop turn.
        self.repaint()

    def show_message(self, text: str, framed: bool) -> None:
        self._raster, self._message, self._framed = None, text, framed
        self.repaint()

    @property
    def painted_raster(self) -> Raster | None:
        return self._raster

    @property
    def message(self) -> str:
        """The placeholder text on screen ('' while a picture is painted)."""
        return self._message

    def picture_rect(self) -> QRectF:
        """Where the picture goes: fitted and centred, never enlarged past its source."""
        raster = self._raster
        if raster is None:
            return QRectF()
        dpr = self.devicePixelRatioF()
        sw, sh = raster.source_width, raster.source_height
        scale = min(self.width() * dpr / sw, self.height() * dpr / sh, 1.0)
        w, h = sw * scale / dpr, sh * scale / dpr
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKDROP)
        if self._raster is not None:
            # Smooth upscaling of the tiny protected raster is part of its blur.
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(self.picture_rect(), self._raster.image)
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

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._view.toggle_reveal()


class ProtectedImageView(QWidget):
    """The canvas, a reveal button and a line saying what is on screen."""

    # revealed: True once the unprotected picture is on screen, False once it is
    # protected again. Emitted only on a change, so each is one audit event.
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
        self._meter = RevealMeter(clock)
        self._data: bytes | None = None
        self._protected: Raster | None = None
        self._revealed: Raster | None = None  # rendered on first reveal, kept for the item
        self._showing_revealed = False
        self._reveal_wanted = False
        self._reveal_enabled = True
        self._serial = 0  # bumps per item, so a late reveal render for another is dropped
        # Renders the revealed raster for a box, when the picture is not `_data` itself
        # (one frame of a video); None: revealed_raster(_data).
        self._reveal_job: Callable[[tuple[int, int]], Raster] | None = None

        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.setAcceptDrops(False)
        self.canvas = _Canvas(self)
        self.reveal_button = QPushButton()
        # Keyboard focus stays on the canvas; Space is a window shortcut anyway.
        self.reveal_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.reveal_button.clicked.connect(self.toggle_reveal)
        self._hint = QLabel()
        self._hint.setObjectName("revealHint")
        bar = QHBoxLayout()
        bar.addWidget(self.reveal_button)
        bar.addWidget(self._hint, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(bar)

        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.setInterval(reprotect_after_ms)
        self._idle.timeout.connect(self.protect)
        shortcut = QShortcut(QKeySequence(keymap.REVEAL), self)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(self.toggle_reveal)
        app = QGuiApplication.instance()
        assert isinstance(app, QGuiApplication)
        app.applicationStateChanged.connect(self._application_state_changed)
        app.focusWindowChanged.connect(self._focus_window_changed)
        self.show_placeholder("Loading…")

    # -- what is shown ------------------------------------------------------------------

    @property
    def revealed(self) -> bool:
        """True while the unprotected picture is on screen."""
        return self._showing_revealed

    @property
    def can_reveal(self) -> bool:
        return self._reveal_enabled and self._data is not None

    def set_reveal_enabled(self, enabled: bool) -> None:
        """Allow or refuse reveals (refused while the item's decision is being stored)."""
        self._reveal_enabled = enabled
        if not enabled:
            self.protect()
        self.reveal_button.setEnabled(self.can_reveal)

    def exposure(self) -> Exposure:
        """What the moderator has seen of the current item so far."""
        return self._meter.snapshot()

    def render_box(self) -> tuple[int, int]:
        """The canvas size in device pixels: the size to render pictures for."""
        dpr = self.canvas.devicePixelRatioF()
        w, h = int(self.canvas.width() * dpr), int(self.canvas.height() * dpr)
        return (w, h) if w >= 320 and h >= 240 else DEFAULT_BOX

    def show_placeholder(self, text: str) -> None:
        """No item: a neutral message (loading, queue empty)."""
        self._begin_item()
        self.canvas.show_message(text, framed=False)
        self._update_controls("")

    def show_item(self, protected: Raster, data: bytes) -> None:
        """A new item: its protected raster now, and its encoded bytes (memory only)
        to render a reveal from on demand."""
        if not protected.protected:
            raise ValueError("show_item needs the protected raster")
        self._begin_item()
        self._protected, self._data = protected, data
        self.canvas.show_raster(protected)
        self._update_controls("Protected: greyscale and blurred.")

    def show_part(
        self, protected: Raster, data: bytes, reveal_job: Callable[[tuple[int, int]], Raster]
    ) -> None:
        """Another part of the SAME item (a video frame): protected now, revealed by
        `reveal_job` on the render pool. Unlike show_item the meter carries on, so the
        item's exposure counts every frame revealed."""
        if not protected.protected:
            raise ValueError("show_part needs the protected raster")
        self.protect()
        self._serial += 1
        self._protected, self._data, self._revealed = protected, data, None
        self._reveal_job = reveal_job
        self.canvas.show_raster(protected)
        self._update_controls("Protected: greyscale and blurred.")

    def show_unreadable(self, reason: str) -> None:
        """A new item whose file cannot be shown: say so, and offer no reveal."""
        self._begin_item()
        self.canvas.show_message(
            f"This file cannot be displayed: {reason}.\n\nGrade it Not assessable.", framed=True
        )
        self._update_controls("Nothing to reveal.")

    def _begin_item(self) -> None:
        self.protect()
        self._serial += 1
        self._meter = RevealMeter(self._clock)
        self._data = self._protected = self._revealed = None
        self._reveal_job = None

    # -- reveal -------------------------------------------------------------------------

    def toggle_reveal(self) -> None:
        if self._showing_revealed or self._reveal_wanted:
            self.protect()
        else:
            self.reveal()

    def reveal(self) -> None:
        """Show the unprotected picture (rendered off-thread on first use)."""
        data = self._data
        if data is None or not self._reveal_enabled or self._showing_revealed:
            return
        if self._revealed is not None:
            self._show_revealed()
            return
        self._reveal_wanted = True
        self._update_controls("Revealing…")
        serial = self._serial
        job = self._reveal_job
        self._tasks.render.submit(
            *((job,) if job is not None else (revealed_raster, data)),
            self.render_box(),
            on_done=lambda raster: self._revealed_ready(serial, raster),
            on_error=lambda exc: self._reveal_failed(serial, exc),
        )

    def protect(self) -> None:
        """Back to the protected picture; closes the metered reveal."""
        if not self._showing_revealed:
            if self._reveal_wanted:  # asked for, not yet painted: just cancel it
                self._reveal_wanted = False
                self._update_controls("Protected: greyscale and blurred.")
            return
        self._showing_revealed = False
        self._meter.protect()
        self._idle.stop()
        app = QGuiApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        if self._protected is not None:
            self.canvas.show_raster(self._protected)
        self._update_controls("Protected again.")
        self.reveal_changed.emit(False)

    def _revealed_ready(self, serial: int, raster: Raster) -> None:
        if serial != self._serial:
            return
        self._revealed = raster
        if self._reveal_wanted:
            self._show_revealed()

    def _reveal_failed(self, serial: int, exc: Exception) -> None:
        if serial == self._serial:
            self._reveal_wanted = False
            self._update_controls(f"Could not reveal: {exc}")

    def _show_revealed(self) -> None:
        assert self._revealed is not None
        self._reveal_wanted = False
        self._showing_revealed = True
        self.canvas.show_raster(self._revealed)
        self._meter.reveal(1.0)
        self._idle.start()
        app = QGuiApplication.instance()
        assert app is not None
        app.installEventFilter(self)
        seconds = self._idle.interval() / 1000
        self._update_controls(
            f"REVEALED: counted as exposure. Re-protects after {seconds:g} s idle."
        )
        self.reveal_changed.emit(True)

    def _update_controls(self, hint: str) -> None:
        showing = self._showing_revealed or self._reveal_wanted
        self.reveal_button.setText(f"{'Protect' if showing else 'Reveal'}  ({keymap.REVEAL})")
        self.reveal_button.setEnabled(self.can_reveal)
        self._hint.setText(hint)

    # -- automatic re-protection --------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Installed on the application only while revealed.
        if isinstance(watched, QWidget) and watched.window() is self.window():
            if event.type() in _INTERACTION:
                self._idle.start()
            elif event.type() == QEvent.Type.WindowStateChange and watched.isMinimized():
                self.protect()
        return False

    def _application_state_changed(self, state: Qt.ApplicationState) -> None:
        if state != Qt.ApplicationState.ApplicationActive:
            self.protect()

    def _focus_window_changed(self, window: QWindow | None) -> None:
        if window is None or window is not self.window().windowHandle():
            self.protect()

    def hideEvent(self, event: QHideEvent) -> None:
        self.protect()
        super().hideEvent(event)
