"""Confirm a grade for a near-duplicate group from a grid of protected thumbnails.

After a decision on an item whose group still has pending members, the moderator sees
each member as a small greyscale, blurred thumbnail (rendered on the render pool from
bytes the database worker read; nothing decoded here) and ticks the ones that are the
same picture. Ticked members get the same grade, each as its own decision with a zero
exposure record; unticked ones leave the group and are graded on their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from reviewer.matching import DupGroup, GroupMember
from ui.image_view import Raster, thumbnail_raster
from ui.tasks import Tasks

THUMB: Final = (180, 140)
COLUMNS: Final = 4


class _Tile(QWidget):
    def __init__(self, member: GroupMember) -> None:
        super().__init__()
        self.member = member
        self.picture = QLabel("rendering…")
        self.picture.setFixedSize(*THUMB)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setStyleSheet("background: #262626; color: #bebebe; border-radius: 4px;")
        self.tick = QCheckBox(f"Item #{member.item_id} · PDQ distance {member.distance}")
        self.tick.setChecked(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picture)
        layout.addWidget(self.tick)

    def show_raster(self, raster: Raster) -> None:
        # Finished for THUMB on the render pool: shown as it is.
        self.picture.setPixmap(QPixmap.fromImage(raster.image))

    def show_failure(self, reason: str) -> None:
        self.picture.setText(f"not shown:\n{reason}")
        self.tick.setChecked(False)


class DupGroupGrid(QDialog):
    """The group's pending members, protected; confirm the grade for the ticked ones."""

    # ticked, unticked: item ids (list[int], list[int]).
    decided = Signal(list, list)

    def __init__(
        self,
        group: DupGroup,
        from_item_id: int,
        grade: str,
        tasks: Tasks,
        fetch: Callable[[GroupMember], bytes],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Near-duplicates — confirm the grade")
        self.group = group
        self.from_item_id = from_item_id
        self._tasks = tasks
        members = group.pending_except(from_item_id)
        title = QLabel(
            f"<b>{len(members)} pending near-duplicate(s)</b> in the group of item "
            f"#{from_item_id}, which you graded <b>{grade}</b>. Distances are in PDQ bits "
            f"from the group's representative, #{group.representative_item_id} (at most "
            f"{group.max_distance} here)."
        )
        title.setWordWrap(True)
        hint = QLabel(
            "Untick any that are not the same picture; they will be graded on their own. "
            "Thumbnails stay greyscale and blurred; confirming records no viewing."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #aeb6bf;")
        grid = QGridLayout()
        self.tiles: list[_Tile] = []
        for n, member in enumerate(members):
            tile = _Tile(member)
            tile.tick.toggled.connect(self._count)
            self.tiles.append(tile)
            grid.addWidget(tile, n // COLUMNS, n % COLUMNS)
        holder = QWidget()
        holder.setLayout(grid)
        area = QScrollArea()
        area.setWidget(holder)
        area.setWidgetResizable(True)
        self.apply_button = QPushButton()
        self.apply_button.setDefault(True)
        self.apply_button.clicked.connect(self._apply)
        self.separately = QPushButton("Grade them separately")
        self.separately.clicked.connect(self._separately)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.separately)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addWidget(area, 1)
        layout.addLayout(buttons)
        self._count()
        for tile in self.tiles:
            self._load(tile, fetch)

    def _load(self, tile: _Tile, fetch: Callable[[GroupMember], bytes]) -> None:
        # Bytes on the database worker, pixels on the render pool: never here.
        def failed(exc: Exception) -> None:
            tile.show_failure(type(exc).__name__)

        def fetched(data: bytes) -> None:
            self._tasks.render.submit(
                thumbnail_raster, data, THUMB, on_done=tile.show_raster, on_error=failed
            )

        self._tasks.db.submit(fetch, tile.member, on_done=fetched, on_error=failed)

    def ticked(self) -> list[int]:
        return [t.member.item_id for t in self.tiles if t.tick.isChecked()]

    def unticked(self) -> list[int]:
        return [t.member.item_id for t in self.tiles if not t.tick.isChecked()]

    def _count(self) -> None:
        n = len(self.ticked())
        self.apply_button.setText(f"Apply the grade to {n} ticked")
        self.apply_button.setEnabled(n > 0)

    def _apply(self) -> None:
        self.decided.emit(self.ticked(), self.unticked())
        self.accept()

    def _separately(self) -> None:
        self.decided.emit([], [t.member.item_id for t in self.tiles])
        self.accept()
