"""What the image view actually paints: protected by default, colour only while revealed."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from ui_helpers import WindowFactory, laplacian_energy, pixels, press

from db.media_store import MediaStore
from db.store import Store
from reviewer.clock import FakeClock
from ui.image_view import ProtectedImageView
from ui.review_screen import Timings
from wellbeing.render import render_revealed


def picture(view: ProtectedImageView) -> np.ndarray:
    """The painted picture area of the canvas, a couple of pixels in from its edges."""
    rect = view.canvas.picture_rect().toAlignedRect().adjusted(2, 2, -2, -2)
    assert rect.width() > 100 and rect.height() > 100
    painted = pixels(view.canvas)
    return painted[rect.top() : rect.bottom(), rect.left() : rect.right()]


def assert_protected(view: ProtectedImageView) -> None:
    canvas = pixels(view.canvas)
    # Greyscale everywhere on the canvas: picture, backdrop and all.
    assert np.array_equal(canvas[..., 0], canvas[..., 1])
    assert np.array_equal(canvas[..., 1], canvas[..., 2])
    assert not view.revealed


def colour_fraction(rgb: np.ndarray) -> float:
    spread = rgb.max(axis=2).astype(int) - rgb.min(axis=2).astype(int)
    return float((spread > 8).mean())


def test_protected_from_the_first_pixel_then_metered_reveal(
    qtbot: QtBot,
    make_window: WindowFactory,
    store: Store,
    media: MediaStore,
    clock: FakeClock,
    seeded: int,
) -> None:
    window = make_window(start=False)
    view = window.review.view
    # Before anything is loaded: a neutral placeholder, grey only.
    assert view.canvas.painted_raster is None
    assert_protected(view)
    with qtbot.waitSignal(window.review.item_shown, timeout=15_000):
        window.review.start()
    claim = window.review.current_claim
    assert claim is not None

    protected = picture(view)
    assert_protected(view)
    rect = view.canvas.picture_rect().toAlignedRect()
    original = render_revealed(media.get(claim.item.media.sha256), (rect.width(), rect.height()))
    original_rgb = np.frombuffer(original.data, np.uint8).reshape(
        original.height, original.width, 3
    )
    ratio = laplacian_energy(protected) / laplacian_energy(original_rgb)
    print(f"high-frequency energy, protected / original: {ratio:.3f}")
    assert ratio < 0.2

    with qtbot.waitSignal(view.reveal_changed, timeout=10_000) as revealed:
        press(qtbot, "Space")
    assert revealed.args == [True]
    assert colour_fraction(picture(view)) > 0.2
    clock.advance(2.5)

    # Moving on (here: a decision while revealed) protects before anything else.
    with qtbot.waitSignal(window.review.item_shown, timeout=10_000):
        press(qtbot, "N Ctrl+Return")
    assert_protected(view)
    assert view.exposure().reveal_count == 0  # the new item's own meter

    [exposure] = store.items.exposures(item_id=claim.item.id)
    assert exposure["seconds_revealed"] == 2.5
    assert exposure["reveal_count"] == 1
    assert exposure["full_unprotected"]
    kinds = [e.kind for e in store.audit_events(item_id=claim.item.id)]
    assert [k for k in kinds if k in ("reveal_on", "reveal_off", "decision")] == [
        "reveal_on",
        "reveal_off",
        "decision",
    ]


def test_focus_loss_protects(qtbot: QtBot, make_window: WindowFactory, seeded: int) -> None:
    window = make_window()
    view = window.review.view
    with qtbot.waitSignal(view.reveal_changed, timeout=10_000):
        press(qtbot, "Space")
    assert colour_fraction(picture(view)) > 0.2

    other = QWidget()
    qtbot.addWidget(other)
    with qtbot.waitSignal(view.reveal_changed, timeout=5_000) as protected:
        other.show()
        other.activateWindow()
    assert protected.args == [False]
    assert_protected(view)


def test_idle_timeout_protects(
    qtbot: QtBot, make_window: WindowFactory, store: Store, seeded: int
) -> None:
    window = make_window(timings=Timings(reprotect_after_ms=300))
    view = window.review.view
    item_id = window.review.current_claim.item.id
    with qtbot.waitSignal(view.reveal_changed, timeout=10_000):
        press(qtbot, "Space")
    assert view.revealed
    with qtbot.waitSignal(view.reveal_changed, timeout=5_000) as protected:
        pass  # nobody touches anything
    assert protected.args == [False]
    assert_protected(view)
    assert view.exposure().reveal_count == 1
    qtbot.waitUntil(lambda: len(store.audit_events(item_id=item_id, kind="reveal_off")) == 1)
