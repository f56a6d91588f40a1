"""Keys held down under X auto-repeat: a held key sends press/release pairs, flagged as
auto-repeats or (when the X server's pairs are not recognised) not flagged but stamped
with the same time. Hold-to-reveal follows the physical key, a toggle acts once per
physical press, and a toggle right after an automatic re-protect does not reveal."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from ui_helpers import WindowFactory

from reviewer.clock import FakeClock
from ui.image_view import AFTER_AUTO_PROTECT_S, ProtectedImageView
from wellbeing.reveal import RevealMode


class Keyboard:
    """Key events as the X server delivers them to the focused widget."""

    def __init__(self) -> None:
        self.time = 1_000

    def send(self, key: Qt.Key, press: bool, repeat: bool = False, same_time: bool = False) -> None:
        if not same_time:
            self.time += 40  # X's default repeat rate is 25 a second
        kind = QEvent.Type.KeyPress if press else QEvent.Type.KeyRelease
        text = " " if key == Qt.Key.Key_Space else chr(key).lower()
        event = QKeyEvent(kind, key, Qt.KeyboardModifier.NoModifier, text, repeat)
        event.setTimestamp(self.time)
        target = QApplication.focusWidget()
        assert target is not None, "no widget has keyboard focus"
        QApplication.sendEvent(target, event)

    def hold(self, key: Qt.Key, repeats: int, flagged: bool) -> None:
        """Press `key` and keep it down for `repeats` auto-repeat pairs (not released)."""
        self.send(key, press=True)
        for _ in range(repeats):
            self.send(key, press=False, repeat=flagged)
            self.send(key, press=True, repeat=flagged, same_time=True)


def _flips(view: ProtectedImageView) -> list[bool]:
    seen: list[bool] = []
    view.reveal_changed.connect(seen.append)
    return seen


def _ready(qtbot: QtBot, make_window: WindowFactory) -> ProtectedImageView:
    window = make_window()
    view = window.review.view
    view.canvas.setFocus()
    qtbot.waitUntil(lambda: view.can_reveal and view.canvas.hasFocus(), timeout=10_000)
    # Render the unprotected raster once, so that reveals below are immediate.
    view.reveal()
    qtbot.waitUntil(lambda: view.revealed, timeout=10_000)
    view.protect()
    return view


def test_holding_h_reveals_once_however_the_key_repeats(
    qtbot: QtBot, make_window: WindowFactory, seeded: int
) -> None:
    view = _ready(qtbot, make_window)
    keys = Keyboard()
    for flagged in (True, False):
        flips = _flips(view)
        keys.hold(Qt.Key.Key_H, repeats=30, flagged=flagged)
        qtbot.wait(100)  # longer than the release grace: the repeats kept it held
        assert view.revealed and view.reveal_state.mode is RevealMode.HOLD
        assert flips == [True]  # one reveal, no flicker
        keys.send(Qt.Key.Key_H, press=False)  # the physical release
        qtbot.waitUntil(lambda: not view.revealed, timeout=1_000)
        assert flips == [True, False]


def test_a_held_toggle_acts_once_per_physical_press(
    qtbot: QtBot, make_window: WindowFactory, seeded: int
) -> None:
    view = _ready(qtbot, make_window)
    keys = Keyboard()
    flips = _flips(view)
    keys.hold(Qt.Key.Key_Space, repeats=30, flagged=True)
    keys.send(Qt.Key.Key_Space, press=False)
    assert view.revealed and flips == [True]
    keys.hold(Qt.Key.Key_Space, repeats=30, flagged=False)  # pairs not flagged
    keys.send(Qt.Key.Key_Space, press=False)
    assert not view.revealed and flips == [True, False]

    colour = view.reveal_state.colour
    keys.hold(Qt.Key.Key_G, repeats=11, flagged=False)
    keys.send(Qt.Key.Key_G, press=False)
    assert view.reveal_state.colour is not colour  # toggled once, not twelve times
    spotlight = view.spotlight_tool
    keys.hold(Qt.Key.Key_S, repeats=11, flagged=True)
    keys.send(Qt.Key.Key_S, press=False)
    assert view.spotlight_tool is not spotlight


def test_a_toggle_right_after_an_automatic_re_protect_does_not_reveal_again(
    qtbot: QtBot, make_window: WindowFactory, clock: FakeClock, seeded: int
) -> None:
    view = _ready(qtbot, make_window)
    keys = Keyboard()
    keys.send(Qt.Key.Key_Space, press=True)
    keys.send(Qt.Key.Key_Space, press=False)
    assert view.revealed
    clock.advance(10)
    view._idle.timeout.emit()  # the idle re-protect's timer running out
    assert not view.revealed
    keys.send(Qt.Key.Key_Space, press=True)  # meant as "protect", a moment late
    keys.send(Qt.Key.Key_Space, press=False)
    assert not view.revealed
    assert "again to reveal" in view._hint.text()
    clock.advance(AFTER_AUTO_PROTECT_S / 3)
    keys.send(Qt.Key.Key_Space, press=True)  # pressed again: a deliberate reveal
    keys.send(Qt.Key.Key_Space, press=False)
    assert view.revealed
