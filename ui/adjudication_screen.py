"""A team lead settles QA disputes: the samples on which a blind QA re-grade disagreed
with the moderator's grade, both grades side by side with who gave each, and a form
for the final grade with the reason the moderator will read (calibration, not blame).

No picture is shown here. A reveal must be metered into the exposure ledger against a
claim and count towards the viewer's caps under their welfare session; this window
has neither, so it shows nothing of the item, and a lead settles a dispute from the
two grades (the item can still be sent to QA again, where viewing is metered).

Every call runs on the database lane; the service checks ADJUDICATE on each.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final, Protocol

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from reviewer.accounts import AccessDenied
from reviewer.grading import Grading
from reviewer.qa_model import Dispute
from ui import text
from ui.grade_card import GradeCard, field_list
from ui.grading_panel import GradingPanel, keyed
from ui.list_screen import ListScreen
from ui.tables import Column, RowRole, RowsModel, selected_row, table_view
from ui.tasks import Tasks

REASON_TITLE: Final = "Reason for the moderator (required; they read it as calibration)"
NEEDS_REASON: Final = "Say why: the moderator reads this reason with the final grade."
NEEDS_DISPUTE: Final = "Choose a dispute from the list."
INTRO: Final = (
    "QA re-graded these decisions blind and came to a different grade. Record the final "
    "grade and say why: the moderator sees the final grade and your reason, not who "
    "re-graded it. The item itself is not shown here; settle it from the two grades."
)


class AdjudicationPort(Protocol):
    """What the screen needs of reviewer.qa_service.QaService."""

    def disputes(self) -> list[Dispute]: ...
    def adjudicate(self, sample_id: int, final: Grading, reason: str) -> None: ...


class AdjudicationScreen(ListScreen):
    """The disputes waiting for a lead, oldest re-grade first."""

    # disputes: the list of Dispute now on screen.
    refreshed = Signal(list)
    # sample_id: the dispute just settled (final grade and reason stored, audited).
    adjudicated = Signal(int)

    def __init__(
        self, service: AdjudicationPort, tasks: Tasks, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._service = service
        self._tasks = tasks
        self._busy = False
        self._denied = False

        self.model = RowsModel(
            [
                Column(
                    "Re-graded", lambda d: text.when(d.graded_at), lambda d: d.graded_at.timestamp()
                ),
                Column("Item", lambda d: f"#{d.item_id}", lambda d: d.item_id),
                Column("Moderator", lambda d: d.moderator_name, lambda d: d.moderator_name),
                Column("QA reviewer", lambda d: d.qa_user_name, lambda d: d.qa_user_name),
                Column("Differ on", lambda d: field_list(d.fields), lambda d: len(d.fields)),
            ]
        )
        self.view, self.proxy = table_view(self.model)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._show_selected())

        self.first = GradeCard()
        self.qa = GradeCard()
        cards = QHBoxLayout()
        cards.addWidget(self.first, 1)
        cards.addWidget(self.qa, 1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.view, 1)
        left_layout.addLayout(cards)

        self.panel = GradingPanel(note_title=REASON_TITLE)
        self.panel.note.setPlaceholderText(
            "What decides it, in words the moderator can use next time  [Ctrl+L]"
        )
        self.panel.submit_button.setText(keyed("Ctrl+Enter", "Record final grade"))
        self.panel.set_extra_rule(self._problems)
        self.panel.submitted.connect(self._submit)
        self.from_first = QPushButton("Start from the moderator's grade")
        self.from_first.clicked.connect(lambda: self._start_from("first"))
        self.from_qa = QPushButton("Start from QA's grade")
        self.from_qa.clicked.connect(lambda: self._start_from("qa"))
        starts = QHBoxLayout()
        starts.addWidget(self.from_first)
        starts.addWidget(self.from_qa)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        form_title = QLabel("Final grade")
        form_title.setObjectName("contextTitle")
        right_layout.addWidget(form_title)
        right_layout.addLayout(starts)
        right_layout.addWidget(self.panel, 1)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        split.setSizes([900, 600])
        self._frame("QA disputes", INTRO, split)
        self._show_selected()

    # -- loading ------------------------------------------------------------------------

    def refresh(self) -> None:
        self._tasks.db.submit(self._service.disputes, on_done=self._loaded, on_error=self._failed)

    def _loaded(self, disputes: list[Dispute]) -> None:
        chosen = self.selected()
        self.model.set_rows(disputes)
        rows = [self.proxy.index(r, 0).data(RowRole) for r in range(self.proxy.rowCount())]
        keep = [n for n, d in enumerate(rows) if chosen and d.sample_id == chosen.sample_id]
        if rows:
            self.view.selectRow(keep[0] if keep else 0)
        self._show_selected()
        n = len(disputes)
        self._say(f"{n} dispute(s) waiting." if n else "No disputes waiting: nothing to settle.")
        self.refreshed.emit(disputes)

    def _failed(self, exc: Exception) -> None:
        if isinstance(exc, AccessDenied):
            self._denied = True
            self.model.set_rows([])
            self._show_selected()
            self._say(f"You cannot adjudicate: {exc}", "error")
        else:
            self._say(f"Could not complete ({type(exc).__name__}: {exc}).", "error")
        self.panel.setEnabled(not self._denied)

    # -- the dispute on screen ----------------------------------------------------------

    def selected(self) -> Dispute | None:
        return selected_row(self.view, Dispute)

    def _show_selected(self) -> None:
        d = self.selected()
        differ = d.fields if d is not None else ()
        if d is None:
            self.first.show_grading("Moderator's grade", None)
            self.qa.show_grading("QA re-grade (blind)", None)
        else:
            by = f"{d.moderator_name}, {text.when(d.decided_at)}. Sampled: {d.reason.label}."
            self.first.show_grading("Moderator's grade", d.first, differ, by)
            by = f"{d.qa_user_name}, {text.when(d.graded_at)}"
            self.qa.show_grading("QA re-grade (blind)", d.qa, differ, by)
        for button in (self.from_first, self.from_qa):
            button.setEnabled(d is not None and not self._busy)
        self.panel.recheck()

    def _start_from(self, which: str) -> None:
        d = self.selected()
        if d is not None:
            self.panel.set_grading(d.first if which == "first" else d.qa)

    def _problems(self, grading: Grading) -> list[str]:
        out = [] if self.selected() is not None else [NEEDS_DISPUTE]
        return out + ([] if grading.note.strip() else [NEEDS_REASON])

    # -- recording the final grade -------------------------------------------------------

    def _submit(self, grading: Grading) -> None:
        d = self.selected()
        if d is None or self._busy:
            return
        reason = grading.note.strip()
        self._busy = True
        self.panel.set_busy(True)
        self._say(f"Recording the final grade for item #{d.item_id}…")
        self._tasks.db.submit(
            self._service.adjudicate,
            d.sample_id,
            # The reason doubles as the note ("Not assessable: other" needs one).
            replace(grading, note=reason),
            reason,
            on_done=lambda _none: self._recorded(d),
            on_error=self._submit_failed,
        )

    def _recorded(self, d: Dispute) -> None:
        self._busy = False
        self.panel.set_busy(False)
        self.panel.clear()
        self._say(
            f"Final grade recorded for item #{d.item_id}; {d.moderator_name} will see it "
            "with your reason."
        )
        self.adjudicated.emit(d.sample_id)
        self.refresh()

    def _submit_failed(self, exc: Exception) -> None:
        self._busy = False
        self.panel.set_busy(False)
        self._say(f"Not recorded: {exc}", "error")
        if not isinstance(exc, AccessDenied):
            self.refresh()  # e.g. another lead settled it meanwhile: the list says so
