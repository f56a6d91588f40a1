"""The golden set, for admins: the gold items with their known answers (unmark one to
stop serving it), and synthetic items that can be marked gold with an answer.

Only synthetic items can be gold (the repository refuses any other): a gold item is
served to every moderator in turn, and real material must not be shown over and over
to test people. No item is shown here; the answer comes from how it was generated.

Every call runs on the database lane; the service checks MANAGE_SETTINGS on each.
"""

from __future__ import annotations

from typing import Final, Protocol

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from reviewer.accounts import AccessDenied
from reviewer.grading import Grading
from reviewer.qa_model import GoldCandidate, GoldItem
from ui import text
from ui.grade_card import summary
from ui.grading_panel import GradingPanel, keyed
from ui.list_screen import ListScreen
from ui.tables import Column, RowsModel, selected_row, table_view
from ui.tasks import Tasks

INTRO: Final = (
    "Gold items have a known answer and are mixed into moderators' queues at the "
    "configured rate; nothing on screen tells them apart. Only synthetic items (generated, "
    "and marked so at ingest) can be gold, since each is shown to every moderator in turn."
)
NEEDS_ITEM: Final = "Choose a synthetic item to mark."


class GoldPort(Protocol):
    """What the screen needs of reviewer.qa_service.QaService."""

    def gold_items(self) -> list[GoldItem]: ...
    def gold_candidates(self) -> list[GoldCandidate]: ...
    def mark_gold(self, item_id: int, expected: Grading) -> int: ...
    def unmark_gold(self, gold_id: int) -> None: ...


def _active(g: GoldItem) -> bool:
    return g.active


def _answer(g: GoldItem) -> str:
    return summary(g.expected, with_context=False)


def _received(c: GoldCandidate) -> float:
    return c.received_at.timestamp()


def _load(service: GoldPort) -> tuple[list[GoldItem], list[GoldCandidate]]:
    """Database lane job: both lists, read together."""
    return service.gold_items(), service.gold_candidates()


