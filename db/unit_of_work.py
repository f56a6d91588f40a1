"""The unit of work: the engine, its connections and transactions, the clock the rules
see, the permission gate and the audit writer. One per open database (db.store.Store
builds on it and hands out the repositories).

Repositories (db/items.py, db/claims.py and the feature repositories built on
db.repo.Repo) reach the database only through the public methods here:
- `write()` / `read()`: a write transaction (committed when the block ends without an
  exception) and a read transaction; a gate refusal in either is audited once the
  action's transaction is rolled back;
- `audit(conn, *events)`: the one writer of audit events, inside the caller's
  transaction (the audit chain locks its head there: write events last);
- `now()` / `stamp()`: 'now' as the rules must see it (the server's clock on
  PostgreSQL, so skewed workstations agree; an injected clock in tests);
- `gate` / `enforce(conn, check)`: the permission gate on the action's own connection.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, ParamSpec, Self, TextIO, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    func,
    literal,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from db import audit as audit_chain
from db.engine import WRITE, idle_connection_error, make_engine
from db.gate import Gate, Granted, Refused
from db.migrate import upgrade
from db.models import AuditRow, UserRow, UTCDateTime
from db.prepared import commit_with
from reviewer.accounts import AccessDenied
from reviewer.clock import Clock
from reviewer.errors import AuditChainMoved, OutcomeUnknown, StoreUnavailable
from reviewer.model import AuditEvent
from reviewer.permissions import Check

audit_t = AuditRow.__table__
users_t = UserRow.__table__

P = ParamSpec("P")
R = TypeVar("R")

_INSUFFICIENT_PRIVILEGE = "42501"  # PostgreSQL: missing grant or row-level security


def translate_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a lost connection into StoreUnavailable, and a statement the server refused
    (a missing grant, a row-level security policy: SQLSTATE 42501) into AccessDenied, so
    callers need not know SQLAlchemy. On a team server the database is the last gate: a
    person disabled or demoted after the services' own checks is refused there."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == _INSUFFICIENT_PRIVILEGE:
                raise AccessDenied(
                    "The team server refused this action for your account "
                    f"(it may have been disabled or its roles changed): {_first_line(exc)}"
                ) from exc
            if exc.connection_invalidated or looks_disconnected(exc):
                raise StoreUnavailable(f"database unreachable: {exc.orig}") from exc
            raise

    return wrapper


def _first_line(exc: DBAPIError) -> str:
    """The server's own words, without the statement and parameters SQLAlchemy appends."""
    return str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else "refused"


