"""The lead's dashboard on a seeded database: every figure shown is checked against the
database, read independently of the dashboard's own queries."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import wiring
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from qa_helpers import (
    SEED,
    account,
    add_items,
    decide_next,
    graded,
    moderator_session,
    qa_session,
    regrade_next,
)
from referral_fixtures import add_item, decide
from sqlalchemy import func, select
from ui_helpers import clipped_texts, laptop_size

from db.media_store import MediaStore
from db.models import ItemRow
from db.store import Store
from reviewer.accounts import AccessDenied, Role
from reviewer.agreement import cohen_kappa
from reviewer.clock import FakeClock
from reviewer.dashboard_service import DashboardService
from reviewer.qa_model import QaSettings
from reviewer.qa_service import QaService
from reviewer.referral_service import ReferralService
from reviewer.sampling import SamplingPolicy
from reviewer.untrusted import MAX_NOTE, Untrusted
from reviewer.vocabulary import AgeBand, Severity, Source
from ui.dashboard_screen import DashboardScreen
from ui.tasks import Tasks
from wellbeing.settings import WelfareSettings

WELFARE = WelfareSettings(daily_ab_revealed_cap_hours=1.0, cap_warning_minutes=15)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(migrated_db_url: str, clock: FakeClock) -> Iterator[Store]:
    s = Store.open(migrated_db_url, clock=clock)
    yield s
    s.close()


@pytest.fixture
def seeded(store: Store, clock: FakeClock) -> dict[str, object]:
    """Two moderators (one over the A/B cap), QA re-grades with a disagreement,
    waiting items of two priorities in two queues, one held item."""
    qa = store.qa
    people = {
        "ana": account(store, "Ana", Role.MODERATOR),
        "ben": account(store, "Ben", Role.MODERATOR),
        "quinn": account(store, "Quinn", Role.QA),
        "lead": account(store, "Lee", Role.LEAD),
        "admin": account(store, "Ad", Role.ADMIN),
    }
    QaService(qa, people["admin"], clock, SEED).set_settings(
        QaSettings(SamplingPolicy(1.0, True, 1.0, 0), gold_rate=0.0)
    )
    add_items(store, 6, queue="Child safety", tag="work")
    ana = moderator_session(store, qa, people["ana"])
    ben = moderator_session(store, qa, people["ben"])
    # Ana: 70 min of A/B revealed (over a 60 min cap); Ben: 10 min of A/B, 5 of C.
    decide_next(ana, graded(Severity.A, AgeBand.B7_10), seconds=40 * 60)
    decide_next(ana, graded(Severity.B, AgeBand.B11_13), seconds=30 * 60)
    clock.advance(2 * 3600)  # these two are now outside "the last hour"
    decide_next(ana, graded(Severity.C), seconds=60)
    decide_next(ben, graded(Severity.B, AgeBand.B14_15), seconds=10 * 60)
    decide_next(ben, graded(Severity.C), seconds=5 * 60)
    held = ben.claim_next()
    assert held is not None
    quinn = qa_session(qa, people["quinn"], clock)
    for g in (
        graded(Severity.A, AgeBand.B7_10),
        graded(Severity.B, AgeBand.B11_13),
        graded(Severity.C),
        graded(Severity.A, AgeBand.B14_15),  # Ben said B: a disagreement
        graded(Severity.C),
    ):
        regrade_next(quinn, g, seconds=30)
    add_items(store, 3, queue="Child safety", tag="later", source=Source.NGO)
    add_items(store, 2, queue="User reports", tag="ur", source=Source.USER_REPORT)
    clock.advance(30 * 60)
    return {"people": people, "qa": qa}


@pytest.fixture
def tasks(store: Store) -> Iterator[Tasks]:
    t = Tasks()
    yield t
    t.shutdown()


def _service(store: Store, clock: FakeClock, acc) -> DashboardService:  # type: ignore[no-untyped-def]
    qa = QaService(store.qa, acc, clock, SEED)
    deadlines = ReferralService(store.referrals, wiring.NoMedia(), acc).deadlines
    return DashboardService(
        store.dashboard, qa, acc, clock, lambda: WELFARE, referral_deadlines=deadlines
    )


def _cells(model) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [
        [model.index(r, c).data(Qt.ItemDataRole.DisplayRole) for c in range(model.columnCount())]
        for r in range(model.rowCount())
    ]


def test_dashboard_figures_match_the_database(
    qtbot: QtBot, store: Store, clock: FakeClock, seeded, tasks: Tasks, tmp_path: Path
) -> None:
    people = seeded["people"]
    screen = DashboardScreen(_service(store, clock, people["lead"]), tasks)
    qtbot.addWidget(screen)
    screen.resize(1500, 950)
    screen.show()
    with qtbot.waitSignal(screen.refreshed, timeout=15_000):
        screen.start()
    assert screen.timer.isActive()  # refreshes by itself

    # Queue depth by queue and priority, straight from the items table.
    items = ItemRow.__table__
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(items.c.queue_id, items.c.priority, func.count())
            .where(items.c.status == "pending")
            .group_by(items.c.queue_id, items.c.priority)
        ).all()
    names = {q.id: q.name for q in store.items.queue_summaries()}
    expected = {(names[q], p): n for q, p, n in rows}
    shown = {(r[0], r[1]): int(r[2]) for r in _cells(screen.queue_model) if int(r[2])}
    labels = {"Classifier": 4, "NGO / trusted flagger": 2, "User report": 5}
    assert {(q, labels[p]): n for (q, p), n in shown.items()} == expected
    assert sum(shown.values()) == 5  # the first six are decided or held

    # Decisions in the last hour and today, per person.
    decisions = store.items.decisions()
    hour_ago = clock.now() - timedelta(hours=1)
    by_name = {r[0]: r for r in _cells(screen.people_model)}
    for key in ("ana", "ben"):
        acc = people[key]
        mine = [d for d in decisions if d["user_id"] == acc.id]
        row = by_name[acc.name]
        assert int(row[2]) == sum(1 for d in mine if d["decided_at"] >= hour_ago)
        assert int(row[3]) == len(mine)

    # A/B revealed today per person: the exposure ledger joined to the grades given.
    # (QA reviewers' exposure counts too: their claims carry their re-grade.)
    severity_by_claim = {d["claim_id"]: d["severity"] for d in decisions}
    severity_by_claim |= {g["claim_id"]: g["severity"] for g in _qa_grades(store)}
    exposures = store.items.exposures()

    def ab_minutes(uid: int) -> float:
        return (
            sum(
                e["seconds_revealed"]
                for e in exposures
                if e["user_id"] == uid and severity_by_claim.get(e["claim_id"]) in ("A", "B")
            )
            / 60
        )

    for key in ("ana", "ben", "quinn"):
        acc = people[key]
        assert by_name[acc.name][5] == f"{ab_minutes(acc.id):.1f} min"
    assert by_name["Ben"][4] == "1"  # holding one item
    # The chart draws the same values and the cap; the summary names who is over.
    chart_names = [p.name for p in screen.snapshot.people]
    assert screen.exposure_chart.values == [
        pytest.approx(ab_minutes(people[_key(n)].id)) for n in chart_names
    ]
    assert screen.exposure_chart.cap == 60.0
    assert "Over today's A/B cap: 1 (Ana)" in screen.alerts.text()

    # Agreement: kappa over the stored pairs, with n.
    grades = {g["sample_id"]: g for g in _qa_grades(store)}
    samples = _samples(store)
    pairs = [
        (d["severity"], grades[s["id"]]["severity"])
        for s in samples
        for d in decisions
        if d["id"] == s["decision_id"] and d["user_id"] == people["ben"].id
    ]
    kappa = cohen_kappa(pairs)
    agreement = {r[0]: r for r in _cells(screen.agreement_model)}
    if kappa.value is None:
        assert agreement["Ben"][1] == f"— (n={kappa.n})"
    else:
        assert agreement["Ben"][1] == f"{kappa.value:.2f} (n={kappa.n})"
    assert agreement["Ana"][2] == "100 % (n=3)"
    assert agreement["Whole team"][2] == "80 % (n=5)"

    # Export to CSV (the path a lead would choose in the file dialog).
    out = tmp_path / "team.csv"
    with qtbot.waitSignal(screen.exported, timeout=10_000):
        screen.export_to(str(out))
    rows_csv = list(csv.reader(out.open()))
    assert ["person", "Ana", "ab_revealed_today_minutes", "70.0", ""] in rows_csv


def _key(name: str) -> str:
    return name.lower()


def _qa_grades(store: Store) -> list[dict]:
    from db.models import QaGradeRow

    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(QaGradeRow.__table__))]


def _samples(store: Store) -> list[dict]:
    from db.models import QaSampleRow

    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(QaSampleRow.__table__))]


def test_lead_actions_are_audited_and_need_override(
    qtbot: QtBot, store: Store, clock: FakeClock, seeded, tasks: Tasks
) -> None:
    people = seeded["people"]
    with pytest.raises(AccessDenied):
        _service(store, clock, people["ana"]).snapshot()
    with pytest.raises(AccessDenied):
        _service(store, clock, people["quinn"]).release_claims(people["ben"].id, "x")
    screen = DashboardScreen(_service(store, clock, people["lead"]), tasks)
    qtbot.addWidget(screen)
    with qtbot.waitSignal(screen.refreshed, timeout=15_000):
        screen.refresh()
    with qtbot.waitSignal(screen.action_done, timeout=10_000) as blocker:
        screen.release(people["ben"].id, "Ben was called away")
    assert blocker.args == ["released", 1]
    [event] = store.audit_events(kind="lead_released")
    assert event.user_id == people["lead"].id
    assert event.detail == {"user_id": people["ben"].id, "reason": "Ben was called away"}
    with qtbot.waitSignal(screen.action_done, timeout=10_000):
        screen.end_break(people["ana"].id, "Urgent livestream, only vetted person free")
    [event] = store.audit_events(kind="break_ended_by_lead")
    assert event.detail["lead_id"] == people["lead"].id
    with qtbot.waitSignal(screen.refreshed, timeout=10_000):
        screen.refresh()
    by_name = {r[0]: r for r in _cells(screen.people_model)}
    assert by_name["Ana"][8] == "0 / 1"
    assert by_name["Ben"][4] == "0"
    with pytest.raises(ValueError):
        _service(store, clock, people["lead"]).end_break_early(people["ana"].id, " ")


def test_dashboard_shows_when_the_last_audit_checkpoint_was_taken(
    qtbot: QtBot, store: Store, clock: FakeClock, tasks: Tasks, tmp_path: Path
) -> None:
    from db import audit
    from db.audit_checkpoint import LocalCheckpoint
    from ui import text as ui_text

    lead = account(store, "Lee", Role.LEAD)
    screen = DashboardScreen(_service(store, clock, lead), tasks)
    qtbot.addWidget(screen)
    with qtbot.waitSignal(screen.refreshed, timeout=15_000):
        screen.refresh()
    assert "last audit checkpoint: never taken" in screen.alerts.text()
    assert screen.alerts.property("level") == "warn"

    clock.advance(3600)
    store.checkpoints.take(audit.load_key(), LocalCheckpoint(tmp_path))
    with store.engine.connect() as conn:  # read independently of the dashboard's query
        taken = [r.at for r in conn.execute(select(audit.events_t)) if r.kind == "audit_checkpoint"]
    assert len(taken) == 1
    with qtbot.waitSignal(screen.refreshed, timeout=15_000):
        screen.refresh()
    assert f"last audit checkpoint: {ui_text.when(taken[0])}" in screen.alerts.text()
    assert screen.alerts.property("level") == "info"
    clock.advance(8 * 24 * 3600)  # a week without one: flagged again
    with qtbot.waitSignal(screen.refreshed, timeout=15_000):
        screen.refresh()
    assert screen.alerts.property("level") == "warn"


def test_dashboard_shows_referrals_due_and_overdue(
    qtbot: QtBot, store: Store, clock: FakeClock, tasks: Tasks, tmp_path: Path
) -> None:
    media = MediaStore(tmp_path / "media", bytes(32))
    urgent = add_item(store, media, seed=1, imminent_risk=True)
    decide(store, urgent)  # graded "Report to authority": due in 1 h (level 1)
    later = add_item(store, media, seed=2)
    decide(store, later)  # due in 24 h (level 2)
    lead = account(store, "Lee", Role.LEAD)
    service = _service(store, clock, lead)
    assert service.snapshot().referrals.awaiting == 2

    screen = DashboardScreen(service, tasks)
    qtbot.addWidget(screen)
    with qtbot.waitSignal(screen.refreshed, timeout=15_000):
        screen.start()
    assert "referrals OVERDUE: 0, due within 2 h: 1 (2 awaiting" in screen.alerts.text()
    clock.advance(2 * 3600)
    with qtbot.waitSignal(screen.refreshed, timeout=15_000):
        screen.refresh()
    assert "referrals OVERDUE: 1, due within 2 h: 0" in screen.alerts.text()
    assert screen.alerts.property("level") == "warn"
    path = tmp_path / "snap.csv"
    with qtbot.waitSignal(screen.exported, timeout=10_000):
        screen.export_to(str(path))
    rows = list(csv.reader(path.open()))
    assert ["referrals", "", "overdue", "1", ""] in rows


def test_an_over_long_override_reason_is_refused_and_nothing_changes(
    store: Store, clock: FakeClock, seeded
) -> None:
    people = seeded["people"]
    lead = _service(store, clock, people["lead"])
    ben, ana = people["ben"].id, people["ana"].id
    [(queue_id, _), *_] = lead.queues()
    long = "r" * (MAX_NOTE + 1)
    with pytest.raises(Untrusted, match="'reason' is longer than 1,000 characters"):
        lead.release_claims(ben, long)
    with pytest.raises(Untrusted, match="'reason' is longer than 1,000 characters"):
        lead.reassign(ben, queue_id, long)
    with pytest.raises(Untrusted, match="'reason' is longer than 1,000 characters"):
        lead.end_break_early(ana, long)
    with pytest.raises(Untrusted, match="NUL"):
        lead.release_claims(ben, "a\0b")
    kinds = ("lead_released", "lead_reassigned", "break_ended_by_lead")
    assert [e for k in kinds for e in store.audit_events(kind=k)] == []
    with store.engine.connect() as conn:
        held = conn.execute(select(func.count()).where(ItemRow.claimed_by == ben)).scalar_one()
    assert held == 1  # Ben still holds his item
    assert lead.release_claims(ben, "r" * MAX_NOTE) == 1


def test_nothing_is_clipped_on_a_1366_by_768_laptop(
    qtbot: QtBot, themed: None, store: Store, clock: FakeClock, seeded, tasks: Tasks
) -> None:
    screen = DashboardScreen(_service(store, clock, seeded["people"]["lead"]), tasks)
    qtbot.addWidget(screen)
    screen.resize(*laptop_size())
    screen.show()
    with qtbot.waitSignal(screen.refreshed, timeout=15_000):
        screen.start()
    qtbot.wait(50)
    assert clipped_texts(screen) == [], "\n".join(clipped_texts(screen))
