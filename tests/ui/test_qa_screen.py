"""The QA screen: the review screen driving a blind re-grade session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import wiring
from pytestqt.qtbot import QtBot
from qa_helpers import SEED, account, graded
from ui_helpers import press

from db.media_store import MediaStore
from db.qa import QaRepo
from db.store import Store
from reviewer.accounts import Role
from reviewer.clock import FakeClock
from reviewer.demo import generate_demo
from reviewer.model import Exposure, User
from reviewer.qa_model import QaSettings
from reviewer.qa_service import QaService
from reviewer.sampling import SamplingPolicy
from reviewer.vocabulary import AgeBand, ProductionContext, Severity
from ui.qa_screen import BANNER, build_qa_window
from ui.tasks import Tasks

MARKER = "FIRST-GRADE-NOTE-c41d"


@pytest.fixture
def decided(store: Store, media: MediaStore, clock: FakeClock) -> QaRepo:
    """Two synthetic items decided by a moderator, both sampled for QA."""
    generate_demo(store, media, 2, seed=3, max_megapixels=1, broken=False)
    qa = QaRepo(store)
    admin = account(store, "Ad", Role.ADMIN)
    QaService(qa, admin, clock, SEED).set_settings(
        QaSettings(SamplingPolicy(1.0, True, 1.0, 0), gold_rate=0.0)
    )
    mod = account(store, "Mo", Role.MODERATOR)
    session = wiring.session(
        store, media, User(mod.id, mod.name, mod.role), review_service=wiring.calibrated(qa, SEED)
    )
    for i in range(2):
        claim = session.claim_next()
        assert claim is not None
        first = graded(Severity.A, AgeBand.B3_6, ProductionContext.COERCED, note=MARKER)
        session.submit(claim, first, Exposure(), f"tok-{i}")
    return qa


def test_qa_screen_regrades_blind_with_the_same_panel(
    qtbot: QtBot,
    store: Store,
    media: MediaStore,
    decided: QaRepo,
    tasks: Tasks,
    clock: FakeClock,
) -> None:
    reviewer = account(store, "Quinn", Role.QA)
    session = wiring.qa_review(decided, media, reviewer, clock)
    window = build_qa_window(session, tasks, clock=clock)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    window.activateWindow()
    qtbot.waitActive(window)
    with qtbot.waitSignal(window.review.item_shown, timeout=15_000):
        window.review.start()
    screen = window.review
    assert screen.banner.text() == BANNER
    assert screen.view.canvas.painted_raster is not None  # the protected picture, as in review
    # Nothing on screen carries the first grade's note.
    texts = [w.text() for w in window.findChildren(type(screen.banner)) if w.text()]
    assert not any(MARKER in t for t in texts)
    # Grade with the same keys as a moderator, and submit.
    with qtbot.waitSignal(screen.decision_recorded, timeout=10_000):
        press(qtbot, "C 5 W F7 Ctrl+Return")
    grades = [e for e in store.audit_events(kind="qa_grade")]
    assert len(grades) == 1 and grades[0].user_id == reviewer.id
    assert grades[0].detail["grading"]["severity"] == "C"
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tasks(store: Store) -> Iterator[Tasks]:
    t = Tasks()
    yield t
    t.shutdown()
