"""Fixtures for the review screen on a real store (SQLite and PostgreSQL, via migrated_db_url)."""

from __future__ import annotations

import gc
import math
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import wiring
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from sign_in import sign_in
from ui_helpers import (
    ADMIN,
    ADMIN_PASSWORD,
    MODERATOR,
    WindowFactory,
    delete_windows_left_to_the_collector,
)

from db.accounts import AccountsRepo
from db.media_store import MediaStore
from db.store import Store
from reviewer.clock import FakeClock
from reviewer.demo import generate_demo
from reviewer.review_service import ReviewService, Workstation
from ui.idle_lock import LockTimings
from ui.main_window import MainWindow, build_main_window
from ui.review_screen import Timings
from ui.tasks import Tasks
from ui.theme import apply_theme


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    """A Tasks left running keeps Python's automatic garbage collection off for the rest
    of this worker's tests (ui.tasks collects on the GUI thread instead); a start-up
    that opened the main window froze what it had made (ui.app), which is no session
    here."""
    yield
    gc.unfreeze()
    assert gc.isenabled(), "a test left a Tasks running: shut it down"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Before the fixtures are torn down (after pytest-qt has closed and deleted the
    widgets a test gave it): no window whose Qt object is still alive was left to
    Python's cyclic garbage collector (see ui_helpers)."""
    names = delete_windows_left_to_the_collector()
    assert not names, f"windows left alive to the garbage collector: {names}"


@pytest.fixture
def store(migrated_db_url: str) -> Iterator[Store]:
    s = Store.open(migrated_db_url)
    yield s
    s.close()


@pytest.fixture
def media(tmp_path: Path) -> MediaStore:
    # A throwaway media key: tests never touch the keyring's real one.
    return MediaStore(tmp_path / "media", os.urandom(32))


@pytest.fixture
def workstation(store: Store, media: MediaStore) -> Workstation:
    return wiring.workstation(store, media)


@pytest.fixture
def service(workstation: Workstation) -> ReviewService:
    return sign_in(workstation, MODERATOR)


@pytest.fixture
def accounts(store: Store) -> AccountsRepo:
    return store.accounts


@pytest.fixture
def admin_service(
    store: Store, media: MediaStore, accounts: AccountsRepo, clock: FakeClock
) -> ReviewService:
    """Signed in with a password: the first account (admin and moderator, vetted)."""
    ws = wiring.workstation(store, media, accounts=accounts, clock=clock)
    return ws.enrol_first_admin(ADMIN, ADMIN_PASSWORD)


@pytest.fixture
def seeded(store: Store, media: MediaStore) -> int:
    """Five small synthetic items (about 1 MP at most), none broken."""
    return generate_demo(store.items, media, 5, seed=7, max_megapixels=1, broken=False).added


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tasks(store: Store) -> Iterator[Tasks]:
    # Depends on store so that it shuts down (finishing queued releases) before the
    # store closes.
    t = Tasks()
    yield t
    t.shutdown()


@pytest.fixture
def make_window(
    qtbot: QtBot, service: ReviewService, tasks: Tasks, clock: FakeClock
) -> Iterator[WindowFactory]:
    """Build the main window at 1200x800, show and activate it, and (unless told not to)
    start the review loop and wait for the first item. pytest-qt closes and deletes it
    after the test."""

    def make(
        timings: Timings | None = None,
        start: bool = True,
        review_service: ReviewService | None = None,
        lock: LockTimings | None = None,
    ) -> MainWindow:
        # The idle lock only where a test asks for it: others move the fake clock by
        # hours (welfare) and would find the window locked.
        never = LockTimings(lock_after_s=math.inf, release_after_s=math.inf)
        window = build_main_window(
            review_service or service, tasks, clock=clock, timings=timings, lock=lock or never
        )
        qtbot.addWidget(window)
        window.resize(1200, 800)
        window.show()
        window.activateWindow()
        qtbot.waitActive(window)
        if start:
            with qtbot.waitSignal(window.review.item_shown, timeout=15_000):
                window.review.start()
        return window

    yield make


@pytest.fixture
def themed() -> Iterator[None]:
    """The workstation's real look (fonts, paddings, focus borders take room), restored
    afterwards for the other tests."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    saved = (app.style().name(), app.palette(), app.font(), app.styleSheet())
    apply_theme(app)
    yield
    style, palette, font, sheet = saved
    app.setStyleSheet(sheet)
    app.setStyle(style)
    app.setPalette(palette)
    app.setFont(font)
