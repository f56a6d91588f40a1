"""Take docs/screenshots/known_match.png and dup_group.png on a synthetic queue.

    Xvfb :96 -screen 0 1600x1000x24 &
    DISPLAY=:96 PYTHONPATH=.:tests/ui python tests/ui/make_show_less_screenshots.py

Throwaway database and media store; every picture is synthetic.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import wiring
from make_screenshot import wait_for
from PySide6.QtWidgets import QApplication
from sign_in import sign_in

from db.media_store import MediaStore
from db.store import Store
from reviewer import synthetic
from reviewer.ingest import Entry, IngestReport, ingest_bytes
from reviewer.matching import HashIngest, ShowLess
from reviewer.matching_demo import altered_copy, generate_matching_demo
from reviewer.vocabulary import Source
from ui.dup_group import DupGroupGrid
from ui.main_window import build_main_window
from ui.tasks import Tasks
from ui.theme import apply_theme

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs/screenshots"


def settle(app: QApplication, seconds: float = 0.4) -> None:
    until = time.monotonic() + seconds
    wait_for(app, lambda: time.monotonic() > until)


def main() -> None:
    app = QApplication(sys.argv[:1])
    apply_theme(app)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/reviewer.db")
        media = MediaStore(Path(tmp) / "media", os.urandom(32))
        repo = store.hashes
        demo = generate_matching_demo(store.items, media, repo, n=20, seed=2, size=(1224, 816))
        tasks = Tasks()
        workstation = wiring.workstation(
            store, media, show_less_for=lambda u: ShowLess(repo, store, u, media.get)
        )
        service = sign_in(workstation, "Sam Okafor")
        window = build_main_window(service, tasks)
        window.resize(1600, 1000)
        window.show()
        window.activateWindow()
        review = window.review
        review.start()
        # The second listed item is a perceptual (PDQ) match; show that one.
        wait_for(app, lambda: review.current_claim is not None and tasks.pending == 0)
        review.known.confirm_button.click()
        wait_for(
            app,
            lambda: (
                review.current_claim is not None
                and review.current_claim.item.id == demo.known[1]
                and tasks.pending == 0
            ),
        )
        settle(app)
        OUT.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(OUT / "known_match.png"))
        window.close()
        tasks.shutdown()

        # The group grid: an original graded, its near-duplicates offered. Three more
        # altered copies of it arrive first, so the grid has a few members.
        original = synthetic.make_image(1224, 816, 2 * 1000 + 500, "NEW 1")
        hook = HashIngest(repo)
        for k in (1, 2, 3):
            entry = Entry(
                line=k,
                source=Source.USER_REPORT,
                queue="General",
                external_id=f"extra-copy-{k}",
                imminent_risk=False,
                reported_accounts=(),
                upload_ip=None,
                upload_time=None,
                report_text="",
                extra={},
            )
            ingest_bytes(store.items, media, entry, altered_copy(original, k), IngestReport(), hook)
        tasks = Tasks()
        rep = demo.other[0]
        group = repo.group_of(rep)
        assert group is not None
        grid = DupGroupGrid(
            group,
            rep,
            "B · youngest 11-13",
            tasks,
            ShowLess(repo, store, service.user, media.get).member_bytes,
        )
        grid.resize(1060, 470)
        grid.show()
        wait_for(app, lambda: tasks.pending == 0)
        settle(app)
        grid.grab().save(str(OUT / "dup_group.png"))
        grid.close()
        tasks.shutdown()
        store.close()
    print(f"wrote {OUT / 'known_match.png'} and {OUT / 'dup_group.png'}")


if __name__ == "__main__":
    main()
