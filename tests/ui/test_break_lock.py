"""The welfare screens on a real store and a FakeClock: the break lock cannot be
bypassed (keyboard, window close, claim attempts), the protected picture is never
visible behind it, held leases go back if the break outlasts them, a lead's early end
is audited; the pause after Category A; the hard stop at the cap; the support page."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import wiring
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from sign_in import admin_check, sign_in, stored_account
from ui_helpers import MODERATOR, WindowFactory, pixels, press

from db.media_store import MediaStore
from db.store import Store
from reviewer import synthetic
from reviewer.accounts import Role
from reviewer.clock import FakeClock
from reviewer.ingest import Entry, IngestReport, ingest_bytes
from reviewer.model import User
from reviewer.permissions import Operation
from reviewer.review_service import ReviewService
from reviewer.vocabulary import Severity, Source
from reviewer.welfare_service import WelfareSession
from ui.main_window import MainWindow
from ui.welfare_view import WelfareGuard
from wellbeing.policy import Mode, ReviewLocked
from wellbeing.settings import WelfareSettings

LEAD_PASSWORD = "a lead password for tests"


@pytest.fixture
def store(migrated_db_url: str, clock: FakeClock) -> Iterator[Store]:
    # Leases on the same fake clock as the policy, so a break can outlast one.
    s = Store.open(migrated_db_url, clock=clock)
    yield s
    s.close()


def welfare_service(
    store: Store, media: MediaStore, clock: FakeClock, settings: WelfareSettings | None = None
) -> ReviewService:
    repo = store.welfare
    if settings is not None:
        repo.save_settings(settings, admin_check(store, Operation.WELFARE_SETTINGS))

    def welfare(user: User) -> WelfareSession:
        return WelfareSession(repo, user, clock, store.accounts.authenticate)

    return sign_in(wiring.workstation(store, media, welfare=welfare), MODERATOR)


def guard_of(window: MainWindow) -> WelfareGuard:
    assert window.welfare is not None
    return window.welfare


def review_for(svc: ReviewService, clock: FakeClock, seconds: float) -> None:
    """Active review: an interaction every 30 s."""
    assert svc.welfare is not None
    for _ in range(int(seconds // 30)):
        clock.advance(30)
        svc.welfare.activity()


def test_break_lock_cannot_be_bypassed_and_a_lead_override_is_audited(
    qtbot: QtBot,
    make_window: WindowFactory,
    store: Store,
    media: MediaStore,
    clock: FakeClock,
    seeded: int,
) -> None:
    # The lead who ends the break early proves who they are at this screen.
    stored_account(store, "Priya", Role.LEAD, password=LEAD_PASSWORD)
    svc = welfare_service(store, media, clock)
    window = make_window(review_service=svc)
    guard = guard_of(window)
    review = window.review
    first = review.current_claim
    assert first is not None and guard.screen is None
    press(qtbot, "Space")
    qtbot.waitUntil(lambda: review.view.revealed, timeout=10_000)

    review_for(svc, clock, 50 * 60)
    with qtbot.waitSignal(guard.mode_changed, timeout=5_000):
        guard.refresh()
    qtbot.waitUntil(lambda: svc.welfare.state().mode is Mode.ON_BREAK, timeout=5_000)
    guard.refresh()
    assert guard.screen is guard.lock
    # The lock covers the whole window; the review screen (and its picture) is hidden
    # and protected, and what is painted is the lock alone.
    assert guard.lock.geometry() == window.rect()
    assert not review.isVisible() and not review.view.revealed
    painted = pixels(window)
    assert np.array_equal(painted, pixels(guard.lock)[: painted.shape[0], : painted.shape[1]])
    assert not guard.lock.end_button.isEnabled()

    # Keyboard: reveal, grade, submit, skip, quit: nothing gets through.
    guard.lock.setFocus()
    for keys in ("Space", "H", "S", "N", "Ctrl+Return", "Ctrl+K", "Escape", "Ctrl+Q"):
        press(qtbot, keys)
    qtbot.wait(50)
    assert window.isVisible() and guard.screen is guard.lock
    assert store.items.decisions() == []
    assert not review.view.revealed
    # Window close is refused.
    window.close()
    assert window.isVisible() and guard.screen is guard.lock
    # Claims are refused by the service, whoever asks.
    with pytest.raises(ReviewLocked):
        svc.claim_next()
    # The moderator cannot end it early.
    qtbot.mouseClick(guard.lock.end_button, Qt.MouseButton.LeftButton)
    assert guard.screen is guard.lock

    # Held items go back before their lease would run out during the break.
    clock.advance(560)
    guard.refresh()
    qtbot.waitUntil(lambda: store.items.item_status(first.item.id) == "pending", timeout=5_000)
    assert review.current_claim is None and review.prefetched_claim is None
    [release] = store.audit_events(item_id=first.item.id, kind="release")
    assert release.detail["why"] == "break"
    assert release.detail["exposure"]["reveal_count"] == 1

    # A lead ends it early, only with a name and a reason, and that is audited.
    qtbot.mouseClick(guard.lock.lead_button, Qt.MouseButton.LeftButton)
    assert "reason" in guard.lock.error.text() and guard.screen is guard.lock
    guard.lock.lead_name.setFocus()
    qtbot.keyClicks(guard.lock.lead_name, "Priya")  # typing into the lock's own fields works
    guard.lock.lead_password.setText(LEAD_PASSWORD)
    guard.lock.lead_reason.setText("Second reviewer needed on an imminent-risk item")
    assert guard.lock.lead_name.text() == "Priya"
    with qtbot.waitSignal(review.item_shown, timeout=15_000):
        qtbot.mouseClick(guard.lock.lead_button, Qt.MouseButton.LeftButton)
    assert guard.screen is None and review.isVisible()
    [override] = store.audit_events(kind="break_overridden")
    assert override.detail["lead"] == "Priya"
    assert override.detail["reason"] == "Second reviewer needed on an imminent-risk item"
    assert override.detail["seconds_early"] == pytest.approx(40)


def test_pause_after_category_a(
    qtbot: QtBot,
    make_window: WindowFactory,
    store: Store,
    media: MediaStore,
    clock: FakeClock,
    seeded: int,
) -> None:
    svc = welfare_service(store, media, clock)
    window = make_window(review_service=svc)
    guard = guard_of(window)
    review = window.review
    qtbot.waitUntil(lambda: review.prefetched_claim is not None, timeout=15_000)
    waiting = review.prefetched_claim.item.id
    press(qtbot, "A 4 W F7 Ctrl+Return")
    qtbot.waitUntil(lambda: guard.screen is guard.pause, timeout=10_000)
    # The next item waits, unopened, behind the pause.
    assert review.current_claim is None and not review.isVisible()
    assert store.audit_events(item_id=waiting, kind="item_opened") == []
    assert not guard.pause.continue_button.isEnabled()
    window.close()
    assert window.isVisible()
    clock.advance(10)
    guard.refresh()
    assert guard.pause.continue_button.isEnabled()
    with qtbot.waitSignal(review.item_shown, timeout=10_000) as shown:
        qtbot.mouseClick(guard.pause.continue_button, Qt.MouseButton.LeftButton)
    assert shown.args == [waiting]
    assert [e.kind for e in store.audit_events(kind="pause_skipped")] == ["pause_skipped"]


def _enqueue_hinted(store: Store, media: MediaStore, hints: list[Severity | None]) -> list[int]:
    """Small synthetic pictures from an NGO, oldest first, with these severity hints."""
    ids = []
    for n, hint in enumerate(hints):
        entry = Entry(
            line=n + 1,
            source=Source.NGO,
            queue="General",
            external_id=f"hinted-{n}",
            imminent_risk=False,
            reported_accounts=(),
            upload_ip=None,
            upload_time=None,
            report_text="",
            extra={},
            suspected_category=hint,
        )
        report = IngestReport()
        ingest_bytes(store.items, media, entry, synthetic.make_jpeg(0.2, seed=n), report)
        ids += report.item_ids
    return ids


def test_the_item_claimed_ahead_is_chosen_again_once_other_work_is_due(
    qtbot: QtBot,
    make_window: WindowFactory,
    store: Store,
    media: MediaStore,
    clock: FakeClock,
) -> None:
    """With a cap of one Category A item in a row, the suspected-A item already claimed
    ahead goes back after an A decision, and other work is shown next."""
    first, ahead, other = _enqueue_hinted(store, media, [Severity.A, Severity.A, None])
    svc = welfare_service(store, media, clock, WelfareSettings(max_consecutive_a=1))
    window = make_window(review_service=svc)
    guard = guard_of(window)
    review = window.review
    assert review.current_claim is not None and review.current_claim.item.id == first
    qtbot.waitUntil(lambda: review.prefetched_claim is not None, timeout=15_000)
    assert review.prefetched_claim.item.id == ahead
    press(qtbot, "A 4 W F7 Ctrl+Return")
    qtbot.waitUntil(lambda: guard.screen is guard.pause, timeout=10_000)
    clock.advance(10)
    guard.refresh()
    with qtbot.waitSignal(review.item_shown, timeout=10_000) as shown:
        qtbot.mouseClick(guard.pause.continue_button, Qt.MouseButton.LeftButton)
    assert shown.args == [other]
    # It went back (and may be claimed again at once, as the only work left).
    qtbot.waitUntil(lambda: bool(store.audit_events(item_id=ahead, kind="release")), timeout=5_000)
    [release] = store.audit_events(item_id=ahead, kind="release")
    assert release.detail["why"] == "other_work_preferred"
    assert store.audit_events(item_id=ahead, kind="item_opened") == []
    # Claimed again with the preference, the A item is all there is: it stays, and is
    # shown next even after another A decision.
    qtbot.waitUntil(lambda: review.prefetched_claim is not None, timeout=15_000)
    assert review.prefetched_claim.item.id == ahead
    press(qtbot, "A 4 W F7 Ctrl+Return")
    qtbot.waitUntil(lambda: guard.screen is guard.pause, timeout=10_000)
    clock.advance(10)
    guard.refresh()
    with qtbot.waitSignal(review.item_shown, timeout=10_000) as shown:
        qtbot.mouseClick(guard.pause.continue_button, Qt.MouseButton.LeftButton)
    assert shown.args == [ahead]
    assert len(store.audit_events(item_id=ahead, kind="release")) == 1


def test_cap_is_a_hard_stop(
    qtbot: QtBot,
    make_window: WindowFactory,
    store: Store,
    media: MediaStore,
    clock: FakeClock,
    seeded: int,
) -> None:
    settings = WelfareSettings(daily_active_cap_hours=0.05, cap_warning_minutes=1)
    svc = welfare_service(store, media, clock, settings)
    window = make_window(review_service=svc)
    guard = guard_of(window)
    review_for(svc, clock, 150)
    guard.refresh()
    assert "of review left today" in guard.banner.text()
    review_for(svc, clock, 60)
    guard.refresh()
    assert guard.screen is guard.closed
    assert "limit" in guard.closed.message.text()
    qtbot.waitUntil(lambda: store.items.queue_summaries()[0].claimed == 0, timeout=5_000)
    with pytest.raises(ReviewLocked):
        svc.claim_next()
    # Closing is allowed: the day is over.
    window.close()
    assert not window.isVisible()


def test_support_page_from_every_screen(
    qtbot: QtBot,
    make_window: WindowFactory,
    store: Store,
    media: MediaStore,
    clock: FakeClock,
    seeded: int,
) -> None:
    svc = welfare_service(store, media, clock)
    window = make_window(review_service=svc)
    guard = guard_of(window)
    assert window.support_link.isVisible()
    press(qtbot, "F12")
    assert guard.resources is not None and guard.resources.isVisible()
    guard.resources.close()
    review_for(svc, clock, 50 * 60)
    guard.refresh()
    qtbot.waitUntil(lambda: guard.screen is guard.lock, timeout=5_000)
    assert guard.lock.support_link.isVisible()
    guard.lock.support_link.linkActivated.emit("#")
    assert guard.resources.isVisible()
    # A check-in: the answer stays here; only the support request is counted.
    dialog = guard.offer_check_in("now")
    dialog.moods.button(1).setChecked(True)
    dialog.support.setChecked(True)
    dialog.accept()
    qtbot.waitUntil(lambda: store.welfare.support_requests(clock.now().date()) == 1, timeout=5_000)
    assert not [e for e in store.audit_events() if "mood" in str(e.detail).lower()]


def test_a_suspected_category_a_item_opens_under_stronger_blur(
    qtbot: QtBot,
    make_window: WindowFactory,
    store: Store,
    media: MediaStore,
    clock: FakeClock,
) -> None:
    """The admin's table of starting protection by severity hint reaches the picture:
    the suspected-A item opens one step stronger, the unhinted one at the default."""
    suspected_a, unhinted = _enqueue_hinted(store, media, [Severity.A, None])
    settings = WelfareSettings(blur_step_default=2, blur_step_suspected_a=4)
    svc = welfare_service(store, media, clock, settings)
    window = make_window(review_service=svc)
    review = window.review
    view = review.view
    assert review.current_claim is not None and review.current_claim.item.id == suspected_a
    assert view.reveal_state.blur_step == 4
    assert view.canvas.painted_raster is view._rasters[(4, False, False)]
    # Less blur is the moderator's choice, metered as usual.
    press(qtbot, "-")
    assert view.reveal_state.blur_step == 3
    with qtbot.waitSignal(review.item_shown, timeout=15_000):
        press(qtbot, "A 4 W F7 Ctrl+Return")
        guard = guard_of(window)
        qtbot.waitUntil(lambda: guard.screen is guard.pause, timeout=10_000)
        clock.advance(30)
        guard.refresh()
    assert review.current_claim is not None and review.current_claim.item.id == unhinted
    assert view.reveal_state.blur_step == 2
    decided = [e for e in store.items.exposures(suspected_a)]
    assert decided and decided[0]["min_blur_step"] == 3
