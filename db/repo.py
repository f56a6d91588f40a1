"""The base of the feature repositories (accounts, welfare, hashes, QA, referrals...):
the unit of work's public door (db.unit_of_work), so that each lives in a module of
its own and reaches the transaction, clock, gate and audit writer the same way.

Rules for every repository built on this:
- each public method is one transaction: `with self.write() as conn:`;
- audit events are written with `self.audit(conn, ...)` as the LAST statements of the
  transaction (the audit chain locks its head there; a late lock is a short lock);
- times come from `self.now()` (server clock on PostgreSQL, injected clock in tests);
- methods return immutable objects from reviewer/, never rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, select

from db.gate import Gate, Granted
from db.unit_of_work import Event, UnitOfWork, translate_errors
from reviewer.accounts import Account
from reviewer.permissions import Check, Operation

__all__ = ["Repo", "translate_errors"]


class Repo:
    def __init__(self, uow: UnitOfWork) -> None:
        # `store`: the unit of work this repository works in (db.store.Store hands
        # out one of each repository over it).
        self.store = uow
        self.engine = uow.engine
        self.pg = uow.pg

    @property
    def gate(self) -> Gate:
        return self.store.gate

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite), committed on success."""
        with self.store.write() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (a gate refusal in it is audited, as in write())."""
        with self.store.read() as conn:
            yield conn

    def authorise(self, check: Check) -> None:
        """The gate alone, for an action outside the database (reading media)."""
        self.store.authorise(check)

    def enforce(self, conn: Connection, actor: Account, op: Operation, **on: int | None) -> Granted:
        """The permission gate for `actor` doing `op`, on this transaction's connection:
        the account as stored now, or Refused (audited and raised as AccessDenied by
        write() / read() once the transaction is rolled back)."""
        return self.store.gate.enforce(conn, Check(actor.id, actor.name, op, **on))

    def now(self, offset_s: float = 0.0) -> ColumnElement[datetime]:
        """'Now' as a SQL expression, for inserts and comparisons."""
        return self.store.now(offset_s)

    def now_value(self, conn: Connection) -> datetime:
        """'Now' as a Python value, read in the same way the rules see it."""
        return conn.execute(select(self.now())).scalar_one()

    def audit(
        self,
        conn: Connection,
        user_id: int | None,
        kind: str,
        item_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.store.audit(conn, Event(user_id, kind, item_id, detail))
