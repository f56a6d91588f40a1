"""Windows are destroyed by Qt, never by Python's cyclic garbage collector.

The check after every UI test (conftest.py) relies on
`delete_windows_left_to_the_collector`; this shows that it finds such a window and
deletes it the Qt way."""

from __future__ import annotations

import weakref

from PySide6.QtWidgets import QDialog, QFormLayout, QLineEdit, QVBoxLayout
from pytestqt.qtbot import QtBot
from ui_helpers import delete_windows_left_to_the_collector


class _Form(QDialog):
    def __init__(self) -> None:
        super().__init__()
        form = QFormLayout()
        form.addRow("&Name", QLineEdit())
        QVBoxLayout(self).addLayout(form)
        self.me = self  # a reference cycle: only the collector can free it


def test_a_window_in_a_reference_cycle_is_found_and_deleted_by_qt(qtbot: QtBot) -> None:
    dialog = _Form()
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.close()
    wrapper = weakref.ref(dialog)
    del dialog
    assert delete_windows_left_to_the_collector() == ["_Form"]
    # Deleted by Qt, then its wrapper freed: nothing of it is left.
    assert wrapper() is None
    assert delete_windows_left_to_the_collector() == []


def test_a_window_deleted_when_done_with_is_not_reported(qtbot: QtBot) -> None:
    dialog = _Form()
    dialog.close()
    dialog.deleteLater()
    wrapper = weakref.ref(dialog)
    del dialog
    assert delete_windows_left_to_the_collector() == []
    assert wrapper() is None
