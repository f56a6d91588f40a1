"""Helpers for the UI tests: pressing keys as a moderator does, reading painted pixels."""

from __future__ import annotations

import gc
import re
from collections.abc import Callable

import numpy as np
import shiboken6
from PySide6.QtCharts import QChartView
from PySide6.QtCore import QEvent, QRect, Qt
from PySide6.QtGui import QFontMetrics, QImage, QKeySequence, QTextDocument
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QGroupBox,
    QLabel,
    QPushButton,
    QRadioButton,
    QStyle,
    QTableView,
    QWidget,
)
from pytestqt.qtbot import QtBot

from ui.main_window import MainWindow
from ui.screen_fit import fitted_rect

MODERATOR = "moderator-1"
ADMIN = "Ada Admin"
ADMIN_PASSWORD = "ada's admin password"

# make_window(timings=None, start=True, review_service=None, lock=None) -> MainWindow
WindowFactory = Callable[..., MainWindow]


def delete_windows_left_to_the_collector() -> list[str]:
    """The class names of windows (parentless widgets) whose Qt objects were still alive
    when only Python's cyclic garbage collector could free them; each is then deleted
    the Qt way, so that the tests after it still run.

    The collector frees such a window wrapper by wrapper in its own order, not Qt's, and
    PySide6 can then delete a layout whose items Qt deletes again: a segfault in
    ~QFormLayout, seen when a failed test's sign-in dialog was collected. A window is
    to be deleted (deleteLater) when it is done with, or freed by its last reference."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return []  # this process never made a widget (the test drove the app in another)
    # What was already asked to be deleted goes first, in Qt's order.
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
    finally:
        gc.set_debug(0)
    live = [
        w
        for w in gc.garbage
        if isinstance(w, QWidget) and shiboken6.isValid(w) and w.parent() is None
    ]
    names = sorted(type(w).__name__ for w in live)
    for w in live:
        w.deleteLater()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    del live
    gc.garbage.clear()
    gc.collect()
    return names


def press(qtbot: QtBot, keys: str) -> None:
    """Press space-separated key combinations ("A", "Ctrl+Return") on whatever widget
    has keyboard focus, as a moderator would."""
    for token in keys.split():
        combo = QKeySequence(token)[0]
        target = QApplication.focusWidget() or QApplication.activeWindow()
        assert target is not None, "no window has keyboard focus"
        qtbot.keyClick(target, combo.key(), combo.keyboardModifiers())


def pixels(widget: QWidget) -> np.ndarray:
    """What the widget paints, as an (h, w, 3) uint8 RGB array."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    flat = np.frombuffer(image.constBits(), np.uint8, count=h * stride)
    return flat.reshape(h, stride)[:, : w * 3].reshape(h, w, 3).copy()


def laplacian_energy(rgb: np.ndarray) -> float:
    """Mean |Laplacian| of the luminance: how much fine detail an image has."""
    grey = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    lap = 4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:]
    return float(np.abs(lap).mean())


def clipped_texts(root: QWidget) -> list[str]:
    """Text shown in `root` that does not fit where it is drawn and has no tooltip
    carrying it whole: labels, buttons, check boxes, radio buttons, group box titles,
    and the cells and headers of table views. Empty when nothing is clipped.

    A word-wrapped label is clipped when it needs more height than it has (or one word
    is wider than the label); any other text when it is wider than its room."""
    out: list[str] = []

    def report(w: QWidget, text: str, tip: str) -> None:
        plain = _plain(text)
        if plain and _plain(tip).replace("\n", " ").find(plain.replace("\n", " ")) < 0:
            out.append(f"{type(w).__name__} {w.objectName() or ''}: {plain[:80]!r}")

    for w in [root, *root.findChildren(QWidget)]:
        if not w.isVisibleTo(root) or w.width() <= 0:
            continue
        fm = w.fontMetrics()
        if isinstance(w, QLabel):
            text = _plain(w.text())
            if not text or (w.pixmap() is not None and not w.pixmap().isNull()):
                continue
            room = w.contentsRect()
            if w.wordWrap():
                widest = max(
                    (fm.horizontalAdvance(word) for word in re.split(r"[\s\u200b]+", text)),
                    default=0,
                )
                too_big = widest > room.width() or (
                    w.hasHeightForWidth() and w.heightForWidth(w.width()) > w.height() + 1
                )
            else:
                too_big = any(
                    fm.horizontalAdvance(line) > room.width() + 1 for line in text.splitlines()
                )
            if too_big:
                report(w, w.text(), w.toolTip())
        elif isinstance(w, (QPushButton, QCheckBox, QRadioButton)):
            if w.text() and w.sizeHint().width() > w.width() + 1:
                report(w, w.text().replace("&", ""), w.toolTip())
        elif isinstance(w, QGroupBox):
            # The title sits between the frame's corners; leave them some room.
            if w.title() and fm.horizontalAdvance(w.title()) + 16 > w.width():
                report(w, w.title(), w.toolTip())
        elif isinstance(w, QTableView):
            out += _clipped_cells(w)
        elif isinstance(w, QChartView):
            out += _clipped_legend(w)
    return out


def _clipped_cells(view: QTableView) -> list[str]:
    model, header, out = view.model(), view.horizontalHeader(), []
    fm = view.fontMetrics()
    if header.length() > view.viewport().width() + 1:
        out.append(
            f"columns beyond the view: {header.length()} px in {view.viewport().width()}"
            f" {[header.sectionSize(c) for c in range(header.count())]}"
        )
    margin = 2 * (view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 1)
    for c in range(model.columnCount()):
        if view.isColumnHidden(c):
            continue
        width = view.columnWidth(c)
        title = str(model.headerData(c, Qt.Orientation.Horizontal) or "")
        tip = str(model.headerData(c, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole) or "")
        wide = header.isVisible() and header.sectionSizeFromContents(c).width() > width + 1
        if wide and title not in tip:
            out.append(f"header {title!r} ({width} px)")
        for r in range(model.rowCount()):
            index = model.index(r, c)
            text = str(index.data() or "")
            tip = str(index.data(Qt.ItemDataRole.ToolTipRole) or "")
            if text and fm.horizontalAdvance(text) + margin > width and text not in tip:
                out.append(f"cell {title!r} row {r}: {text!r} ({width} px)")
    return out


def _clipped_legend(view: QChartView) -> list[str]:
    """A chart's legend in one row: its labels (each after a marker and some spacing)
    must fit the legend's width unless the legend shows truncated ones as tooltips."""
    legend = view.chart().legend()
    if not legend.isVisible() or legend.showToolTips():
        return []
    fm = QFontMetrics(legend.font())
    labels = [m.label() for m in legend.markers() if m.isVisible()]
    needed = sum(fm.horizontalAdvance(t) + fm.height() + 16 for t in labels)
    if needed > legend.geometry().width():
        return [f"legend {labels!r} ({needed:.0f} px in {legend.geometry().width():.0f})"]
    return []


def _plain(text: str) -> str:
    """Text without markup, as the reader sees it."""
    if "<" not in text:
        return text
    doc = QTextDocument()
    doc.setHtml(text)
    return doc.toPlainText()


def laptop_size(wanted: tuple[int, int] = (1400, 900)) -> tuple[int, int]:
    """The client size a window wanting `wanted` gets on a 1366 × 768 laptop with a
    32 px panel (ui.screen_fit), as team windows are opened."""
    rect = fitted_rect(wanted, QRect(0, 32, 1366, 768 - 32), (0, 0))
    return rect.width(), rect.height()
