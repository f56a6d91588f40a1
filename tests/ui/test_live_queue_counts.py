"""Another workstation's work reaches an open screen without a manual refresh."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from db.media_store import MediaStore
from db.store import Store
from reviewer.demo import generate_demo
from ui.review_screen import Timings


def test_queue_counts_follow_other_workstations(
    qtbot: QtBot, store: Store, media: MediaStore, seeded: int, make_window
) -> None:
    window = make_window(timings=Timings(queue_refresh_ms=200))
    picker = window.review.queue_picker

    def waiting() -> int:
        return int(picker.itemText(0).split("—")[1].split()[0])

    # The first item is on screen and one more is claimed ahead: 5 - 2 wait.
    qtbot.waitUntil(lambda: waiting() == seeded - 2, timeout=10_000)
    # Elsewhere, through its own connection: new items arrive, and someone takes one.
    other = Store(store.engine)
    generate_demo(other.items, media, 3, seed=99, max_megapixels=0.3, broken=False)
    qtbot.waitUntil(lambda: waiting() == seeded + 1, timeout=10_000)
    taker = other.accounts.ensure_user("elsewhere")
    assert other.claims.claim_next(taker.id) is not None
    qtbot.waitUntil(lambda: waiting() == seeded, timeout=10_000)
