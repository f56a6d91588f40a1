"""The Referrals window: items graded "Report to authority" are listed awaiting a
referral; the window builds one (destination, priority, incident type), shows its gaps,
shows what is due and overdue, and exports into the chosen folder only, with the
database and disk work on the worker thread."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from referral_fixtures import (
    FULL_CHAT,
    FULL_SUBJECT,
    REVEALED,
    add_item,
    decide,
    reporting_lead,
    settings_check,
)
from ui_helpers import clipped_texts, laptop_size

from db.media_store import MediaStore
from db.store import Store
from reviewer.clock import FakeClock
from reviewer.destinations import Destination, Priority
from reviewer.referral_model import IncidentType
from reviewer.referral_service import ReferralService
from ui.referral_screen import ReferralsWindow
from ui.tables import ALERT_COLOUR
from ui.tasks import Tasks

HOUR = 3600.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def timed_store(migrated_db_url: str, clock: FakeClock) -> Iterator[Store]:
    s = Store.open(migrated_db_url, clock=clock)
    yield s
    s.close()


def _service(store: Store, media: MediaStore) -> tuple[ReferralService, dict[str, int]]:
    repo = store.referrals
    repo.update_settings(
        settings_check(store),
        organisation="Example Ltd",
        contact_name="Lead",
        contact_email="l@example.test",
    )
    svc = ReferralService(repo, media, reporting_lead(store))
    full = add_item(store, media, seed=1, subject=FULL_SUBJECT, chat=FULL_CHAT)
    decide(store, full, exposure=REVEALED)
    urgent = add_item(store, media, seed=2, subject=FULL_SUBJECT, imminent_risk=True)
    decide(store, urgent)
    gappy = add_item(store, media, seed=3)  # no subject: the package has gaps
    decide(store, gappy)
    return svc, {"full": full, "urgent": urgent, "gappy": gappy}


def _awaiting_ids(window: ReferralsWindow) -> list[int]:
    v = window.awaiting_table.model()
    return [int(v.index(r, 1).data()) for r in range(v.rowCount())]


def _select_awaiting(window: ReferralsWindow, item: int) -> None:
    window.awaiting_table.selectRow(_awaiting_ids(window).index(item))
    assert window.selected_awaiting() is not None
    assert window.selected_awaiting().item_id == item  # type: ignore[union-attr]


def test_graded_items_wait_and_the_window_builds_shows_gaps_and_exports(
    qtbot: QtBot, timed_store: Store, media: MediaStore, tmp_path: Path
) -> None:
    svc, ids = _service(timed_store, media)
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    answers = [""]  # first: the user cancels the folder dialog
    window = ReferralsWindow(
        svc, Tasks(synchronous=True), choose_folder=lambda parent: answers.pop(0)
    )
    qtbot.addWidget(window)
    window.refresh()

    # Every item graded "Report to authority" waits; the urgent one (due first) on top.
    assert _awaiting_ids(window)[0] == ids["urgent"]
    assert sorted(_awaiting_ids(window)) == sorted(ids.values())
    assert window.model.rowCount() == 0
    assert "3 awaiting a referral" in window.summary.text()

    # Selecting an item fills the form with its suggestion: an urgent item is level 1.
    _select_awaiting(window, ids["urgent"])
    destination, priority, _ = window.chosen()
    assert (destination, priority) == (Destination.NCA, Priority.LEVEL_1)
    # Lowering an urgent item's level is refused, and nothing is stored.
    window.priority.setCurrentIndex(window.priority.findData(2))
    with qtbot.waitSignal(window.referral_failed) as refused:
        window.build_button.click()
    assert "must be priority level 1" in refused.args[0]
    assert window.model.rowCount() == 0 and ids["urgent"] in _awaiting_ids(window)

    # The gappy item, without "store anyway": refused, the gaps listed, nothing stored.
    _select_awaiting(window, ids["gappy"])
    window.destination.setCurrentIndex(window.destination.findData("ncmec"))
    with qtbot.waitSignal(window.referral_failed):
        window.build_button.click()
    assert "account email" in window.detail.toPlainText()
    assert window.model.rowCount() == 0
    # With it ticked: stored; its gaps shown on selection; the US incident types offered.
    labels = [window.incident.itemText(i) for i in range(window.incident.count())]
    assert "Child sex trafficking (18 U.S.C. 1591)" in labels
    assert "Enticement of a minor (18 U.S.C. 2422(b))" in labels
    window.incident.setCurrentIndex(window.incident.findData("child_sex_trafficking"))
    window.allow_incomplete.setChecked(True)
    with qtbot.waitSignal(window.referral_built) as built:
        window.build_button.click()
    ref = built.args[0]
    assert ref.destination is Destination.NCMEC and ref.missing
    assert ref.incident_type is IncidentType.CHILD_SEX_TRAFFICKING
    assert ids["gappy"] not in _awaiting_ids(window)
    assert window.selected() is not None and window.selected().id == ref.id  # type: ignore[union-attr]
    text = window.detail.toPlainText()
    assert "INCOMPLETE. Missing:" in text and "account email" in text
    assert "Child sex trafficking" in text

    # The complete one to the NCA, then exported: cancel first, then the chosen folder.
    _select_awaiting(window, ids["full"])
    window.destination.setCurrentIndex(window.destination.findData("nca"))
    window.allow_incomplete.setChecked(False)
    with qtbot.waitSignal(window.referral_built) as built:
        window.build_button.click()
    uk = built.args[0]
    assert window.selected().id == uk.id  # type: ignore[union-attr]
    assert "Complete." in window.detail.toPlainText()
    before = set(tmp_path.rglob("*"))
    window.export_selected()
    assert "cancelled" in window.status.text() and set(tmp_path.rglob("*")) == before
    answers.append(str(chosen))
    with qtbot.waitSignal(window.referral_exported) as sig:
        window.export_selected()
    written = set(sig.args[0])
    assert {p.suffix for p in written} == {".json", ".txt"}
    assert all(p.parent == chosen for p in written)
    assert set(tmp_path.rglob("*")) - before == written
    package = json.loads(next(p for p in written if p.suffix == ".json").read_text())
    assert package["destination"] == "nca" and package["priority_level"] == 2
    detail = window.detail.toPlainText()
    assert "sent" in detail and "(365 days); its reference is kept until" in detail

    answers.append(str(chosen))  # again: refuses to overwrite, says so
    with qtbot.waitSignal(window.referral_failed) as sig:
        window.export_selected()
    assert "already exists" in sig.args[0]


def _due_cells(window: ReferralsWindow) -> list[tuple[str, Any]]:
    v = window.awaiting_table.model()
    out = []
    for r in range(v.rowCount()):
        idx = v.index(r, 0)
        colour = idx.data(0x9)  # Qt.ForegroundRole
        out.append((idx.data(), colour.name() if colour is not None else None))
    return out


def test_due_then_overdue_as_time_passes(
    qtbot: QtBot, timed_store: Store, media: MediaStore, clock: FakeClock
) -> None:
    svc, ids = _service(timed_store, media)
    window = ReferralsWindow(svc, Tasks(synchronous=True), choose_folder=lambda p: "")
    qtbot.addWidget(window)
    window.refresh()
    cells = dict(zip(_awaiting_ids(window), _due_cells(window), strict=True))
    assert cells[ids["urgent"]][0] == "due in 1 h 00 min"  # level 1: 1 hour
    assert cells[ids["urgent"]][1] == "#d9a441"  # due soon: amber
    assert cells[ids["full"]][0] == "due in 1 d 0 h"  # level 2: 24 hours
    assert cells[ids["full"]][1] is None
    assert "0 OVERDUE" in window.summary.text()

    clock.advance(2 * HOUR)
    window.refresh()
    cells = dict(zip(_awaiting_ids(window), _due_cells(window), strict=True))
    assert cells[ids["urgent"]][0] == "OVERDUE by 1 h 00 min"
    assert cells[ids["urgent"]][1] == ALERT_COLOUR
    assert cells[ids["full"]][0] == "due in 22 h 00 min"
    assert "1 OVERDUE" in window.summary.text()

    # Built but not sent stays overdue in the referrals table; sending ends it.
    ref = svc.build(ids["urgent"], Destination.NCA)
    window.refresh()
    v = window.table.model()
    assert v.index(0, 0).data().startswith("OVERDUE by")
    assert v.index(0, 1).data() == "Level 1 URGENT"
    assert ref.due_at is not None


def test_build_and_export_run_on_the_worker_thread(
    qtbot: QtBot, timed_store: Store, media: MediaStore, tmp_path: Path
) -> None:
    svc, ids = _service(timed_store, media)
    threads: dict[str, str] = {}

    class Watched:
        def __getattr__(self, name: str) -> Any:
            fn = getattr(svc, name)

            def call(*args: Any, **kw: Any) -> Any:
                threads[name] = threading.current_thread().name
                return fn(*args, **kw)

            return call

    tasks = Tasks()
    try:
        window = ReferralsWindow(
            Watched(),  # type: ignore[arg-type]
            tasks,
            choose_folder=lambda p: str(tmp_path),
        )
        qtbot.addWidget(window)
        window.refresh()
        qtbot.waitUntil(lambda: window.awaiting_model.rowCount() == 3, timeout=10_000)
        _select_awaiting(window, ids["full"])
        with qtbot.waitSignal(window.referral_built, timeout=20_000):
            window.build_button.click()
        qtbot.waitUntil(lambda: window.selected() is not None, timeout=10_000)
        with qtbot.waitSignal(window.referral_exported, timeout=20_000):
            window.export_selected()
    finally:
        tasks.shutdown()
    gui = threading.main_thread().name
    assert {"overview", "build", "export"} <= set(threads)
    assert all(name != gui for name in threads.values()), threads


def test_nothing_is_clipped_on_a_1366_by_768_laptop(
    qtbot: QtBot, themed: None, timed_store: Store, media: MediaStore, tmp_path: Path
) -> None:
    svc, ids = _service(timed_store, media)
    window = ReferralsWindow(svc, Tasks(synchronous=True), choose_folder=lambda p: "")
    qtbot.addWidget(window)
    window.resize(*laptop_size())
    window.show()
    window.refresh()
    # One referral built, so the lower table has a row, with its "By".
    _select_awaiting(window, ids["full"])
    window.destination.setCurrentIndex(window.destination.findData("nca"))
    with qtbot.waitSignal(window.referral_built):
        window.build_button.click()
    qtbot.wait(50)
    assert clipped_texts(window) == []
