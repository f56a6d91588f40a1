"""Signing in: name and password, or on first run creating the first (admin) account.

The dialog only collects what was typed; the caller checks it on the database worker
and either closes the dialog or hands back a refusal to show (`show_refusal`).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from reviewer.accounts import MIN_PASSWORD_LENGTH, check_password_strength


def password_field(placeholder: str = "") -> QLineEdit:
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    field.setPlaceholderText(placeholder)
    # Nothing typed here may leave the field: no copy, drag or context menu.
    field.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
    field.setDragEnabled(False)
    return field


def password_problem(password: str, again: str) -> str | None:
    """Why a new password cannot be used, in plain words; None if it can."""
    try:
        check_password_strength(password)
    except ValueError as exc:
        return f"The password is too weak: {exc}."
    if password != again:
        return "The two passwords differ."
    return None


class LoginDialog(QDialog):
    """Sign in, or (first run) create the first account, which can administer."""

    # name, password: what was typed, to be checked off the GUI thread.
    submitted = Signal(str, str)

    def __init__(self, first_run: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.first_run = first_run
        self.setWindowTitle("Reviewer — create the first account" if first_run else "Reviewer")
        self.setObjectName("login")
        title = QLabel("Create the first account" if first_run else "Sign in")
        title.setObjectName("contextTitle")
        intro = QLabel(
            "Nobody can sign in on this workstation yet. The account you create now can "
            "administer users and review; it is recorded as vetted by first-run "
            f"self-enrolment. Choose a password of at least {MIN_PASSWORD_LENGTH} "
            "characters."
            if first_run
            else "Sign in with your name and password. Ask an admin if you have no account "
            "or have forgotten your password."
        )
        intro.setWordWrap(True)
        self.name = QLineEdit()
        self.name.setPlaceholderText("Your name")
        self.name.setMaxLength(120)
        self.password = password_field()
        self.again = password_field()
        form = QFormLayout()
        form.addRow("&Name", self.name)
        form.addRow("&Password", self.password)
        if first_run:
            form.addRow("Password &again", self.again)
        self.error = QLabel()
        self.error.setObjectName("status")
        self.error.setProperty("level", "error")
        self.error.setWordWrap(True)
        self.error.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Create account and sign in" if first_run else "Sign in")
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        for field in (self.name, self.password, self.again):
            field.textChanged.connect(self._update)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(480)
        self._busy = False
        self._update()

    def _update(self) -> None:
        ready = bool(self.name.text().strip()) and bool(self.password.text())
        if self.first_run:
            ready = ready and bool(self.again.text())
        self.ok.setEnabled(ready and not self._busy)

    def _submit(self) -> None:
        if not self.ok.isEnabled():
            return
        if self.first_run:
            problem = password_problem(self.password.text(), self.again.text())
            if problem:
                self.show_refusal(problem)
                return
        self.set_busy(True)
        self.submitted.emit(self.name.text().strip(), self.password.text())

    def set_busy(self, busy: bool) -> None:
        """While the password is being checked: nothing can be submitted twice."""
        self._busy = busy
        for field in (self.name, self.password, self.again):
            field.setReadOnly(busy)
        self._update()

    def show_refusal(self, message: str) -> None:
        """Sign-in refused (or the new account not valid): say why, clear the password."""
        self.set_busy(False)
        self.error.setText(message)
        self.error.show()
        # Grow to fit the message rather than squeeze the fields.
        self.adjustSize()
        self.password.clear()
        self.again.clear()
        self.password.setFocus()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.name.setFocus()
