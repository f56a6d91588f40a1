"""The QA screen: the review screen driving a blind re-grade session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import wiring
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from qa_helpers import SEED, account, graded
from ui_helpers import press

from db.media_store import MediaStore
from db.qa import QaRepo
from db.store import Store
from reviewer import synthetic_video
from reviewer.accounts import Role
from reviewer.clock import FakeClock
from reviewer.demo import generate_demo
from reviewer.ingest import ingest_manifest
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
    generate_demo(store.items, media, 2, seed=3, max_megapixels=1, broken=False)
    qa = store.qa
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


def test_a_sampled_video_is_regraded_whole_without_segments(
    qtbot: QtBot,
    store: Store,
    media: MediaStore,
    tasks: Tasks,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    """A QA re-grade grades a video as a whole: the QA session stores no segments, so
    the screen offers no segment marking and the submit goes through."""
    videos = store.videos
    (tmp_path / "v.mp4").write_bytes(synthetic_video.make_video(duration_s=6.0, seed=5))
    (tmp_path / "m.jsonl").write_text(
        json.dumps({"media": "v.mp4", "source": "livestream", "id": "v"}) + "\n"
    )
    ingest_manifest(store.items, media, tmp_path / "m.jsonl", videos=videos)
    qa = store.qa
    admin = account(store, "Ad", Role.ADMIN)
    QaService(qa, admin, clock, SEED).set_settings(
        QaSettings(SamplingPolicy(1.0, True, 1.0, 0), gold_rate=0.0)
    )
    mod = account(store, "Mo", Role.MODERATOR)
    session = wiring.session(
        store,
        media,
        User(mod.id, mod.name, mod.role),
        review_service=wiring.calibrated(qa, SEED),
        videos=videos,
    )
    claim = session.claim_next()
    assert claim is not None
    session.submit(claim, graded(Severity.C, AgeBand.B14_15), Exposure(), "tok-v")

    quinn = account(store, "Quinn", Role.QA)
    window = build_qa_window(wiring.qa_review(qa, media, quinn, clock), tasks, clock=clock)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    with qtbot.waitSignal(window.review.item_shown, timeout=15_000):
        window.review.start()
    screen, pane = window.review, window.review.video
    assert pane.isVisible(), "the sample is shown as a video"
    assert pane.segment_button.isHidden() and pane.segments.isHidden()
    # Cells 2..3 chosen as a moderator marks a segment, then the segment key: nothing.
    sheet_view = pane.sheet
    for cell, mod in ((2, Qt.KeyboardModifier.NoModifier), (3, Qt.KeyboardModifier.ShiftModifier)):
        pos = sheet_view.cell_rect(cell).center().toPoint()
        qtbot.mouseClick(sheet_view, Qt.MouseButton.LeftButton, mod, pos=pos)
    pane.segments.severity.setCurrentIndex(0)  # what a moderator's segment would need
    screen.view.canvas.setFocus()
    press(qtbot, "T")
    assert pane.segment_list() == ()
    with qtbot.waitSignal(screen.decision_recorded, timeout=10_000):
        press(qtbot, "C 5 W F7 Ctrl+Return")
    assert [e.user_id for e in store.audit_events(kind="qa_grade")] == [quinn.id]
