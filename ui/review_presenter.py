"""The review loop's logic, without Qt: claim, render ahead, show, submit / skip, next.

The presenter holds the items claimed (one on screen, one rendered ahead, one being
prepared), their leases and the welfare and idle locks, and decides what happens next.
Everything that blocks goes to the task lanes it is handed (`db` for the service, a
render lane for decoding); their outcomes come back to it on the GUI thread. What is
shown, and how, is the view's business (ui.review_screen.ReviewScreen): the presenter
tells it what to show and the view forwards the moderator's input here.

Nothing here imports PySide6, so the whole flow is tested with synchronous or
step-by-step lanes and a recording view, without a QApplication.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypeVar

from reviewer.accounts import AccessDenied
from reviewer.clock import Clock
from reviewer.errors import LeaseLost, MediaMissing, OutcomeUnknown, StoreUnavailable
from reviewer.grading import Grading, GradingInvalid
from reviewer.matching import KnownMatch, ShowLess
from reviewer.media_types import MediaUnreadable
from reviewer.model import Claim, DecisionReceipt, Exposure, QueueSummary
from reviewer.segments import Segment
from reviewer.vocabulary import SkipReason
from reviewer.welfare_service import WelfareSession
from ui import keymap
from ui.change_set import Change, ChangeSet
from wellbeing.policy import ReviewLocked
from wellbeing.render import DEFAULT_BLUR_STEP

T = TypeVar("T")


class ReviewFlow(Protocol):
    """What the review screen calls on its service: reviewer.review_service.ReviewService,
    or QA's blind re-grade session (reviewer.qa_service.QaReviewSession), which has the
    same shape so that QA gets the same protected screen."""

    @property
    def show_less(self) -> ShowLess | None: ...
    @property
    def welfare(self) -> WelfareSession: ...
    @property
    def reprotect_after_s(self) -> float: ...
    def queues(self) -> list[QueueSummary]: ...
    def claim_next(self, queue_id: int | None = None) -> Claim | None: ...
    def open_item(self, claim: Claim) -> None: ...
    def media_bytes(self, claim: Claim) -> bytes: ...
    def renew_lease(self, claim: Claim) -> Claim: ...
    def record_reveal(self, claim: Claim, revealed: bool, area_fraction: float = 1.0) -> None: ...
    def record_audio(self, claim: Claim, unmuted: bool) -> None: ...
    # A video's segments go after client_token where the service takes them (review).
    def submit(
        self, claim: Claim, grading: Grading, exposure: Exposure, client_token: str
    ) -> DecisionReceipt: ...
    def skip(self, claim: Claim, reason: SkipReason, note: str, exposure: Exposure) -> None: ...
    def release(self, claim: Claim, exposure: Exposure, why: str = "released") -> None: ...


UNREACHABLE: Final = (
    f"Database unreachable — not stored. Your grading is kept on screen; press "
    f"{keymap.SUBMIT[0]} to retry"
)
# The line dropped after the decision was sent: the server may have stored it. The
# retry carries the same client token, so it stores it once or returns the stored one.
OUTCOME_UNKNOWN: Final = (
    "Connection lost while storing — the decision may or may not have been stored. "
    f"Your grading is kept on screen; press {keymap.SUBMIT[0]} to check and finish "
    "(it is stored once, never twice)"
)


class Lane(Protocol):
    """ui.tasks.Lane's shape: run `fn(*args)` off the GUI thread, then exactly one of
    the callbacks on it."""

    def submit(
        self,
        fn: Callable[..., T],
        *args: Any,
        on_done: Callable[[T], None],
        on_error: Callable[[Exception], None],
    ) -> None: ...


class Lanes(Protocol):
    """ui.tasks.Tasks' shape: the database worker and the render pool."""

    @property
    def db(self) -> Lane: ...

    @property
    def render(self) -> Lane: ...


