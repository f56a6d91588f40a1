"""The idle lock: after a while without input the window locks until the password is
given again; locked for long enough, the items it holds go back to the queue.

The lock screen replaces the whole review screen (which protects its image as it is
hidden), so nothing of the item, protected or not, is on screen behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from reviewer.accounts import SecuritySettings
from reviewer.clock import Clock
from ui.login import password_field

_INPUT: Final = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
    }
)


@dataclass(frozen=True)
class LockTimings:
    """When to lock and when to hand held items back, in one place so tests can shorten
    them. Built from the admin's SecuritySettings at sign-in."""

    lock_after_s: float = SecuritySettings().idle_lock_minutes * 60.0
    release_after_s: float = SecuritySettings().release_after_minutes * 60.0
    check_ms: int = 1_000

    @classmethod
    def from_settings(cls, settings: SecuritySettings) -> LockTimings:
        return cls(settings.idle_lock_minutes * 60.0, settings.release_after_minutes * 60.0)


class IdleLock(QObject):
    """Watches for input anywhere in the application and keeps the lock's clock."""

    # idle_seconds: how long there had been no input when the screen locked; 0 for a
    # lock the moderator asked for (File > Lock screen, Ctrl+Shift+L).
    locked = Signal(float)
    # The lock has lasted release_after_s: held items must go back to the queue.
    release_due = Signal()
    # The right password was given; the screen is unlocked.
    unlocked = Signal()

    def __init__(self, clock: Clock, timings: LockTimings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._clock = clock
        self.timings = timings
        self._last_input = clock.monotonic()
        self._locked_at: float | None = None
        self._released = False
        self._timer = QTimer(self)
        self._timer.setInterval(timings.check_ms)
        self._timer.timeout.connect(self.check)

    @property
    def is_locked(self) -> bool:
        return self._locked_at is not None

    def start(self) -> None:
        app = QGuiApplication.instance()
        assert app is not None
        app.installEventFilter(self)
        self._last_input = self._clock.monotonic()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        app = QGuiApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Any input in any window of the workstation counts, but not while locked:
        # typing at the lock screen does not unlock it.
        if event.type() in _INPUT and self._locked_at is None:
            self._last_input = self._clock.monotonic()
        return False

    def check(self) -> None:
        owner = self.parent()
        if isinstance(owner, QWidget) and not owner.isVisible():
            return  # a window not on screen shows nothing to protect
        now = self._clock.monotonic()
        if self._locked_at is None:
            idle = now - self._last_input
            if idle >= self.timings.lock_after_s:
                self.lock(idle)
        elif not self._released and now - self._locked_at >= self.timings.release_after_s:
            self._released = True
            self.release_due.emit()

    def lock(self, idle_seconds: float = 0.0) -> None:
        """Lock now (also the File menu's Lock screen)."""
        if self._locked_at is not None:
            return
        self._locked_at = self._clock.monotonic()
        self._released = False
        self.locked.emit(idle_seconds)

    def unlock(self) -> None:
        if self._locked_at is None:
            return
        self._locked_at = None
        self._last_input = self._clock.monotonic()
        self.unlocked.emit()


class LockScreen(QWidget):
    """What the window shows while locked: who it is locked for and a password field."""

    # password: typed to unlock; checked on the database worker by the window.
    unlock_requested = Signal(str)

    def __init__(self, user_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lockScreen")
        # Opaque: whatever is behind (nothing, while the review screen is hidden) is
        # never painted through.
        self.setAutoFillBackground(True)
        self.setAccessibleName("Screen locked")
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        title = QLabel("Screen locked")
        title.setObjectName("contextTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._user_name = user_name
        self.password = password_field(f"{user_name}'s password")
        self.password.setMinimumWidth(320)
        self.password.returnPressed.connect(self._submit)
        self.password.setAccessibleName(f"{user_name}'s password")
        self.unlock_button = QPushButton("Unlock")
        self.unlock_button.clicked.connect(self._submit)
        self.error = QLabel()
        self.error.setObjectName("status")
        self.error.setProperty("level", "error")
        self.error.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.error.hide()
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.password)
        row.addWidget(self.unlock_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(title)
        layout.addWidget(self.message)
        layout.addLayout(row)
        layout.addWidget(self.error)
        layout.addStretch(3)
        self._idle_seconds = 0.0
        self.set_released(False)

    def set_released(self, released: bool) -> None:
        if self._idle_seconds > 0:
            minutes = max(1, round(self._idle_seconds / 60))
            why = (
                f"Locked for {self._user_name} after {minutes} minute{'s' if minutes != 1 else ''}"
                " without input."
            )
        else:
            why = f"{self._user_name} locked the screen."
        text = f"{why} The item is hidden. Enter your password to continue."
        if released:
            text += "\n\nThe items you held have gone back to the queue."
        self.message.setText(text)

    def reset(self, idle_seconds: float = 0.0) -> None:
        """Ready for a new lock; `idle_seconds` as IdleLock.locked gives it (0: asked for)."""
        self._idle_seconds = idle_seconds
        self.set_busy(False)
        self.password.clear()
        self.error.hide()
        self.set_released(False)
        self.password.setFocus()

    def set_busy(self, busy: bool) -> None:
        self.password.setReadOnly(busy)
        self.unlock_button.setEnabled(not busy)

    def show_refusal(self, message: str) -> None:
        self.set_busy(False)
        self.password.clear()
        self.error.setText(message)
        self.error.show()
        self.password.setFocus()

    def _submit(self) -> None:
        if self.password.isReadOnly() or not self.password.text():
            return
        self.set_busy(True)
        self.unlock_requested.emit(self.password.text())
