"""The confirm-known-match flow and the near-duplicate grid, on a real store."""

from __future__ import annotations

import pytest
import wiring
from pytestqt.qtbot import QtBot
from ui_helpers import WindowFactory, press

from db.media_store import MediaStore
from db.store import Store
from reviewer.matching import ShowLess
from reviewer.matching_demo import generate_matching_demo
from reviewer.review_service import Workstation
from ui.tasks import Tasks


@pytest.fixture
def workstation(store: Store, media: MediaStore) -> Workstation:
    repo = store.hashes
    return wiring.workstation(
        store, media, show_less_for=lambda user: ShowLess(repo, store, user, media.get)
    )


def test_known_match_confirmed_unseen_then_group_grid_propagates(
    qtbot: QtBot,
    make_window: WindowFactory,
    store: Store,
    media: MediaStore,
    tasks: Tasks,
) -> None:
    # 10 items: 3 known (listed first, so claimed first), 2 near-duplicates, 5 others.
    demo = generate_matching_demo(store.items, media, store.hashes, n=10, seed=5)
    window = make_window()
    review = window.review
    claim = review.current_claim
    assert claim is not None and claim.item.id == demo.known[0]
    assert review.known.isVisible() and not review.panel.isVisible()
    assert "Category" in review.known.grade.text()
    assert review.known.kind.property("kind") in ("exact", "pdq")
    assert "Demo hotline list" in review.known.provenance.text()
    assert not review.view.revealed

    # Confirm with the keyboard; the next item appears.
    with qtbot.waitSignal(review.decision_recorded, timeout=10_000):
        press(qtbot, "Ctrl+Return")
    (decision,) = store.items.decisions(demo.known[0])
    assert "Confirmed known match" in decision["note"]
    (exposure,) = store.items.exposures(demo.known[0])
    assert exposure["reveal_count"] == 0 and not exposure["full_unprotected"]

    # Reject the second: the normal form comes back, the rejection is audited.
    qtbot.waitUntil(
        lambda: review.current_claim is not None and review.current_claim.item.id == demo.known[1],
        timeout=10_000,
    )
    review.known.reject_button.click()
    assert review.panel.isVisible() and not review.known.isVisible()
    qtbot.waitUntil(lambda: bool(store.audit_events(kind="known_match_rejected")), timeout=10_000)

    # Grade the rest (confirming known matches) until a group grid is offered.
    for _ in range(8):
        if review.group_grid is not None:
            break
        with qtbot.waitSignal(review.decision_recorded, timeout=10_000):
            press(qtbot, "Ctrl+Return" if review.known.isVisible() else "C 5 Q F7 Ctrl+Return")
        qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)
    grid = review.group_grid
    assert grid is not None
    qtbot.waitUntil(
        lambda: all(
            t.picture.pixmap() is not None and not t.picture.pixmap().isNull() for t in grid.tiles
        ),
        timeout=10_000,
    )
    members = grid.ticked()
    assert members and set(members) <= set(demo.near) | set(demo.other)
    grid.apply_button.click()
    qtbot.waitUntil(
        lambda: all(store.items.item_status(i) == "decided" for i in members), timeout=10_000
    )
    for item_id in members:
        (e,) = store.items.exposures(item_id)
        assert e["reveal_count"] == 0
