"""What may be deleted, and when: the retention plan (DOMAIN.md, "Retention").

`plan(records, now)` is pure: it reads one `RetentionRecord` per item and says, for
each, either `Disposal` (delete this media and/or personal data now) or `Kept` (and
why, and until when if that is known). The caller carries out the disposals and
writes an audit event for each; a dry run just prints the plan.

Rules, first match wins:
1. Nothing left to delete (media and personal data already gone): kept, nothing held.
2. Legal hold (preservation order): kept. A hold blocks everything, erasure included.
3. Undecided (no decision or no severity): kept. Nothing is deleted unseen.
4. Reported: kept until the longest hold over its reports ends: each referral sent
   holds for its destination's period (CyberTipline 1 year, the NCA's period; see
   reviewer.destinations), and a report made outside a referral for
   `report_hold_days` (90 by default, at least 90). Then both are deleted. An erasure
   request inside the hold period waits for its end. A report with no time is kept.
5. Erasure requested (and not stopped by 2-4): deleted now.
6. No illegality shown (Not illegal without CSEA-related, or Adult): deleted
   `non_illegal_dispose_days` after the decision.
7. Not assessable, or illegal / CSEA-related but not reported: kept, flagged for an
   admin. Deleting possibly-illegal material before it is reported would destroy
   evidence; keeping it silently forever would be wrong too, hence the flag.

A disposal never touches the audit record (hashes, grade, who decided, when): that is
what proves later what was held, reported and deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from reviewer.destinations import (
    MIN_REPORT_HOLD_DAYS,
    Destination,
    DestinationRules,
    report_hold_until,
)
from reviewer.vocabulary import Severity

AUDIT_KEPT = "The audit record (hashes, grade, who decided, when) is kept."


def _aware(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name} is a naive datetime; use UTC-aware times")


@dataclass(frozen=True)
class RetentionPolicy:
    report_hold_days: int = MIN_REPORT_HOLD_DAYS
    non_illegal_dispose_days: int = 30
    destinations: DestinationRules = field(default_factory=DestinationRules)

    def __post_init__(self) -> None:
        if self.report_hold_days < MIN_REPORT_HOLD_DAYS:
            raise ValueError(
                f"report_hold_days must be at least {MIN_REPORT_HOLD_DAYS} "
                f"(got {self.report_hold_days})"
            )
        if self.non_illegal_dispose_days < 0:
            raise ValueError("non_illegal_dispose_days must not be negative")


@dataclass(frozen=True)
class RetentionRecord:
    """What the retention rules need to know about one item (the store fills it)."""

    item_id: int
    received_at: datetime
    decided_at: datetime | None
    severity: Severity | None
    reported: bool
    reported_at: datetime | None
    legal_hold: bool
    erasure_requested_at: datetime | None
    media_present: bool
    personal_data_present: bool
    # Not illegal + CSEA-related is connected to abuse and must not be treated as clean.
    csea_related: bool = False
    # Referrals sent (exported) for this item: (destination, when). Each holds the item
    # for its destination's period; the longest hold wins.
    sent_reports: tuple[tuple[Destination, datetime], ...] = ()

    def __post_init__(self) -> None:
        for name in ("received_at", "decided_at", "reported_at", "erasure_requested_at"):
            _aware(name, getattr(self, name))
        for _, at in self.sent_reports:
            _aware("sent_reports", at)

    @property
    def shows_no_illegality(self) -> bool:
        sev = self.severity
        return sev is Severity.ADULT or (sev is Severity.NOT_ILLEGAL and not self.csea_related)


class DisposalScope(StrEnum):
    MEDIA = "media"
    PERSONAL_DATA = "personal_data"
    BOTH = "both"


class KeepReason(StrEnum):
    NOTHING_HELD = "nothing_held"
    LEGAL_HOLD = "legal_hold"
    UNDECIDED = "undecided"
    REPORT_HOLD = "report_hold"
    WITHIN_PERIOD = "within_period"
    NEEDS_ADMIN = "needs_admin"


@dataclass(frozen=True)
class Disposal:
    """Delete `what` of item `item_id` now. Never the audit record (see `why`)."""

    item_id: int
    what: DisposalScope
    why: str
    audit_record_kept: bool = field(default=True, init=False)


@dataclass(frozen=True)
class Kept:
    """Item `item_id` stays. `until` is when it becomes eligible, where that is known;
    `attention` marks items an admin must look at (no rule will ever delete them)."""

    item_id: int
    reason: KeepReason
    detail: str
    until: datetime | None = None
    attention: bool = False


@dataclass(frozen=True)
class RetentionPlan:
    disposals: tuple[Disposal, ...]
    kept: tuple[Kept, ...]

    def lines(self) -> list[str]:
        """Human-readable plan, one line per item (for `--dry-run`)."""
        out = [f"delete {d.what.value} of item {d.item_id}: {d.why}" for d in self.disposals]
        for k in self.kept:
            until = f" until {k.until.isoformat()}" if k.until else ""
            flag = " [needs admin]" if k.attention else ""
            out.append(f"keep item {k.item_id}{until}: {k.detail}{flag}")
        return out


def _scope(r: RetentionRecord) -> DisposalScope:
    if r.media_present and r.personal_data_present:
        return DisposalScope.BOTH
    return DisposalScope.MEDIA if r.media_present else DisposalScope.PERSONAL_DATA


def _day(t: datetime) -> str:
    return t.date().isoformat()


def _report_hold(r: RetentionRecord, policy: RetentionPolicy) -> tuple[datetime | None, str]:
    """The end of the longest hold over the item's reports, and which one it is."""
    candidates: list[tuple[datetime, str]] = []
    if r.reported_at is not None:
        end = r.reported_at + timedelta(days=policy.report_hold_days)
        detail = f"reported on {_day(r.reported_at)}, held {policy.report_hold_days} days"
        candidates.append((end, detail))
    for d, at in r.sent_reports:
        sent_end = report_hold_until(policy.destinations, [(d, at)])
        assert sent_end is not None
        days = policy.destinations[d].report_hold_days
        candidates.append((sent_end, f"reported to {d.label} on {_day(at)}, held {days} days"))
    if not candidates:
        return None, ""
    return max(candidates, key=lambda c: c[0])


