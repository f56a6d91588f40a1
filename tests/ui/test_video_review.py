"""Reviewing a video as a moderator does: the protected keyframe sheet as
painted, frames revealed one at a time and metered, sound muted until unmuted (and
that recorded), segments rolling up to the item's grade, broken videos Not assessable.

Every video is synthetic (reviewer.synthetic_video, made with PyAV).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import wiring
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sign_in import sign_in
from test_protected_paint import assert_protected, colour_fraction, picture
from ui_helpers import MODERATOR, WindowFactory, laplacian_energy, pixels, press

from db.media_store import MediaStore
from db.store import Store
from db.video import VideoRepo
from reviewer import synthetic_video
from reviewer.ingest import ingest_manifest
from reviewer.model import NewItem
from reviewer.review_service import ReviewService
from reviewer.segments import Segment
from reviewer.vocabulary import NotAssessableReason, Severity, Source
from ui.image_view import raster_from
from ui.main_window import MainWindow
from wellbeing.keyframes import render_keyframe_sheet


@pytest.fixture
def videos(store: Store) -> VideoRepo:
    return store.videos


@pytest.fixture
def video_service(store: Store, media: MediaStore, videos: VideoRepo) -> ReviewService:
    return sign_in(wiring.workstation(store, media, videos=videos), MODERATOR)


def ingest(
    store: Store, media: MediaStore, videos: VideoRepo, tmp: Path, files: dict[str, bytes]
) -> list[int]:
    lines = []
    for name, data in files.items():
        (tmp / name).write_bytes(data)
        lines.append(json.dumps({"media": name, "source": "livestream", "id": name}))
    (tmp / "m.jsonl").write_text("\n".join(lines) + "\n")
    return ingest_manifest(store.items, media, tmp / "m.jsonl", videos=videos).item_ids


def open_video(make_window: WindowFactory, service: ReviewService) -> MainWindow:
    window = make_window(review_service=service)
    assert window.review.video.isVisible(), "a video item shows its keyframe sheet"
    return window


def cell_pictures(window: MainWindow) -> list[np.ndarray]:
    """What the sheet paints inside each cell's picture (labels and gaps left out)."""
    sheet_view = window.review.video.sheet
    painted = pixels(sheet_view)
    out = []
    for i in range(len(sheet_view.sheet.cells)):
        r = sheet_view.cell_rect(i).toAlignedRect().adjusted(2, 2, -2, -2)
        out.append(painted[r.top() : r.bottom(), r.left() : r.right()])
    return out


def _cell_energy(window: MainWindow) -> float:
    return float(np.mean([laplacian_energy(p) for p in cell_pictures(window)]))