@dataclass(frozen=True)
class Fetched:
    """A claim and what the database worker could get of its media."""

    claim: Claim
    data: bytes | None
    unreadable: str | None
    # Graded known matches: the item goes to the confirm-known-match flow.
    matches: tuple[KnownMatch, ...] = ()
    # Claimed while the moderator was due other work (N Category A items in a row).
    preferred_other_work: bool = False


def fetch_next(
    service: ReviewFlow, queue_id: int | None, closing: threading.Event
) -> Fetched | None:
    """Database worker job: claim the next item and read its (encoded) media bytes."""
    if closing.is_set():
        return None
    # Read on this worker just before the claim, which reads it the same way.
    welfare = service.welfare
    preferred = welfare is not None and welfare.state().prefer_non_a
    claim = service.claim_next(queue_id)
    if claim is None:
        return None
    if closing.is_set():
        # The screen closed while this claim was being made: nobody will show it.
        service.release(claim, Exposure(), "closed")
        return None
    matches: tuple[KnownMatch, ...] = ()
    if service.show_less is not None:
        try:
            matches = tuple(service.show_less.graded_matches(claim.item.id))
        except Exception:  # the item must still reach the screen: grade it normally
            matches = ()
    media = claim.item.media
    if not media.readable:
        reason = _plain_reason(media.unreadable_reason or "unknown")
        return Fetched(claim, None, reason, matches, preferred)
    try:
        return Fetched(claim, service.media_bytes(claim), None, matches, preferred)
    except (MediaMissing, OSError) as exc:
        # The claim must reach the screen even so, or nobody would release it.
        return Fetched(claim, None, str(exc), matches, preferred)


def _plain_reason(reason: str) -> str:
    """'truncated: image data ends early' -> 'image data ends early'."""
    return reason.split(": ", 1)[-1]


def _ignore(_result: object) -> None:
    """on_done for jobs whose only outcome of interest is an error."""


@dataclass
class Slot:
    """One claimed item: being prepared, rendered ahead, or on screen."""

    claim: Claim
    generation: int
    data: bytes | None = None
    # What the view's render job made of `data` (a protected raster or a video's
    # protected keyframe sheet); None until rendered, or if it could not be.
    picture: object | None = None
    unreadable: str | None = None
    matches: tuple[KnownMatch, ...] = ()
    preferred_other_work: bool = False  # see Fetched
    # The blur its picture opens at (the welfare settings' table by severity hint).
    blur_step: int = DEFAULT_BLUR_STEP
    # Sent with every submit attempt for this item, so a retry is never stored twice.
    token: str = field(default_factory=lambda: str(uuid.uuid4()))


class ReviewView(Protocol):
    """What the presenter asks of the screen. Every call happens on the GUI thread."""

    def render_job(self, data: bytes, blur_step: int) -> Callable[[], object]:
        """A render-pool job for this item's protected picture at the view's current
        size (read now, on the GUI thread). It raises MediaUnreadable on bad bytes."""
        ...

    def show_slot(self, slot: Slot) -> None:
        """Put this item on screen, protected (or its unreadable placeholder)."""
        ...

    def show_known(self, slot: Slot) -> None:
        """The confirm-known-match flow if the item has graded matches, else the form."""
        ...

    def show_message(self, text: str) -> None:
        """No item on screen: clear the form and context, show `text` instead."""
        ...

    def show_problems(self, problems: Sequence[str]) -> None:
        """The store refused the grading as incomplete: say what is missing."""
        ...

    def show_queues(self, queues: list[QueueSummary]) -> None: ...

    def take_exposure(self) -> Exposure:
        """Protect (closing any reveal) and read the current item's exposure meter."""
        ...

    def segments(self) -> tuple[Segment, ...]:
        """The segments marked on the video on screen (empty for a picture)."""
        ...

    def set_busy(self, busy: bool) -> None: ...

    def show_locked(self, locked: bool) -> None:
        """Refuse (or accept again) reveals and grading input while a welfare lock holds."""
        ...

    def before_next(self) -> None:
        """Just before the next item goes on screen (a pause may come up first)."""
        ...

    def poll_later(self) -> None:
        """Call `poll` once the empty-queue interval has passed."""
        ...

    def say(self, message: str, level: str = "info") -> None: ...

    def decision_stored(self, receipt: DecisionReceipt, grade: str) -> None:
        """A decision was stored (the next item is already up, if there was one)."""
        ...


