"""Three items graded with the keyboard alone, checked against the database."""

from __future__ import annotations

import time

from pytestqt.qtbot import QtBot
from ui_helpers import MODERATOR, WindowFactory, press

from db.store import Store
from reviewer.grading import Grading
from reviewer.review_service import ReviewService
from reviewer.vocabulary import Action, AgeBand, AgeConfidence, ProductionContext, Severity
from ui.tasks import Tasks

NOTE = "Series: a b c 1 2 q w e"

# (keys, typed into the note after Ctrl+L or None, the grading they must store)
SCRIPT = [
    (
        "C 5 Q F1 Ctrl+1",
        None,
        Grading(
            severity=Severity.C,
            age_band=AgeBand.B14_15,
            age_confidence=AgeConfidence.CERTAIN,
            production_context=ProductionContext.NOT_FIRST_PERSON,
            actions=frozenset({Action.REMOVE}),
        ),
    ),
    (
        "N R",
        NOTE,
        Grading(severity=Severity.NOT_ILLEGAL, csea_related=True, note=NOTE),
    ),
    (
        "A 3 W F4 Ctrl+2 Ctrl+5",
        None,
        Grading(
            severity=Severity.A,
            age_band=AgeBand.B7_10,
            age_confidence=AgeConfidence.PROBABLE,
            production_context=ProductionContext.COERCED,
            actions=frozenset({Action.REPORT, Action.ESCALATE_URGENT}),
        ),
    ),
]


def test_three_items_graded_with_the_keyboard_alone(
    qtbot: QtBot, make_window: WindowFactory, store: Store, service: ReviewService, seeded: int
) -> None:
    window = make_window()
    review, panel = window.review, window.review.panel

    # An incomplete grading is refused, says what is missing, and stores nothing.
    press(qtbot, "A Ctrl+Return")
    assert "Not submitted" in panel.problems.text()
    assert "youngest age band" in panel.problems.text()
    assert not panel.submit_button.isEnabled()
    assert store.items.decisions() == []

    graded: list[int] = []
    for keys, note, expected in SCRIPT:
        item_id = review.current_claim.item.id
        # Rendered ahead: the next item is claimed and its protected raster in memory.
        qtbot.waitUntil(lambda: review.prefetched_claim is not None, timeout=15_000)
        next_id = review.prefetched_claim.item.id
        press(qtbot, keys)
        if note is not None:
            press(qtbot, "Ctrl+L")
            # Letters and digits typed here are the note's, not grading shortcuts.
            qtbot.keyClicks(panel.note, note)
            press(qtbot, "Escape")
        assert panel.grading() == expected
        started = time.perf_counter()
        with qtbot.waitSignal(review.item_shown, timeout=10_000) as shown:
            press(qtbot, "Ctrl+Return")
        elapsed_ms = (time.perf_counter() - started) * 1000
        print(f"submit -> next protected image: {elapsed_ms:.1f} ms")
        assert shown.args == [next_id]
        assert review.view.canvas.painted_raster is not None
        assert review.view.canvas.painted_raster.protected
        graded.append(item_id)

    decisions = store.items.decisions()
    assert [d["item_id"] for d in decisions] == graded
    for d, (_keys, _note, g) in zip(decisions, SCRIPT, strict=True):
        assert d["user_id"] == service.user.id
        assert d["severity"] == g.severity.value
        assert d["csea_related"] == g.csea_related
        assert d["not_assessable_reason"] is None
        assert d["age_band"] == (g.age_band.value if g.age_band else None)
        assert d["age_confidence"] == (g.age_confidence.value if g.age_confidence else None)
        assert d["production_context"] == (
            g.production_context.value if g.production_context else None
        )
        assert sorted(d["actions"]) == sorted(a.value for a in g.actions)
        assert d["note"] == g.note
    for item_id in graded:
        kinds = [e.kind for e in store.audit_events(item_id=item_id)]
        assert [k for k in kinds if k in ("claim", "item_opened", "decision")] == [
            "claim",
            "item_opened",
            "decision",
        ]
        decision_event = store.audit_events(item_id=item_id, kind="decision")[0]
        assert decision_event.user_id == service.user.id
    assert service.user.name == MODERATOR


def test_closing_releases_the_item_on_screen_and_the_one_ahead(
    qtbot: QtBot, make_window: WindowFactory, store: Store, tasks: Tasks, seeded: int
) -> None:
    window = make_window()
    review = window.review
    qtbot.waitUntil(lambda: review.prefetched_claim is not None, timeout=15_000)
    held = {review.current_claim.item.id, review.prefetched_claim.item.id}
    window.close()
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)
    released = {
        e.item_id for e in store.audit_events(kind="release") if e.detail.get("why") == "closed"
    }
    assert released == held
    assert all(store.items.item_status(i) == "pending" for i in held)