def decide(r: RetentionRecord, now: datetime, policy: RetentionPolicy) -> Disposal | Kept:
    """The plan for one record (rules in the module docstring)."""
    _aware("now", now)
    if not (r.media_present or r.personal_data_present):
        return Kept(r.item_id, KeepReason.NOTHING_HELD, "nothing left to delete")
    if r.legal_hold:
        return Kept(r.item_id, KeepReason.LEGAL_HOLD, "under legal hold")
    if r.decided_at is None or r.severity is None:
        return Kept(r.item_id, KeepReason.UNDECIDED, "not decided yet")

    asked = r.erasure_requested_at
    # A request stamped after `now` (another machine's clock) is not in force yet.
    erasure = asked is not None and asked <= now
    if r.reported or r.sent_reports:
        hold_end, held_for = _report_hold(r, policy)
        if hold_end is None:
            return Kept(
                r.item_id, KeepReason.REPORT_HOLD, "reported, report time unknown", attention=True
            )
        if now < hold_end:
            note = "; erasure request deferred to then" if erasure else ""
            return Kept(r.item_id, KeepReason.REPORT_HOLD, held_for + note, until=hold_end)
        why = f"{held_for[0].upper()}{held_for[1:]}, until {_day(hold_end)}. {AUDIT_KEPT}"
        return Disposal(r.item_id, _scope(r), why)

    # Erasure is honoured for what shows no illegality or could not be assessed; evidence
    # of illegal material that is not yet reported is kept for an admin to act on, so an
    # uploader's erasure request can never destroy it.
    if asked is not None and erasure and r.shows_no_illegality:
        why = f"Erasure requested on {_day(asked)}; no hold. {AUDIT_KEPT}"
        return Disposal(r.item_id, _scope(r), why)

    if r.shows_no_illegality:
        due = r.decided_at + timedelta(days=policy.non_illegal_dispose_days)
        if now < due:
            return Kept(r.item_id, KeepReason.WITHIN_PERIOD, "shows no illegality", until=due)
        why = (
            f"Graded {r.severity.label} on {_day(r.decided_at)}, no illegality shown; "
            f"{policy.non_illegal_dispose_days}-day period over. {AUDIT_KEPT}"
        )
        return Disposal(r.item_id, _scope(r), why)

    if r.severity is Severity.NOT_ASSESSABLE:
        detail = "not assessable: regrade, report or dispose by hand"
    else:
        detail = "graded illegal or CSEA-related but not reported: report it or dispose by hand"
    return Kept(r.item_id, KeepReason.NEEDS_ADMIN, detail, attention=True)


def plan(
    records: Iterable[RetentionRecord],
    now: datetime,
    policy: RetentionPolicy | None = None,
) -> RetentionPlan:
    """The retention plan at `now` (UTC-aware) for every record, in input order."""
    _aware("now", now)
    pol = policy or RetentionPolicy()
    disposals: list[Disposal] = []
    kept: list[Kept] = []
    seen: set[int] = set()
    for r in records:
        if r.item_id in seen:
            raise ValueError(f"item {r.item_id} appears twice")
        seen.add(r.item_id)
        outcome = decide(r, now, pol)
        if isinstance(outcome, Disposal):
            disposals.append(outcome)
        else:
            kept.append(outcome)
    return RetentionPlan(tuple(disposals), tuple(kept))
