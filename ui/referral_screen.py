"""The Referrals window: items graded "Report to authority" awaiting a referral, the
form that builds one (destination, priority level, incident type), the stored
referrals with what is due and overdue, each one's gaps, and "Export to folder…" into
a folder the user chooses (nothing is written anywhere else).

Every service call (reading, building, exporting: the database and the disk) runs on
the Tasks database lane, never on the GUI thread. The window refreshes itself every
minute so "due" turns into "OVERDUE" while it is open.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from reviewer.destinations import (
    Destination,
    DestinationRules,
    DueState,
    Priority,
    describe_due,
    due_state,
    reference_keep_until,
    report_hold_until,
)
from reviewer.referral_model import IncidentType
from reviewer.referral_service import (
    AwaitingReferral,
    Referral,
    ReferralIncomplete,
    ReferralsOverview,
)
from ui.tables import ALERT_COLOUR, Column, RowRole, RowsModel, selected_row, table_view
from ui.tasks import Tasks

REFRESH_MS = 60_000
DUE_SOON_COLOUR = "#d9a441"


class ReferralPort(Protocol):
    def overview(self) -> ReferralsOverview: ...
    def build(
        self,
        item_id: int,
        destination: Destination,
        *,
        priority: Priority | None = ...,
        incident_type: IncidentType | None = ...,
        allow_incomplete: bool = ...,
    ) -> Referral: ...
    def export(self, referral_id: int, folder: Path) -> list[Path]: ...


class _DueModel(RowsModel):
    """Rows with a due time: overdue in the alert colour, due soon in amber."""

    def __init__(self, columns: list[Column], due: Callable[[Any], DueState]) -> None:
        super().__init__(columns)
        self._due = due

    def data(self, index: Any, role: int = 0) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and index.isValid():
            state = self._due(self.row(index.row()))
            if state is DueState.OVERDUE:
                return QColor(ALERT_COLOUR)
            if state is DueState.DUE_SOON:
                return QColor(DUE_SOON_COLOUR)
        return super().data(index, role)


class ReferralsWindow(QWidget):
    referral_built = Signal(object)  # Referral
    referral_exported = Signal(list)  # list[Path] written
    referral_failed = Signal(str)

    def __init__(
        self,
        service: ReferralPort,
        tasks: Tasks,
        choose_folder: Callable[[QWidget], str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Referrals to authorities")
        self._service = service
        self._tasks = tasks
        self._choose_folder = choose_folder or _ask_folder
        self._now: datetime | None = None
        self._rules = DestinationRules()
        self._select_after: int | None = None

        # -- awaiting a referral ---------------------------------------------------------
        self.awaiting_model = _DueModel(
            [
                Column(
                    "Due", lambda a: self._due_text(a.due_at, None), lambda a: a.due_at.timestamp()
                ),
                Column("Item", lambda a: str(a.item_id), lambda a: a.item_id),
                Column("Grade", lambda a: a.severity.label, lambda a: a.severity.value),
                Column(
                    "Suggested",
                    lambda a: f"{a.destination.short}, level {int(a.priority)}",
                    lambda a: int(a.priority),
                ),
                Column(
                    "Decided",
                    lambda a: f"{a.decided_at:%Y-%m-%d %H:%M}",
                    lambda a: a.decided_at.timestamp(),
                ),
                Column("By", lambda a: a.decided_by or "—", lambda a: a.decided_by or ""),
            ],
            lambda a: due_state(a.due_at, None, self._now or a.due_at),
        )
        self.awaiting_table, self._awaiting_proxy = table_view(self.awaiting_model)
        self.awaiting_table.setAccessibleName("Items awaiting a referral")
        self.awaiting_table.selectionModel().selectionChanged.connect(self._awaiting_selected)

        self.destination = QComboBox()
        for d in Destination:
            self.destination.addItem(d.label, d.value)  # Qt stores plain values
        self.destination.setAccessibleName("Destination")
        self.priority = QComboBox()
        for p in Priority:
            self.priority.addItem(p.label, int(p))
        self.priority.setAccessibleName("Priority level")
        self.incident = QComboBox()
        for t in IncidentType:
            self.incident.addItem(t.label, t.value)
        self.incident.setAccessibleName("Incident type")
        self.allow_incomplete = QCheckBox("Store it even if data is missing (the gaps are listed)")
        self.build_button = QPushButton("&Build referral")
        self.build_button.setEnabled(False)
        self.build_button.clicked.connect(self.build_selected)

        form = QFormLayout()
        form.addRow("Send to:", self.destination)
        form.addRow("Priority:", self.priority)
        form.addRow("Incident type:", self.incident)
        form.addRow("", self.allow_incomplete)
        form.addRow("", self.build_button)
        form_box = QGroupBox("Build a referral for the selected item")
        form_box.setLayout(form)

        awaiting_box = QGroupBox("Graded “Report to authority”, no referral yet")
        awaiting_layout = QHBoxLayout(awaiting_box)
        awaiting_layout.addWidget(self.awaiting_table, 3)
        awaiting_layout.addWidget(form_box, 2)

        # -- stored referrals ------------------------------------------------------------
        self.model = _DueModel(
            [
                Column("Due", lambda r: self._due_text(r.due_at, r.sent_at), _referral_order),
                Column("Priority", _priority_text, lambda r: int(r.priority)),
                Column("Reference", lambda r: r.reference, lambda r: r.reference),
                Column("To", lambda r: r.destination.short, lambda r: r.destination.value),
                Column(
                    "Items",
                    lambda r: ", ".join(str(i) for i in r.item_ids),
                    lambda r: min(r.item_ids, default=0),
                ),
                Column("Status", _status_text, _status_text),
                Column("By", lambda r: r.created_by_name or "—", lambda r: r.created_by_name or ""),
            ],
            lambda r: due_state(r.due_at, r.sent_at, self._now or r.created_at),
        )
        self.table, self._proxy = table_view(self.model)
        self.table.setAccessibleName("Referrals")
        self.table.selectionModel().selectionChanged.connect(self._show_selected)

        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.detail.setAccessibleName("Referral details and gaps")
        self.detail.setPlaceholderText("Select a referral to see what it says and what it lacks.")

        self.export_button = QPushButton("&Export to folder…")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.export_selected)
        self.refresh_button = QPushButton("&Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.summary = QLabel("")
        self.summary.setAccessibleName("Due and overdue")
        self.status = QLabel("")
        self.status.setWordWrap(True)

        note = QLabel(
            "Due times follow the destination and priority level (an admin sets them with "
            "`reviewer referral rules`). "
            "Content already referred to NCMEC is not referred to the NCA again. UK packages "
            "carry no images: hashes and metadata only."
        )
        note.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.summary, 1)

        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.table)
        lower.addWidget(self.detail)
        lower.setSizes([860, 480])
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(awaiting_box)
        split.addWidget(lower)
        split.setSizes([260, 380])
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)

        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    # -- loading ---------------------------------------------------------------------------

    def refresh(self) -> None:
        self.status.setText("Loading…")
        self._tasks.db.submit(self._service.overview, on_done=self._loaded, on_error=self._failed)

    def _loaded(self, view: ReferralsOverview) -> None:
        self._now = view.now
        self._rules = view.rules
        keep_awaiting = self.selected_awaiting()
        keep = self._select_after or getattr(self.selected(), "id", None)
        self._select_after = None
        self.awaiting_model.set_rows(view.awaiting)
        self.model.set_rows(view.referrals)
        kept_item = getattr(keep_awaiting, "item_id", None)
        if (
            not self._select(self.awaiting_table, lambda a: a.item_id == kept_item)
            and view.awaiting
        ):
            self.awaiting_table.selectRow(0)  # the most urgent first
        if not self._select(self.table, lambda r: r.id == keep) and view.referrals:
            self.table.selectRow(0)
        self._awaiting_selected()
        states = [due_state(a.due_at, None, view.now) for a in view.awaiting]
        states += [due_state(r.due_at, r.sent_at, view.now) for r in view.referrals]
        overdue = states.count(DueState.OVERDUE)
        soon = states.count(DueState.DUE_SOON)
        self.summary.setText(
            f"{len(view.awaiting)} awaiting a referral; "
            f"{sum(r.sent_at is None for r in view.referrals)} built, not sent; "
            f"{overdue} OVERDUE; {soon} due within 2 h"
        )
        self.summary.setStyleSheet(f"color: {ALERT_COLOUR};" if overdue else "")
        self.status.setText(f"{len(view.referrals)} referral(s) stored.")

    def _select(self, view: QTableView, match: Callable[[Any], Any]) -> bool:
        model = view.model()
        for n in range(model.rowCount()):
            if match(model.index(n, 0).data(RowRole)):
                view.selectionModel().select(
                    model.index(n, 0),
                    QItemSelectionModel.SelectionFlag.ClearAndSelect
                    | QItemSelectionModel.SelectionFlag.Rows,
                )
                return True
        return False

    def _failed(self, exc: Exception) -> None:
        if isinstance(exc, ReferralIncomplete):
            msg = "The referral is incomplete, nothing was stored. Missing:\n" + "\n".join(
                f"  - {m}" for m in exc.missing
            )
            self.detail.setPlainText(
                msg + "\n\nAdd the data, or tick “Store it even if data is missing”."
            )
            text = f"Not built: {len(exc.missing)} field(s) missing (listed on the right)."
        else:
            text = str(exc) or type(exc).__name__
        self.status.setText(f"Could not complete: {text}")
        self.referral_failed.emit(text)

    def _due_text(self, due: datetime | None, sent: datetime | None) -> str:
        if self._now is None:
            return "—"
        return describe_due(due, sent, self._now)

    # -- building ----------------------------------------------------------------------------

    def selected_awaiting(self) -> AwaitingReferral | None:
        return selected_row(self.awaiting_table, AwaitingReferral)

    def _awaiting_selected(self, *_: object) -> None:
        a = self.selected_awaiting()
        self.build_button.setEnabled(a is not None)
        if a is None:
            return
        # The suggestion for this item; the lead may choose another.
        self.destination.setCurrentIndex(self.destination.findData(a.destination.value))
        self.priority.setCurrentIndex(self.priority.findData(int(a.priority)))
        self.incident.setCurrentIndex(self.incident.findData(a.incident_type.value))

    def chosen(self) -> tuple[Destination, Priority, IncidentType]:
        """The destination, priority level and incident type the form says."""
        return (
            Destination(self.destination.currentData()),
            Priority(self.priority.currentData()),
            IncidentType(self.incident.currentData()),
        )

    def build_selected(self) -> None:
        a = self.selected_awaiting()
        if a is None:
            return
        destination, priority, incident = self.chosen()
        self.status.setText(f"Building a referral of item {a.item_id} to {destination.label}…")
        # The service's own method, not one of this window's: the worker never touches
        # a widget, not even to read an attribute.
        build = partial(
            self._service.build,
            priority=priority,
            incident_type=incident,
            allow_incomplete=self.allow_incomplete.isChecked(),
        )
        self._tasks.db.submit(
            build, a.item_id, destination, on_done=self._built, on_error=self._failed
        )

    def _built(self, ref: Referral) -> None:
        self._select_after = ref.id
        self.referral_built.emit(ref)
        self.refresh()
        gaps = f", {len(ref.missing)} gap(s) listed" if ref.missing else ", complete"
        self.status.setText(f"Stored {ref.reference}{gaps}.")

    # -- selection and export ----------------------------------------------------------------

    def selected(self) -> Referral | None:
        return selected_row(self.table, Referral)

    def _show_selected(self, *_: object) -> None:
        r = self.selected()
        self.export_button.setEnabled(r is not None and r.package is not None)
        if r is None:
            self.detail.clear()
            return
        head = [f"{r.reference}: to {r.destination.label}"]
        if r.urgent:
            head.append("URGENT: a child may be at immediate risk.")
        head += [
            f"{r.priority.label}; {self._due_text(r.due_at, r.sent_at)}",
        ]
        if r.incident_type is not None:
            head.append(f"Incident type: {r.incident_type.label}")
        if r.sent_at is not None:
            rule = self._rules[r.destination]
            hold = report_hold_until(self._rules, [(r.destination, r.sent_at)])
            keep = reference_keep_until(self._rules, r.destination, r.sent_at)
            head.append(
                f"What it relates to is held until {hold:%Y-%m-%d} "
                f"({rule.report_hold_days} days); its reference is kept until {keep:%Y-%m-%d}."
            )
        if r.disposed_at is not None:
            head.append(
                f"The package's personal data was disposed of on {r.disposed_at:%Y-%m-%d} "
                "under the retention rules; its reference and times are kept."
            )
        elif r.missing:
            head.append("INCOMPLETE. Missing:")
            head += [f"  - {m}" for m in r.missing]
        else:
            head.append("Complete.")
        body = r.summary if r.summary and r.disposed_at is None else ""
        self.detail.setPlainText("\n".join(head) + ("\n\n" + body if body else ""))

    def export_selected(self) -> None:
        r = self.selected()
        if r is None:
            return
        folder = self._choose_folder(self)
        if not folder:
            self.status.setText("Export cancelled; nothing was written.")
            return
        self.status.setText(f"Exporting {r.reference}…")
        self._tasks.db.submit(
            self._service.export,
            r.id,
            Path(folder),
            on_done=self._exported,
            on_error=self._failed,
        )

    def _exported(self, paths: list[Path]) -> None:
        self.referral_exported.emit(paths)
        self.refresh()
        self.status.setText("Written: " + ", ".join(str(p) for p in paths))


_UNSENT_NOT_URGENT = 1e11  # above any timestamp in seconds
_SENT = 1e12


def _referral_order(r: Referral) -> float:
    """One number Qt can sort by: not yet sent first (urgent, then earliest due), then
    sent ones, newest first."""
    if r.sent_at is None:
        due = r.due_at.timestamp() if r.due_at else _UNSENT_NOT_URGENT - 1
        return due + (0 if r.urgent else _UNSENT_NOT_URGENT)
    return _SENT - r.sent_at.timestamp()


def _priority_text(r: Referral) -> str:
    urgent = " URGENT" if r.urgent else ""
    return f"Level {int(r.priority)}{urgent}"


def _status_text(r: Referral) -> str:
    if r.disposed_at is not None:
        return "Text disposed (retention)"
    return "Complete" if r.complete else f"Incomplete: {len(r.missing)} missing"


def _ask_folder(parent: QWidget) -> str:
    return QFileDialog.getExistingDirectory(
        parent, "Export referral to folder", "", QFileDialog.Option.ShowDirsOnly
    )
