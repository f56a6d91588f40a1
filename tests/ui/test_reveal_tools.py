"""The reveal tools, checked on the painted pixels: spotlight, hold, toggle, blur and
colour steps, zoom, and every automatic re-protect (idle, focus loss, minimise, hide,
moving on)."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from ui_helpers import WindowFactory, laplacian_energy, pixels, press

from db.store import Store
from reviewer.clock import FakeClock
from ui.image_view import ProtectedImageView
from ui.main_window import MainWindow
from ui.review_screen import Timings
from wellbeing.reveal import RevealMode


def spread(rgb: np.ndarray) -> np.ndarray:
    """Per-pixel saturation proxy: max - min channel (0 for grey)."""
    return rgb.max(axis=2).astype(int) - rgb.min(axis=2).astype(int)


def assert_all_grey(view: ProtectedImageView) -> None:
    canvas = pixels(view.canvas)
    assert int(spread(canvas).max()) == 0, "colour painted while protected"
    assert not view.revealed


def wait_revealed(qtbot: QtBot, view: ProtectedImageView) -> None:
    qtbot.waitUntil(lambda: view.revealed, timeout=10_000)


def picture_centre(view: ProtectedImageView) -> QPoint:
    return view.canvas.picture_rect().center().toPoint()


def move_to_centre(qtbot: QtBot, view: ProtectedImageView) -> None:
    # Moving to where the cursor already is (from an earlier test) sends no event.
    qtbot.mouseMove(view.canvas, picture_centre(view) + QPoint(7, 5))
    qtbot.mouseMove(view.canvas, picture_centre(view))


def spotlight_masks(view: ProtectedImageView) -> tuple[np.ndarray, np.ndarray]:
    """(well inside the spotlight, well outside it but on the picture), as masks."""
    rect = view.canvas.picture_rect()
    state = view.reveal_state
    cx = rect.x() + state.spotlight_centre[0] * rect.width()
    cy = rect.y() + state.spotlight_centre[1] * rect.height()
    r = state.spotlight_radius * min(rect.width(), rect.height())
    h, w = view.canvas.height(), view.canvas.width()
    ys, xs = np.mgrid[0:h, 0:w]
    d = np.hypot(xs + 0.5 - cx, ys + 0.5 - cy)
    on_picture = (
        (xs >= rect.left() + 3)
        & (xs < rect.right() - 3)
        & (ys >= rect.top() + 3)
        & (ys < rect.bottom() - 3)
    )
    return (d < r - 3) & on_picture, (d > r + 3) & on_picture


def test_spotlight_reveals_only_a_circle_under_the_cursor(
    qtbot: QtBot, make_window: WindowFactory, clock: FakeClock, store: Store, seeded: int
) -> None:
    window = make_window()
    view = window.review.view
    item_id = window.review.current_claim.item.id
    assert_all_grey(view)
    press(qtbot, "S")
    assert view.spotlight_tool and not view.revealed  # the tool alone reveals nothing
    move_to_centre(qtbot, view)
    wait_revealed(qtbot, view)
    assert view.reveal_state.mode is RevealMode.SPOTLIGHT

    painted = pixels(view.canvas)
    inside, outside = spotlight_masks(view)
    assert inside.sum() > 500 and outside.sum() > 5000
    # Outside the circle: grey and blurred. Inside: colour and detail.
    assert int(spread(painted)[outside].max()) == 0
    assert float((spread(painted)[inside] > 8).mean()) > 0.2
    rect = view.canvas.picture_rect().toAlignedRect()
    corner = painted[rect.top() + 4 : rect.top() + 60, rect.left() + 4 : rect.left() + 60]
    assert int(spread(corner).max()) == 0
    ys, xs = np.nonzero(inside)
    core = painted[ys.min() : ys.max(), xs.min() : xs.max()]
    revealed_whole = view._revealed  # the same region, unprotected, for comparison
    assert revealed_whole is not None
    assert laplacian_energy(corner) < 0.5 * max(laplacian_energy(core), 1.0)

    # The radius is adjustable, and the metered area follows it.
    area = view.reveal_state.area_fraction()
    press(qtbot, "] ]")
    assert view.reveal_state.area_fraction() > area
    assert math.isclose(view.reveal_state.spotlight_radius, 0.19)

    clock.advance(4)
    press(qtbot, "S")  # tool off: protected again
    assert_all_grey(view)
    exposure = view.exposure()
    assert exposure.seconds_revealed == 4
    assert exposure.least_mode == "spotlight"
    assert 0 < exposure.max_area_fraction < 0.5
    assert not exposure.full_unprotected
    qtbot.waitUntil(lambda: len(store.audit_events(item_id=item_id, kind="reveal_off")) == 1)
    [on] = store.audit_events(item_id=item_id, kind="reveal_on")
    assert 0 < on.detail["area_fraction"] < 0.5


def test_spotlight_leaves_with_the_cursor(
    qtbot: QtBot, make_window: WindowFactory, seeded: int
) -> None:
    window = make_window()
    view = window.review.view
    press(qtbot, "S")
    move_to_centre(qtbot, view)
    wait_revealed(qtbot, view)
    view.canvas._view._pointer_left()  # what leaveEvent does
    assert_all_grey(view)


def test_hold_reveals_while_the_key_or_button_is_down(
    qtbot: QtBot, make_window: WindowFactory, clock: FakeClock, seeded: int
) -> None:
    window = make_window()
    view = window.review.view
    qtbot.keyPress(view.canvas, Qt.Key.Key_H)
    wait_revealed(qtbot, view)
    assert view.reveal_state.mode is RevealMode.HOLD
    assert float((spread(pixels(view.canvas)) > 8).mean()) > 0.2
    clock.advance(2)
    qtbot.keyRelease(view.canvas, Qt.Key.Key_H)
    # Protected once no auto-repeat press follows the release (tests/ui/test_key_repeat).
    qtbot.waitUntil(lambda: not view.revealed, timeout=1_000)
    assert_all_grey(view)

    qtbot.mousePress(view.canvas, Qt.MouseButton.RightButton, pos=picture_centre(view))
    assert view.revealed  # the raster is kept for the item: at once this time
    clock.advance(3)
    qtbot.mouseRelease(view.canvas, Qt.MouseButton.RightButton, pos=picture_centre(view))
    assert_all_grey(view)
    exposure = view.exposure()
    assert exposure.seconds_revealed == 5 and exposure.reveal_count == 2
    assert exposure.least_mode == "hold" and exposure.full_unprotected


def test_click_toggles_the_whole_image(
    qtbot: QtBot, make_window: WindowFactory, seeded: int
) -> None:
    window = make_window()
    view = window.review.view
    qtbot.mouseClick(view.canvas, Qt.MouseButton.LeftButton, pos=picture_centre(view))
    wait_revealed(qtbot, view)
    assert view.reveal_state.mode is RevealMode.TOGGLED
    assert float((spread(pixels(view.canvas)) > 8).mean()) > 0.2
    qtbot.mouseClick(view.canvas, Qt.MouseButton.LeftButton, pos=picture_centre(view))
    assert_all_grey(view)


def test_blur_steps_colour_and_zoom_stay_protected(
    qtbot: QtBot, make_window: WindowFactory, seeded: int
) -> None:
    window = make_window()
    view = window.review.view
    rect = view.canvas.picture_rect().toAlignedRect().adjusted(4, 4, -4, -4)

    def energy() -> float:
        p = pixels(view.canvas)
        return laplacian_energy(p[rect.top() : rect.bottom(), rect.left() : rect.right()])

    default = energy()
    press(qtbot, "= =")
    qtbot.waitUntil(lambda: (4, False, False) in view._rasters, timeout=10_000)
    assert view.reveal_state.blur_step == 4
    most_blurred = energy()
    assert_all_grey(view)
    press(qtbot, "G")
    qtbot.waitUntil(lambda: (4, True, False) in view._rasters, timeout=10_000)
    painted = pixels(view.canvas)
    assert int(spread(painted).max()) > 0  # colour, but still blurred and not a reveal
    assert not view.revealed
    press(qtbot, "G")
    assert_all_grey(view)

    # pytest-qt has no wheel helper: call what Ctrl+wheel calls.
    view.zoom_by(2.0, QPointF(picture_centre(view)))
    assert view.zoom == 2.0
    assert view.canvas.picture_rect().width() > rect.width() * 1.9
    assert_all_grey(view)
    press(qtbot, "Ctrl+0")
    assert view.zoom == 1.0
    exposure = view.exposure()
    assert exposure.colour_shown and exposure.min_blur_step == 2
    assert exposure.seconds_revealed == 0 and exposure.least_mode == "protected"

    # Every step keeps fine detail far below the unprotected picture's.
    press(qtbot, "Space")
    wait_revealed(qtbot, view)
    revealed = energy()
    print(f"detail at blur 2: {default:.2f}, blur 4: {most_blurred:.2f}, open: {revealed:.2f}")
    assert max(default, most_blurred) < 0.25 * revealed


def test_flat_tones_from_the_keyboard_are_grey_few_toned_and_metered(
    qtbot: QtBot, make_window: WindowFactory, clock: FakeClock, seeded: int
) -> None:
    window = make_window()
    view = window.review.view
    rect = view.canvas.picture_rect().toAlignedRect().adjusted(4, 4, -4, -4)
    press(qtbot, "O")
    step = view.reveal_state.blur_step
    qtbot.waitUntil(lambda: (step, False, True) in view._rasters, timeout=10_000)
    painted = pixels(view.canvas)[rect.top() : rect.bottom(), rect.left() : rect.right()]
    assert int(spread(painted).max()) == 0
    # A few flat tones (smooth scaling on screen blends only their borders).
    tones, counts = np.unique(painted[..., 0], return_counts=True)
    assert counts[np.argsort(counts)[-4:]].sum() > 0.9 * counts.sum(), tones
    assert not view.revealed
    clock.advance(7.0)
    press(qtbot, "G")  # colour does not apply to flat tones: still grey
    assert_all_grey(view)
    press(qtbot, "O")
    exposure = view.exposure()
    assert exposure.stylised_seconds == 7.0
    assert exposure.seconds_revealed == 0 and exposure.least_mode == "protected"


def _spotlight_on(qtbot: QtBot, window: MainWindow) -> ProtectedImageView:
    view = window.review.view
    press(qtbot, "S")
    move_to_centre(qtbot, view)
    wait_revealed(qtbot, view)
    return view


def test_idle_reprotects_a_spotlight(qtbot: QtBot, make_window: WindowFactory, seeded: int) -> None:
    window = make_window(timings=Timings(reprotect_after_ms=300))
    view = _spotlight_on(qtbot, window)
    with qtbot.waitSignal(view.reveal_changed, timeout=5_000) as protected:
        pass  # nobody touches anything
    assert protected.args == [False]
    assert_all_grey(view)


def test_focus_loss_reprotects_a_hold(
    qtbot: QtBot, make_window: WindowFactory, seeded: int
) -> None:
    window = make_window()
    view = window.review.view
    view.hold_start()
    wait_revealed(qtbot, view)
    other = QWidget()
    qtbot.addWidget(other)
    with qtbot.waitSignal(view.reveal_changed, timeout=5_000):
        other.show()
        other.activateWindow()
    assert_all_grey(view)


def test_minimise_reprotects(qtbot: QtBot, make_window: WindowFactory, seeded: int) -> None:
    window = make_window()
    view = window.review.view
    press(qtbot, "Space")
    wait_revealed(qtbot, view)
    window.setWindowState(Qt.WindowState.WindowMinimized)
    qtbot.waitUntil(lambda: not view.revealed, timeout=5_000)
    window.setWindowState(Qt.WindowState.WindowNoState)
    assert_all_grey(view)


def test_hiding_reprotects(qtbot: QtBot, make_window: WindowFactory, seeded: int) -> None:
    window = make_window()
    view = _spotlight_on(qtbot, window)
    view.hide()
    assert not view.revealed
    view.show()
    assert_all_grey(view)


def test_moving_on_reprotects(
    qtbot: QtBot, make_window: WindowFactory, store: Store, clock: FakeClock, seeded: int
) -> None:
    window = make_window()
    view = _spotlight_on(qtbot, window)
    item_id = window.review.current_claim.item.id
    clock.advance(2)
    with qtbot.waitSignal(window.review.item_shown, timeout=10_000):
        press(qtbot, "N Ctrl+Return")
    assert window.review.current_claim.item.id != item_id
    assert_all_grey(view)
    [row] = store.items.exposures(item_id=item_id)
    assert row["seconds_revealed"] == 2 and row["least_mode"] == "spotlight"