class GoldScreen(ListScreen):
    """Gold items and candidates on the left, the known-answer form on the right."""

    # gold, candidates: the two lists now on screen.
    refreshed = Signal(list, list)
    # what, item_id: "marked" or "unmarked", and the item it concerned.
    changed = Signal(str, int)

    def __init__(self, service: GoldPort, tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._service = service
        self._tasks = tasks
        self._busy = False

        self.gold_model = RowsModel(
            [
                Column("Item", lambda g: f"#{g.item_id}", lambda g: g.item_id),
                Column("Queue", lambda g: g.queue_name, lambda g: g.queue_name),
                Column("Known answer", _answer, _answer),
                Column("Served", lambda g: "Yes" if g.active else "Unmarked", _active),
                Column("Generated as", lambda g: g.synthetic, lambda g: g.synthetic),
            ],
            emphasis=lambda g: g.active,
        )
        self.gold_view, self.gold_proxy = table_view(self.gold_model)
        self.gold_view.selectionModel().selectionChanged.connect(lambda *_: self._update())
        self.unmark_button = QPushButton("Unmark: stop serving it")
        self.unmark_button.clicked.connect(self.unmark_selected)

        self.candidate_model = RowsModel(
            [
                Column("Item", lambda c: f"#{c.item_id}", lambda c: c.item_id),
                Column("Queue", lambda c: c.queue_name, lambda c: c.queue_name),
                Column("Received", lambda c: text.when(c.received_at), _received),
                Column("Generated as", lambda c: c.synthetic, lambda c: c.synthetic),
            ]
        )
        self.candidate_view, self.candidate_proxy = table_view(self.candidate_model)
        self.candidate_view.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.candidate_view.selectionModel().selectionChanged.connect(lambda *_: self._update())

        self.panel = GradingPanel(note_title="Note (optional, kept in the audit trail)")
        # A short note here: the whole form then fits without scrolling.
        self.panel.note.setFixedHeight(self.panel.note.fontMetrics().lineSpacing() * 2 + 16)
        self.panel.submit_button.setText(keyed("Ctrl+Enter", "Mark as gold with this answer"))
        self.panel.set_extra_rule(
            lambda _g: [] if self.selected_candidate() is not None else [NEEDS_ITEM]
        )
        self.panel.submitted.connect(self._mark)

        gold_box = QGroupBox("Gold items")
        gb = QVBoxLayout(gold_box)
        gb.addWidget(self.gold_view, 1)
        unmark_row = QHBoxLayout()
        unmark_row.addWidget(self.unmark_button)
        unmark_row.addStretch(1)
        gb.addLayout(unmark_row)
        candidates_box = QGroupBox("Synthetic items that can be marked")
        QVBoxLayout(candidates_box).addWidget(self.candidate_view)
        answer_box = QGroupBox("Known answer for the chosen item")
        QVBoxLayout(answer_box).addWidget(self.panel)

        lists = QSplitter(Qt.Orientation.Vertical)
        lists.addWidget(gold_box)
        lists.addWidget(candidates_box)
        lists.setChildrenCollapsible(False)
        # The form gets the full height: its fields then need no scrolling.
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(lists)
        split.addWidget(answer_box)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        split.setSizes([800, 600])
        self._frame("Golden set", INTRO, split)
        self._update()

    # -- loading ------------------------------------------------------------------------

    def refresh(self) -> None:
        self._tasks.db.submit(_load, self._service, on_done=self._loaded, on_error=self._failed)

    def _loaded(self, lists: tuple[list[GoldItem], list[GoldCandidate]]) -> None:
        gold, candidates = lists
        self.gold_model.set_rows(gold)
        self.candidate_model.set_rows(candidates)
        self._update()
        active = sum(g.active for g in gold)
        self._say(
            f"{active} gold item(s) served, {len(gold) - active} unmarked; "
            f"{len(candidates)} synthetic item(s) could be marked."
        )
        self.refreshed.emit(gold, candidates)

    def _failed(self, exc: Exception) -> None:
        self._busy = False
        self.panel.set_busy(False)
        if isinstance(exc, AccessDenied):
            self._say(f"You cannot manage the golden set: {exc}", "error")
            self.panel.setEnabled(False)
        else:
            self._say(f"Not done: {exc}", "error")
        self._update()

    # -- selection ----------------------------------------------------------------------

    def selected_gold(self) -> GoldItem | None:
        return selected_row(self.gold_view, GoldItem)

    def selected_candidate(self) -> GoldCandidate | None:
        return selected_row(self.candidate_view, GoldCandidate)

    def _update(self) -> None:
        g = self.selected_gold()
        self.unmark_button.setEnabled(g is not None and g.active and not self._busy)
        self.panel.recheck()

    # -- actions ------------------------------------------------------------------------

    def _mark(self, grading: Grading) -> None:
        c = self.selected_candidate()
        if c is None or self._busy:
            return
        self._busy = True
        self.panel.set_busy(True)
        self._tasks.db.submit(
            self._service.mark_gold,
            c.item_id,
            grading,
            on_done=lambda _gid: self._done("marked", c.item_id),
            on_error=self._failed,
        )

    def unmark_selected(self) -> None:
        g = self.selected_gold()
        if g is None or not g.active or self._busy:
            return
        self._busy = True
        self._tasks.db.submit(
            self._service.unmark_gold,
            g.id,
            on_done=lambda _none: self._done("unmarked", g.item_id),
            on_error=self._failed,
        )

    def _done(self, what: str, item_id: int) -> None:
        self._busy = False
        self.panel.set_busy(False)
        if what == "marked":
            self.panel.clear()
            self._say(f"Item #{item_id} is gold now; it leaves the ordinary queue.")
        else:
            self._say(f"Item #{item_id} is no longer served as gold.")
        self.changed.emit(what, item_id)
        self.refresh()
