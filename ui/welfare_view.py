"""The welfare policy on screen: break lock, pause after Category A, caps, check-ins,
and the support page.

The rules live in wellbeing.policy (held by reviewer.welfare_service.WelfareSession and
enforced in ReviewService); this module only shows them. `WelfareGuard.refresh()`
reads the policy's state (in memory, safe on the GUI thread) and puts up the screen
that state calls for; everything that writes (starting or ending a break, skipping a
pause, a check-in) goes through the database worker.

While a lock or pause is up, the review screen is hidden (its protected picture is
never visible behind the lock), keys and shortcuts reach only the lock's own fields,
and the window refuses to close during a break or pause.
"""

from __future__ import annotations

import math
from typing import Final

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from reviewer.accounts import LoginFailed
from reviewer.clock import Clock
from reviewer.review_service import lease_seconds_left
from reviewer.untrusted import MAX_NOTE
from reviewer.welfare_service import WelfareSession
from ui.review_screen import ReviewScreen
from ui.tasks import Tasks
from wellbeing import resources
from wellbeing.policy import BreakNotOver, Mode, PauseNotSkippable, PolicyState

TICK_MS: Final = 500
# Hand held items back this long before their lease would run out during a break.
LEASE_MARGIN_S: Final = 60.0
_LOCKED: Final = frozenset({Mode.BREAK_DUE, Mode.ON_BREAK})
_CLOSED: Final = frozenset({Mode.CAP_REACHED, Mode.SHIFT_OVER})
_KEYS: Final = frozenset(
    {QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.ShortcutOverride}
)
_INPUT: Final = frozenset(
    {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.Wheel}
)
_CALM_STYLE: Final = """
QFrame#welfareScreen { background: #1b2a2c; }
QFrame#welfareScreen QLabel { color: #dfe8e6; }
QLabel#welfareTitle { font-size: 24pt; font-weight: 600; }
QLabel#welfareCountdown { font-size: 40pt; font-weight: 300; color: #a9cfc9; }
QLabel#welfareError { color: #ffb4a9; }
"""


def _clock_text(seconds: float) -> str:
    s = max(0, math.ceil(seconds))
    return f"{s // 60}:{s % 60:02d}"


class ResourcesDialog(QDialog):
    """The support and counselling page."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(resources.TITLE)
        layout = QVBoxLayout(self)
        for heading, text in resources.SECTIONS:
            title = QLabel(f"<h3>{heading}</h3>")
            body = QLabel(text)
            body.setWordWrap(True)
            layout.addWidget(title)
            layout.addWidget(body)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(560, 520)


class CheckInDialog(QDialog):
    """An optional mood check. The answers stay here; only "I would like support" is
    counted, without a name."""

    MOODS: Final = ("Very low", "Low", "OK", "Good", "Very good")

    def __init__(self, when: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Check-in (optional)")
        self.moods = QButtonGroup(self)
        row = QHBoxLayout()
        for i, mood in enumerate(self.MOODS):
            button = QRadioButton(mood)
            self.moods.addButton(button, i)
            row.addWidget(button)
        self.support = QCheckBox("I would like to talk to someone about how I am doing")
        note = QLabel(
            "Only you see your answers. If you ask for support, your lead sees that one "
            "more person asked today — never who, and never your answers."
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox()
        buttons.addButton("Done", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton("Skip", QDialogButtonBox.ButtonRole.RejectRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"<h3>How are you feeling {when}?</h3>"))
        layout.addLayout(row)
        layout.addWidget(self.support)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def mood(self) -> str | None:
        i = self.moods.checkedId()
        return None if i < 0 else self.MOODS[i]


class _Screen(QFrame):
    """A calm, opaque screen over the whole window."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("welfareScreen")
        self.setAutoFillBackground(True)
        self.setStyleSheet(_CALM_STYLE)
        self.title = QLabel()
        self.title.setObjectName("welfareTitle")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.countdown = QLabel()
        self.countdown.setObjectName("welfareCountdown")
        self.error = QLabel()
        self.error.setObjectName("welfareError")
        self.support_link = QLabel(f"<a href='#'>{resources.TITLE}</a>")
        self.support_link.setTextInteractionFlags(
            Qt.TextInteractionFlag.LinksAccessibleByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByKeyboard
        )
        self.support_link.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.support_link.setAccessibleName(resources.TITLE)
        self.body = QVBoxLayout()
        column = QVBoxLayout()
        column.addStretch(2)
        # Full column width with centred text: word wrap needs the width to wrap in.
        for w in (self.title, self.countdown, self.message, self.error, self.support_link):
            w.setAlignment(Qt.AlignmentFlag.AlignCenter)
        for w in (self.title, self.countdown, self.message):
            column.addWidget(w)
        column.addSpacing(20)
        column.addLayout(self.body)
        column.addWidget(self.error)
        column.addStretch(3)
        column.addWidget(self.support_link)
        inner = QWidget()
        inner.setMaximumWidth(560)
        inner.setLayout(column)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(inner, 4)
        outer.addStretch(1)
        self.hide()

    def focus_first(self) -> None:
        """Keyboard focus to the screen's first control that takes it (Continue, End
        break, ...), so that every action here is reachable without a mouse."""
        widget = self.nextInFocusChain()
        while widget is not None and widget is not self:
            if (
                self.isAncestorOf(widget)
                and widget.isVisibleTo(self)
                and widget.isEnabled()
                and widget.focusPolicy() & Qt.FocusPolicy.TabFocus
            ):
                widget.setFocus(Qt.FocusReason.TabFocusReason)
                return
            widget = widget.nextInFocusChain()
        self.setFocus()


