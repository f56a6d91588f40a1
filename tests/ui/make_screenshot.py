"""Take the screenshots in docs/screenshots/: the review screen on a synthetic demo
queue (review.png), the sign-in dialog (login.png) and Admin > Users (users.png).

    Xvfb :99 -screen 0 1600x1000x24 &
    DISPLAY=:99 PYTHONPATH=. python tests/ui/make_screenshot.py [review|login|users] [OUTPUT.png]

Uses a throwaway database and media store in a temporary directory; every picture is
synthetic (reviewer.synthetic), and every account is made up.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import wiring
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from sign_in import sign_in

from db.media_store import MediaStore
from db.store import Store
from reviewer.accounts import Role, VettingStatus
from reviewer.demo import generate_demo
from ui.login import LoginDialog
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


def settle(app: QApplication, seconds: float = 0.3) -> None:
    """Let the layout catch up with texts just changed."""
    until = time.monotonic() + seconds
    wait_for(app, lambda: time.monotonic() > until)


def login(app: QApplication, output: Path) -> None:
    dialog = LoginDialog(first_run=False)
    dialog.show()
    dialog.name.setText("Sam Okafor")
    dialog.password.setText("not a real password")
    dialog.show_refusal("That name and password do not match an account that may sign in.")
    dialog.name.setText("Sam Okafor")
    dialog.password.setText("another try")
    settle(app)
    dialog.grab().save(str(output))
    dialog.close()


def users(app: QApplication, output: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/reviewer.db", audit_key=os.urandom(32))
        media = MediaStore(Path(tmp) / "media", os.urandom(32))
        generate_demo(store.items, media, 2, seed=4, max_megapixels=0.3)
        repo = store.accounts
        service = wiring.workstation(store, media, accounts=repo).enrol_first_admin(
            "Ada Admin", "made-up admin password"
        )
        admin = service.account
        general = store.items.ensure_queue("General")
        live = store.items.ensure_queue("Livestream (restricted)")
        repo.set_queue_restricted(admin, live, True)
        people = [
            ("Sam Okafor", {Role.MODERATOR}, date(2025, 3, 2), ["Wellbeing induction"]),
            ("Priya Natarajan", {Role.MODERATOR, Role.LEAD}, date(2024, 9, 16), ["UK scale"]),
            ("Jonas Berg", {Role.QA}, date(2025, 1, 20), ["QA calibration", "UK scale"]),
            ("Lee Chen", {Role.MODERATOR}, None, []),
            ("Maria Alves", {Role.MODERATOR}, date(2022, 5, 4), ["Wellbeing induction"]),
        ]
        for name, roles, vetted_on, courses in people:
            made = repo.create_user(admin, name, "made-up password 1", roles)
            if vetted_on is not None:
                repo.set_vetting(admin, made.id, VettingStatus.VETTED, vetted_on)
            for i, course in enumerate(courses):
                repo.add_training(admin, made.id, course, date(2025, 2, 3 + i))
            if name in ("Sam Okafor", "Priya Natarajan"):
                repo.grant_queue(admin, made.id, live)
            if name == "Maria Alves":
                repo.disable(admin, made.id)
        assert general
        tasks = Tasks()
        window = build_main_window(service, tasks)
        window.show_users()
        dialog = window.users_dialog
        assert dialog is not None
        wait_for(app, lambda: dialog.model.rowCount() == len(people) + 1 and tasks.pending == 0)
        dialog.select_user(admin.id + 1)
        settle(app)
        dialog.grab().save(str(output))
        dialog.close()
        window.close()
        tasks.shutdown()
        store.close()


def main(output: Path) -> None:
    app = QApplication(sys.argv[:1])
    apply_theme(app)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/reviewer.db", audit_key=os.urandom(32))
        media = MediaStore(Path(tmp) / "media", os.urandom(32))
        generate_demo(store.items, media, 12, seed=4, max_megapixels=5)
        tasks = Tasks()
        service = sign_in(wiring.workstation(store, media), "Sam Okafor")
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
    what = sys.argv[1] if len(sys.argv) > 1 else "review"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / f"docs/screenshots/{what}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    if what == "review":
        main(out)
    else:
        application = QApplication(sys.argv[:1])
        apply_theme(application)
        {"login": login, "users": users}[what](application, out)
        print(f"wrote {out}")
