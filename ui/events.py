"""The one app-level announcement of state changes other screens may care about.

A screen that changes something announces it once; every screen listening decides
for itself whether that is a reason to refresh (Anki's change-set pattern).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from PySide6.QtCore import QObject, Signal


class Change(StrEnum):
    ITEM_CLAIMED = "item_claimed"
    DECISION_RECORDED = "decision_recorded"
    ITEM_SKIPPED = "item_skipped"
    ITEM_RELEASED = "item_released"
    QUEUE_CHANGED = "queue_changed"


@dataclass(frozen=True)
class ChangeSet:
    """What changed, and (when it was one item) which item in which queue."""

    kinds: frozenset[Change]
    item_id: int | None = None
    queue_id: int | None = None

    def touches(self, *kinds: Change) -> bool:
        return not self.kinds.isdisjoint(kinds)


class AppEvents(QObject):
    """Owned by the application; handed to every screen."""

    # change: the ChangeSet just applied to the store.
    changed = Signal(object)

    def announce(
        self, *kinds: Change, item_id: int | None = None, queue_id: int | None = None
    ) -> None:
        self.changed.emit(ChangeSet(frozenset(kinds), item_id, queue_id))
