"""A long strip (20000 x 50, or a tall scrolling screenshot) is shown usably: its short
side fitted to the canvas, protected like any picture, scrolled along with the wheel."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from ui_helpers import pixels

from reviewer import synthetic
from reviewer.clock import FakeClock
from ui.image_view import ProtectedImageView, protected_raster
from ui.tasks import Tasks
from wellbeing.render import STRIP_MAX_LONG, display_size, fit, strip_box

CANVAS = (900, 600)


@pytest.fixture
def view(qtbot: QtBot) -> Iterator[ProtectedImageView]:
    tasks = Tasks(synchronous=True)
    v = ProtectedImageView(tasks, FakeClock())
    qtbot.addWidget(v)
    v.show()
    v.canvas.setFixedSize(*CANVAS)
    qtbot.waitExposed(v)
    yield v
    tasks.shutdown()


def test_strip_boxes_fit_the_short_side_and_leave_other_shapes_alone() -> None:
    assert strip_box((4000, 3000), CANVAS) is None  # a photo
    assert strip_box((3000, 1000), CANVAS) is None  # a panorama still fits usefully
    assert display_size((20_000, 50), CANVAS) == (16_384, 41)  # was 900 x 2 fitted whole
    assert fit((20_000, 50), CANVAS)[1] == 2
    w, h = display_size((800, 20_000), CANVAS)  # was 24 x 600
    assert w == 655 and STRIP_MAX_LONG - 16 <= h <= STRIP_MAX_LONG
    # However absurd the strip, the raster stays bounded.
    w, h = display_size((1, 100_000_000), CANVAS)
    assert h <= STRIP_MAX_LONG and w >= 1


def _wheel(view: ProtectedImageView, notches: int) -> None:
    pos = QPointF(view.canvas.width() / 2, view.canvas.height() / 2)
    event = QWheelEvent(
        pos,
        view.canvas.mapToGlobal(pos),
        QPoint(),
        QPoint(0, -120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.canvas, event)


@pytest.mark.parametrize(("width", "height"), [(20_000, 50), (600, 12_000)])
def test_a_strip_is_shown_protected_across_the_canvas_and_scrolls(
    view: ProtectedImageView, width: int, height: int
) -> None:
    data = synthetic.make_strip(width, height, seed=5)
    raster = protected_raster(data, CANVAS)
    assert raster.protected and (raster.source_width, raster.source_height) == (width, height)
    # Finished at its display size: the canvas paints it without scaling.
    shown = display_size((width, height), CANVAS)
    assert (raster.image.width(), raster.image.height()) == shown
    view.show_item(raster, data)
    rect = view.canvas.picture_rect()
    wide = width > height
    # Fitted across: the short side as large as the canvas allows (never enlarged).
    short = rect.height() if wide else rect.width()
    assert short >= min(height if wide else width, CANVAS[1 if wide else 0]) * 0.8
    # The long side runs past the canvas, starting at its edge.
    assert (rect.width() if wide else rect.height()) > 5 * CANVAS[0 if wide else 1]
    assert (rect.left() if wide else rect.top()) == 0
    # Painted greyscale: protected from the first pixel, strip or not.
    canvas = pixels(view.canvas)
    assert np.array_equal(canvas[..., 0], canvas[..., 1]) and not view.revealed
    # The wheel scrolls along it, and stops at the far end.
    _wheel(view, 3)
    moved = view.canvas.picture_rect()
    assert (moved.left() if wide else moved.top()) == -360
    _wheel(view, 10_000)
    end = view.canvas.picture_rect()
    assert (end.right() if wide else end.bottom()) == pytest.approx(CANVAS[0 if wide else 1], abs=1)
    _wheel(view, -10_000)
    start = view.canvas.picture_rect()
    assert (start.left() if wide else start.top()) == 0


def test_an_ordinary_picture_is_still_fitted_whole_and_does_not_scroll(
    view: ProtectedImageView,
) -> None:
    data = synthetic.make_jpeg(0.5, seed=6)
    view.show_item(protected_raster(data, CANVAS), data)
    before = view.canvas.picture_rect()
    assert before.width() <= CANVAS[0] and before.height() <= CANVAS[1]
    _wheel(view, 3)
    assert view.canvas.picture_rect() == before


def test_a_resized_canvas_gets_its_picture_rendered_again_for_its_size(
    qtbot: QtBot, view: ProtectedImageView
) -> None:
    """The picture is painted as it was rendered, never scaled by the painter for
    long: after a resize it is rendered again (off the GUI thread) for the new size."""
    data = synthetic.make_jpeg(1.0, seed=7)
    view.show_item(protected_raster(data, CANVAS), data)
    first = view.canvas.painted_raster
    assert first is not None
    source = (first.source_width, first.source_height)
    assert first.image.size().toTuple() == display_size(source, CANVAS)
    view.canvas.setFixedSize(700, 450)
    qtbot.waitUntil(
        lambda: (
            view.canvas.painted_raster is not None
            and view.canvas.painted_raster.image.size().toTuple()
            == display_size(source, (700, 450))
        ),
        timeout=5_000,
    )
    shown = view.canvas.painted_raster
    assert shown is not None and shown.protected and not view.revealed
    canvas = pixels(view.canvas)
    assert np.array_equal(canvas[..., 0], canvas[..., 1])  # still greyscale
