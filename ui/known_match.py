"""Confirm a known match without viewing: the list's grade, provenance and distance.

Shown in place of the grading form when the item on screen matches a graded entry of
an active hash list. The picture stays protected (greyscale, blurred); revealing it
is still possible and metered as always. Exact matches (SHA-256, MD5: the very same
file) and perceptual ones (PDQ: a similar picture, so many bits apart) look different,
because they deserve different trust.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout, QWidget

from reviewer.hashing import PDQ_MATCH_DISTANCE
from reviewer.matching import KnownMatch, grading_for
from reviewer.vocabulary import Severity
from ui.theme import set_style_property

CONFIRM_KEY: Final = "Ctrl+Return"
REJECT_KEY: Final = "Ctrl+J"

_STYLE: Final = """
QLabel#kmTitle { font-size: 14pt; font-weight: 600; }
QLabel#kmGrade { font-size: 18pt; font-weight: 700; padding: 8px 12px; border-radius: 6px;
                 background: #2d3238; }
QLabel#kmKind { padding: 6px 10px; border-radius: 6px; font-weight: 600; }
QLabel#kmKind[kind="exact"] { background: #25473a; color: #cfeedd; }
QLabel#kmKind[kind="pdq"] { background: #4a3f22; color: #f3dfa6; }
QLabel#kmNote { color: #aeb6bf; }
QFrame#kmBox { border: 1px solid #353a41; border-radius: 6px; }
QPushButton#kmConfirm:enabled { background: #3f6e72; color: #f2f4f5; font-weight: 600; }
"""

_SEVERITY_TEXT: Final = {
    Severity.A: "Category A",
    Severity.B: "Category B",
    Severity.C: "Category C",
    Severity.NOT_ILLEGAL: "Not illegal",
    Severity.ADULT: "Adult / not a child",
}


def grade_text(match: KnownMatch) -> str:
    sev = match.category
    text = _SEVERITY_TEXT.get(sev, str(sev)) if sev is not None else "No grade"
    if match.age_band is not None:
        text += f" · youngest {match.age_band.value}"
    return text


def kind_text(match: KnownMatch) -> str:
    if match.exact:
        name = "SHA-256" if match.hash_type.value == "sha256" else "MD5"
        return f"EXACT — {name}: the very same file as the list's"
    return (
        f"PERCEPTUAL — PDQ: a similar picture, {match.distance} of 256 bits differ "
        f"(match threshold {PDQ_MATCH_DISTANCE})"
    )


class KnownMatchPanel(QWidget):
    """The list's verdict and two choices: confirm it, or grade the item yourself."""

    # match: the KnownMatch the moderator confirmed.
    confirmed = Signal(object)
    # match: the KnownMatch the moderator rejected (the normal form follows).
    rejected = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet(_STYLE)
        self._match: KnownMatch | None = None
        self._others = 0
        self.title = QLabel("Known match — confirm without viewing")
        self.title.setObjectName("kmTitle")
        self.grade = QLabel()
        self.grade.setObjectName("kmGrade")
        self.kind = QLabel()
        self.kind.setObjectName("kmKind")
        self.kind.setWordWrap(True)
        self.provenance = QLabel()
        self.provenance.setWordWrap(True)
        self.provenance.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.decision = QLabel()
        self.decision.setWordWrap(True)
        self.note = QLabel(
            "The picture stays protected. You do not need to look at it to confirm the "
            "list's grade; revealing it is still possible (Space) and is recorded."
        )
        self.note.setObjectName("kmNote")
        self.note.setWordWrap(True)
        self.confirm_button = QPushButton(f"[{CONFIRM_KEY}]  Confirm the list's grade")
        self.confirm_button.setObjectName("kmConfirm")
        self.reject_button = QPushButton(f"[{REJECT_KEY}]  Reject — grade it myself")
        for button in (self.confirm_button, self.reject_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.confirm_button.clicked.connect(self._confirm)
        self.reject_button.clicked.connect(self._reject)
        QShortcut(QKeySequence(CONFIRM_KEY), self, self._confirm)
        QShortcut(QKeySequence(REJECT_KEY), self, self._reject)

        box = QFrame()
        box.setObjectName("kmBox")
        inner = QVBoxLayout(box)
        inner.addWidget(QLabel("Provenance"))
        inner.addWidget(self.provenance)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.grade)
        layout.addWidget(self.kind)
        layout.addWidget(box)
        layout.addWidget(self.decision)
        layout.addStretch(1)
        layout.addWidget(self.note)
        layout.addWidget(self.confirm_button)
        layout.addWidget(self.reject_button)

    @property
    def match(self) -> KnownMatch | None:
        return self._match

    def show_matches(self, matches: list[KnownMatch]) -> None:
        """Show the best match (exact before perceptual, then nearest)."""
        self._match = matches[0] if matches else None
        self._others = max(0, len(matches) - 1)
        m = self._match
        if m is None:
            return
        self.grade.setText(grade_text(m))
        self.kind.setText(kind_text(m))
        set_style_property(self.kind, "kind", "exact" if m.exact else "pdq")
        lst = m.hash_list
        others = f"<br>{self._others} more matching entr{'y' if self._others == 1 else 'ies'}."
        self.provenance.setText(
            f"List <b>{lst.name}</b>, version {lst.version}<br>"
            f"From <b>{lst.source_org}</b> (entry vouched for by {m.entry_source})<br>"
            f"Imported {lst.imported_at:%Y-%m-%d %H:%M} UTC from {lst.file_name}, line {m.line}"
            + (others if self._others else "")
        )
        grading = grading_for(m)
        actions = ", ".join(sorted(a.value for a in grading.actions)) or "none"
        self.decision.setText(
            f"Confirming stores this grade as your decision (age confidence "
            f"{grading.age_confidence.value if grading.age_confidence else '—'}, production "
            f"context unknown; actions: {actions})."
        )
        self.set_busy(False)

    def set_busy(self, busy: bool) -> None:
        self.confirm_button.setEnabled(not busy)
        self.reject_button.setEnabled(not busy)

    def _confirm(self) -> None:
        if self._match is not None and self.isVisible() and self.confirm_button.isEnabled():
            self.confirmed.emit(self._match)

    def _reject(self) -> None:
        if self._match is not None and self.isVisible() and self.reject_button.isEnabled():
            self.rejected.emit(self._match)
