"""The team lead's dashboard: queues against their targets, each person's workload and
exposure against the caps, QA agreement; refreshes itself; exports CSV; and the
lead's audited actions (release, reassign, end a break early).

Everything is read by DashboardService on the database worker; this module only
shows immutable snapshots. Exposure is drawn per person with the cap as a line and
the part over it in red, so a lead sees who is over, not a reassuring average.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSet,
    QChart,
    QChartView,
    QLineSeries,
    QStackedBarSeries,
    QValueAxis,
)
from PySide6.QtCore import (
    QMargins,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from reviewer.agreement import Figure
from reviewer.dashboard_service import (
    DashboardService,
    DashboardSnapshot,
    PersonLoad,
    QueueDepth,
    snapshot_csv,
)
from reviewer.untrusted import MAX_NOTE
from ui import text
from ui.events import AppEvents, Change, ChangeSet
from ui.tables import ALERT_COLOUR, Column, RowsModel, selected_row, table_view
from ui.tasks import Tasks
from ui.theme import set_style_property

REFRESH_MS: Final = 30_000
AGREEMENT_PERIODS: Final = ((7, "Last 7 days"), (30, "Last 30 days"), (90, "Last 90 days"))
OK_COLOUR: Final = "#5f8f94"
OVER_COLOUR: Final = ALERT_COLOUR
CAP_COLOUR: Final = "#e3c27d"


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def figure(f: Figure, percent: bool = True) -> str:
    """'0.64 (n=4)', '75 % (n=4)', or '— (n=0)' when undefined."""
    if f.value is None:
        return f"— (n={f.n})"
    value = f"{f.value * 100:.0f} %" if percent else f"{f.value:.2f}"
    return f"{value} (n={f.n})"


class CappedBarChart(QChartView):
    """Bars per name, the part above `cap` in red, and the cap as a line across."""

    def __init__(self, title: str, unit: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._unit = unit
        chart = QChart()
        chart.setTitle(title)
        chart.setBackgroundVisible(False)
        # No margins around the plot: on a laptop screen the table under it needs the room.
        chart.setMargins(QMargins(0, 0, 0, 0))
        chart.layout().setContentsMargins(0, 0, 0, 0)
        chart.setTitleBrush(QColor("#d9dde2"))
        chart.legend().setLabelColor(QColor("#d9dde2"))
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        chart.legend().setShowToolTips(True)
        self.setChart(chart)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(200)
        # What is drawn, for tests and the accessible description.
        self.values: list[float] = []
        self.cap = 0.0

    def show_values(
        self, names: Sequence[str], values: Sequence[float], cap: float, cap_label: str
    ) -> None:
        self.values, self.cap = list(values), cap
        chart = self.chart()
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)
        # Short names (the unit is the axis's title): the legend has a third of the
        # chart's width per entry; a name that still does not fit is elided, whole on hover.
        under = QBarSet("Within the cap")
        over = QBarSet("Over the cap")
        under.setColor(QColor(OK_COLOUR))
        over.setColor(QColor(OVER_COLOUR))
        for v in values:
            under.append(min(v, cap))
            over.append(max(0.0, v - cap))
        bars = QStackedBarSeries()
        bars.append(under)
        bars.append(over)
        chart.addSeries(bars)
        line = QLineSeries()
        line.setName(cap_label)
        line.setPen(QPen(QColor(CAP_COLOUR), 2, Qt.PenStyle.DashLine))
        line.append(-0.5, cap)
        line.append(max(1, len(values)) - 0.5, cap)
        chart.addSeries(line)
        x = QBarCategoryAxis()
        x.append(list(names) or [""])
        y = QValueAxis()
        y.setRange(0.0, max([cap * 1.25, *values, 1e-9]) * 1.05)
        y.applyNiceNumbers()
        y.setLabelFormat("%.0f")
        y.setTitleText(self._unit)
        # The cap line needs a numeric x axis aligned with the bar categories.
        line_x = QValueAxis()
        line_x.setRange(-0.5, max(1, len(values)) - 0.5)
        line_x.setVisible(False)
        for axis in (x, y, line_x):
            axis.setLabelsColor(QColor("#c4cad1"))
            axis.setTitleBrush(QColor("#c4cad1"))
            axis.setGridLineColor(QColor("#353a41"))
        chart.addAxis(x, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(line_x, Qt.AlignmentFlag.AlignTop)
        chart.addAxis(y, Qt.AlignmentFlag.AlignLeft)
        bars.attachAxis(x)
        bars.attachAxis(y)
        line.attachAxis(line_x)
        line.attachAxis(y)
        over_n = sum(1 for v in values if v >= cap)
        self.setAccessibleDescription(f"{over_n} of {len(values)} at or over the cap")


class ReasonDialog(QDialog):
    """A lead's override: a reason (required, audited), optionally a target queue."""

    def __init__(
        self,
        title: str,
        prompt: str,
        queues: list[tuple[int, str]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("Why (goes into the audit trail)")
        self.reason.setMaxLength(MAX_NOTE)  # the service refuses longer ones
        self.queue = QComboBox()
        form = QFormLayout()
        if queues is not None:
            for qid, name in queues:
                self.queue.addItem(name, qid)
            form.addRow("Move to queue:", self.queue)
        form.addRow("Reason:", self.reason)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(False)
        self.reason.textChanged.connect(lambda t: ok.setEnabled(bool(t.strip())))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(prompt))
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)
        # The first field has the focus when the dialog opens: typing is never lost.
        (self.queue if queues is not None else self.reason).setFocus()


