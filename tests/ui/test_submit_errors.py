"""When storing fails: the moderator is told plainly, and nothing is stored twice."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import wiring
from pytestqt.qtbot import QtBot
from ui_helpers import WindowFactory, press

from db.media_store import MediaStore
from db.store import Store
from reviewer.errors import OutcomeUnknown, StoreUnavailable
from reviewer.grading import Grading
from reviewer.model import Claim, DecisionReceipt, Exposure
from reviewer.review_service import ReviewService
from ui import image_view
from ui.review_screen import OUTCOME_UNKNOWN, UNREACHABLE


class FlakyService(ReviewService):
    """The real service, except that the first submit finds the database unreachable."""

    def __init__(self, *args: Any, **collaborators: Any) -> None:
        super().__init__(*args, **collaborators)
        self.tokens: list[str] = []

    def submit(
        self, claim: Claim, grading: Grading, exposure: Exposure, client_token: str
    ) -> DecisionReceipt:
        self.tokens.append(client_token)
        if len(self.tokens) == 1:
            raise StoreUnavailable("database unreachable: connection refused")
        return super().submit(claim, grading, exposure, client_token)


def test_unreachable_database_keeps_the_grading_and_retries_with_the_same_token(
    qtbot: QtBot,
    make_window: WindowFactory,
    store: Store,
    media: MediaStore,
    service: ReviewService,
    seeded: int,
) -> None:
    flaky = wiring.session(store, media, service.account, review_service=FlakyService)
    assert isinstance(flaky, FlakyService)
    window = make_window(review_service=flaky)
    review = window.review
    item_id = review.current_claim.item.id

    press(qtbot, "D Ctrl+Return")
    qtbot.waitUntil(lambda: UNREACHABLE in review.status.text())
    assert review.current_claim.item.id == item_id
    assert review.panel.grading().severity is not None  # still on screen
    assert store.items.decisions() == []

    with qtbot.waitSignal(review.decision_recorded, timeout=10_000):
        press(qtbot, "Ctrl+Return")
    assert len(flaky.tokens) == 2 and flaky.tokens[0] == flaky.tokens[1]
    assert [d["item_id"] for d in store.items.decisions()] == [item_id]


class LostReplyService(ReviewService):
    """The real service, except that the first submit's answer is lost on the way back:
    the decision is stored, and the screen hears OutcomeUnknown."""

    def __init__(self, *args: Any, **collaborators: Any) -> None:
        super().__init__(*args, **collaborators)
        self.receipts: list[DecisionReceipt] = []

    def submit(
        self, claim: Claim, grading: Grading, exposure: Exposure, client_token: str
    ) -> DecisionReceipt:
        receipt = super().submit(claim, grading, exposure, client_token)
        self.receipts.append(receipt)
        if len(self.receipts) == 1:
            raise OutcomeUnknown("connection lost while committing: server closed")
        return receipt


def test_unknown_outcome_is_not_called_not_stored_and_the_retry_finds_the_decision(
    qtbot: QtBot,
    make_window: WindowFactory,
    store: Store,
    media: MediaStore,
    service: ReviewService,
    seeded: int,
) -> None:
    lossy = wiring.session(store, media, service.account, review_service=LostReplyService)
    assert isinstance(lossy, LostReplyService)
    window = make_window(review_service=lossy)
    review = window.review
    item_id = review.current_claim.item.id

    press(qtbot, "D Ctrl+Return")
    qtbot.waitUntil(lambda: OUTCOME_UNKNOWN in review.status.text())
    assert "not stored" not in review.status.text().lower()
    assert review.current_claim.item.id == item_id
    assert review.panel.grading().severity is not None  # still on screen for the retry

    with qtbot.waitSignal(review.decision_recorded, timeout=10_000) as recorded:
        press(qtbot, "Ctrl+Return")
    first, again = lossy.receipts
    assert recorded.args == [again] and again.decision_id == first.decision_id
    assert [d["item_id"] for d in store.items.decisions()] == [item_id]


def test_lost_lease_is_explained_and_the_screen_moves_on(
    qtbot: QtBot, make_window: WindowFactory, store: Store, seeded: int
) -> None:
    window = make_window()
    review = window.review
    claim = review.current_claim
    qtbot.waitUntil(lambda: review.prefetched_claim is not None, timeout=15_000)
    next_id = review.prefetched_claim.item.id
    # Someone else's action (here: the hold handed back behind the screen's back).
    store.claims.release(claim, Exposure(), "test")

    with qtbot.waitSignal(review.item_shown, timeout=10_000) as shown:
        press(qtbot, "D Ctrl+Return")
    assert shown.args == [next_id]
    assert "ran out" in review.status.text()
    assert "Moving on" in review.status.text()
    assert store.items.decisions() == []


class ThreadRecorder:
    """Wraps the service; notes every call made on the GUI (main) thread."""

    def __init__(self, inner: ReviewService) -> None:
        self._inner = inner
        self.user = inner.user
        self.on_gui_thread: list[str] = []
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            if threading.current_thread() is threading.main_thread():
                self.on_gui_thread.append(name)
            return attr(*args, **kwargs)

        return call


def test_the_gui_thread_never_touches_the_database_or_a_decoder(
    qtbot: QtBot,
    make_window: WindowFactory,
    service: ReviewService,
    monkeypatch: pytest.MonkeyPatch,
    seeded: int,
) -> None:
    decoded_on_gui_thread: list[str] = []
    for name in ("render_protected", "render_revealed"):
        real = getattr(image_view, name)

        def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            if threading.current_thread() is threading.main_thread():
                decoded_on_gui_thread.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(image_view, name, spy)
    recorder = ThreadRecorder(service)
    window = make_window(review_service=recorder)
    review = window.review
    with qtbot.waitSignal(review.view.reveal_changed, timeout=10_000):
        press(qtbot, "Space")
    with qtbot.waitSignal(review.decision_recorded, timeout=10_000):
        press(qtbot, "N Ctrl+Return")
    window.close()
    assert {"claim_next", "media_bytes", "open_item", "record_reveal", "submit"} <= set(
        recorder.calls
    )
    assert recorder.on_gui_thread == []
    assert decoded_on_gui_thread == []
