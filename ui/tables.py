"""Read-only tables over immutable rows, shared by the team screens (dashboard,
adjudication, calibration, golden set): one model, replaced whole on refresh, with named
roles for the row object and a sort key, behind a sorting proxy."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

ALERT_COLOUR: Final = "#d0564b"

# Named roles of every table model here.
RowRole: Final = Qt.ItemDataRole.UserRole + 1  # the immutable row object
SortRole: Final = Qt.ItemDataRole.UserRole + 2  # a number or text to sort by

R = TypeVar("R")


@dataclass(frozen=True)
class Column:
    header: str
    display: Callable[[Any], str]
    sort: Callable[[Any], Any]
    alert: Callable[[Any], bool] | None = None


class RowsModel(QAbstractTableModel):
    """A read-only table over a tuple of immutable rows, replaced whole on refresh.
    `emphasis` picks rows shown in bold (e.g. not yet seen)."""

    def __init__(
        self,
        columns: Sequence[Column],
        parent: Any = None,
        emphasis: Callable[[Any], bool] | None = None,
    ) -> None:
        super().__init__(parent)
        self._columns = list(columns)
        self._rows: tuple[Any, ...] = ()
        self._emphasis = emphasis

    def set_rows(self, rows: Sequence[Any]) -> None:
        self.beginResetModel()
        self._rows = tuple(rows)
        self.endResetModel()

    def row(self, index: int) -> Any:
        return self._rows[index]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        row, col = self._rows[index.row()], self._columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.display(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            # A cell too narrow for its text is elided ("…"); the whole text on hover.
            return col.display(row) or None
        if role == SortRole:
            return col.sort(row)
        if role == RowRole:
            return row
        if role == Qt.ItemDataRole.ForegroundRole and col.alert and col.alert(row):
            return QColor(ALERT_COLOUR)
        if role == Qt.ItemDataRole.FontRole and self._emphasis and self._emphasis(row):
            font = QFont()
            font.setBold(True)
            return font
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if (
            role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole)
            and orientation == Qt.Orientation.Horizontal
        ):
            return self._columns[section].header
        return None

    def roleNames(self) -> dict[int, QByteArray]:
        names = super().roleNames()
        names[RowRole] = QByteArray(b"row")
        names[SortRole] = QByteArray(b"sortKey")
        return names


def table_view(model: RowsModel) -> tuple[QTableView, QSortFilterProxyModel]:
    """A sortable, single-row-selecting view of `model`, and the proxy between them."""
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setSortRole(SortRole)
    view = QTableView()
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().hide()
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.horizontalHeader().setStretchLastSection(True)
    # A header narrower than its text ends in "…" (QHeaderView's default cuts it off at
    # both ends); its tooltip has it whole.
    view.horizontalHeader().setTextElideMode(Qt.TextElideMode.ElideRight)
    view.setAlternatingRowColors(True)
    view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    ColumnFitter(view)
    return view, proxy


class ColumnFitter(QObject):
    """Sizes a table's columns to their contents and, when together they are wider than
    the view, narrows the widest ones first until they fit: their cells and headers are
    then elided, whole in the tooltip (RowsModel), instead of columns off to the right
    behind a scroll bar. Columns stay resizable by hand until the next refresh."""

    def __init__(self, view: QTableView) -> None:
        super().__init__(view)
        self._view = view
        model = view.model()
        for signal in (model.modelReset, model.layoutChanged, model.rowsInserted):
            signal.connect(self.fit)
        # The viewport narrows when a vertical scroll bar appears; the view may not resize.
        view.installEventFilter(self)
        view.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self.fit()
        return False

    def fit(self) -> None:
        view, header = self._view, self._view.horizontalHeader()
        columns = [c for c in range(header.count()) if not header.isSectionHidden(c)]
        if not columns:
            return
        view.resizeColumnsToContents()
        room = view.viewport().width()
        wanted = {c: header.sectionSize(c) for c in columns}
        if sum(wanted.values()) <= room:
            # Sized to contents, the last column stretches over the rest again.
            last = columns[-1]
            header.resizeSection(last, wanted[last] + room - sum(wanted.values()))
            return
        # The widest columns give way first: every column is capped at one width, the
        # largest at which they all fit (cells and headers then end in "…", whole on
        # hover), none below a few characters; the first column, what names the row (a
        # person, a queue), stays whole where it can.
        least = max(header.minimumSectionSize(), view.fontMetrics().horizontalAdvance("Mm…"))
        floors = {c: min(w, least) for c, w in wanted.items()}
        named = floors | {columns[0]: wanted[columns[0]]}
        if sum(named.values()) <= room:
            floors = named

        def width(c: int, cap: int) -> int:
            return max(min(wanted[c], cap), floors[c])

        low, high = 0, max(wanted.values())
        while low < high:
            cap = (low + high + 1) // 2
            if sum(width(c, cap) for c in columns) <= room:
                low = cap
            else:
                high = cap - 1
        for c in columns:
            header.resizeSection(c, width(c, low))


def selected_row(view: QTableView, kind: type[R]) -> R | None:
    """The row object selected in a view made by table_view, or None (nothing selected,
    or a row of another kind: a view may be between two models)."""
    rows = view.selectionModel().selectedRows()
    row = rows[0].data(RowRole) if rows else None
    return row if isinstance(row, kind) else None
