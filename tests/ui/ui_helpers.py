"""Helpers for the UI tests: pressing keys as a moderator does, reading painted pixels."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtGui import QImage, QKeySequence
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from ui.main_window import MainWindow

MODERATOR = "moderator-1"
ADMIN = "Ada Admin"
ADMIN_PASSWORD = "ada's admin password"

# make_window(timings=None, start=True, review_service=None, lock=None) -> MainWindow
WindowFactory = Callable[..., MainWindow]


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
