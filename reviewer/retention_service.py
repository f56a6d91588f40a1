"""The retention executor: applies `reviewer.retention_model.plan` to the store and media.

`run(dry_run=True)` only reports the plan. A real run disposes item by item, each in
its own transaction with its audit event (the store re-checks the rules inside it, so
a hold placed meanwhile wins), then deletes the media blobs that no kept item shares
any more. Time is the store's clock (the server's on PostgreSQL, injected in tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from reviewer.accounts import AccessDenied, Account
from reviewer.permissions import Check, Operation
from reviewer.retention_model import (
    Disposal,
    DisposalScope,
    RetentionPlan,
    RetentionPolicy,
    RetentionRecord,
    plan,
)


class DisposalResult(Protocol):
    # Read-only: the repository hands back frozen records.
    @property
    def item_id(self) -> int: ...
    @property
    def what(self) -> DisposalScope: ...
    @property
    def why(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def referrals_redacted(self) -> tuple[str, ...]: ...


class RetentionRepository(Protocol):
    def authorise(self, check: Check) -> None: ...
    def policy(self) -> RetentionPolicy: ...
    def current_time(self) -> datetime: ...
    def records(self) -> list[RetentionRecord]: ...
    def dispose(
        self, item_id: int, policy: RetentionPolicy, check: Check
    ) -> DisposalResult | None: ...
    def orphaned_blobs(self) -> list[str]: ...


class BlobStore(Protocol):
    def has(self, sha256: str) -> bool: ...
    def discard(self, sha256: str) -> bool: ...


@dataclass
class RetentionRun:
    at: datetime
    policy: RetentionPolicy
    plan: RetentionPlan
    dry_run: bool
    done: list[DisposalResult] = field(default_factory=list)
    no_longer_due: list[Disposal] = field(default_factory=list)
    blobs_deleted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        head = (
            f"retention {'plan (dry run, nothing deleted)' if self.dry_run else 'run'} at "
            f"{self.at.isoformat()}: report hold {self.policy.report_hold_days} days, "
            f"{_destination_holds(self.policy)}, "
            f"non-illegal disposal after {self.policy.non_illegal_dispose_days} days"
        )
        out = [head]
        if self.dry_run:
            return out + [f"would {line}" for line in self.plan.lines()]
        for d in self.done:
            out.append(f"deleted {d.what.value} of item {d.item_id}: {d.why}")
            if d.referrals_redacted:
                out.append(f"  referral text removed: {', '.join(d.referrals_redacted)}")
        for due in self.no_longer_due:
            out.append(f"skipped item {due.item_id}: no longer due (a hold or report since)")
        out += [
            f"deleted media blob {s[:16]}… (no kept item shares it)" for s in self.blobs_deleted
        ]
        out += [line for line in self.plan.lines() if line.startswith("keep ")]
        out += [f"ERROR {e}" for e in self.errors]
        return out


def _destination_holds(policy: RetentionPolicy) -> str:
    rules = policy.destinations.rules
    holds = ", ".join(f"{d.short} {r.report_hold_days}" for d, r in rules.items())
    return f"after sending to {holds} days (the longest hold wins)"


class RetentionService:
    """Disposal runs for one signed-in admin (the gate decides each disposal)."""

    def __init__(self, repo: RetentionRepository, media: BlobStore, account: Account) -> None:
        self.repo = repo
        self.media = media
        self.account = account

    def plan(self) -> RetentionRun:
        self.repo.authorise(Check(self.account.id, self.account.name, Operation.RETENTION))
        policy = self.repo.policy()
        now = self.repo.current_time()
        return RetentionRun(now, policy, plan(self.repo.records(), now, policy), dry_run=True)

    def run(self, *, dry_run: bool = False) -> RetentionRun:
        result = self.plan()
        if dry_run:
            return result
        result.dry_run = False
        check = Check(self.account.id, self.account.name, Operation.RETENTION)
        for d in result.plan.disposals:
            try:
                done = self.repo.dispose(d.item_id, result.policy, check)
            except AccessDenied:
                raise  # the whole run is refused, not one item
            except Exception as exc:  # one item's failure must not stop the others
                result.errors.append(f"item {d.item_id}: {exc}")
                continue
            if done is None:
                result.no_longer_due.append(d)
            else:
                result.done.append(done)
        # Also retries blobs a previous run failed to delete.
        for sha in self.repo.orphaned_blobs():
            try:
                if self.media.discard(sha):
                    result.blobs_deleted.append(sha)
            except OSError as exc:
                result.errors.append(f"media blob {sha[:16]}…: {exc}")
        return result
