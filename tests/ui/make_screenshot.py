"""Take docs/screenshots/review.png: the review screen on a synthetic demo queue.

    Xvfb :99 -screen 0 1600x1000x24 &
    DISPLAY=:99 PYTHONPATH=. python tests/ui/make_screenshot.py [OUTPUT.png]

Uses a throwaway database and media store in a temporary directory; every picture is
synthetic (reviewer.synthetic).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from db.media_store import MediaStore
from db.store import Store
from reviewer.demo import generate_demo
from reviewer.review import Workstation
from ui.main_window import build_main_window
from ui.tasks import Tasks
from ui.theme import apply_theme

ROOT = Path(__file__).resolve().parents[2]


def wait_for(app: QApplication, condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the review screen did not get ready")
        app.processEvents()
        time.sleep(0.01)


def main(output: Path) -> None:
    app = QApplication(sys.argv[:1])
    apply_theme(app)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/reviewer.db")
        media = MediaStore(Path(tmp) / "media", os.urandom(32))
        generate_demo(store, media, 12, seed=4, max_megapixels=5)
        tasks = Tasks()
        service = Workstation(store, media).sign_in("Sam Okafor")
        window = build_main_window(service, tasks)
        window.resize(1600, 1000)
        window.show()
        window.activateWindow()
        review = window.review
        review.start()
        wait_for(app, lambda: review.prefetched_claim is not None and tasks.pending == 0)
        # Part of a grading, so the form shows choices made and what is still missing.
        for key in (Qt.Key.Key_C, Qt.Key.Key_5):
            QTest.keyClick(window, key)
        wait_for(app, lambda: tasks.pending == 0)
        # Let the layout catch up with the texts the keys changed.
        settle = time.monotonic() + 0.3
        wait_for(app, lambda: time.monotonic() > settle)
        output.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(output))
        window.close()
        tasks.shutdown()
        store.close()
    print(f"wrote {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs/screenshots/review.png")
