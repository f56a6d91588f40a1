"""One moderator's welfare for a shift: the policy, kept and persisted.

WelfareSession wraps a wellbeing.policy.WelfarePolicy with what it needs from the
rest of the system: today's counters carried over a restart (with the exposure ledger
as a floor, so a lost counter update can never lower a cap), the admin's settings,
the moderator's opt-outs, and the audit log for every policy event. ReviewService
calls it around every claim, open, decision and release; the UI reads `state()` (pure,
in memory) on the GUI thread and sends everything else through its database worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Protocol

from reviewer.accounts import AccessDenied, Account
from reviewer.clock import Clock
from reviewer.model import Claim, Exposure, User
from reviewer.permissions import Check, Operation
from reviewer.untrusted import MAX_NOTE, text
from reviewer.vocabulary import Severity
from wellbeing.policy import (
    DayTotals,
    OptOuts,
    PolicyEvent,
    PolicyState,
    WelfarePolicy,
)
from wellbeing.settings import WelfareSettings


class WelfarePort(Protocol):
    """The subset of db.welfare.WelfareRepo the session uses."""

    def load_day(self, user_id: int, day: date) -> DayTotals | None: ...
    def save_day(
        self, user_id: int, day: date, totals: DayTotals, events: list[PolicyEvent] = ...
    ) -> None: ...
    def revealed_floor(self, user_id: int, day: date) -> tuple[float, float]: ...
    def settings(self) -> WelfareSettings: ...
    def opt_outs(self, user_id: int) -> OptOuts: ...
    def count_support_request(self, day: date) -> None: ...
    def authorise(self, check: Check) -> None: ...


def severity_hint(claim: Claim) -> Severity | None:
    """What the item is expected to be before anyone grades it (items.suspected_category:
    see reviewer/hints.py); None when nothing is known. Items from before that column
    may carry it in their context as `severity_hint`."""
    if claim.item.suspected_category is not None:
        return claim.item.suspected_category
    raw = claim.item.extra.get("severity_hint")
    try:
        return Severity(raw) if raw is not None else None
    except ValueError:
        return None


def passed_by_preference(claim: Claim) -> bool:
    """What a claim preferring other work passes by (db/store.py): suspected Category A,
    unless at imminent risk, which outranks the preference."""
    return claim.item.suspected_category is Severity.A and not claim.item.imminent_risk


def item_kinds(claim: Claim) -> tuple[str, ...]:
    """The kinds an opt-out can name for this item: its severity hint and its kind
    (e.g. "video") when the item's context says so."""
    kinds = []
    hint = severity_hint(claim)
    if hint is not None:
        kinds.append(hint.value)
    kind = claim.item.extra.get("kind")
    if isinstance(kind, str) and kind.strip():
        kinds.append(kind)
    return tuple(kinds)


