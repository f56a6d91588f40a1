"""Adjudication and calibration on a seeded database, opened from the Team menu as the
app does it: the disputes shown are the database's, a lead's final grade and reason are
stored and audited, and the moderator then reads them as a calibration note (and only
then); a moderator cannot adjudicate. Rows are checked against the tables directly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import wiring
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot
from qa_helpers import SEED, add_items, graded
from sqlalchemy import select
from sqlalchemy.orm import aliased
from ui_helpers import clipped_texts, laptop_size

from db.media_store import MediaStore
from db.models import AdjudicationRow, QaGradeRow, QaSampleRow, UserRow
from db.store import Store
from reviewer.accounts import Role, VettingStatus
from reviewer.clock import FakeClock
from reviewer.grading import Grading
from reviewer.model import Exposure
from reviewer.qa_model import QaSettings
from reviewer.qa_service import QaService
from reviewer.review_service import Workstation
from reviewer.sampling import SamplingPolicy
from reviewer.vocabulary import AgeBand, ProductionContext, Severity
from ui.adjudication_screen import NEEDS_REASON, AdjudicationScreen
from ui.calibration_screen import CalibrationScreen
from ui.idle_lock import LockTimings
from ui.main_window import MainWindow, build_main_window
from ui.tasks import Tasks

PASSWORD = "a long enough passphrase"
MODERATOR, QA_REVIEWER, LEAD = "Sam Okafor", "Priya Nair", "Morgan Reid"
REASON = "The lower third shows penetrative activity: Category A, whatever the framing."

# (the moderator's grade, QA's blind re-grade): three disagree, one agrees.
PAIRS = (
    (graded(Severity.B, AgeBand.B11_13), graded(Severity.A, AgeBand.B11_13)),
    (graded(Severity.C, AgeBand.B14_15), graded(Severity.C, AgeBand.B14_15)),
    (
        graded(Severity.A, AgeBand.B7_10, ProductionContext.GROOMED),
        graded(Severity.A, AgeBand.B3_6, ProductionContext.GROOMED),
    ),
    (Grading(Severity.NOT_ILLEGAL), Grading(Severity.NOT_ILLEGAL, csea_related=True)),
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(migrated_db_url: str, clock: FakeClock) -> Iterator[Store]:
    s = Store.open(migrated_db_url, clock=clock)
    yield s
    s.close()


@pytest.fixture
def tasks(store: Store) -> Iterator[Tasks]:
    t = Tasks()
    yield t
    t.shutdown()


@pytest.fixture
def workstation(store: Store, media: MediaStore, clock: FakeClock) -> Workstation:
    """A moderator, a QA reviewer and a lead; four decisions sampled and re-graded."""
    accounts = store.accounts
    admin = accounts.enrol_first_admin("Admin", PASSWORD)
    for name, roles in (
        (MODERATOR, {Role.MODERATOR}),
        (QA_REVIEWER, {Role.QA}),
        (LEAD, {Role.LEAD}),
    ):
        person = accounts.create_user(admin, name, PASSWORD, roles)
        accounts.set_vetting(admin, person.id, VettingStatus.VETTED, clock.now().date())
    qa = store.qa
    QaService(qa, admin, clock, SEED).set_settings(
        QaSettings(SamplingPolicy(1.0, True, 1.0, 0), gold_rate=0.0)
    )
    add_items(store, len(PAIRS))
    mod = wiring.session(
        store,
        media,
        accounts.authenticate(MODERATOR, PASSWORD),
        review_service=wiring.calibrated(qa, SEED),
    )
    quinn = wiring.qa_review(qa, media, accounts.authenticate(QA_REVIEWER, PASSWORD), clock)
    for first, _ in PAIRS:
        claim = mod.claim_next()
        assert claim is not None
        mod.submit(claim, first, Exposure(), f"d{claim.claim_id}")
    regrades = dict(zip(range(1, len(PAIRS) + 1), (qa_grade for _, qa_grade in PAIRS), strict=True))
    while (claim := quinn.claim_next()) is not None:
        quinn.submit(claim, regrades[claim.item.id], Exposure(), f"q{claim.claim_id}")
    return wiring.workstation(
        store, media, accounts=accounts, clock=clock, team_for=wiring.team_tools(store, media)
    )


def signed_in(
    qtbot: QtBot, workstation: Workstation, tasks: Tasks, name: str, **kw: Any
) -> MainWindow:
    window = build_main_window(workstation.log_in(name, PASSWORD), tasks, **kw)
    qtbot.addWidget(window)
    window.show()
    return window


def open_tool(window: MainWindow, label: str) -> QWidget:
    assert window.team_menu is not None
    [action] = [a for a in window.team_menu.actions() if label in a.text().replace("&", "")]
    action.trigger()
    return window.team_windows[-1]


def disputes_in_db(store: Store) -> dict[int, tuple[str, str]]:
    """item id -> (moderator, QA reviewer) of every sample awaiting a lead, read directly."""
    samples, grades = QaSampleRow.__table__, QaGradeRow.__table__
    mod, qa_user = aliased(UserRow.__table__), aliased(UserRow.__table__)
    q = (
        select(samples.c.item_id, mod.c.name, qa_user.c.name)
        .join(grades, grades.c.sample_id == samples.c.id)
        .join(mod, mod.c.id == samples.c.moderator_id)
        .join(qa_user, qa_user.c.id == grades.c.qa_user_id)
        .where(samples.c.status == "disputed")
    )
    with store.engine.connect() as conn:
        return {item: (m, q_) for item, m, q_ in conn.execute(q)}


def cells(screen: AdjudicationScreen | CalibrationScreen) -> list[list[str]]:
    model = screen.proxy
    return [
        [model.index(r, c).data(Qt.ItemDataRole.DisplayRole) for c in range(model.columnCount())]
        for r in range(model.rowCount())
    ]


def texts(widget: QWidget) -> list[str]:
    return [label.text() for label in widget.findChildren(QLabel)] + [widget.windowTitle()]


def test_a_lead_settles_a_dispute_and_the_moderator_reads_why(
    qtbot: QtBot, workstation: Workstation, tasks: Tasks, store: Store
) -> None:
    lead = signed_in(qtbot, workstation, tasks, LEAD)
    screen = open_tool(lead, "Adjudicate QA disputes")
    assert isinstance(screen, AdjudicationScreen)
    qtbot.waitUntil(lambda: screen.model.rowCount() == 3, timeout=10_000)

    # The rows are the database's disputes, with who graded what and where they differ.
    expected = disputes_in_db(store)
    shown = {int(r[1].lstrip("#")): (r[2], r[3]) for r in cells(screen)}
    assert shown == expected == {i: (MODERATOR, QA_REVIEWER) for i in (1, 3, 4)}
    differ = {r[1]: r[4] for r in cells(screen)}  # "Differ on"
    assert differ == {"#1": "severity", "#3": "age band", "#4": "CSEA-related"}

    # Item 1, side by side: Sam said B, Priya (blind) said A; only severity is marked.
    row = next(n for n, r in enumerate(cells(screen)) if r[1] == "#1")
    screen.view.selectRow(row)
    assert MODERATOR in screen.first.by.text() and QA_REVIEWER in screen.qa.by.text()
    assert "Routine random sample" in screen.first.by.text()  # why it was sampled
    assert screen.first.shown["severity"] == "Category B"
    assert screen.qa.shown["severity"] == "Category A"
    assert screen.first.marked == screen.qa.marked == {"severity"}

    # Start from QA's grade; the reason is required before anything is stored.
    screen.from_qa.click()
    assert screen.panel.grading().severity is Severity.A
    assert not screen.panel.submit_button.isEnabled()
    assert NEEDS_REASON in screen.panel.problems.text()
    qtbot.keyClicks(screen.panel.note, REASON)
    assert screen.panel.submit_button.isEnabled()
    with qtbot.waitSignal(screen.adjudicated, timeout=10_000) as done:
        screen.panel.submit_button.click()
    qtbot.waitUntil(lambda: screen.model.rowCount() == 2, timeout=10_000)

    adjudications = AdjudicationRow.__table__
    with store.engine.connect() as conn:
        [stored] = conn.execute(select(adjudications)).all()
    assert stored.sample_id == done.args[0]
    assert (stored.severity, stored.age_band, stored.reason) == ("A", "11-13", REASON)
    [audit] = store.audit_events(kind="qa_adjudicated")
    assert audit.item_id == 1 and audit.detail["reason"] == REASON
    assert (
        store.accounts.users()[[u.name for u in store.accounts.users()].index(LEAD)].id
        == audit.user_id
    )
    assert 1 not in disputes_in_db(store)

    # Sam signs in: one new note in the menu and the status bar, only for the settled one.
    sam = signed_in(qtbot, workstation, tasks, MODERATOR)
    qtbot.waitUntil(lambda: sam.unseen_notes == 1, timeout=10_000)
    assert sam.calibration_action is not None
    assert sam.calibration_action.text() == "My &calibration notes (1 new)…"
    assert (
        sam.calibration_link.isVisible() and "1 new calibration note" in sam.calibration_link.text()
    )
    assert not [a for a in sam.team_menu.actions() if "Adjudicate" in a.text()]
    notes = open_tool(sam, "My calibration notes")
    assert isinstance(notes, CalibrationScreen)
    qtbot.waitUntil(lambda: notes.model.rowCount() == 1, timeout=10_000)
    [row_shown] = cells(notes)
    assert row_shown[2] == "#1"
    assert row_shown[3] == "Agreed grade differs on: severity"
    assert row_shown[4:] == ["Category B · 11-13 (probable)", "Category A · 11-13 (probable)"]
    assert notes.reason.text() == REASON
    assert notes.final.marked == {"severity"}
    # Calibration, not blame: the QA reviewer is named nowhere on the moderator's side.
    assert not [t for t in texts(notes) + texts(sam) if QA_REVIEWER in t]
    assert not [c for r in cells(notes) for c in r if QA_REVIEWER in c]

    # Opened, so seen: stored, audited, and the count goes.
    qtbot.waitUntil(lambda: sam.unseen_notes == 0, timeout=10_000)
    assert notes.model.row(0).seen
    assert sam.calibration_action.text() == "My &calibration notes…"
    assert not sam.calibration_link.isVisible()
    with store.engine.connect() as conn:
        seen_at = conn.execute(select(adjudications.c.seen_by_moderator_at)).scalar_one()
    assert seen_at is not None
    assert [e.kind for e in store.audit_events(kind="calibration_seen")] == ["calibration_seen"]
    for window in (sam, lead):
        window.close()
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)


def test_a_moderator_cannot_adjudicate(
    qtbot: QtBot, workstation: Workstation, tasks: Tasks, store: Store
) -> None:
    sam = signed_in(qtbot, workstation, tasks, MODERATOR)
    assert sam.team_menu is not None
    labels = [a.text().replace("&", "") for a in sam.team_menu.actions()]
    assert labels == ["My calibration notes…"]
    # Even given the screen, the service refuses: nothing listed, the form disabled.
    service = workstation.log_in(MODERATOR, PASSWORD).team.calibration  # type: ignore[union-attr]
    screen = AdjudicationScreen(service, tasks)  # type: ignore[arg-type]
    qtbot.addWidget(screen)
    screen.refresh()
    qtbot.waitUntil(lambda: "cannot adjudicate" in screen.status.text(), timeout=10_000)
    assert screen.model.rowCount() == 0 and not screen.panel.isEnabled()
    # Nothing is shown before a lead settles it: QA's grades stay out of the notes.
    notes = CalibrationScreen(service, tasks)  # type: ignore[arg-type]
    qtbot.addWidget(notes)
    with qtbot.waitSignal(notes.refreshed, timeout=10_000) as loaded:
        notes.refresh()
    assert loaded.args == [[]] and "No notes yet" in notes.status.text()
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)


def test_the_idle_lock_hides_team_windows(
    qtbot: QtBot, workstation: Workstation, tasks: Tasks, clock: FakeClock
) -> None:
    lock = LockTimings(lock_after_s=300, release_after_s=600, check_ms=10)
    lead = signed_in(qtbot, workstation, tasks, LEAD, clock=clock, lock=lock)
    screen = open_tool(lead, "Adjudicate QA disputes")
    qtbot.waitUntil(lambda: screen.isVisible(), timeout=5_000)
    assert lead.idle is not None
    with qtbot.waitSignal(lead.idle.locked, timeout=5_000):
        clock.advance(301)
    assert not screen.isVisible() and not lead.team_menu.isEnabled()  # type: ignore[union-attr]
    qtbot.keyClicks(lead.lock_screen.password, PASSWORD)
    with qtbot.waitSignal(lead.idle.unlocked, timeout=5_000):
        lead.lock_screen.unlock_button.click()
    assert screen.isVisible() and lead.team_menu.isEnabled()  # type: ignore[union-attr]
    lead.close()
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)


def test_nothing_is_clipped_on_a_1366_by_768_laptop(
    qtbot: QtBot, themed: None, workstation: Workstation, tasks: Tasks
) -> None:
    lead = signed_in(qtbot, workstation, tasks, LEAD)
    screen = open_tool(lead, "Adjudicate QA disputes")
    assert isinstance(screen, AdjudicationScreen)
    qtbot.waitUntil(lambda: screen.model.rowCount() == 3, timeout=10_000)
    screen.view.selectRow(0)
    screen.resize(*laptop_size())
    qtbot.wait(50)
    assert clipped_texts(screen) == []