class ReviewPresenter:
    """The review flow. `view` renders; `announce` tells other screens what changed."""

    def __init__(
        self,
        service: ReviewFlow,
        lanes: Lanes,
        view: ReviewView,
        announce: Callable[[ChangeSet], None],
        clock: Clock,
        *,
        interaction_recent_s: float,
        empty_queue_poll_s: int,
    ) -> None:
        self._service = service
        self._lanes = lanes
        self._view = view
        self._announce = announce
        self._clock = clock
        self._interaction_recent_s = interaction_recent_s
        self._poll_s = empty_queue_poll_s
        self.current: Slot | None = None
        self.ready: Slot | None = None  # rendered ahead, not yet opened
        self.preparing: Slot | None = None  # claimed, protected picture being rendered
        self._fetching = False
        self._exhausted = False
        self.busy = False  # a submit or skip of the current item is being stored
        # Bumped when the queue choice changes; claims made for an older choice go back.
        self._generation = 0
        self.closing = threading.Event()
        self._queue_id: int | None = None
        self._queues_loading = False
        self._queues_stale = False
        self._last_interaction = clock.monotonic()
        self.last_grade = ""
        # Welfare lock (pause, break, cap): nothing is claimed, opened or revealed.
        self.locked = False
        # Idle lock: the lock screen is up instead of the review screen.
        self.idle_locked = False
        self._held_released = False  # ...and the items held went back meanwhile
        self._denied = False  # the account may not claim (AccessDenied): stop asking

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Load the queues and bring the first item."""
        self.refresh_queues()
        self._pump()

    def close(self) -> None:
        """Hand back every held item (why="closed"). Outcomes of work still in flight
        then change nothing on screen: the window may be gone."""
        if self.closing.is_set():
            return
        self.closing.set()
        exposure = self._view.take_exposure()
        if self.current is not None and not self.busy:
            self._release(self.current, exposure, "closed")
        for slot in (self.ready, self.preparing):
            if slot is not None:
                self._release(slot, Exposure(), "closed")
        self.current = self.ready = self.preparing = None

    def note_interaction(self) -> None:
        """The moderator did something in this window (leases are renewed for them)."""
        self._last_interaction = self._clock.monotonic()

    # -- getting items ahead ------------------------------------------------------------

    def _pump(self) -> None:
        """Claim another item if fewer than two (on screen + ahead) are held."""
        if self.closing.is_set() or self._fetching or self._exhausted or self.locked:
            return
        if self.idle_locked or self._denied or self.preparing is not None:
            return
        if (self.current is not None) + (self.ready is not None) >= 2:
            return
        self._fetching = True
        generation = self._generation
        self._lanes.db.submit(
            fetch_next,
            self._service,
            self._queue_id,
            self.closing,
            on_done=lambda fetched: self._fetched(fetched, generation),
            on_error=self._fetch_failed,
        )

    def _fetched(self, fetched: Fetched | None, generation: int) -> None:
        self._fetching = False
        if fetched is None:
            if self.closing.is_set():
                return
            if generation == self._generation:
                self._exhausted = True
                self._view.poll_later()
                if self.current is None:
                    self._show_empty()
            self._pump()
            return
        claim = fetched.claim
        if self.closing.is_set() or generation != self._generation or self._held_released:
            self._release(Slot(claim, generation), Exposure(), self._stale_why())
            self._pump()
            return
        self._announce(
            ChangeSet(frozenset({Change.ITEM_CLAIMED}), claim.item.id, claim.item.queue_id)
        )
        slot = Slot(
            claim,
            generation,
            fetched.data,
            unreadable=fetched.unreadable,
            matches=fetched.matches,
            preferred_other_work=fetched.preferred_other_work,
        )
        if fetched.data is None:
            self._prepared(slot)
            return
        self.preparing = slot
        welfare = self._service.welfare
        if welfare is not None:
            slot.blur_step = welfare.starting_blur_step(claim)
        self._lanes.render.submit(
            self._view.render_job(fetched.data, slot.blur_step),
            on_done=lambda picture: self._rendered(slot, picture),
            on_error=lambda exc: self._render_failed(slot, exc),
        )

    def _fetch_failed(self, exc: Exception) -> None:
        self._fetching = False
        if isinstance(exc, ReviewLocked):
            return  # the welfare screen says why; unlocking pumps again
        if isinstance(exc, AccessDenied):
            # Not a passing fault: no review work until an admin changes the account.
            self._denied = True
            self._view.say(f"You cannot review: {exc}", "warn")
            if self.current is None:
                self._view.show_message(f"You cannot review items.\n\n{exc}")
            return
        if isinstance(exc, StoreUnavailable):
            message = "Database unreachable: cannot get the next item."
        else:
            message = f"Could not get the next item ({type(exc).__name__}: {exc})."
        self._view.say(f"{message} Trying again in {self._poll_s} s.", "error")
        if self.current is None:
            self._view.show_message(f"{message}\n\nTrying again in {self._poll_s} s.")
        self._view.poll_later()

    def _rendered(self, slot: Slot, picture: object) -> None:
        if self.preparing is not slot:
            return  # handed back meanwhile (the screen closed or locked too long)
        self.preparing = None
        slot.picture = picture
        self._prepared(slot)

    def _render_failed(self, slot: Slot, exc: Exception) -> None:
        if self.preparing is not slot:
            return
        self.preparing = None
        slot.data = None
        if isinstance(exc, MediaUnreadable):
            slot.unreadable = exc.detail
        else:
            slot.unreadable = f"it could not be rendered ({type(exc).__name__}: {exc})"
        self._prepared(slot)

    def _prepared(self, slot: Slot) -> None:
        if slot.generation != self._generation:
            self._release(slot, Exposure(), self._stale_why())
            self._pump()
            return
        self.ready = slot
        if self.current is None and not self.busy:
            self._advance()
        else:
            self._pump()

    def poll(self) -> None:
        """The empty-queue (or failed-claim) interval passed: ask again."""
        self._exhausted = False
        self._pump()

    # -- the item on screen -------------------------------------------------------------

    def _advance(self) -> None:
        """Put the item rendered ahead on screen (or a placeholder until one arrives)."""
        if self.locked or self.idle_locked:
            return  # it waits, claimed and rendered, until the lock lifts
        slot, self.ready = self.ready, None
        if slot is not None and self._claimed_too_early(slot):
            # Claimed ahead before the last decision made this moderator due other work:
            # it goes back, and the claim is made again with the preference.
            self._release(slot, Exposure(), "other_work_preferred")
            slot = None
            self._exhausted = False
        self.current = slot
        if slot is None:
            if self._exhausted:
                self._show_empty()
            else:
                self._view.show_message("Loading the next item…")
            self._pump()
            return
        self._view.show_slot(slot)
        self._lanes.db.submit(
            self._service.open_item, slot.claim, on_done=_ignore, on_error=self.background_failed
        )
        self._pump()

    def _claimed_too_early(self, slot: Slot) -> bool:
        welfare = self._service.welfare
        return welfare is not None and welfare.claimed_too_early(
            slot.claim, slot.preferred_other_work
        )

    def _show_empty(self) -> None:
        self._view.show_message(
            f"No items waiting in this queue.\n\nChecking again every {self._poll_s} s."
        )
        self._view.say("Nothing to review right now.")

    def record_reveal(self, revealed: bool, area: float) -> None:
        """The view opened or closed a reveal of the item on screen: audit it."""
        slot = self.current
        if slot is not None:
            self._lanes.db.submit(
                self._service.record_reveal,
                slot.claim,
                revealed,
                area,
                on_done=_ignore,
                on_error=self.background_failed,
            )

    def record_audio(self, unmuted: bool) -> None:
        slot = self.current
        if slot is not None:
            self._lanes.db.submit(
                self._service.record_audio,
                slot.claim,
                unmuted,
                on_done=_ignore,
                on_error=self.background_failed,
            )

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self._view.set_busy(busy)

    def _move_on_then_rest(self, slot: Slot) -> None:
        """Stored: not busy any more, and on to the next item. The next picture is
        painted before the form is enabled again: enabling it first would make that
        synchronous paint repaint the whole form too (about 5 ms of the decision ->
        next picture time)."""
        self.busy = False
        self._move_on(slot)
        self._view.set_busy(False)

    def submit(self, grading: Grading) -> None:
        """The moderator submitted a grading for the item on screen."""
        slot = self.current
        if slot is None or self.busy:
            return
        self.last_grade = _grade_label(grading)
        exposure = self._view.take_exposure()
        self._set_busy(True)
        self._view.say(f"Storing your decision on item #{slot.claim.item.id}…")
        # Segments only for a video that has some: the picture call stays as it was.
        segments = self._view.segments()
        self._lanes.db.submit(
            self._service.submit,
            slot.claim,
            grading,
            exposure,
            slot.token,
            *((segments,) if segments else ()),
            on_done=lambda receipt: self._decided(slot, receipt),
            on_error=lambda exc: self._submit_failed(slot, exc),
        )

    def confirm_known(self, match: KnownMatch, grade: str) -> None:
        """The moderator confirmed a graded known match for the item on screen."""
        slot = self.current
        show_less = self._service.show_less
        if slot is None or self.busy or show_less is None:
            return
        exposure = self._view.take_exposure()
        self.last_grade = grade
        self._set_busy(True)
        self._view.say(f"Confirming the known match for item #{slot.claim.item.id}…")
        self._lanes.db.submit(
            show_less.confirm,
            slot.claim,
            match,
            exposure,
            slot.token,
            on_done=lambda receipt: self._decided(slot, receipt),
            on_error=lambda exc: self._submit_failed(slot, exc),
        )

    def reject_known(self, match: KnownMatch) -> None:
        slot = self.current
        show_less = self._service.show_less
        if slot is None or self.busy or show_less is None:
            return
        slot.matches = ()
        self._view.show_known(slot)
        self._view.say("Known match rejected: grade the item yourself.")
        self._lanes.db.submit(
            show_less.reject,
            slot.claim,
            match,
            on_done=_ignore,
            on_error=self.background_failed,
        )

    def _decided(self, slot: Slot, receipt: DecisionReceipt) -> None:
        if self.closing.is_set():
            return  # stored; the window that asked may be gone
        self._move_on_then_rest(slot)
        self._view.say(f"Decision stored for item #{receipt.item_id}.{self._now_showing()}")
        self._announce(
            ChangeSet(
                frozenset({Change.DECISION_RECORDED, Change.QUEUE_CHANGED}),
                receipt.item_id,
                slot.claim.item.queue_id,
            )
        )
        self._view.decision_stored(receipt, self.last_grade)

    def _submit_failed(self, slot: Slot, exc: Exception) -> None:
        if self.closing.is_set():
            return
        self._set_busy(False)
        if isinstance(exc, GradingInvalid):
            self._view.show_problems(exc.problems)
            self._view.say("Not stored: the grading is incomplete.", "warn")
        elif isinstance(exc, LeaseLost):
            self._lost(slot, exc)
        elif isinstance(exc, OutcomeUnknown):
            self._view.say(OUTCOME_UNKNOWN, "error")
        elif isinstance(exc, StoreUnavailable):
            self._view.say(UNREACHABLE, "error")
        else:
            self._view.say(
                f"Could not store the decision ({type(exc).__name__}: {exc}). Your grading "
                f"is kept on screen; press {keymap.SUBMIT[0]} to retry.",
                "error",
            )

    def skip(self, reason: SkipReason, note: str) -> None:
        slot = self.current
        if slot is None or self.busy:
            return
        exposure = self._view.take_exposure()
        self._set_busy(True)
        self._lanes.db.submit(
            self._service.skip,
            slot.claim,
            reason,
            note,
            exposure,
            on_done=lambda _none: self._skipped(slot),
            on_error=lambda exc: self._skip_failed(slot, exc),
        )

    def _skipped(self, slot: Slot) -> None:
        if self.closing.is_set():
            return
        self._move_on_then_rest(slot)
        item = slot.claim.item
        self._view.say(f"Item #{item.id} skipped and back in the queue.{self._now_showing()}")
        self._announce(
            ChangeSet(
                frozenset({Change.ITEM_SKIPPED, Change.QUEUE_CHANGED}), item.id, item.queue_id
            )
        )

    def _skip_failed(self, slot: Slot, exc: Exception) -> None:
        if self.closing.is_set():
            return
        self._set_busy(False)
        if isinstance(exc, LeaseLost):
            self._lost(slot, exc)
        elif isinstance(exc, OutcomeUnknown):
            self._view.say(
                f"Connection lost while skipping — it may have gone through; press {keymap.SKIP}"
                " to check and finish.",
                "error",
            )
        elif isinstance(exc, StoreUnavailable):
            self._view.say(
                f"Database unreachable — not skipped; press {keymap.SKIP} to retry.", "error"
            )
        else:
            self._view.say(f"Could not skip ({type(exc).__name__}: {exc}).", "error")

    def _lost(self, slot: Slot, exc: LeaseLost) -> None:
        """The hold ran out: say so plainly and move on (the store kept the exposure)."""
        self._move_on(slot)
        self._view.say(f"{exc} Moving on to the next item.", "warn")
        item = slot.claim.item
        self._announce(ChangeSet(frozenset({Change.QUEUE_CHANGED}), item.id, item.queue_id))

    def now_showing(self) -> str:
        return self._now_showing()

    def _now_showing(self) -> str:
        current = self.current
        return "" if current is None else f" Now showing item #{current.claim.item.id}."

    def _move_on(self, slot: Slot) -> None:
        if self.current is slot and not self.closing.is_set():
            self.current = None
            self._view.before_next()
            self._advance()

    # -- welfare lock -------------------------------------------------------------------

    def set_locked(self, locked: bool) -> None:
        """Lock (refuse input, claim and open nothing) or unlock (bring the next item).
        The lock itself is enforced by the service; this only follows it."""
        if locked == self.locked:
            return
        self.locked = locked
        self._view.show_locked(locked)
        if not locked:
            self._exhausted = False
            if self.current is None:
                self._advance()
            else:
                self._pump()

    def release_held(self, why: str) -> None:
        """Hand back every item held (on screen and ahead), e.g. before a lease would run
        out during a break; the exposure so far is recorded with the one on screen."""
        if self.current is not None and not self.busy:
            self._release(self.current, self._view.take_exposure(), why)
            self.current = None
            self._view.show_message("Review is paused.")
        if self.ready is not None:
            self._release(self.ready, Exposure(), why)
            self.ready = None

    # -- idle lock ----------------------------------------------------------------------

    def idle_lock(self) -> None:
        """The window is locking: take, open and show nothing. Held items stay held,
        their leases renewed, until `release_idle_held` or `idle_unlock`."""
        self.idle_locked = True

    def release_idle_held(self) -> None:
        """Locked too long: hand every held item back (why="idle_lock"), including
        claims still being prepared or on their way."""
        self.release_held("idle_lock")
        if self.preparing is not None:
            self._release(self.preparing, Exposure(), "idle_lock")
            self.preparing = None
        self._generation += 1
        self._held_released = True
        self._view.show_message("Your items went back to the queue while the screen was locked.")

    def idle_unlock(self) -> None:
        self.idle_locked = False
        self.note_interaction()
        if self._held_released:
            self._held_released = False
            self._exhausted = False
        if self.current is None and not self.busy:
            self._advance()
        else:
            self._pump()

    def _stale_why(self) -> str:
        """Why a claim that arrived for an outdated request goes back."""
        if self.closing.is_set():
            return "closed"
        return "idle_lock" if self._held_released else "queue_changed"

    # -- leases -------------------------------------------------------------------------

    def renew_leases(self) -> None:
        """Timer: extend every hold, unless the moderator is away from the desk."""
        idle = self._clock.monotonic() - self._last_interaction
        if idle > self._interaction_recent_s and not self.idle_locked:
            return  # away from the desk: let the holds run out and the items go back
        # While the idle lock is up, holds are kept until it hands them back itself.
        for slot in (self.current, self.ready, self.preparing):
            if slot is not None:
                self._lanes.db.submit(
                    self._service.renew_lease,
                    slot.claim,
                    on_done=functools.partial(self._renewed, slot),
                    on_error=functools.partial(self._renew_failed, slot),
                )

    def _renewed(self, slot: Slot, claim: Claim) -> None:
        slot.claim = claim

    def _renew_failed(self, slot: Slot, exc: Exception) -> None:
        if self.closing.is_set():
            return
        if not isinstance(exc, LeaseLost):
            self._view.say(f"Could not renew your hold on the item ({type(exc).__name__}).", "warn")
            return
        if slot is self.ready:
            self.ready = None
            self._pump()
        elif slot is self.current and not self.busy:
            # Releasing a lost claim records the exposure so far, then reports LeaseLost.
            self._release(slot, self._view.take_exposure(), "lease_lost")
            self._lost(slot, exc)

    def _release(self, slot: Slot, exposure: Exposure, why: str) -> None:
        item = slot.claim.item
        self._lanes.db.submit(
            self._service.release,
            slot.claim,
            exposure,
            why,
            on_done=lambda _none: self._announce(
                ChangeSet(
                    frozenset({Change.ITEM_RELEASED, Change.QUEUE_CHANGED}),
                    item.id,
                    item.queue_id,
                )
            ),
            on_error=self.background_failed,
        )

    def background_failed(self, exc: Exception) -> None:
        """A job whose only outcome of interest is an error failed."""
        if isinstance(exc, LeaseLost | ReviewLocked):
            return  # already reported where it mattered; the store kept the exposure
        self._view.say(f"A background save failed ({type(exc).__name__}: {exc}).", "warn")

    # -- queues -------------------------------------------------------------------------

    @property
    def queue_id(self) -> int | None:
        return self._queue_id

    def choose_queue(self, queue_id: int | None) -> None:
        """The moderator picked a queue (None: all of them)."""
        self._queue_id = queue_id
        self._generation += 1
        self._exhausted = False
        if self.ready is not None:
            self._release(self.ready, Exposure(), "queue_changed")
            self.ready = None
        if self.current is None:
            self._view.show_message("Loading the next item…")
        self._pump()

    def changed(self, change: ChangeSet) -> None:
        """Something changed in the store (announced by any screen)."""
        self.refresh_queues()
        if self._exhausted and change.touches(Change.QUEUE_CHANGED):
            self._exhausted = False
            self._pump()

    def refresh_queues(self) -> None:
        if self.closing.is_set():
            return
        if self._queues_loading:
            self._queues_stale = True
            return
        self._queues_loading = True
        self._lanes.db.submit(
            self._service.queues, on_done=self._queues_loaded, on_error=self._queues_failed
        )

    def _queues_loaded(self, queues: list[QueueSummary]) -> None:
        self._queues_loading = False
        if self.closing.is_set():
            return
        if self._queue_id is not None and self._queue_id not in {q.id for q in queues}:
            self._queue_id = None  # the queue chosen is gone (or no longer ours)
        self._view.show_queues(queues)
        if self._queues_stale:
            self._queues_stale = False
            self.refresh_queues()

    def _queues_failed(self, exc: Exception) -> None:
        self._queues_loading = False
        self._view.say(f"Could not load the queues ({type(exc).__name__}).", "warn")


def _grade_label(grading: Grading) -> str:
    sev = grading.severity.value if grading.severity else "?"
    band = f" · youngest {grading.age_band.value}" if grading.age_band else ""
    return f"{sev}{band}"
