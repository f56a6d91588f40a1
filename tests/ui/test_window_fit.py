"""Windows open within the screen's available area: a 1366 × 768 laptop and a
1920 × 1080 screen, at 100 % and 150 % scaling (what Qt then offers in logical pixels),
with a panel taking part of the screen."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect
from pytestqt.qtbot import QtBot
from ui_helpers import WindowFactory

from ui.main_window import MainWindow
from ui.screen_fit import FRAME_MARGIN, fitted_rect

PANEL = 32  # a desktop panel along the top edge


def _available(width: int, height: int, scale: float) -> QRect:
    return QRect(0, PANEL, int(width / scale), int(height / scale) - PANEL)


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (1920, 1080)])
@pytest.mark.parametrize("scale", [1.0, 1.5])
@pytest.mark.parametrize("video", [False, True])
def test_the_main_window_and_its_frame_fit_the_available_area(
    qtbot: QtBot,
    themed: None,
    make_window: WindowFactory,
    width: int,
    height: int,
    scale: float,
    video: bool,
) -> None:
    window = make_window(start=False)
    # A video item adds its keyframe sheet, player buttons and segment fields.
    window.review.video.setVisible(video)
    available = _available(width, height, scale)
    hint = window.minimumSizeHint()
    rect = fitted_rect((1600, 1000), available, (hint.width(), hint.height()))
    frame = QRect(
        rect.x(), rect.y(), rect.width() + FRAME_MARGIN[0], rect.height() + FRAME_MARGIN[1]
    )
    assert available.contains(frame), (frame, available)
    # The window can take that size: its layout asks for no more, with a video's
    # keyframe sheet, player buttons and segment fields on screen too.
    assert hint.width() <= rect.width(), hint
    assert hint.height() <= rect.height(), (hint, _hints(window))
    window.resize(rect.size())
    assert window.size() == rect.size()


def _hints(window: MainWindow) -> dict[str, tuple[int, int]]:
    """Minimum size hints of the review screen's parts, to say which one is too big."""
    review = window.review
    parts = {"video": review.video, "view": review.view, "panel": review.panel}
    parts |= {"sheet": review.video.sheet, "segments": review.video.segments}
    return {
        k: (w.minimumSizeHint().width(), w.minimumSizeHint().height()) for k, w in parts.items()
    }


def test_a_big_screen_gets_the_size_asked_for_centred() -> None:
    available = _available(1920, 1080, 1.0)
    rect = fitted_rect((1600, 1000), available, (600, 400))
    assert (rect.width(), rect.height()) == (1600, 1000)
    assert rect.x() > 0 and available.contains(rect)
