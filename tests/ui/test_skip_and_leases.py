"""Skipping with the keyboard, and lease renewal while the moderator is active."""

from __future__ import annotations

from pytestqt.qtbot import QtBot
from ui_helpers import WindowFactory, press

from db.store import Store
from reviewer.clock import FakeClock
from reviewer.vocabulary import SkipReason
from ui.review_screen import Timings
from ui.tasks import Tasks


def test_skip_with_a_reason_and_note_using_the_keyboard(
    qtbot: QtBot, make_window: WindowFactory, store: Store, seeded: int
) -> None:
    window = make_window()
    review = window.review
    item_id = review.current_claim.item.id
    qtbot.waitUntil(lambda: review.prefetched_claim is not None, timeout=15_000)

    press(qtbot, "Ctrl+K")
    dialog = review.panel.skip_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.isActiveWindow())
    assert dialog.reason() is None  # nothing is chosen for the moderator
    press(qtbot, "4 Tab")
    qtbot.keyClicks(dialog.note, "long shift")
    with qtbot.waitSignal(review.item_shown, timeout=10_000):
        press(qtbot, "Return")

    [event] = store.audit_events(item_id=item_id, kind="skip")
    assert event.detail["reason"] == SkipReason.WELFARE.value
    assert event.detail["note"] == "long shift"
    assert store.items.item_status(item_id) == "pending"
    assert review.current_claim.item.id != item_id
    assert store.items.decisions() == []


def test_leases_are_renewed_only_while_the_moderator_is_active(
    qtbot: QtBot, make_window: WindowFactory, tasks: Tasks, clock: FakeClock, seeded: int
) -> None:
    window = make_window(timings=Timings(renew_lease_ms=50, interaction_recent_s=60))
    review = window.review
    first = review.current_claim.lease_expires_at
    qtbot.waitUntil(lambda: review.current_claim.lease_expires_at > first, timeout=5_000)

    clock.advance(120)  # nobody has touched anything for two minutes
    qtbot.wait(200)  # a few renewal ticks
    qtbot.waitUntil(lambda: tasks.pending == 0)
    held = review.current_claim.lease_expires_at
    qtbot.wait(200)
    assert review.current_claim.lease_expires_at == held
