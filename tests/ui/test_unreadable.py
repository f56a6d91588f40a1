"""Media that cannot be shown: a clear placeholder, no reveal, graded Not assessable."""

from __future__ import annotations

import hashlib

import numpy as np
from pytestqt.qtbot import QtBot
from ui_helpers import WindowFactory, pixels, press

from db.media_store import MediaStore
from db.store import Store
from reviewer import synthetic
from reviewer.model import NewItem
from reviewer.vocabulary import NotAssessableReason, Severity, Source


def enqueue_broken(store: Store, media: MediaStore) -> list[int]:
    """Three items whose pictures fail in different places."""
    # Passed the ingest probe (as if) but fails to decode when rendered.
    truncated = synthetic.truncated_jpeg(3)
    sha_render = media.put(truncated)
    store.items.add_media(sha_render, len(truncated), "JPEG", 640, 480, None)
    # Refused at ingest: the database already knows why.
    empty = synthetic.zero_byte()
    sha_ingest = media.put(empty)
    store.items.add_media(sha_ingest, 0, None, None, None, "empty: the file is empty")
    # Named by the database, absent from the media store.
    sha_missing = hashlib.sha256(b"never stored").hexdigest()
    store.items.add_media(sha_missing, 12, "JPEG", 640, 480, None)
    ids = []
    for i, sha in enumerate((sha_render, sha_ingest, sha_missing)):
        item_id, _ = store.items.add_item(NewItem("Test", Source.USER_REPORT, sha, f"broken-{i}"))
        ids.append(item_id)
    return ids


def test_unreadable_items_show_a_placeholder_and_grade_not_assessable(
    qtbot: QtBot, make_window: WindowFactory, store: Store, media: MediaStore
) -> None:
    ids = enqueue_broken(store, media)
    window = make_window()
    review, view = window.review, window.review.view
    for expected_id in ids:
        assert review.current_claim.item.id == expected_id
        assert "This file cannot be displayed" in view.canvas.message
        assert "Grade it Not assessable" in view.canvas.message
        canvas = pixels(view.canvas)
        assert np.array_equal(canvas[..., 0], canvas[..., 1])
        assert np.array_equal(canvas[..., 1], canvas[..., 2])
        press(qtbot, "Space")
        assert not view.revealed
        assert not view.reveal_button.isEnabled()
        with qtbot.waitSignal(review.decision_recorded, timeout=10_000):
            press(qtbot, "U Ctrl+Return")
    decisions = store.items.decisions()
    assert [d["item_id"] for d in decisions] == ids
    for d in decisions:
        assert d["severity"] == Severity.NOT_ASSESSABLE.value
        assert d["not_assessable_reason"] == NotAssessableReason.UNREADABLE.value
    assert store.audit_events(kind="reveal_on") == []
    qtbot.waitUntil(lambda: "No items waiting" in view.canvas.message)


def test_reason_can_be_changed_with_the_keyboard(
    qtbot: QtBot, make_window: WindowFactory, store: Store, media: MediaStore
) -> None:
    enqueue_broken(store, media)
    window = make_window()
    panel = window.review.panel
    press(qtbot, "U")
    assert panel.reason.hasFocus()
    press(qtbot, "Down Down Return")
    assert not panel.reason.hasFocus()
    assert panel.grading().not_assessable_reason is NotAssessableReason.INSUFFICIENT_DETAIL
    # Choosing another severity drops the reason (it belongs to Not assessable only).
    press(qtbot, "D")
    assert panel.grading().not_assessable_reason is None
    assert panel.grading().problems() == []