class WelfareSession:
    """Blocking (it writes to the database): call from the database worker, except
    `state()` and `policy`, which are in memory and safe on any thread."""

    def __init__(
        self,
        repo: WelfarePort,
        user: User,
        clock: Clock,
        authenticate: Callable[[str, str], Account],
    ) -> None:
        # Checks a lead's name and password (AccountsRepo.authenticate) before a break
        # is ended early.
        self._authenticate = authenticate
        self._repo = repo
        self._user = user
        self._clock = clock
        self._lock = threading.Lock()
        self._day = clock.now().date()
        self._support_counted = False
        carried = repo.load_day(user.id, self._day)
        total_floor, ab_floor = repo.revealed_floor(user.id, self._day)
        if carried is not None:
            # The ledger is the truth: counters saved after a decision may be lost in a
            # crash, the decision's exposure row never is.
            carried = replace(
                carried,
                revealed_seconds=max(carried.revealed_seconds, total_floor),
                ab_revealed_seconds=max(carried.ab_revealed_seconds, ab_floor),
            )
        elif total_floor > 0:
            carried = DayTotals(revealed_seconds=total_floor, ab_revealed_seconds=ab_floor)
        self.policy = WelfarePolicy(repo.settings(), clock, repo.opt_outs(user.id), carried)

    @property
    def opt_outs(self) -> OptOuts:
        return self.policy.opt_outs

    def state(self) -> PolicyState:
        return self.policy.state()

    def flush(self) -> None:
        """Persist today's counters and audit the events since the last flush, in one
        transaction."""
        with self._lock:
            events = self.policy.drain_events()
            self._repo.save_day(self._user.id, self._day, self.policy.totals(), events)

    # -- the review loop (called by ReviewService) ---------------------------------------

    def start_shift(self) -> None:
        self.policy.start_shift()
        self.flush()

    def ensure_can_claim(self) -> PolicyState:
        """Raises wellbeing.policy.ReviewLocked while review is locked."""
        try:
            return self.policy.ensure_can_claim()
        finally:
            self.flush()

    def allows(self, claim: Claim) -> bool:
        """False if the moderator opted out of this item's queue or kind."""
        opt = self.policy.opt_outs
        if not opt.allows(claim.item.queue_name):
            return False
        return all(opt.allows(claim.item.queue_name, kind) for kind in item_kinds(claim))

    def claimed_too_early(self, claim: Claim, preferred_when_claimed: bool) -> bool:
        """True if `claim`, held ahead, should go back and be claimed again: it is what a
        claim preferring other work passes by, the moderator is due other work now (N
        Category A decisions in a row) and was not when it was claimed. In memory: safe
        on the GUI thread. (Claimed with the preference, an A item means nothing else
        was there: it stays.)"""
        if preferred_when_claimed or not passed_by_preference(claim):
            return False
        return self.policy.state().prefer_non_a

    def starting_blur_step(self, claim: Claim) -> int:
        """The blur `claim`'s picture opens at: stronger for what is suspected to be
        worse (the admin's table in WelfareSettings), never below the default."""
        hint = severity_hint(claim)
        return self.policy.settings.starting_blur_step(None if hint is None else hint.value)

    def item_shown(self, claim: Claim) -> None:
        try:
            self.policy.item_shown(severity_hint(claim))
        finally:
            self.flush()

    def decision_recorded(self, severity: Severity, exposure: Exposure) -> None:
        self.policy.decision_recorded(severity, exposure)
        self.flush()

    def item_released(self, exposure: Exposure) -> None:
        self.policy.item_released(exposure)
        self.flush()

    def activity(self) -> None:
        self.policy.activity()

    # -- pauses, breaks, the end of the shift ------------------------------------------

    def skip_pause(self) -> None:
        self.policy.skip_pause()
        self.flush()

    def start_break(self) -> None:
        self.policy.start_break()
        self.flush()

    def start_due_break(self) -> bool:
        """Start the break that fell due (False if none is due, or already started)."""
        started = self.policy.start_due_break()
        self.flush()
        return started

    def end_break(self) -> None:
        """The moderator ends a break that is over (else BreakNotOver)."""
        self.policy.end_break()
        self.flush()

    def lead_end_break(self, lead_name: str, reason: str, password: str = "") -> PolicyEvent:
        """A team lead ends the break early, with a reason; audited as
        break_overridden (break_ended if it was over anyway).

        The lead proves who they are with their password, holds the override permission
        and is not the moderator on the break (LoginFailed / AccessDenied otherwise),
        before the policy is touched."""
        text("reason", reason, MAX_NOTE)  # Untrusted (a ValueError) before anything changes
        lead = self._authenticate(lead_name, password)
        # The gate, as for a lead's override from the dashboard (audited if refused).
        self._repo.authorise(Check(lead.id, lead.name, Operation.END_BREAK))
        if lead.id == self._user.id:
            raise AccessDenied("A break cannot be ended early by the person taking it.")
        event = self.policy.end_break(by_lead=lead.name, reason=reason)
        self.flush()
        return event

    def end_shift(self) -> None:
        self.policy.end_shift()
        self.flush()

    # -- check-ins ----------------------------------------------------------------------

    def check_in(self, asked_for_support: bool) -> None:
        """A check-in was answered. The answers stay with the moderator (nothing is
        stored); only a request for support is counted, once a day per session, with
        no name attached."""
        if asked_for_support and not self._support_counted:
            self._repo.count_support_request(self._day)
            self._support_counted = True