def _write(path: str, content: str) -> str:
    Path(path).write_text(content, encoding="utf-8", newline="")
    return path


class DashboardScreen(QWidget):
    """Live team view for a lead."""

    # snapshot: the DashboardSnapshot now on screen.
    refreshed = Signal(object)
    # path: where a CSV export was written.
    exported = Signal(str)
    # what, count: a lead action that was stored ("released", "reassigned", "break").
    action_done = Signal(str, int)

    def __init__(
        self,
        service: DashboardService,
        tasks: Tasks,
        events: AppEvents | None = None,
        refresh_ms: int = REFRESH_MS,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._service = service
        self._tasks = tasks
        self._loading = False
        self.snapshot: DashboardSnapshot | None = None

        self.period = QComboBox()
        for days, label in AGREEMENT_PERIODS:
            self.period.addItem(label, days)
        self.period.setCurrentIndex(1)
        self.period.currentIndexChanged.connect(lambda _i: self.refresh())
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self._choose_export)
        self.updated = QLabel("Loading…")
        self.updated.setObjectName("status")
        self.alerts = QLabel("")
        self.alerts.setObjectName("alerts")
        self.alerts.setWordWrap(True)

        self.queue_model = RowsModel(
            [
                Column("Queue", lambda q: q.queue_name, lambda q: q.queue_name),
                Column("Priority", lambda q: q.priority_label, lambda q: q.priority),
                Column("Waiting", lambda q: str(q.pending), lambda q: q.pending),
                Column("In review", lambda q: str(q.claimed), lambda q: q.claimed),
                Column("Oldest waiting", self._oldest, self._oldest_s),
            ]
        )
        self.queue_view, _ = table_view(self.queue_model)
        self.age_chart = CappedBarChart("Oldest item's wait, % of the queue's target", "%")

        self.people_model = RowsModel(
            [
                Column("Person", lambda p: p.name, lambda p: p.name),
                Column("Role", lambda p: p.role, lambda p: p.role),
                Column(
                    "Last\nhour",
                    lambda p: str(p.decisions_last_hour),
                    lambda p: p.decisions_last_hour,
                ),
                Column("Today", lambda p: str(p.decisions_today), lambda p: p.decisions_today),
                Column("Holding", lambda p: str(p.held), lambda p: p.held),
                Column(
                    "A/B\ntoday",
                    lambda p: minutes(p.ab_revealed_today_s),
                    lambda p: p.ab_revealed_today_s,
                    lambda p: p.ab_revealed_today_s >= service.caps.daily_ab_s,
                ),
                Column(
                    "A/B this\nweek",
                    lambda p: minutes(p.ab_revealed_week_s),
                    lambda p: p.ab_revealed_week_s,
                    lambda p: p.ab_revealed_week_s >= service.caps.weekly_ab_s,
                ),
                Column(
                    "All\ntoday",
                    lambda p: minutes(p.revealed_today_s),
                    lambda p: p.revealed_today_s,
                ),
                Column(
                    "Breaks /\nended early",
                    lambda p: f"{p.breaks_taken} / {p.breaks_overridden}",
                    lambda p: p.breaks_overridden,
                    lambda p: p.breaks_overridden > 0,
                ),
            ]
        )
        # Headers on two lines: nine columns share half a laptop screen.
        self.people_view, self.people_proxy = table_view(self.people_model)
        self.people_view.setToolTip(
            "Revealed = seconds the picture was unprotected, from the exposure ledger; "
            "A/B = on items graded Category A or B (the welfare cap)."
        )
        self.people_view.selectionModel().selectionChanged.connect(
            lambda *_: self._update_actions()
        )
        self.exposure_chart = CappedBarChart("A/B revealed today, per person", "minutes")

        self.agreement_model = RowsModel(
            [
                Column("Person", lambda r: r[0], lambda r: r[0]),
                Column(
                    "Severity κ",
                    lambda r: figure(r[1].severity_kappa, percent=False),
                    lambda r: _sortable(r[1].severity_kappa),
                ),
                Column(
                    "Severity agreement",
                    lambda r: figure(r[1].severity_agreement),
                    lambda r: _sortable(r[1].severity_agreement),
                ),
                Column(
                    "Age band exact",
                    lambda r: figure(r[1].age_band_exact),
                    lambda r: _sortable(r[1].age_band_exact),
                ),
                Column(
                    "Age band ±1",
                    lambda r: figure(r[1].age_band_adjacent),
                    lambda r: _sortable(r[1].age_band_adjacent),
                ),
                Column(
                    "First-person context",
                    lambda r: figure(r[1].production_context_agreement),
                    lambda r: _sortable(r[1].production_context_agreement),
                ),
            ]
        )
        self.agreement_view, _ = table_view(self.agreement_model)

        self.release_button = QPushButton("Release their items…")
        self.release_button.clicked.connect(self._release)
        self.reassign_button = QPushButton("Move their items to a queue…")
        self.reassign_button.clicked.connect(self._reassign)
        self.end_break_button = QPushButton("End their break early…")
        self.end_break_button.clicked.connect(self._end_break)

        top = QHBoxLayout()
        title = QLabel("Team view")
        title.setObjectName("contextTitle")
        top.addWidget(title)
        top.addSpacing(16)
        top.addWidget(self.updated, 1)
        top.addWidget(QLabel("QA agreement over:"))
        top.addWidget(self.period)
        top.addWidget(self.refresh_button)
        top.addWidget(self.export_button)

        queues_box = QGroupBox("Queues")
        qb = QVBoxLayout(queues_box)
        qb.addWidget(self.queue_view, 1)
        qb.addWidget(self.age_chart, 1)
        people_box = QGroupBox("People: workload and exposure")
        pb = QVBoxLayout(people_box)
        pb.addWidget(self.exposure_chart, 1)
        pb.addWidget(self.people_view, 2)
        actions = QHBoxLayout()
        for b in (self.release_button, self.reassign_button, self.end_break_button):
            actions.addWidget(b)
        actions.addStretch(1)
        pb.addLayout(actions)
        agreement_box = QGroupBox("QA agreement (QA re-grades and gold items; n = items)")
        ab = QVBoxLayout(agreement_box)
        ab.addWidget(self.agreement_view)

        grid = QGridLayout()
        grid.addWidget(queues_box, 0, 0)
        grid.addWidget(people_box, 0, 1)
        grid.addWidget(agreement_box, 1, 0, 1, 2)
        # People has nine columns to the queues' five.
        grid.setColumnStretch(0, 2)
        grid.setColumnStretch(1, 3)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 1)
        # Room for a few people; on a laptop screen the tables above need the rest.
        self.agreement_view.setMinimumHeight(140)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.alerts)
        layout.addLayout(grid, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(refresh_ms)
        self.timer.timeout.connect(self.refresh)
        if events is not None:
            events.changed.connect(self._changed)
        self._update_actions()

    # -- refresh ------------------------------------------------------------------------

    def start(self) -> None:
        self.refresh()
        self.timer.start()

    def refresh(self) -> None:
        if self._loading:
            return
        self._loading = True
        self._tasks.db.submit(
            self._service.snapshot,
            int(self.period.currentData()),
            on_done=self._show,
            on_error=self._failed,
        )

    def _changed(self, change: ChangeSet) -> None:
        if change.touches(Change.DECISION_RECORDED, Change.QUEUE_CHANGED):
            self.refresh()

    def _failed(self, exc: Exception) -> None:
        self._loading = False
        self._say(
            f"Could not refresh ({type(exc).__name__}: {exc}); trying again shortly.", "error"
        )

    def _show(self, s: DashboardSnapshot) -> None:
        self._loading = False
        self.snapshot = s
        self.queue_model.set_rows(s.queues)
        ages = s.queue_ages()
        self.age_chart.show_values(
            [a.queue_name for a in ages],
            [100.0 * a.oldest_age_s / a.target_s if a.target_s else 0.0 for a in ages],
            100.0,
            "Target",
        )
        self.people_model.set_rows(s.people)
        self.exposure_chart.show_values(
            # First names: whole labels read faster than elided full names.
            [p.name.split()[0] if p.name.split() else p.name for p in s.people],
            [p.ab_revealed_today_s / 60 for p in s.people],
            s.caps.daily_ab_s / 60,
            f"Cap: {text.age(s.caps.daily_ab_s)} a day",
        )
        names = {p.user_id: p.name for p in s.people}
        rows = [(names.get(uid, f"user {uid}"), r) for uid, r in s.agreement.combined.items()]
        rows.append(("Whole team", s.agreement.team))
        self.agreement_model.set_rows(rows)
        over, near, week = s.over_daily_cap(), s.near_daily_cap(), s.over_weekly_cap()
        late = [a for a in ages if a.over_target]
        parts = [
            f"Over today's A/B cap: {len(over)}" + _who(over),
            f"within {s.caps.warning_s / 60:.0f} min of it: {len(near)}" + _who(near),
            f"over this week's: {len(week)}" + _who(week),
            f"queues past their target: {len(late)}"
            + (f" ({', '.join(a.queue_name for a in late)})" if late else ""),
            f"referrals OVERDUE: {s.referrals.overdue}, due within 2 h: {s.referrals.due_soon}"
            f" ({s.referrals.awaiting} awaiting, {s.referrals.unsent} built, not sent)",
            "last audit checkpoint: "
            + (text.when(s.last_audit_checkpoint) if s.last_audit_checkpoint else "never taken"),
        ]
        self.alerts.setText(" · ".join(parts))
        warn = over or week or late or s.referrals.overdue or s.audit_checkpoint_stale()
        set_style_property(self.alerts, "level", "warn" if warn else "info")
        self._say(f"Updated {text.when(s.at)}; refreshes every {self.timer.interval() // 1000} s.")
        self._update_actions()
        self.refreshed.emit(s)

    def _oldest(self, q: QueueDepth) -> str:
        if self.snapshot is None or q.oldest_pending_at is None:
            return "—"
        waited = (self.snapshot.at - q.oldest_pending_at).total_seconds()
        over = " (over target)" if waited > q.target_minutes * 60 else ""
        return f"{text.age(waited)} (target {text.age(q.target_minutes * 60)}){over}"

    def _oldest_s(self, q: QueueDepth) -> float:
        if self.snapshot is None or q.oldest_pending_at is None:
            return -1.0
        return (self.snapshot.at - q.oldest_pending_at).total_seconds()

    # -- export -------------------------------------------------------------------------

    def _choose_export(self) -> None:
        if self.snapshot is None:
            return
        path, _filter = QFileDialog.getSaveFileName(
            self, "Export the team view", "team-view.csv", "CSV files (*.csv)"
        )
        if path:
            self.export_to(path)

    def export_to(self, path: str) -> None:
        """Write the snapshot on screen to `path` (on the worker: no disk on this thread)."""
        if self.snapshot is None:
            return
        self._tasks.db.submit(
            _write,
            path,
            snapshot_csv(self.snapshot),
            on_done=self._exported,
            on_error=lambda e: self._say(f"Could not export ({type(e).__name__}: {e}).", "error"),
        )

    def _exported(self, path: str) -> None:
        self._say(f"Exported to {path}.")
        self.exported.emit(path)

    # -- lead actions -------------------------------------------------------------------

    def selected_person(self) -> PersonLoad | None:
        return selected_row(self.people_view, PersonLoad)

    def _update_actions(self) -> None:
        p = self.selected_person()
        for b in (self.release_button, self.reassign_button):
            b.setEnabled(p is not None and p.held > 0)
        self.end_break_button.setEnabled(p is not None)

    def _release(self) -> None:
        p = self.selected_person()
        if p is None:
            return
        dialog = ReasonDialog(
            "Release items",
            f"Hand back the {p.held} item(s) {p.name} holds to the queue.",
            parent=self,
        )
        dialog.accepted.connect(lambda: self.release(p.user_id, dialog.reason.text()))
        dialog.open()

    def _reassign(self) -> None:
        p = self.selected_person()
        if p is None:
            return
        self._tasks.db.submit(
            self._service.queues,
            on_done=lambda qs: self._open_reassign(p, qs),
            on_error=self._action_failed,
        )

    def _open_reassign(self, p: PersonLoad, queues: list[tuple[int, str]]) -> None:
        dialog = ReasonDialog(
            "Move items",
            f"Move the {p.held} item(s) {p.name} holds to "
            "another queue (they go back to waiting there).",
            queues,
            self,
        )
        dialog.accepted.connect(
            lambda: self.reassign(p.user_id, int(dialog.queue.currentData()), dialog.reason.text())
        )
        dialog.open()

    def _end_break(self) -> None:
        p = self.selected_person()
        if p is None:
            return
        dialog = ReasonDialog(
            "End a break early",
            f"End {p.name}'s break now. Breaks protect people; say why this one cannot wait.",
            parent=self,
        )
        dialog.accepted.connect(lambda: self.end_break(p.user_id, dialog.reason.text()))
        dialog.open()

    def release(self, user_id: int, reason: str) -> None:
        self._tasks.db.submit(
            self._service.release_claims,
            user_id,
            reason,
            on_done=lambda n: self._acted("released", n),
            on_error=self._action_failed,
        )

    def reassign(self, user_id: int, queue_id: int, reason: str) -> None:
        self._tasks.db.submit(
            self._service.reassign,
            user_id,
            queue_id,
            reason,
            on_done=lambda n: self._acted("reassigned", n),
            on_error=self._action_failed,
        )

    def end_break(self, user_id: int, reason: str) -> None:
        self._tasks.db.submit(
            self._service.end_break_early,
            user_id,
            reason,
            on_done=lambda _none: self._acted("break", 1),
            on_error=self._action_failed,
        )

    def _acted(self, what: str, n: int) -> None:
        said = {
            "released": f"{n} item(s) handed back to the queue.",
            "reassigned": f"{n} item(s) moved.",
            "break": "Break ended early; recorded with your reason.",
        }[what]
        self._say(said)
        self.action_done.emit(what, n)
        self.refresh()

    def _action_failed(self, exc: Exception) -> None:
        self._say(f"Not done: {exc}", "error")

    # -- status -------------------------------------------------------------------------

    def _say(self, message: str, level: str = "info") -> None:
        self.updated.setText(message)
        set_style_property(self.updated, "level", level)


def _sortable(f: Figure) -> float:
    return -1.0 if f.value is None else f.value


def _who(people: list[PersonLoad]) -> str:
    return f" ({', '.join(p.name for p in people)})" if people else ""
