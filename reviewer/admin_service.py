"""Account administration for one signed-in admin: the door the Users screen uses.

A thin layer over the accounts repository with the acting account bound in; the
repository checks MANAGE_USERS / MANAGE_SETTINGS on every call against the account as
stored now, and audits each change. Every method blocks: call it on the DB worker.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from reviewer.accounts import (
    Account,
    AccountsPort,
    QueueInfo,
    Role,
    SecuritySettings,
    VettingStatus,
)


@dataclass(frozen=True)
class UsersSnapshot:
    """Everything the Users screen lists, read together."""

    accounts: tuple[Account, ...]
    queues: tuple[QueueInfo, ...]


class AdminService:
    def __init__(self, accounts: AccountsPort, actor: Account) -> None:
        self._accounts = accounts
        self.actor = actor

    def snapshot(self) -> UsersSnapshot:
        return UsersSnapshot(
            tuple(self._accounts.accounts(self.actor)), tuple(self._accounts.queues())
        )

    def create_user(self, name: str, password: str, roles: Collection[Role]) -> Account:
        return self._accounts.create_user(self.actor, name, password, roles)

    def reset_password(self, user_id: int, password: str) -> None:
        self._accounts.set_password(self.actor, user_id, password)

    def set_disabled(self, user_id: int, disabled: bool) -> None:
        self._accounts.set_disabled(self.actor, user_id, disabled)

    def set_roles(self, user_id: int, roles: Collection[Role]) -> None:
        self._accounts.set_roles(self.actor, user_id, roles)

    def set_vetting(self, user_id: int, status: VettingStatus, vetted_on: date | None) -> None:
        self._accounts.set_vetting(self.actor, user_id, status, vetted_on)

    def add_training(self, user_id: int, course: str, completed_on: date) -> None:
        self._accounts.add_training(self.actor, user_id, course, completed_on)

    def set_queue_access(
        self, user_id: int, allowed: Collection[int], restricted: Collection[int]
    ) -> None:
        """Make the queues marked restricted exactly `restricted`, and the queues
        `user_id` may claim from among them exactly `allowed`. Each change is its own
        audited step; only what differs from the stored state is written."""
        queues = {q.id: q for q in self._accounts.queues()}
        for qid, q in queues.items():
            want = qid in restricted
            if q.restricted != want:
                self._accounts.set_queue_restricted(self.actor, qid, want)
        current = next(
            (a.queue_ids for a in self._accounts.accounts(self.actor) if a.id == user_id),
            frozenset(),
        )
        for qid in sorted(set(allowed) - current):
            self._accounts.grant_queue(self.actor, user_id, qid)
        for qid in sorted(current - set(allowed)):
            self._accounts.revoke_queue(self.actor, user_id, qid)

    def security_settings(self) -> SecuritySettings:
        return self._accounts.security_settings()

    def set_security_settings(self, settings: SecuritySettings) -> None:
        self._accounts.set_security_settings(self.actor, settings)
