"""Take docs/screenshots/qa.png and dashboard.png on a throwaway synthetic database.

    Xvfb :97 -screen 0 1600x1000x24 &
    DISPLAY=:97 PYTHONPATH=.:tests python tests/ui/make_qa_screenshots.py

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

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from qa_helpers import SEED, account, add_items, decide_next, graded, qa_session

from db.dashboard import DashboardRepo
from db.media_store import MediaStore
from db.qa import QaRepo
from db.store import Store
from reviewer.accounts import Role
from reviewer.dashboard import DashboardService
from reviewer.demo import generate_demo
from reviewer.model import Exposure, User
from reviewer.qa_model import QaSettings
from reviewer.qa_service import CalibratedReviewService, QaReviewSession, QaService
from reviewer.sampling import SamplingPolicy
from reviewer.vocabulary import AgeBand, ProductionContext, Severity, Source
from ui.dashboard import DashboardScreen
from ui.qa_screen import build_qa_window
from ui.tasks import Tasks
from ui.theme import apply_theme
from wellbeing.clock import FakeClock

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs/screenshots"


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
    store = Store.open(f"sqlite:///{tmp}/qa.db", clock=clock)
    media = MediaStore(Path(tmp) / "qa-media", os.urandom(32))
    generate_demo(store, media, 6, seed=11, max_megapixels=5, broken=False)
    qa = QaRepo(store)
    QaService(qa, account(store, "Admin", Role.ADMIN), clock, SEED).set_settings(
        QaSettings(SamplingPolicy(1.0, True, 1.0, 0), gold_rate=0.0)
    )
    mod = account(store, "Sam Okafor", Role.MODERATOR)
    session = CalibratedReviewService(store, media, User(mod.id, mod.name, mod.role), qa, SEED)
    for i in range(4):
        claim = session.claim_next()
        assert claim is not None
        session.submit(claim, graded(Severity.B, AgeBand.B11_13), _none(), f"t{i}")
        clock.advance(300)
    tasks = Tasks()
    reviewer = account(store, "Priya Nair", Role.QA)
    window = build_qa_window(QaReviewSession(qa, media, reviewer, clock), tasks, clock=clock)
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
    store = Store.open(f"sqlite:///{tmp}/dash.db", clock=clock)
    qa = QaRepo(store)
    rng = random.Random(5)
    QaService(qa, account(store, "Admin", Role.ADMIN), clock, SEED).set_settings(
        QaSettings(SamplingPolicy(0.4, True, 0.4, 0), gold_rate=0.0)
    )
    store.ensure_queue("Child safety", 60)
    store.ensure_queue("Livestream", 15)
    store.ensure_queue("User reports", 8 * 60)
    add_items(store, 60, queue="Child safety", tag="w", source=Source.CLASSIFIER)
    names = ["Sam Okafor", "Jo Lindqvist", "Ravi Menon", "Ana Silva", "Tom Becker"]
    mods = [account(store, n, Role.MODERATOR) for n in names]
    # Revealed A/B seconds per decision: Ravi and Ana run hot today.
    heat = {"Ravi Menon": 4300, "Ana Silva": 2700, "Sam Okafor": 900}
    for _round in range(9):
        for acc in mods:
            s = CalibratedReviewService(
                store, _NoMedia(), User(acc.id, acc.name, acc.role), qa, SEED
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
        firsts = {d["item_id"]: d for d in store.decisions()}
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
    held = CalibratedReviewService(
        store, _NoMedia(), User(mods[1].id, mods[1].name, mods[1].role), qa, SEED
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
    service = DashboardService(DashboardRepo(store), QaService(qa, lead, clock, SEED), lead, clock)
    tasks = Tasks()
    screen = DashboardScreen(service, tasks)
    screen.setWindowTitle("Reviewer — team view — Morgan Reid")
    screen.resize(1600, 1000)
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


class _NoMedia:
    def get(self, sha256: str) -> bytes:
        raise OSError("not needed")


def main() -> None:
    app = QApplication(sys.argv[:1])
    apply_theme(app)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        qa_shot(app, tmp)
        dashboard_shot(app, tmp)
    print(f"wrote {OUT / 'qa.png'} and {OUT / 'dashboard.png'}")


if __name__ == "__main__":
    main()
