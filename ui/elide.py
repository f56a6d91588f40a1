"""Text that may not fit where it is shown: elided ("…") to the room it has, the whole
text in its tooltip. A group box's title cannot wrap and, whole, sets the box's minimum
width, so a long one either clips or pushes its window wider than a laptop screen."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QFontMetrics, QResizeEvent
from PySide6.QtWidgets import QGroupBox, QLabel, QSizePolicy, QWidget

# Room a group box's frame takes beside its title (ui.theme: title 8 px in, 4 px padding
# each side; the frame's corner on the right).
_TITLE_MARGIN = 28


class TitleElider(QObject):
    """Keeps a QGroupBox's title elided to the box's width; set titles through
    `set_title` (QGroupBox.title() is what is shown, perhaps elided)."""

    def __init__(self, box: QGroupBox) -> None:
        super().__init__(box)
        self._box = box
        self._full = box.title()
        box.installEventFilter(self)
        self._apply()

    @property
    def full(self) -> str:
        return self._full

    def set_title(self, title: str) -> None:
        self._full = title
        self._apply()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.Resize, QEvent.Type.FontChange, QEvent.Type.Show):
            self._apply()
        return False

    def _apply(self) -> None:
        box = self._box
        room = max(box.width() - _TITLE_MARGIN, 0)
        shown = box.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, room)
        if box.title() != shown:
            box.setTitle(shown)
        box.setToolTip(self._full if shown != self._full else "")
        # QGroupBox's minimum width includes its title as shown, which would hold the
        # box at its widest so far; its contents' minimum is what it needs.
        layout = box.layout()
        margins = box.contentsMargins()
        needed = layout.totalMinimumSize().width() if layout is not None else 0
        box.setMinimumWidth(max(needed + margins.left() + margins.right(), 1))


def elide_title(box: QGroupBox) -> TitleElider:
    """Make `box`'s title elide to its width, whole in the tooltip."""
    return TitleElider(box)


class ElidedLabel(QLabel):
    """A one-line label that elides its text to its width, the whole text in its
    tooltip when elided. `text()` is what is shown; `full_text()` the whole."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def full_text(self) -> str:
        return self._full

    def setText(self, text: str) -> None:
        self._full = text
        self._elide()

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        hint.setWidth(min(hint.width(), QFontMetrics(self.font()).horizontalAdvance("Mm…")))
        return hint

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = self.contentsRect().width()
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, room)
        super().setText(shown)
        self.setToolTip(self._full if shown != self._full else "")