class BreakLock(_Screen):
    """The break: cannot be dismissed before its time, except by a lead with a reason."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.end_button = QPushButton("End my break")
        self.lead_name = QLineEdit()
        self.lead_name.setPlaceholderText("Team lead's name")
        self.lead_password = QLineEdit()
        self.lead_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.lead_password.setPlaceholderText("Team lead's password")
        self.lead_reason = QLineEdit()
        self.lead_reason.setPlaceholderText("Why the break must end early (audited)")
        self.lead_reason.setMaxLength(MAX_NOTE)  # the service refuses longer ones
        self.lead_button = QPushButton("End break early (lead)")
        lead = QFormLayout()
        lead.addRow("Lead", self.lead_name)
        lead.addRow("Password", self.lead_password)
        lead.addRow("Reason", self.lead_reason)
        lead.addRow("", self.lead_button)
        lead_note = QLabel("A team lead can end a break early. Their name and reason are recorded.")
        lead_note.setWordWrap(True)
        lead_note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.body.addWidget(self.end_button, 0, Qt.AlignmentFlag.AlignHCenter)
        self.body.addSpacing(48)
        self.body.addWidget(lead_note)
        self.body.addLayout(lead)

    def show_state(self, state: PolicyState) -> None:
        self.title.setText("Time for a break")
        left = state.break_seconds_left
        self.countdown.setText(_clock_text(left) if left is not None else "")
        self.message.setText(
            "Step away from the screen. Review is locked until the break is over."
            if left is None or left > 0
            else "Your break is complete. Continue when you are ready."
        )
        self.end_button.setEnabled(left is not None and left <= 0)


class PauseScreen(_Screen):
    """The short pause after a Category A decision."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.continue_button = QPushButton("&Continue")
        self.body.addWidget(self.continue_button, 0, Qt.AlignmentFlag.AlignHCenter)
        # Focused (focus_first): Enter or Space continues. The guard keeps window
        # shortcuts off while a screen is up, so the key reaches the button itself.
        self.continue_button.setAutoDefault(True)

    def show_state(self, state: PolicyState) -> None:
        self.title.setText("A short pause")
        self.countdown.setText(_clock_text(state.pause_seconds_left or 0))
        self.message.setText(
            "That was a Category A item. Look away, breathe out slowly, unclench your "
            "shoulders. The next item waits until you are ready."
        )
        was_enabled = self.continue_button.isEnabled()
        self.continue_button.setEnabled(state.pause_skippable)
        if state.pause_skippable and not was_enabled and self.isVisible():
            self.continue_button.setFocus(Qt.FocusReason.OtherFocusReason)


