"""The review flow without a widget: ReviewPresenter on a real store (both backends),
its task lanes synchronous (ui.tasks.Tasks(synchronous=True)) and a view that records
what it is told. No QApplication is created here.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from db.store import Store
from reviewer.clock import FakeClock
from reviewer.errors import StoreUnavailable
from reviewer.grading import Grading
from reviewer.model import DecisionReceipt, Exposure, QueueSummary
from reviewer.review_service import ReviewService
from reviewer.segments import Segment
from reviewer.vocabulary import Severity, SkipReason
from ui.change_set import Change, ChangeSet
from ui.review_presenter import UNREACHABLE, ReviewPresenter, Slot
from ui.tasks import Tasks
from wellbeing.render import render_protected

GRADE = Grading(severity=Severity.NOT_ILLEGAL, csea_related=False)
BOX = (640, 480)


class RecordingView:
    """The screen as the presenter sees it: renders with the real protection pipeline,
    records everything else."""

    def __init__(self) -> None:
        self.shown: list[int] = []
        self.messages: list[str] = []
        self.said: list[tuple[str, str]] = []
        self.busy: list[bool] = []
        self.locked: list[bool] = []
        self.stored: list[DecisionReceipt] = []
        self.problems: list[Sequence[str]] = []
        self.polls = 0
        self.before_next_calls = 0
        self.exposure = Exposure()

    def render_job(self, data: bytes, blur_step: int) -> Callable[[], object]:
        return functools.partial(render_protected, data, BOX, blur_step)

    def show_slot(self, slot: Slot) -> None:
        self.shown.append(slot.claim.item.id)

    def show_known(self, slot: Slot) -> None:
        pass

    def show_message(self, text: str) -> None:
        self.messages.append(text)

    def show_problems(self, problems: Sequence[str]) -> None:
        self.problems.append(problems)

    def show_queues(self, queues: list[QueueSummary]) -> None:
        pass

    def take_exposure(self) -> Exposure:
        return self.exposure

    def segments(self) -> tuple[Segment, ...]:
        return ()

    def set_busy(self, busy: bool) -> None:
        self.busy.append(busy)

    def show_locked(self, locked: bool) -> None:
        self.locked.append(locked)

    def before_next(self) -> None:
        self.before_next_calls += 1

    def poll_later(self) -> None:
        self.polls += 1

    def say(self, message: str, level: str = "info") -> None:
        self.said.append((message, level))

    def decision_stored(self, receipt: DecisionReceipt, grade: str) -> None:
        self.stored.append(receipt)


class Flaky:
    """The real service, except that its next `fails` submits raise StoreUnavailable
    (the database went away), and an optional welfare session stand-in."""

    def __init__(self, service: ReviewService, fails: int = 0, welfare: Any = None) -> None:
        self._service = service
        self.fails = fails
        self.welfare = welfare if welfare is not None else service.welfare
        self.tokens: list[str] = []

    def submit(self, claim: Any, grading: Grading, exposure: Exposure, token: str) -> Any:
        self.tokens.append(token)
        if self.fails:
            self.fails -= 1
            raise StoreUnavailable("connection refused")
        return self._service.submit(claim, grading, exposure, token)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)


def make(service: Any, clock: FakeClock) -> tuple[ReviewPresenter, RecordingView, list[ChangeSet]]:
    view = RecordingView()
    changes: list[ChangeSet] = []
    presenter = ReviewPresenter(
        service,
        Tasks(synchronous=True),
        view,
        changes.append,
        clock,
        interaction_recent_s=60,
        empty_queue_poll_s=30,
    )
    return presenter, view, changes


def release_reasons(store: Store) -> dict[int, str]:
    return {e.item_id: e.detail["why"] for e in store.audit_events(kind="release")}


def test_claim_render_ahead_show_submit_next(
    store: Store, service: ReviewService, clock: FakeClock, seeded: int
) -> None:
    presenter, view, changes = make(service, clock)
    presenter.start()
    assert presenter.current is not None and presenter.ready is not None
    first, ahead = presenter.current, presenter.ready
    assert view.shown == [first.claim.item.id]
    # Rendered ahead, protected, before it is needed.
    assert getattr(ahead.picture, "protected", False) is True
    assert presenter.preparing is None

    presenter.submit(GRADE)
    [decision] = store.items.decisions(first.claim.item.id)
    assert decision["severity"] == Severity.NOT_ILLEGAL.value
    # The item rendered ahead is the one shown next, and another is claimed ahead.
    assert view.shown == [first.claim.item.id, ahead.claim.item.id]
    assert presenter.current is ahead
    assert presenter.ready is not None and presenter.ready is not ahead
    assert view.busy == [True, False]
    assert view.before_next_calls == 1
    assert [r.item_id for r in view.stored] == [first.claim.item.id]
    assert any(
        c.touches(Change.DECISION_RECORDED) and c.item_id == first.claim.item.id for c in changes
    )


def test_submit_failure_keeps_the_grading_and_a_retry_stores_it_once(
    store: Store, service: ReviewService, clock: FakeClock, seeded: int
) -> None:
    flaky = Flaky(service, fails=1)
    presenter, view, _changes = make(flaky, clock)
    presenter.start()
    slot = presenter.current
    assert slot is not None

    presenter.submit(GRADE)
    assert view.said[-1] == (UNREACHABLE, "error")
    assert presenter.current is slot and not presenter.busy  # still on screen, retryable
    assert store.items.decisions(slot.claim.item.id) == []

    presenter.submit(GRADE)
    assert len(store.items.decisions(slot.claim.item.id)) == 1
    assert flaky.tokens[0] == flaky.tokens[1]  # the retry is the same decision
    assert presenter.current is not slot


def test_skip_hands_the_item_back_and_shows_the_next(
    store: Store, service: ReviewService, clock: FakeClock, seeded: int
) -> None:
    presenter, _view, changes = make(service, clock)
    presenter.start()
    slot = presenter.current
    assert slot is not None
    presenter.skip(SkipReason.WELFARE, "long shift")
    item_id = slot.claim.item.id
    assert store.items.item_status(item_id) == "pending"
    assert store.items.decisions() == []
    assert presenter.current is not None and presenter.current.claim.item.id != item_id
    assert any(c.touches(Change.ITEM_SKIPPED) and c.item_id == item_id for c in changes)


def test_leases_renewed_while_active_not_while_away(
    service: ReviewService, clock: FakeClock, seeded: int
) -> None:
    presenter, _view, _changes = make(service, clock)
    presenter.start()
    current, ready = presenter.current, presenter.ready
    assert current is not None and ready is not None
    before = (current.claim.lease_expires_at, ready.claim.lease_expires_at)
    presenter.renew_leases()
    after = (current.claim.lease_expires_at, ready.claim.lease_expires_at)
    assert after[0] >= before[0] and after[1] >= before[1]
    assert current.claim is not None

    clock.advance(120)  # nobody touched anything for two minutes
    held = current.claim
    presenter.renew_leases()
    assert current.claim is held  # not renewed: the holds may run out

    presenter.note_interaction()
    presenter.renew_leases()
    assert current.claim is not held


def test_lease_lost_on_screen_moves_on_and_ahead_is_replaced(
    store: Store, service: ReviewService, clock: FakeClock, seeded: int
) -> None:
    presenter, view, _changes = make(service, clock)
    presenter.start()
    current, ready = presenter.current, presenter.ready
    assert current is not None and ready is not None
    # Both holds end behind the screen's back (e.g. expired and taken by someone else).
    service.release(ready.claim, Exposure(), "test")
    presenter.renew_leases()
    # The one ahead is simply replaced by a fresh claim; the one on screen stays.
    assert presenter.current is current
    assert presenter.ready is not None and presenter.ready is not ready

    service.release(current.claim, Exposure(), "test")
    presenter.renew_leases()
    assert presenter.current is not current
    assert view.shown[-1] == presenter.current.claim.item.id  # type: ignore[union-attr]
    assert any(level == "warn" and "Moving on" in text for text, level in view.said)


def test_close_releases_everything_held(
    store: Store, service: ReviewService, clock: FakeClock, seeded: int
) -> None:
    presenter, view, _changes = make(service, clock)
    presenter.start()
    current, ready = presenter.current, presenter.ready
    assert current is not None and ready is not None
    view.exposure = Exposure(seconds_revealed=1.5, reveal_count=1)
    presenter.close()
    reasons = release_reasons(store)
    assert reasons[current.claim.item.id] == "closed"
    assert reasons[ready.claim.item.id] == "closed"
    assert store.items.item_status(current.claim.item.id) == "pending"
    # The exposure so far is recorded with the item that was on screen.
    [exposure] = store.items.exposures(item_id=current.claim.item.id)
    assert exposure["reveal_count"] == 1
    # Nothing more is claimed or shown afterwards.
    presenter.poll()
    presenter.changed(ChangeSet(frozenset({Change.QUEUE_CHANGED})))
    assert presenter.current is None and presenter.ready is None
    assert len(view.shown) == 1


def test_welfare_lock_claims_nothing_and_hands_back_then_resumes(
    store: Store, service: ReviewService, clock: FakeClock, seeded: int
) -> None:
    presenter, view, _changes = make(service, clock)
    presenter.start()
    current, ready = presenter.current, presenter.ready
    assert current is not None and ready is not None
    presenter.set_locked(True)
    assert view.locked == [True]
    presenter.release_held("break")
    reasons = release_reasons(store)
    assert reasons == {current.claim.item.id: "break", ready.claim.item.id: "break"}
    presenter.poll()  # a poll during the lock claims nothing
    assert presenter.current is None and presenter.ready is None
    assert view.messages[-1] == "Review is paused."

    presenter.set_locked(False)
    assert view.locked == [True, False]
    assert presenter.current is not None and presenter.ready is not None
    assert view.shown[-1] == presenter.current.claim.item.id


def test_idle_lock_keeps_holds_then_hands_back_everything(
    store: Store, service: ReviewService, clock: FakeClock, seeded: int
) -> None:
    presenter, view, _changes = make(service, clock)
    presenter.start()
    current, ready = presenter.current, presenter.ready
    assert current is not None and ready is not None
    presenter.idle_lock()
    clock.advance(600)  # away, but the lock screen is up: holds are still renewed
    held = current.claim
    presenter.renew_leases()
    assert current.claim is not held
    presenter.poll()  # nothing new is claimed or shown under the lock
    assert len(view.shown) == 1

    presenter.release_idle_held()
    reasons = release_reasons(store)
    assert reasons.get(ready.claim.item.id) == "idle_lock"
    assert presenter.current is None and presenter.ready is None
    shown_before = len(view.shown)
    presenter.idle_unlock()
    assert presenter.current is not None and len(view.shown) == shown_before + 1


class PrefersOtherWork:
    """A welfare session stand-in: after a run of Category A, items claimed ahead
    count as claimed too early (reviewer.welfare_service decides this; here it is given)."""

    def __init__(self) -> None:
        self.too_early = False

    def state(self) -> Any:
        return type("State", (), {"prefer_non_a": self.too_early})()

    def starting_blur_step(self, _claim: Any) -> int:
        return 4

    def claimed_too_early(self, _claim: Any, preferred: bool) -> bool:
        # A claim made already knowing other work was due is not too early.
        return self.too_early and not preferred


def test_an_item_claimed_before_other_work_was_due_goes_back(
    store: Store, service: ReviewService, clock: FakeClock, seeded: int
) -> None:
    welfare = PrefersOtherWork()
    presenter, _view, _changes = make(Flaky(service, welfare=welfare), clock)
    presenter.start()
    ready = presenter.ready
    assert ready is not None and ready.blur_step == 4  # the welfare table's opening blur
    welfare.too_early = True
    presenter.submit(GRADE)
    assert release_reasons(store)[ready.claim.item.id] == "other_work_preferred"
    # Claimed again, this time with the preference, and shown.
    assert presenter.current is not None and presenter.current is not ready
    assert presenter.current.preferred_other_work


def test_claim_failure_says_so_and_polls(
    service: ReviewService, clock: FakeClock, seeded: int
) -> None:
    class Down(Flaky):
        def claim_next(self, queue_id: int | None = None) -> Any:
            if self.fails:
                self.fails -= 1
                raise StoreUnavailable("connection refused")
            return self._service.claim_next(queue_id)

    presenter, view, _changes = make(Down(service, fails=1), clock)
    presenter.start()
    assert presenter.current is None and view.polls == 1
    assert "Database unreachable" in view.messages[-1]
    presenter.poll()
    assert presenter.current is not None


def test_the_presenter_imports_no_qt() -> None:
    """The flow is testable without Qt: importing it loads no PySide6 module."""
    code = (
        "import sys, ui.review_presenter; "
        "qt = sorted(m for m in sys.modules if m.startswith('PySide6')); "
        "print(qt); sys.exit(1 if qt else 0)"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