def looks_disconnected(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return (
        any(
            s in text
            for s in ("connection refused", "server closed", "terminating connection", "connection")
        )
        and "unique" not in text
    )


class Event(NamedTuple):
    """One audit event waiting to be written by UnitOfWork.audit."""

    user_id: int | None
    kind: str
    item_id: int | None = None
    detail: dict[str, Any] | None = None


class UnitOfWork:
    def __init__(
        self, engine: Engine, clock: Clock | None = None, audit_key: bytes | None = None
    ) -> None:
        self.engine = engine
        self._audit_key = audit_key
        self._write = engine.execution_options(**{WRITE: True})
        self._clock = clock
        self.pg = engine.dialect.name == "postgresql"
        # PostgreSQL without an injected clock: times are the server's now().
        self.server_time = self.pg and clock is None
        self._chain = audit_chain.ChainWriter(self._key)
        # This unit of work's own write connection, opened on first use, and since when
        # it has been idle (time.monotonic).
        self._writer: Connection | None = None
        self._writer_idle_since = 0.0
        self._writer_lock = threading.Lock()
        # Every service call's permission check, on the action's own connection.
        self.gate = Gate(self.server_time, self.clock_now, dialect=engine.dialect)

    @classmethod
    def open(
        cls,
        url: str,
        clock: Clock | None = None,
        migrate: bool = True,
        audit_key: bytes | None = None,
    ) -> Self:
        engine = make_engine(url)
        if migrate:
            upgrade(engine)
        return cls(engine, clock, audit_key)

    def close(self) -> None:
        """End this session's audit chain with a signed close (db.audit.ChainWriter),
        then let the connections go. If the database is already out of reach the chain
        keeps an unsigned tail, which `verify` reports."""
        try:
            if self._chain.is_open:
                with self.write() as conn:
                    self._chain.close(conn, self.audit_time(conn))
        except DBAPIError:
            pass  # unreachable: nothing more can be written; see the docstring
        finally:
            with self._writer_lock:
                if self._writer is not None:
                    self._writer.close()
                    self._writer = None
            self.engine.dispose()

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @property
    def dialect(self) -> Dialect:
        return self.engine.dialect

    # -- time ---------------------------------------------------------------------------

    def clock_now(self) -> datetime:
        """This workstation's 'now' as a value: the injected clock, else the system's."""
        return self._clock.now() if self._clock is not None else datetime.now(UTC)

    def monotonic(self) -> float:
        return self._clock.monotonic() if self._clock is not None else time.monotonic()

    def now(self, offset_s: float = 0.0) -> ColumnElement[datetime]:
        """'Now' as the rules must see it, as a SQL expression. PostgreSQL leases run on
        the server's clock so that workstations with skewed clocks agree; tests inject
        a clock instead."""
        delta = timedelta(seconds=offset_s)
        if self._clock is not None:
            return literal(self._clock.now() + delta, UTCDateTime())
        if self.pg:
            expr = func.now() + delta if offset_s else func.now()
            return type_coerce(expr, UTCDateTime())
        return literal(datetime.now(UTC) + delta, UTCDateTime())

    def stamp(self, lease_seconds: float = 0.0) -> dict[str, Any]:
        """Clock parameters for prepared statements, taken once per transaction: p_lease
        when the server's now() is used, else p_now and p_expires (db.claims)."""
        lease = timedelta(seconds=lease_seconds)
        if self.server_time:
            return {"p_lease": lease}
        now = self.clock_now()
        return {"p_now": now, "p_expires": now + lease}

    # -- transactions -------------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """Where a write transaction runs: one connection kept open for this unit of
        work's writes, so that a claim or a decision skips the pool's checkout and
        checkin and the Connection set-up (on SQLite about a sixth of its CPU; on
        PostgreSQL 4-11 % of the workstation's, docs/BENCHMARKS.md). A second thread
        writing meanwhile, or a nested write, gets a pooled connection.

        On PostgreSQL the kept connection is checked before reuse as the pool checks
        one on checkout (db.engine.idle_connection_error), so the first write after a
        server restart runs on a fresh connection instead of failing on a dead one."""
        if not self._writer_lock.acquire(blocking=False):
            with self._write.connect() as conn:
                yield conn
            return
        try:
            writer = self._writer
            if writer is not None and self.pg and not (writer.invalidated or writer.closed):
                error = idle_connection_error(
                    writer.dialect, writer.connection.dbapi_connection, self._writer_idle_since
                )
                if error is not None:
                    writer.invalidate(error)
            if writer is None or writer.invalidated or writer.closed:
                self._writer = writer = self._write.connect()
            yield writer
        finally:
            if self._writer is not None and self._writer.in_transaction():
                # A rollback that failed: start afresh rather than reuse it.
                self._writer.invalidate()
                self._writer = None
            self._writer_idle_since = time.monotonic()
            self._writer_lock.release()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite), committed when the block
        ends without an exception.

        A connection lost while COMMIT is on its way leaves the outcome unknown (the
        server may have committed before the line dropped): that raises OutcomeUnknown,
        never the "nothing was stored" of StoreUnavailable. Every state change a
        moderator makes carries a client token or is idempotent, so the retry settles
        it.

        On PostgreSQL the transaction's audit event goes with its COMMIT, in one round
        trip (db.audit.ChainWriter)."""
        try:
            with self._connection() as conn:
                tx = conn.begin()
                info = conn.info  # kept: a connection lost on the way cannot be asked
                info[audit_chain.IN_WRITE] = True
                committed = False
                try:
                    try:
                        yield conn
                    except BaseException:
                        if tx.is_active:
                            tx.rollback()
                        raise
                    if tx.is_active:
                        self._commit(conn, tx)
                        committed = True
                finally:
                    self._chain.end(info, committed)
        except Refused as refused:
            raise self.refusal(refused) from None
        except DBAPIError as exc:
            if audit_chain.chain_moved(exc):
                self._chain.unsettle()
                raise AuditChainMoved(
                    "Nothing was stored: this session's audit trail had been written "
                    "since its last event. Try again."
                ) from exc
            raise
        except OutcomeUnknown:
            # If the COMMIT did land, the head moved unseen: the next append checks it.
            self._chain.unsettle()
            raise

    def _commit(self, conn: Connection, tx: Any) -> None:
        """COMMIT, with the audit event the transaction held back (PostgreSQL); a lost
        connection makes the outcome unknown."""
        try:
            steps = self._chain.commit_steps(conn) if self.pg else []
            if steps:
                commit_with(conn, steps)
            tx.commit()
        except DBAPIError as exc:
            if exc.connection_invalidated or looks_disconnected(exc):
                raise OutcomeUnknown(f"connection lost while committing: {exc.orig}") from exc
            if tx.is_active:
                with contextlib.suppress(DBAPIError):
                    tx.rollback()  # the held event was refused: the transaction is void
            raise

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction; a gate refusal in it is audited like one in write().

        It ends in COMMIT, not in a ROLLBACK: psycopg forgets every prepared statement
        of a connection on ROLLBACK, so one read between a claim and its decision
        (opening the item's media asks the gate) made the next statements parse and
        plan again, and under row-level security planning the policies is most of a
        statement's cost (docs/BENCHMARKS.md, session 8: server CPU per claim, open,
        decide 11.7-14.9 ms against 2.7-2.9 ms)."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except Refused as refused:
            raise self.refusal(refused) from None

    # -- the gate -----------------------------------------------------------------------

    def refusal(
        self, refused: Refused, *, at_desk: bool = False, desk: int | None = None
    ) -> Exception:
        """Audit a gate refusal in a transaction of its own (the action's was rolled
        back), and return the AccessDenied to raise.

        `at_desk`: the person refused proved who they are at someone else's desk; the
        detail then names them, and `desk` (the desk's own person, on a team server,
        whose login role writes events only as itself) records the event."""
        check = refused.check
        actor = check.actor_id if refused.user_exists else None
        detail = refused.audit_detail()
        if at_desk:
            detail = {**detail, "person_id": actor}
        with self.write() as conn:
            self.audit(conn, Event(desk or actor, "access_denied", check.item_id, detail))
        return refused.denied()

    def enforce(self, conn: Connection, check: Check | None) -> Granted | None:
        """The gate on this transaction's connection; None when no permission governs
        the action (`check` None: the system's own work)."""
        return None if check is None else self.gate.enforce(conn, check)

    @translate_errors
    def authorise(self, check: Check, *, at_desk: bool = False) -> Granted:
        """The gate alone, for an action outside the database (reading media from the
        media store): AccessDenied, audited, unless the account may.

        `at_desk`: the person checked is a second person who proved who they are at
        this desk (a lead ending a break at the moderator's workstation). On a team
        server the refusal is then recorded by the desk's own login role, naming the
        person refused; on the embedded database, by the person refused."""
        with self.engine.connect() as conn:
            try:
                with conn.begin():  # ends in COMMIT, as read() does, for the same reason
                    return self.gate.enforce(conn, check)
            except Refused as exc:
                refused = exc
            desk = self._desk_person(conn) if at_desk else None
        raise self.refusal(refused, at_desk=at_desk, desk=desk) from None

    def _desk_person(self, conn: Connection) -> int | None:
        if not self.pg:
            return None
        desk: int | None = conn.execute(
            select(users_t.c.id).where(users_t.c.db_role == literal_column("session_user"))
        ).scalar()
        return desk

    # -- audit --------------------------------------------------------------------------

    def _key(self) -> bytes:
        if self._audit_key is None:
            self._audit_key = audit_chain.load_key()
        return self._audit_key

    def audit_key(self) -> bytes:
        """This session's audit key (loaded from the keyring on first use)."""
        return self._key()

    @property
    def audit_writer(self) -> audit_chain.ChainWriter:
        """This session's audit chain (db.audit_checkpoint signs checkpoints with it)."""
        return self._chain

    def audit(self, conn: Connection, *events: Event, at: datetime | None = None) -> None:
        """Append `events` to this session's audit chain, in order, inside the caller's
        transaction (see db.audit.ChainWriter). Every audit write goes through here.
        `at`: the transaction's time when a statement already returned it; else the
        server's now() on PostgreSQL (one more round trip), or this session's clock."""
        if not events:
            return
        at = at or self.audit_time(conn)
        self._chain.append(conn, [audit_chain.NewEvent(*e) for e in events], at=at)

    def audit_time(self, conn: Connection) -> datetime:
        """'Now' as a value, as the audit chain stamps it."""
        if self.server_time:
            now: datetime = conn.execute(
                select(type_coerce(func.now(), UTCDateTime()))
            ).scalar_one()
            return now
        return self.clock_now()

    @translate_errors
    def verify_audit(self) -> audit_chain.VerifyResult:
        """Check the whole audit chain (see db.audit.verify); never raises for damage."""
        return audit_chain.verify(self.engine, self._key())

    @translate_errors
    def export_audit(self, since: datetime, out: TextIO) -> int:
        """Write audit events at or after `since` as JSON Lines; returns how many."""
        return audit_chain.export(self.engine, since, out)

    @translate_errors
    def record_event(
        self,
        user_id: int | None,
        kind: str,
        item_id: int | None = None,
        detail: dict[str, Any] | None = None,
        *,
        check: Check | None = None,
    ) -> None:
        """`check`: the gate's question when a person's action is what is recorded (an
        item opened, a reveal); None for events no permission governs."""
        with self.write() as conn:
            self.enforce(conn, check)
            self.audit(conn, Event(user_id, kind, item_id, detail))

    @translate_errors
    def audit_events(self, item_id: int | None = None, kind: str | None = None) -> list[AuditEvent]:
        # Time, then id: both are covered by the events' hashes (db.audit).
        q = select(audit_t).order_by(audit_t.c.at, audit_t.c.id)
        if item_id is not None:
            q = q.where(audit_t.c.item_id == item_id)
        if kind is not None:
            q = q.where(audit_t.c.kind == kind)
        with self.read() as conn:
            return [
                AuditEvent(r.id, r.at, r.user_id, r.kind, r.item_id, dict(r.detail or {}))
                for r in conn.execute(q)
            ]