class ClosedScreen(_Screen):
    """The hard stop: a cap reached or the shift over. Nothing reopens review today."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.check_in_button = QPushButton("End-of-shift check-in (optional)")
        self.body.addWidget(self.check_in_button, 0, Qt.AlignmentFlag.AlignHCenter)

    def show_state(self, state: PolicyState) -> None:
        self.title.setText("Review is closed for today")
        self.countdown.setText("")
        self.message.setText(state.reason + " Thank you. You can close the window.")


class WelfareGuard(QObject):
    """Keeps the window in step with the welfare policy."""

    # mode: the wellbeing.policy.Mode now on screen, once per change.
    mode_changed = Signal(object)

    def __init__(
        self,
        window: QMainWindow,
        review: ReviewScreen,
        welfare: WelfareSession,
        tasks: Tasks,
        clock: Clock,
        tick_ms: int = TICK_MS,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._review = review
        self._welfare = welfare
        self._tasks = tasks
        self._clock = clock
        self._mode: Mode | None = None
        self._starting_break = False
        self._last_activity = -math.inf
        self.lock = BreakLock(window)
        self.pause = PauseScreen(window)
        self.closed = ClosedScreen(window)
        self.resources: ResourcesDialog | None = None
        self.check_in: CheckInDialog | None = None
        self.banner = QLabel()
        self.banner.setObjectName("status")
        self.banner.setProperty("level", "warn")
        for screen in (self.lock, self.pause, self.closed):
            screen.support_link.linkActivated.connect(lambda _l: self.show_resources())
        self.lock.end_button.clicked.connect(self._end_break)
        self.lock.lead_button.clicked.connect(self._lead_end_break)
        self.pause.continue_button.clicked.connect(self._skip_pause)
        self.closed.check_in_button.clicked.connect(lambda: self.offer_check_in("now"))
        review.before_next = self.refresh
        self._timer = QTimer(self)
        self._timer.setInterval(tick_ms)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        app = QApplication.instance()
        assert app is not None
        app.installEventFilter(self)
        window.installEventFilter(self)  # resizes: the screens cover the whole window
        self.refresh()

    @property
    def screen(self) -> QWidget | None:
        """The welfare screen up now, if any."""
        for s in (self.lock, self.pause, self.closed):
            if s.isVisible():
                return s
        return None

    def refuses_close(self) -> bool:
        """A break or a pause is not ended by closing the window."""
        self.refresh()
        return self._mode in _LOCKED or self._mode is Mode.PAUSED_AFTER_A

    def close_event(self, event: QCloseEvent) -> bool:
        """For MainWindow.closeEvent: True if the close was refused."""
        if self.refuses_close():
            event.ignore()
            return True
        return False

    # -- the policy, on screen ----------------------------------------------------------

    def refresh(self) -> None:
        state = self._welfare.state()
        mode = state.mode
        if mode is Mode.BREAK_DUE and not self._starting_break:
            self._starting_break = True
            self._tasks.db.submit(
                self._welfare.start_due_break, on_done=self._break_started, on_error=self._failed
            )
        if mode in _LOCKED:
            self._show(self.lock)
            self.lock.show_state(state)
            self._release_before_leases_run_out()
        elif mode is Mode.PAUSED_AFTER_A:
            self._show(self.pause)
            self.pause.show_state(state)
        elif mode in _CLOSED or mode is Mode.NOT_STARTED:
            self._show(self.closed)
            self.closed.show_state(state)
            if mode is not self._mode:
                self._review.release_held("cap" if mode is Mode.CAP_REACHED else "shift_end")
        else:
            self._show(None)
        warning = "  ·  ".join(state.warnings)
        self.banner.setText(warning)
        self.banner.setVisible(bool(warning))
        if mode is not self._mode:
            self._mode = mode
            # Persist and audit what the clock brought about (a break falling due, ...).
            self._tasks.db.submit(self._welfare.flush, on_done=_ignore, on_error=self._failed)
            self.mode_changed.emit(mode)

    def _show(self, screen: _Screen | None) -> None:
        for s in (self.lock, self.pause, self.closed):
            if s is not screen and s.isVisible():
                s.hide()
        locked = screen is not None
        if screen is not None:
            screen.setGeometry(self._window.rect())
            if not screen.isVisible():
                screen.show()
                screen.raise_()
                screen.focus_first()
        # Hidden, not only covered: nothing of the picture can show through. Never shown
        # again while the idle lock is up (the lock screen has taken its place).
        self._review.set_locked(locked)
        self._review.setVisible(not locked and not self._review.idle_locked)

    def _release_before_leases_run_out(self) -> None:
        now = self._clock.now()
        claims = [self._review.current_claim, self._review.prefetched_claim]
        if any(c is not None and lease_seconds_left(c, now) < LEASE_MARGIN_S for c in claims):
            self._review.release_held("break")

    # -- actions ------------------------------------------------------------------------

    def _break_started(self, _none: object) -> None:
        self._starting_break = False
        self.refresh()

    def _end_break(self) -> None:
        self._tasks.db.submit(self._welfare.end_break, on_done=self._done, on_error=self._failed)

    def _lead_end_break(self) -> None:
        lead, reason = self.lock.lead_name.text().strip(), self.lock.lead_reason.text().strip()
        if not lead or not reason:
            self.lock.error.setText("A lead ends a break early only with their name and a reason.")
            return
        password = self.lock.lead_password.text()
        self.lock.lead_password.clear()  # never kept on screen once sent
        self._tasks.db.submit(
            self._welfare.lead_end_break,
            lead,
            reason,
            password,
            on_done=self._done,
            on_error=self._failed,
        )

    def _skip_pause(self) -> None:
        self._tasks.db.submit(self._welfare.skip_pause, on_done=self._done, on_error=self._failed)

    def _done(self, _result: object) -> None:
        for s in (self.lock, self.pause, self.closed):
            s.error.setText("")
        self.lock.lead_name.clear()
        self.lock.lead_reason.clear()
        self.refresh()

    def _failed(self, exc: Exception) -> None:
        self._starting_break = False
        if isinstance(exc, BreakNotOver | PauseNotSkippable | ValueError | PermissionError):
            text = str(exc)
        elif isinstance(exc, LoginFailed):
            text = "That lead name and password were not accepted."
        else:
            text = f"Could not save ({type(exc).__name__}: {exc})."
        screen = self.screen
        if isinstance(screen, _Screen):
            screen.error.setText(text)
        self.refresh()

    def show_resources(self) -> None:
        if self.resources is None:
            self.resources = ResourcesDialog(self._window)
        self.resources.show()
        self.resources.raise_()

    def offer_check_in(self, when: str = "at the start of your shift") -> CheckInDialog:
        dialog = CheckInDialog(when, self._window)
        dialog.accepted.connect(lambda: self._checked_in(dialog))
        self.check_in = dialog
        dialog.open()
        return dialog

    def _checked_in(self, dialog: CheckInDialog) -> None:
        if dialog.support.isChecked():
            self._tasks.db.submit(
                self._welfare.check_in, True, on_done=_ignore, on_error=self._failed
            )
            self.show_resources()

    # -- input --------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._window and event.type() == QEvent.Type.Resize:
            screen = self.screen
            if screen is not None:
                screen.setGeometry(self._window.rect())
            return False
        if not isinstance(watched, QWidget) or watched.window() is not self._window:
            return False
        kind = event.type()
        screen = self.screen
        if screen is None:
            if kind in _INPUT:
                self._activity()
            return False
        inside = watched is screen or screen.isAncestorOf(watched)
        if kind == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            # Accepting the override keeps every window shortcut (reveal, grade, quit)
            # from firing; the key then goes to the focused field as a plain key press.
            event.accept()
            return not inside
        if kind in _KEYS or kind in _INPUT:
            return not inside
        return False

    def _activity(self) -> None:
        # The policy counts active time from interactions; a few per second is plenty.
        now = self._clock.monotonic()
        if now - self._last_activity >= 1.0:
            self._last_activity = now
            self._welfare.activity()


def _ignore(_result: object) -> None:
    """on_done for jobs whose only outcome of interest is an error."""
