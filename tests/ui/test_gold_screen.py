"""Admin > Golden set on a seeded database: only synthetic items are offered, marking
stores the known answer (and takes the item out of the ordinary queue), unmarking stops
serving it; a lead is refused. Checked against the tables directly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import wiring
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from qa_helpers import SEED, account, add_items
from sqlalchemy import select
from ui_helpers import press

from db.media_store import MediaStore
from db.models import GoldItemRow
from db.store import Store
from reviewer.accounts import Role
from reviewer.clock import FakeClock
from reviewer.qa_service import QaService
from ui.gold_screen import NEEDS_ITEM, GoldScreen
from ui.main_window import build_main_window
from ui.tasks import Tasks

PASSWORD = "a long enough passphrase"


@pytest.fixture
def tasks(store: Store) -> Iterator[Tasks]:
    t = Tasks()
    yield t
    t.shutdown()


def gold_rows(store: Store) -> list[tuple[int, bool, str | None, str | None]]:
    gold = GoldItemRow.__table__
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(gold.c.item_id, gold.c.active, gold.c.severity, gold.c.age_band)
        ).all()
    return [(r[0], bool(r[1]), r[2], r[3]) for r in rows]


def test_an_admin_marks_and_unmarks_a_synthetic_item(
    qtbot: QtBot, store: Store, media: MediaStore, tasks: Tasks
) -> None:
    synthetic = add_items(store, 2, tag="synth", synthetic=True)
    [real] = add_items(store, 1, tag="real")
    accounts = store.accounts
    accounts.enrol_first_admin("Admin", PASSWORD)
    workstation = wiring.workstation(
        store, media, accounts=accounts, team_for=wiring.team_tools(store, media)
    )
    window = build_main_window(workstation.log_in("Admin", PASSWORD), tasks)
    qtbot.addWidget(window)
    window.show()
    assert window.admin_menu is not None
    [action] = [a for a in window.admin_menu.actions() if "Golden set" in a.text()]
    action.trigger()
    [screen] = window.team_windows
    assert isinstance(screen, GoldScreen)
    qtbot.waitUntil(lambda: screen.candidate_model.rowCount() == 2, timeout=10_000)

    # Only the synthetic items are offered; nothing is gold yet.
    offered = {screen.candidate_model.row(r).item_id for r in range(2)}
    assert offered == set(synthetic) and real not in offered
    assert screen.gold_model.rowCount() == 0 and gold_rows(store) == []
    assert NEEDS_ITEM in screen.panel.problems.text()

    # Choose the first synthetic item and its known answer with the grading keys.
    target = synthetic[0]
    row = next(
        r
        for r in range(screen.candidate_proxy.rowCount())
        if screen.candidate_proxy.index(r, 0).data(Qt.ItemDataRole.DisplayRole) == f"#{target}"
    )
    screen.candidate_view.selectRow(row)
    screen.activateWindow()
    qtbot.waitActive(screen)
    press(qtbot, "C 5 W F7")
    assert screen.panel.submit_button.isEnabled()
    with qtbot.waitSignal(screen.changed, timeout=10_000) as marked:
        screen.panel.submit_button.click()
    assert marked.args == ["marked", target]
    qtbot.waitUntil(lambda: screen.gold_model.rowCount() == 1, timeout=10_000)
    assert gold_rows(store) == [(target, True, "C", "14-15")]
    assert store.items.item_status(target) == "gold"  # out of the ordinary queue
    shown = screen.gold_model.row(0)
    assert (shown.item_id, shown.active, shown.synthetic) == (target, True, "test synth0")
    assert screen.candidate_model.rowCount() == 1  # gold now: no longer offered
    assert screen.candidate_model.row(0).item_id == synthetic[1]

    # Unmark: no longer served, kept on the list as unmarked.
    screen.gold_view.selectRow(0)
    assert screen.unmark_button.isEnabled()
    with qtbot.waitSignal(screen.changed, timeout=10_000):
        screen.unmark_button.click()
    qtbot.waitUntil(lambda: not screen.gold_model.row(0).active, timeout=10_000)
    assert gold_rows(store) == [(target, False, "C", "14-15")]
    shown_cells = [
        screen.gold_proxy.index(0, c).data(Qt.ItemDataRole.DisplayRole)
        for c in range(screen.gold_proxy.columnCount())
    ]
    assert "Unmarked" in shown_cells
    assert [e.kind for e in store.audit_events(item_id=target)][-2:] == [
        "gold_marked",
        "gold_unmarked",
    ]
    window.close()
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)


def test_a_lead_cannot_manage_the_golden_set(
    qtbot: QtBot, store: Store, tasks: Tasks, clock: FakeClock
) -> None:
    add_items(store, 1, tag="synth", synthetic=True)
    lead = QaService(store.qa, account(store, "Lee", Role.LEAD), clock, SEED)
    screen = GoldScreen(lead, tasks)
    qtbot.addWidget(screen)
    screen.refresh()
    qtbot.waitUntil(lambda: "cannot manage" in screen.status.text(), timeout=10_000)
    assert screen.candidate_model.rowCount() == 0 and not screen.panel.isEnabled()