def test_keyframe_sheet_is_protected_as_painted_and_frames_reveal_metered(
    qtbot: QtBot,
    make_window: WindowFactory,
    store: Store,
    media: MediaStore,
    videos: VideoRepo,
    video_service: ReviewService,
    tmp_path: Path,
) -> None:
    data = synthetic_video.make_video(width=640, height=360, duration_s=8.0, noise=24, seed=3)
    [item_id] = ingest(store, media, videos, tmp_path, {"live.mp4": data})
    window = open_video(make_window, video_service)
    review = window.review
    sheet_view = review.video.sheet
    # Rendered ahead for a guessed size, then again for the view's own: painted as it is.
    qtbot.waitUntil(lambda: sheet_view.sheet.box == sheet_view.render_box(), timeout=10_000)
    sheet = sheet_view.sheet
    assert sheet is not None and len(sheet.cells) == 8
    image = sheet.raster.image
    assert image.width() <= sheet_view.width() and image.height() <= sheet_view.height()
    # Nothing plays on its own; the frame view waits for a choice.
    assert not review.video.playing and review.view.canvas.painted_raster is None

    painted = pixels(sheet_view)
    # Saturation zero everywhere the sheet paints.
    assert np.array_equal(painted[..., 0], painted[..., 1])
    assert np.array_equal(painted[..., 1], painted[..., 2])
    protected_energy = _cell_energy(window)
    # The same frames, same layout, unblurred: painted in the same widget for comparison.
    sharp = render_keyframe_sheet(sheet.frames, sheet.box, blur_step=0, screen=True)
    sheet_view.show_sheet(dataclasses.replace(sheet, raster=raster_from(sharp)))
    sharp_energy = _cell_energy(window)
    sheet_view.show_sheet(sheet)
    ratio = protected_energy / sharp_energy
    print(f"sheet high-frequency energy, protected / sharp: {ratio:.3f}")
    assert ratio < 0.2

    # The view changes size: the sheet is rendered again for it (off the GUI thread),
    # never scaled by the painter.
    before = sheet_view.render_box()
    window.resize(window.width() + 160, window.height())
    qtbot.waitUntil(lambda: sheet_view.render_box() != before, timeout=5_000)
    qtbot.waitUntil(lambda: sheet_view.sheet.box == sheet_view.render_box(), timeout=10_000)
    refitted = sheet_view.sheet
    assert refitted is not sheet and refitted.frames == sheet.frames
    assert refitted.raster.image.width() <= sheet_view.width()
    sheet = refitted

    # A click on a cell: that frame, full size, still protected.
    cell = sheet_view.cell_rect(3).center().toPoint()
    qtbot.mouseClick(sheet_view, Qt.MouseButton.LeftButton, pos=cell)
    qtbot.waitUntil(lambda: review.view.canvas.painted_raster is not None, timeout=10_000)
    assert review.video.current_frame == 3
    assert_protected(review.view)
    review.view.canvas.setFocus()
    with qtbot.waitSignal(review.view.reveal_changed, timeout=10_000) as revealed:
        press(qtbot, "Space")
    assert revealed.args == [True]
    assert colour_fraction(picture(review.view)) > 0.2
    # Another frame: protected again at once, and the same item's meter carries on.
    with qtbot.waitSignal(review.view.reveal_changed, timeout=10_000):
        press(qtbot, "Right")
    qtbot.waitUntil(lambda: review.video.current_frame == 4)
    qtbot.waitUntil(lambda: not review.view.revealed)
    assert_protected(review.view)
    assert review.view.exposure().reveal_count == 1
    # Play steps through keyframes, protected; revealing stops it.
    press(qtbot, "P")
    assert review.video.playing
    qtbot.waitUntil(lambda: review.video.current_frame not in (None, 4), timeout=5_000)
    assert_protected(review.view)
    press(qtbot, "P")
    assert not review.video.playing
    kinds = [e.kind for e in store.audit_events(item_id=item_id)]
    qtbot.waitUntil(
        lambda: (
            [e.kind for e in store.audit_events(item_id=item_id, kind="reveal_on")] == ["reveal_on"]
        )
    )
    assert "audio_unmuted" not in kinds


def test_sound_is_off_until_unmuted_and_unmuting_is_recorded(
    qtbot: QtBot,
    make_window: WindowFactory,
    store: Store,
    media: MediaStore,
    videos: VideoRepo,
    video_service: ReviewService,
    tmp_path: Path,
) -> None:
    files = {
        "a.mkv": synthetic_video.make_video(container="mkv", audio=True, seed=1),
        "b.webm": synthetic_video.make_video(container="webm", audio=False, seed=2),
    }
    first, second = ingest(store, media, videos, tmp_path, files)
    window = open_video(make_window, video_service)
    review, pane = window.review, window.review.video
    assert review.current_claim.item.id == first
    assert not pane.unmuted and "muted" in pane.audio_button.text()
    assert pane.audio_button.isEnabled()
    assert [e for e in store.audit_events(first) if e.kind.startswith("audio")] == []

    press(qtbot, "M")
    assert pane.unmuted and "UNMUTED" in pane.audio_button.text()
    qtbot.waitUntil(lambda: len(store.audit_events(first, kind="audio_unmuted")) == 1)
    # Moving on mutes again, recorded before the decision.
    with qtbot.waitSignal(review.item_shown, timeout=15_000):
        press(qtbot, "D Ctrl+Return")
    kinds = [e.kind for e in store.audit_events(first)]
    assert kinds.index("audio_unmuted") < kinds.index("audio_muted") < kinds.index("decision")
    # The next video: muted again; it has no sound track, so there is nothing to unmute.
    assert review.current_claim.item.id == second
    assert not pane.unmuted and not pane.audio_button.isEnabled()
    press(qtbot, "M")
    assert not pane.unmuted
    assert store.audit_events(second, kind="audio_unmuted") == []


