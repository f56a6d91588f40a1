"""Take docs/screenshots/qa.png, dashboard.png, adjudication.png, calibration.png and
gold.png on a throwaway synthetic database.

    Xvfb :97 -screen 0 1600x1000x24 &
    DISPLAY=:97 PYTHONPATH=.:tests python tests/ui/make_qa_screenshots.py [NAME ...]

With names (qa, dashboard, adjudication, calibration, gold) only those are taken. The
dashboard and the adjudication window are taken at the size a 1366 × 768 laptop gives
a team window (ui.screen_fit), to show they fit there.

Every picture is synthetic (reviewer.synthetic); names are invented.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import wiring
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from qa_helpers import (
    SEED,
    account,
    add_items,
    decide_next,
    graded,
    moderator_session,
    qa_session,
)

from db.media_store import MediaStore
from db.qa import QaRepo
from db.store import Store
from reviewer.accounts import Role
from reviewer.clock import FakeClock
from reviewer.dashboard_service import DashboardService
from reviewer.demo import generate_demo
from reviewer.model import Exposure, User
from reviewer.qa_model import QaSettings
from reviewer.qa_service import QaService
from reviewer.referral_service import ReferralService
from reviewer.sampling import SamplingPolicy
from reviewer.vocabulary import AgeBand, ProductionContext, Severity, Source
from ui.adjudication_screen import AdjudicationScreen
from ui.calibration_screen import CalibrationScreen
from ui.dashboard_screen import DashboardScreen
from ui.gold_screen import GoldScreen
from ui.qa_screen import build_qa_window
from ui.tasks import Tasks
from ui.theme import apply_theme

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs/screenshots"
# A team window's client size on a 1366 × 768 screen with a 32 px panel.
LAPTOP = (1350, 688)
# A throwaway audit signing key: the screenshots never touch the keyring's real one.
AUDIT_KEY = os.urandom(32)


def wait_for(app: QApplication, condition, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the screen did not get ready")
        app.processEvents()
        time.sleep(0.01)


def settle(app: QApplication, seconds: float = 0.4) -> None:
    end = time.monotonic() + seconds
    wait_for(app, lambda: time.monotonic() > end)


def qa_shot(app: QApplication, tmp: str) -> None:
    clock = FakeClock(datetime.now(UTC))
    store = Store.open(f"sqlite:///{tmp}/qa.db", clock=clock, audit_key=AUDIT_KEY)
    media = MediaStore(Path(tmp) / "qa-media", os.urandom(32))
    generate_demo(store.items, media, 6, seed=11, max_megapixels=5, broken=False)
    qa = store.qa
    QaService(qa, account(store, "Admin", Role.ADMIN), clock, SEED).set_settings(
        QaSettings(SamplingPolicy(1.0, True, 1.0, 0), gold_rate=0.0)
    )
    mod = account(store, "Sam Okafor", Role.MODERATOR)
    session = wiring.session(
        store, media, User(mod.id, mod.name, mod.role), review_service=wiring.calibrated(qa, SEED)
    )
    for i in range(4):
        claim = session.claim_next()
        assert claim is not None
        session.submit(claim, graded(Severity.B, AgeBand.B11_13), _none(), f"t{i}")
        clock.advance(300)
    tasks = Tasks()
    reviewer = account(store, "Priya Nair", Role.QA)
    window = build_qa_window(wiring.qa_review(qa, media, reviewer, clock), tasks, clock=clock)
    window.resize(1600, 1000)
    window.show()
    window.activateWindow()
    window.review.start()
    wait_for(app, lambda: window.review.prefetched_claim is not None and tasks.pending == 0)
    for key in (Qt.Key.Key_B,):
        QTest.keyClick(window, key)
    wait_for(app, lambda: tasks.pending == 0)
    settle(app)
    window.grab().save(str(OUT / "qa.png"))
    window.close()
    tasks.shutdown()
    store.close()


def _none():  # type: ignore[no-untyped-def]
    from reviewer.model import Exposure

    return Exposure()


def dashboard_shot(app: QApplication, tmp: str) -> None:
    clock = FakeClock(datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0))
    store = Store.open(f"sqlite:///{tmp}/dash.db", clock=clock, audit_key=AUDIT_KEY)
    qa = store.qa
    rng = random.Random(5)
    QaService(qa, account(store, "Admin", Role.ADMIN), clock, SEED).set_settings(
        QaSettings(SamplingPolicy(0.4, True, 0.4, 0), gold_rate=0.0)
    )
    store.items.ensure_queue("Child safety", 60)
    store.items.ensure_queue("Livestream", 15)
    store.items.ensure_queue("User reports", 8 * 60)
    add_items(store, 60, queue="Child safety", tag="w", source=Source.CLASSIFIER)
    names = ["Sam Okafor", "Jo Lindqvist", "Ravi Menon", "Ana Silva", "Tom Becker"]
    mods = [account(store, n, Role.MODERATOR) for n in names]
    # Revealed A/B seconds per decision: Ravi and Ana run hot today.
    heat = {"Ravi Menon": 4300, "Ana Silva": 2700, "Sam Okafor": 900}
    for _round in range(9):
        for acc in mods:
            s = wiring.session(
                store,
                _NoMedia(),
                User(acc.id, acc.name, acc.role),
                review_service=wiring.calibrated(qa, SEED),
            )
            sev = rng.choice([Severity.A, Severity.B, Severity.C, Severity.NOT_ILLEGAL])
            g = graded(
                sev,
                rng.choice([AgeBand.B11_13, AgeBand.B14_15]),
                rng.choice([ProductionContext.UNKNOWN, ProductionContext.PEER]),
            )
            secs = heat.get(acc.name, 240) * rng.uniform(0.6, 1.0) if sev.is_category else 20
            try:
                decide_next(s, g, seconds=secs)
            except AssertionError:
                break
            clock.advance(rng.uniform(60, 400))
    for reviewer_name in ("Priya Nair", "Lee Chen"):
        qs = qa_session(qa, account(store, reviewer_name, Role.QA), clock)
        firsts = {d["item_id"]: d for d in store.items.decisions()}
        for _ in range(8):
            claim = qs.claim_next()
            if claim is None:
                break
            first = firsts[claim.item.id]
            # QA mostly agrees, as in a calibrated team; a few near misses.
            sev = Severity(first["severity"]) if rng.random() < 0.8 else Severity.C
            band = AgeBand(first["age_band"]) if first["age_band"] else None
            if sev.is_category and band is None:
                band = AgeBand.B14_15
            qs.submit(claim, graded(sev, band), Exposure(45.0, 1, 1.0), f"q{claim.claim_id}")
    held = wiring.session(
        store,
        _NoMedia(),
        User(mods[1].id, mods[1].name, mods[1].role),
        review_service=wiring.calibrated(qa, SEED),
    ).claim_next()
    assert held is not None
    add_items(store, 4, queue="Livestream", tag="ls", source=Source.LIVESTREAM)
    add_items(store, 1, queue="Livestream", tag="ir", source=Source.LIVESTREAM, imminent_risk=True)
    add_items(store, 12, queue="User reports", tag="ur", source=Source.USER_REPORT)
    add_items(store, 5, queue="Child safety", tag="ngo", source=Source.NGO)
    clock.advance(25 * 60)
    store.record_event(mods[3].id, "break_started")
    store.record_event(mods[0].id, "break_started")
    lead = account(store, "Morgan Reid", Role.LEAD)
    service = DashboardService(
        store.dashboard,
        QaService(qa, lead, clock, SEED),
        lead,
        clock,
        store.welfare.settings,
        referral_deadlines=ReferralService(store.referrals, wiring.NoMedia(), lead).deadlines,
    )
    tasks = Tasks()
    screen = DashboardScreen(service, tasks)
    screen.setWindowTitle("Reviewer — team view — Morgan Reid")
    screen.resize(*LAPTOP)
    screen.show()
    done: list[object] = []
    screen.refreshed.connect(done.append)
    screen.start()
    wait_for(app, lambda: bool(done))
    screen.people_view.selectRow(1)
    settle(app, 0.6)
    screen.grab().save(str(OUT / "dashboard.png"))
    screen.close()
    tasks.shutdown()
    store.close()


# Sam's grade, QA's blind re-grade, and (for the settled ones) the lead's reason.
DISPUTES = (
    (
        graded(Severity.B, AgeBand.B11_13),
        graded(Severity.A, AgeBand.B11_13),
        "The lower third shows penetrative activity, partly cropped: that makes it "
        "Category A whatever the framing. Check the edges of the frame before grading.",
    ),
    (
        graded(Severity.C, AgeBand.B14_15, ProductionContext.PEER),
        graded(Severity.C, AgeBand.B11_13, ProductionContext.PEER),
        "Your band stands: the school uniform and the phone in the mirror shot point "
        "to 14-15 rather than younger.",
    ),
    (
        graded(Severity.A, AgeBand.B7_10, ProductionContext.GROOMED),
        graded(Severity.A, AgeBand.B3_6, ProductionContext.GROOMED),
        None,
    ),
    (
        graded(Severity.NOT_ILLEGAL),
        graded(Severity.C, AgeBand.B14_15),
        None,
    ),
)


def _disputed(clock: FakeClock, path: str) -> tuple[Store, QaRepo, dict[str, Any]]:
    """Sam's decisions, Priya's blind re-grades: one agreement, four disputes."""
    store = Store.open(f"sqlite:///{path}", clock=clock, audit_key=AUDIT_KEY)
    qa = store.qa
    QaService(qa, account(store, "Admin", Role.ADMIN), clock, SEED).set_settings(
        QaSettings(SamplingPolicy(1.0, True, 1.0, 0), gold_rate=0.0)
    )
    people = {
        "sam": account(store, "Sam Okafor", Role.MODERATOR),
        "jo": account(store, "Jo Lindqvist", Role.MODERATOR),
        "priya": account(store, "Priya Nair", Role.QA),
        "lead": account(store, "Morgan Reid", Role.LEAD),
    }
    add_items(store, len(DISPUTES) + 2, queue="Child safety", tag="adj")
    sam = moderator_session(store, qa, people["sam"])
    regrades = {}
    for first, second, _reason in DISPUTES:
        item_id, _ = decide_next(sam, first)
        regrades[item_id] = second
        clock.advance(900)
    jo = moderator_session(store, qa, people["jo"])
    for first, second in (
        (graded(Severity.B, AgeBand.B7_10), graded(Severity.B, AgeBand.B7_10)),
        (graded(Severity.ADULT), graded(Severity.C, AgeBand.B16_17)),
    ):
        item_id, _ = decide_next(jo, first)
        regrades[item_id] = second
        clock.advance(600)
    priya = qa_session(qa, people["priya"], clock)
    while (claim := priya.claim_next()) is not None:
        priya.submit(claim, regrades[claim.item.id], Exposure(30.0, 1, 1.0), f"q{claim.claim_id}")
        clock.advance(420)
    return store, qa, people


def adjudication_shot(app: QApplication, tmp: str) -> None:
    clock = FakeClock(datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0))
    store, qa, people = _disputed(clock, f"{tmp}/adj.db")
    tasks = Tasks()
    screen = AdjudicationScreen(QaService(qa, people["lead"], clock, SEED), tasks)
    screen.setWindowTitle("Reviewer — QA disputes — Morgan Reid")
    screen.resize(*LAPTOP)
    screen.show()
    done: list[object] = []
    screen.refreshed.connect(done.append)
    screen.refresh()
    wait_for(app, lambda: bool(done))
    screen.view.selectRow(0)
    screen.from_qa.click()
    screen.panel.note.setPlainText(DISPUTES[0][2] or "")
    settle(app, 0.6)
    screen.grab().save(str(OUT / "adjudication.png"))
    screen.close()
    tasks.shutdown()
    store.close()


def calibration_shot(app: QApplication, tmp: str) -> None:
    clock = FakeClock(datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0))
    store, qa, people = _disputed(clock, f"{tmp}/cal.db")
    lead = QaService(qa, people["lead"], clock, SEED)
    for dispute in lead.disputes():
        if dispute.moderator_name != "Sam Okafor":
            continue
        first, second, reason = next(d for d in DISPUTES if d[0] == dispute.first)
        if reason is not None:
            # QA was right on the severity; Sam was right on the age band.
            final = second if dispute.fields == ["severity"] else first
            lead.adjudicate(dispute.sample_id, final, reason)
            clock.advance(1800)
    tasks = Tasks()
    screen = CalibrationScreen(QaService(qa, people["sam"], clock, SEED), tasks)
    screen.setWindowTitle("Reviewer — my calibration notes — Sam Okafor")
    screen.resize(1400, 900)
    screen.show()
    done: list[object] = []
    screen.refreshed.connect(done.append)
    screen.refresh()
    wait_for(app, lambda: len(done) >= 2 and tasks.pending == 0)  # opened, then re-read as seen
    settle(app, 0.6)
    screen.grab().save(str(OUT / "calibration.png"))
    screen.close()
    tasks.shutdown()
    store.close()


def gold_shot(app: QApplication, tmp: str) -> None:
    clock = FakeClock(datetime.now(UTC))
    store = Store.open(f"sqlite:///{tmp}/gold.db", clock=clock, audit_key=AUDIT_KEY)
    media = MediaStore(Path(tmp) / "gold-media", os.urandom(32))
    qa = store.qa
    admin = QaService(qa, account(store, "Ada Admin", Role.ADMIN), clock, SEED)
    generate_demo(store.items, media, 9, seed=21, max_megapixels=2, broken=False)
    items = sorted(c.item_id for c in admin.gold_candidates())  # all demo items are synthetic
    admin.mark_gold(items[0], graded(Severity.B, AgeBand.B11_13))
    admin.mark_gold(items[1], graded(Severity.NOT_ILLEGAL))
    admin.unmark_gold(admin.mark_gold(items[2], graded(Severity.C, AgeBand.B14_15)))
    tasks = Tasks()
    screen = GoldScreen(admin, tasks)
    screen.setWindowTitle("Reviewer — golden set — Ada Admin")
    screen.resize(1400, 900)
    screen.show()
    done: list[object] = []
    screen.refreshed.connect(lambda *lists: done.append(lists))
    screen.refresh()
    wait_for(app, lambda: bool(done))
    screen.candidate_view.selectRow(0)
    screen.panel.set_grading(graded(Severity.C, AgeBand.B14_15, ProductionContext.PEER))
    settle(app, 0.6)
    screen.grab().save(str(OUT / "gold.png"))
    screen.close()
    tasks.shutdown()
    store.close()


class _NoMedia:
    def get(self, sha256: str) -> bytes:
        raise OSError("not needed")


def main() -> None:
    app = QApplication(sys.argv[:1])
    apply_theme(app)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        shots = {
            "qa": qa_shot,
            "dashboard": dashboard_shot,
            "adjudication": adjudication_shot,
            "calibration": calibration_shot,
            "gold": gold_shot,
        }
        names = sys.argv[1:] or list(shots)
        for name in names:
            shots[name](app, tmp)
    print("wrote " + ", ".join(str(OUT / f"{n}.png") for n in names))


if __name__ == "__main__":
    main()
