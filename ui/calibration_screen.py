"""A moderator's calibration notes: when a blind QA re-grade of one of their decisions
came out differently, a team lead settled the final grade; here the moderator sees
their grade, the final grade and the lead's reason.

Calibration, not blame: the wording says what was agreed and why, never who re-graded
the item, and nothing appears before a lead has settled it (the service returns only
adjudicated outcomes, so QA's own grade is never shown). A note counts as seen once the
moderator has opened it; the count of unseen notes is offered to the menu.
"""

from __future__ import annotations

from typing import Final, Protocol

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from reviewer.qa_model import CalibrationNote, differences
from ui import text
from ui.grade_card import GradeCard, field_list, summary
from ui.list_screen import ListScreen
from ui.tables import Column, RowRole, RowsModel, selected_row, table_view
from ui.tasks import Tasks

INTRO: Final = (
    "Now and then a decision is looked at again, blind, to keep the team grading alike. "
    "When the two grades differed, a team lead agreed the final grade. These notes are "
    "for calibration: they are not a mark against you."
)
EMPTY: Final = (
    "No notes yet. When one of your decisions has been looked at again and a lead has "
    "agreed a final grade, you will see it here."
)


def outcome(note: CalibrationNote) -> str:
    """'Your grade stood' or 'Agreed grade differs on: severity, age band'."""
    if note.confirmed:
        return "Your grade stood"
    return f"Agreed grade differs on: {field_list(differences(note.yours, note.final))}"


class CalibrationPort(Protocol):
    """What the screen needs of reviewer.qa_service.QaService."""

    def my_calibration(self) -> list[CalibrationNote]: ...
    def acknowledge(self, sample_ids: list[int]) -> int: ...


def _adjudicated(note: CalibrationNote) -> float:
    return note.adjudicated_at.timestamp()


def _yours(note: CalibrationNote) -> str:
    return summary(note.yours, with_context=False)


def _agreed(note: CalibrationNote) -> str:
    return summary(note.final, with_context=False)


def unseen(notes: list[CalibrationNote]) -> int:
    return sum(not n.seen for n in notes)


class CalibrationScreen(ListScreen):
    """The outcomes of one's own adjudicated decisions, newest first."""

    # notes: the list of CalibrationNote now on screen.
    refreshed = Signal(list)
    # unseen: how many notes are still unread, after loading or opening one.
    unseen_changed = Signal(int)

    def __init__(
        self, service: CalibrationPort, tasks: Tasks, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._service = service
        self._tasks = tasks

        self.model = RowsModel(
            [
                Column("Agreed on", lambda n: text.when(n.adjudicated_at), _adjudicated),
                Column("New", lambda n: "" if n.seen else "●", lambda n: n.seen),
                Column("Item", lambda n: f"#{n.item_id}", lambda n: n.item_id),
                Column("Outcome", outcome, lambda n: n.confirmed),
                Column("Your grade", _yours, _yours),
                Column("Agreed grade", _agreed, _agreed),
            ],
            emphasis=lambda n: not n.seen,
        )
        self.view, self.proxy = table_view(self.model)
        self.view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._show_selected())

        self.yours = GradeCard(with_decision=False)
        self.final = GradeCard(with_decision=False)
        self.reason = QLabel()
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reason.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        reason_box = QGroupBox("Why (from the team lead)")
        QVBoxLayout(reason_box).addWidget(self.reason)
        cards = QHBoxLayout()
        cards.addWidget(self.yours, 1)
        cards.addWidget(self.final, 1)
        detail = QWidget()
        detail_layout = QVBoxLayout(detail)
        detail_layout.setContentsMargins(0, 0, 0, 0)
        detail_layout.addLayout(cards)
        detail_layout.addWidget(reason_box)
        detail_layout.addStretch(1)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.view)
        split.addWidget(detail)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setChildrenCollapsible(False)
        self._frame("Calibration notes", INTRO, split)
        self._show_selected()

    # -- loading ------------------------------------------------------------------------

    def refresh(self) -> None:
        self._tasks.db.submit(
            self._service.my_calibration, on_done=self._loaded, on_error=self._failed
        )

    def _loaded(self, notes: list[CalibrationNote]) -> None:
        chosen = self.selected()
        self.model.set_rows(notes)
        rows = [self.proxy.index(r, 0).data(RowRole) for r in range(self.proxy.rowCount())]
        if chosen is not None:
            pick = next((i for i, n in enumerate(rows) if n.sample_id == chosen.sample_id), 0)
        else:  # the newest note not yet read, else the newest
            pick = next((i for i, n in enumerate(rows) if not n.seen), 0)
        if rows:
            self.view.selectRow(pick)
        self._show_selected()
        left = unseen(notes)
        if not notes:
            self._say(EMPTY)
        else:
            self._say(f"{len(notes)} note(s), {left} new." if left else f"{len(notes)} note(s).")
        self.refreshed.emit(notes)
        self.unseen_changed.emit(left)

    def _failed(self, exc: Exception) -> None:
        self._say(f"Could not load your notes ({type(exc).__name__}: {exc}).", "error")

    # -- the note on screen -------------------------------------------------------------

    def selected(self) -> CalibrationNote | None:
        return selected_row(self.view, CalibrationNote)

    def _show_selected(self) -> None:
        n = self.selected()
        if n is None:
            self.yours.show_grading("Your grade", None)
            self.final.show_grading("Agreed grade", None)
            self.reason.setText("")
            return
        differ = differences(n.yours, n.final)
        when = text.when(n.decided_at)
        self.yours.show_grading("Your grade", n.yours, differ, f"Item #{n.item_id}, {when}")
        by = f"Agreed {text.when(n.adjudicated_at)}"
        self.final.show_grading("Agreed grade", n.final, differ, by)
        self.reason.setText(n.reason)
        if not n.seen:
            # Opened, so seen: stored on the worker, then the list is read again.
            self._tasks.db.submit(
                self._service.acknowledge,
                [n.sample_id],
                on_done=lambda _n: self.refresh(),
                on_error=self._failed,
            )