def test_segments_roll_up_to_the_grade_in_the_form_and_in_the_database(
    qtbot: QtBot,
    make_window: WindowFactory,
    store: Store,
    media: MediaStore,
    videos: VideoRepo,
    video_service: ReviewService,
    tmp_path: Path,
) -> None:
    data = synthetic_video.make_video(duration_s=6.0, seed=5)
    [item_id] = ingest(store, media, videos, tmp_path, {"v.mp4": data})
    window = open_video(make_window, video_service)
    review, pane = window.review, window.review.video
    sheet_view = pane.sheet
    # Cells 2..3 (Shift-click), graded Category A; then 0:00-0:01 typed, Not illegal.
    qtbot.mouseClick(
        sheet_view, Qt.MouseButton.LeftButton, pos=sheet_view.cell_rect(2).center().toPoint()
    )
    qtbot.mouseClick(
        sheet_view,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ShiftModifier,
        pos=sheet_view.cell_rect(3).center().toPoint(),
    )
    assert (pane.segments.start.text(), pane.segments.end.text()) == ("00:02", "00:04")
    pane.segments.severity.setCurrentIndex(0)  # Category A
    review.view.canvas.setFocus()
    press(qtbot, "T")
    pane.segments.start.setText("0:00")
    pane.segments.end.setText("99:00")  # past the end: refused, explained, kept
    pane.segments.severity.setCurrentIndex(4)  # Not illegal
    pane.segments.add_typed()
    assert "after the video" in pane.segments.message.text()
    assert pane.segments.end.text() == "99:00"
    pane.segments.end.setText("0:01")
    pane.segments.add_typed()
    assert pane.segment_list() == (
        Segment(0.0, 1.0, Severity.NOT_ILLEGAL),
        Segment(2.0, 4.0, Severity.A),
    )
    assert "Category A" in pane.segments.message.text()

    # A complete Category C grading is refused: the roll-up is Category A.
    review.view.canvas.setFocus()
    press(qtbot, "C 4 W F7")
    assert not review.panel.submit_button.isEnabled()
    assert "most severe segment" in review.panel.problems.text()
    press(qtbot, "Ctrl+Return")
    assert store.items.decisions() == []
    with qtbot.waitSignal(review.decision_recorded, timeout=10_000) as recorded:
        press(qtbot, "A Ctrl+Return")
    [decision] = store.items.decisions(item_id)
    assert decision["severity"] == "A"
    assert videos.decision_segments(recorded.args[0].decision_id) == [
        Segment(0.0, 1.0, Severity.NOT_ILLEGAL),
        Segment(2.0, 4.0, Severity.A),
    ]


def test_broken_videos_show_a_placeholder_and_grade_not_assessable(
    qtbot: QtBot,
    make_window: WindowFactory,
    store: Store,
    media: MediaStore,
    videos: VideoRepo,
    video_service: ReviewService,
    tmp_path: Path,
) -> None:
    # Refused at ingest (the database knows why) ...
    ids = ingest(
        store, media, videos, tmp_path, {"t.mp4": synthetic_video.truncated("mp4", seed=1)}
    )
    # ... and one the database believes readable, failing only when rendered.
    corrupt = synthetic_video.BROKEN_KINDS["zero_frames_mkv"](2)
    sha = media.put(corrupt)
    store.items.add_media(sha, len(corrupt), "mkv", 320, 240, None)
    ids.append(store.items.add_item(NewItem("Test", Source.LIVESTREAM, sha, "render-fails"))[0])
    window = make_window(review_service=video_service)
    review, view = window.review, window.review.view
    for expected in ids:
        # The second fails on the render pool (in the worker, within its time limit).
        qtbot.waitUntil(lambda: review.current_claim is not None, timeout=15_000)
        assert review.current_claim.item.id == expected
        assert not review.video.isVisible()
        assert "This file cannot be displayed" in view.canvas.message
        assert "Grade it Not assessable" in view.canvas.message
        press(qtbot, "Space")
        assert not view.revealed
        with qtbot.waitSignal(review.decision_recorded, timeout=15_000):
            press(qtbot, "U Ctrl+Return")
    assert [d["item_id"] for d in store.items.decisions()] == ids
    for d in store.items.decisions():
        assert d["severity"] == Severity.NOT_ASSESSABLE.value
        assert d["not_assessable_reason"] == NotAssessableReason.UNREADABLE.value
