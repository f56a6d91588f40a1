"""Take docs/screenshots/keyframe_sheet.png: a livestream capture on the review screen,
its protected keyframe sheet above, one frame chosen (protected) below, one segment
marked.

    Xvfb :99 -screen 0 1600x1000x24 &
    DISPLAY=:99 PYTHONPATH=. python tests/ui/make_keyframe_screenshot.py [OUTPUT.png]

Uses a throwaway database and media store in a temporary directory; the video is
synthetic (reviewer.synthetic_video).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import wiring
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from sign_in import sign_in

from db.media_store import MediaStore
from db.store import Store
from reviewer import synthetic_video
from reviewer.ingest import ingest_manifest
from ui.main_window import build_main_window
from ui.tasks import Tasks
from ui.theme import apply_theme

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_screenshot import ROOT, wait_for


def main(output: Path) -> None:
    app = QApplication(sys.argv[:1])
    apply_theme(app)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/reviewer.db")
        media = MediaStore(Path(tmp) / "media", os.urandom(32))
        videos = store.videos
        data = synthetic_video.make_video(
            container="mp4",
            width=1280,
            height=720,
            duration_s=95.0,
            fps=10,
            gop_s=4.0,
            audio=True,
            fragmented=True,
            scene_s=20.0,
            seed=11,
        )
        (Path(tmp) / "capture.mp4").write_bytes(data)
        line = {
            "media": "capture.mp4",
            "source": "livestream",
            "id": "live-1",
            "queue": "Child safety",
            "report_text": "Live broadcast flagged by stream safety model; recording attached.",
            "reported_accounts": ["streamer-4471@example.test"],
            "upload_ip": "203.0.113.7",
        }
        (Path(tmp) / "m.jsonl").write_text(json.dumps(line) + "\n")
        ingest_manifest(store.items, media, Path(tmp) / "m.jsonl", videos=videos)
        tasks = Tasks()
        service = sign_in(wiring.workstation(store, media, videos=videos), "Sam Okafor")
        window = build_main_window(service, tasks)
        window.resize(1600, 1000)
        window.show()
        window.activateWindow()
        review = window.review
        review.start()
        wait_for(app, lambda: review.current_claim is not None and tasks.pending == 0)
        pane = review.video
        sheet = pane.sheet
        QTest.mouseClick(
            sheet, Qt.MouseButton.LeftButton, pos=sheet.cell_rect(9).center().toPoint()
        )
        QTest.mouseClick(
            sheet,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.ShiftModifier,
            sheet.cell_rect(11).center().toPoint(),
        )
        wait_for(app, lambda: tasks.pending == 0 and review.view.canvas.painted_raster is not None)
        pane.segments.severity.setCurrentIndex(1)  # Category B
        pane.segments.add_typed()
        review.view.canvas.setFocus()
        QTest.keyClick(window, Qt.Key.Key_B)
        wait_for(app, lambda: tasks.pending == 0)
        settle = time.monotonic() + 0.3
        wait_for(app, lambda: time.monotonic() > settle)
        output.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(output))
        window.close()
        tasks.shutdown()
        store.close()
    print(f"wrote {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs/screenshots/keyframe_sheet.png")
