"""Take docs/screenshots/spotlight.png, break_lock.png and pause.png.

    Xvfb :95 -screen 0 1600x1000x24 &
    DISPLAY=:95 PYTHONPATH=. python tests/ui/make_welfare_screenshots.py [OUTPUT_DIR]

A throwaway database and media store in a temporary directory; every picture is
synthetic (reviewer.synthetic). The welfare policy runs on a FakeClock, moved on to
bring about the break and the pause.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import wiring
from make_screenshot import ROOT, wait_for
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from sign_in import sign_in

from db.media_store import MediaStore
from db.store import Store
from reviewer.clock import FakeClock
from reviewer.demo import generate_demo
from reviewer.model import User
from reviewer.welfare_service import WelfareSession
from ui.main_window import build_main_window
from ui.tasks import Tasks
from ui.theme import apply_theme


def settle(app: QApplication, seconds: float = 0.3) -> None:
    until = time.monotonic() + seconds
    wait_for(app, lambda: time.monotonic() > until)


def main(out: Path) -> None:
    app = QApplication(sys.argv[:1])
    apply_theme(app)
    clock = FakeClock()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/reviewer.db", clock=clock)
        media = MediaStore(Path(tmp) / "media", os.urandom(32))
        generate_demo(store.items, media, 12, seed=4, max_megapixels=5)
        repo = store.welfare

        def welfare(user: User) -> WelfareSession:
            return WelfareSession(repo, user, clock, store.accounts.authenticate)

        tasks = Tasks()
        service = sign_in(wiring.workstation(store, media, welfare=welfare), "Sam Okafor")
        window = build_main_window(service, tasks, clock=clock)
        window.resize(1600, 1000)
        window.show()
        window.activateWindow()
        review = window.review
        view = review.view
        review.start()
        wait_for(app, lambda: review.prefetched_claim is not None and tasks.pending == 0)
        out.mkdir(parents=True, exist_ok=True)

        # 1. The spotlight: a circle of the picture unprotected under the cursor.
        QTest.keyClick(view.canvas, Qt.Key.Key_S)
        centre = view.canvas.picture_rect().center().toPoint()
        QTest.mouseMove(view.canvas, centre + QPoint(-60, -30))
        QTest.mouseMove(view.canvas, centre + QPoint(-40, -20))
        wait_for(app, lambda: view.revealed and tasks.pending == 0)
        clock.advance(3)
        settle(app)
        window.grab().save(str(out / "spotlight.png"))
        QTest.keyClick(view.canvas, Qt.Key.Key_S)

        # 2. The pause after a Category A decision.
        for key in (Qt.Key.Key_A, Qt.Key.Key_4, Qt.Key.Key_W, Qt.Key.Key_F7):
            QTest.keyClick(view.canvas, key)
        QTest.keyClick(view.canvas, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        guard = window.welfare
        assert guard is not None
        wait_for(app, lambda: guard.screen is guard.pause)
        clock.advance(12)
        guard.refresh()
        settle(app)
        window.grab().save(str(out / "pause.png"))
        clock.advance(20)
        guard.refresh()
        wait_for(app, lambda: guard.screen is None and review.current_claim is not None)

        # 3. The break lock, 50 minutes of review later.
        assert service.welfare is not None
        for _ in range(100):
            clock.advance(30)
            service.welfare.activity()
        guard.refresh()
        wait_for(app, lambda: tasks.pending == 0)
        clock.advance(200)
        guard.refresh()
        settle(app)
        window.grab().save(str(out / "break_lock.png"))

        guard.lock.lead_name.setText("Priya")
        guard.lock.lead_reason.setText("screenshot done")
        guard.lock.lead_button.click()
        wait_for(app, lambda: tasks.pending == 0)
        window.close()
        tasks.shutdown()
        store.close()
    print(f"wrote spotlight.png, pause.png, break_lock.png in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs/screenshots")
