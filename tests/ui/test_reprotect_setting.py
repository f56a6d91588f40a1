"""Every admin setting reaches the place it is used: the welfare re-protect delay in the
image view (it was a constant there). SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot
from test_break_lock import welfare_service
from ui_helpers import WindowFactory, press

from db.media_store import MediaStore
from db.store import Store
from reviewer.clock import FakeClock
from wellbeing.settings import WelfareSettings


@pytest.mark.parametrize("seconds", [3, 25])
def test_the_admins_reprotect_delay_reaches_the_image_view(
    qtbot: QtBot,
    make_window: WindowFactory,
    store: Store,
    media: MediaStore,
    clock: FakeClock,
    seeded: int,
    seconds: int,
) -> None:
    svc = welfare_service(store, media, clock, WelfareSettings(reprotect_after_seconds=seconds))
    window = make_window(review_service=svc)
    view = window.review.view
    press(qtbot, "Space")
    qtbot.waitUntil(lambda: view.revealed, timeout=10_000)
    assert view.reveal_state.reprotect_due_in() == pytest.approx(seconds)
    clock.advance(seconds - 0.5)
    assert not view.reveal_state.tick() and view.revealed
    clock.advance(1.0)
    assert view.reveal_state.tick()  # protected again, after the admin's delay
