"""The one door to the database: every public method is one transaction.

A moderator's state change (decision, exposure record, audit event, lease closed)
happens inside a single `engine.begin()` block, so it is stored whole or not at all.
Methods return immutable objects from reviewer.model, never ORM rows.

The queue path (claim, decide, skip, release) runs statements compiled once and executed
on the driver's cursor: see `_Sql` and db.prepared. tests/bench/bench_claims.py
measures it under load.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, ParamSpec, TextIO, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnClause,
    ColumnElement,
    Connection,
    Engine,
    FromClause,
    Integer,
    Interval,
    RowMapping,
    Select,
    String,
    all_,
    bindparam,
    column,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from db import audit as audit_chain
from db.engine import WRITE, make_engine
from db.gate import Gate, Granted, Refused
from db.migrate import upgrade
from db.models import (
    AuditRow,
    ClaimRow,
    DecisionRow,
    ExposureRow,
    ItemRow,
    MediaRow,
    QueueAccessRow,
    QueueRow,
    SkipRow,
    UserRow,
    UTCDateTime,
)
from db.open_items import OpenCounts, open_counts
from db.prepared import Prepared, Result, run_steps
from reviewer.accounts import AccessDenied
from reviewer.clock import Clock
from reviewer.errors import LeaseLost, NotFound, OutcomeUnknown, StoreUnavailable
from reviewer.grading import Grading
from reviewer.model import (
    PRIORITY_IMMINENT_RISK,
    AuditEvent,
    Claim,
    DecisionReceipt,
    Exposure,
    ItemView,
    MediaInfo,
    NewItem,
    QueueSummary,
    User,
    priority_for,
)
from reviewer.permissions import Check
from reviewer.vocabulary import Severity, SkipReason, Source

items = ItemRow.__table__
media_t = MediaRow.__table__
claims = ClaimRow.__table__
decisions = DecisionRow.__table__
exposures = ExposureRow.__table__
audit = AuditRow.__table__
users_t = UserRow.__table__
queues_t = QueueRow.__table__
skips = SkipRow.__table__

# Leases last minutes, so sweeping expired ones once a second per Store is plenty; doing
# it on every claim cost a statement per claim. An empty pick sweeps at once (claim_next).
SWEEP_INTERVAL_S = 1.0
# Bulk lookups stay well under SQLite's bound-parameter limit.
_CHUNK = 500
# Status literals, not bound parameters: the planners only use the partial indexes
# (WHERE status = 'pending' / 'claimed') when the query names the same constant.
_PENDING: ColumnClause[str] = literal_column("'pending'")
_CLAIMED: ColumnClause[str] = literal_column("'claimed'")
_CATEGORY_A: ColumnClause[str] = literal_column(f"'{Severity.A.value}'")
_IMMINENT = literal_column(str(PRIORITY_IMMINENT_RISK), Integer())
_EXPOSURE_COLS = (
    "seconds_revealed",
    "reveal_count",
    "max_area_fraction",
    "full_unprotected",
    # The least-protected level used: what the moderator actually saw.
    "area_seconds",
    "min_blur_step",
    "colour_shown",
    "least_mode",
    "stylised_seconds",
)
_DECISION_COLS = (
    "severity",
    "csea_related",
    "not_assessable_reason",
    "age_band",
    "age_confidence",
    "production_context",
    "actions",
    "note",
    "basis",
)

P = ParamSpec("P")
R = TypeVar("R")


def _translate_errors(fn: Callable[P, R]) -> Callable[P, R]:
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
            if exc.connection_invalidated or _looks_disconnected(exc):
                raise StoreUnavailable(f"database unreachable: {exc.orig}") from exc
            raise

    return wrapper


_INSUFFICIENT_PRIVILEGE = "42501"  # PostgreSQL: missing grant or row-level security


def _first_line(exc: DBAPIError) -> str:
    """The server's own words, without the statement and parameters SQLAlchemy appends."""
    return str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else "refused"


def _looks_disconnected(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return (
        any(
            s in text
            for s in ("connection refused", "server closed", "terminating connection", "connection")
        )
        and "unique" not in text
    )


class _Event(NamedTuple):
    """One audit event waiting to be written by Store._audit."""

    user_id: int | None
    kind: str
    item_id: int | None = None
    detail: dict[str, Any] | None = None


class _Taken(NamedTuple):
    claim_id: int
    lease_expires_at: datetime
    view: dict[str, Any]
    at: datetime | None  # the claim's time, when the database chose it (server clock)


def _view_columns(src: FromClause) -> list[ColumnElement[Any]]:
    """What an ItemView is built from; `src` is the items table or a CTE returning it."""
    return [
        src.c.id,
        src.c.queue_id,
        queues_t.c.name.label("queue_name"),
        src.c.source,
        src.c.priority,
        src.c.imminent_risk,
        src.c.received_at,
        src.c.report_text,
        src.c.reported_accounts,
        src.c.upload_ip,
        src.c.upload_time,
        src.c.extra,
        src.c.suspected_category,
        media_t.c.sha256,
        media_t.c.size_bytes,
        media_t.c.format,
        media_t.c.width,
        media_t.c.height,
        media_t.c.unreadable_reason,
    ]


# An item's report context and its media's description: what a moderator's login role
# reads only through reviewer_item_context (migration 0024).
_CONTEXT_COLS = ("report_text", "reported_accounts", "upload_ip", "upload_time", "extra")
# ... and what nobody's claim needs back (only QA, leads and admins may read them).
_HIDDEN_COLS = (*_CONTEXT_COLS, "dedupe_key")
_MEDIA_COLS = ("sha256", "size_bytes", "format", "width", "height", "unreadable_reason")


def _from(first: FromClause, then: FromClause, key: str) -> ColumnElement[Any]:
    """Column `key` of `first` if it has one, else of `then`, labelled `key`."""
    return (first.c[key] if key in first.c else then.c[key]).label(key)


def _to_view(m: RowMapping | dict[str, Any]) -> ItemView:
    return ItemView(
        id=m["id"],
        queue_id=m["queue_id"],
        queue_name=m["queue_name"],
        source=Source(m["source"]),
        priority=m["priority"],
        imminent_risk=bool(m["imminent_risk"]),
        received_at=m["received_at"],
        media=MediaInfo(
            sha256=m["sha256"],
            size_bytes=m["size_bytes"],
            format=m["format"],
            width=m["width"],
            height=m["height"],
            unreadable_reason=m["unreadable_reason"],
        ),
        report_text=m["report_text"] or "",
        reported_accounts=tuple(m["reported_accounts"] or ()),
        upload_ip=m["upload_ip"],
        upload_time=m["upload_time"],
        extra=dict(m["extra"] or {}),
        suspected_category=_severity(m["suspected_category"]),
    )


def _severity(value: str | None) -> Severity | None:
    return None if value is None else Severity(value)


# How a pick passes by restricted queues (see _Sql): not at all, a caller's list, or
# the ones the claiming account has no access to.
NONE, EXCLUDING, GATED = "none", "excluding", "gated"
# (from one queue, restriction, avoiding suspected Category A): a pick's variant.
Pick = tuple[bool, str, bool]


class _Sql:
    """The queue path's statements, built and compiled once per Store.

    Those run for every claim and decision are `Prepared` (db.prepared): compiled for
    the engine's dialect here and executed on the driver's cursor, without SQLAlchemy's
    per-call work; the once-a-second lease sweep, whose IN lists vary, stays Core.
    Custom bind names start with p_ (column names are reserved in VALUES and SET).
    Times are either the server's now() (PostgreSQL without an injected clock, so
    skewed workstations agree) or bound from Python as p_now / p_expires; see
    Store._stamp for the matching parameters.
    """

    def __init__(self, dialect: Dialect, server_time: bool) -> None:
        pg = dialect.name == "postgresql"
        now: ColumnElement[datetime]
        expires: ColumnElement[datetime]
        if server_time:
            now = type_coerce(func.now(), UTCDateTime())
            lease = bindparam("p_lease", type_=Interval())
            expires = type_coerce(func.now() + lease, UTCDateTime())
        else:
            now = bindparam("p_now", type_=UTCDateTime())
            expires = bindparam("p_expires", type_=UTCDateTime())
        user = bindparam("p_user", type_=Integer())
        item = bindparam("p_item", type_=BigInteger())
        claim = bindparam("p_claim", type_=BigInteger())

        # -- claim: pick the most urgent pending item this user has not skipped, passing
        # by restricted queues: `excluding` those of p_exclude (a caller's list), or
        # `gated` those p_user has no access to, read in the same statement (the claim
        # through the gate, whose verdict then needs nothing from before the pick).
        # Each its own variant so the usual statement stays as it was. When
        # `avoiding_a`, only items not suspected Category A, or at imminent risk: the
        # welfare cap on consecutive A items, its own variant likewise.
        def pick(by_queue: bool, restriction: str, avoiding_a: bool) -> Select[Any]:
            q = select(items.c.id).where(
                items.c.status == _PENDING,
                ~exists().where(skips.c.item_id == items.c.id, skips.c.user_id == user),
            )
            if by_queue:
                q = q.where(items.c.queue_id == bindparam("p_queue", type_=Integer()))
            if restriction == GATED:
                access = QueueAccessRow.__table__
                blocked = select(queues_t.c.id).where(
                    queues_t.c.restricted.is_(True),
                    ~exists().where(access.c.queue_id == queues_t.c.id, access.c.user_id == user),
                )
                q = q.where(items.c.queue_id.not_in(blocked))
            if restriction == EXCLUDING:
                # One bound value, not an IN list rendered per call, so that the statement
                # compiles once: an array on PostgreSQL, JSON text on SQLite.
                if pg:
                    listed = bindparam("p_exclude", type_=postgresql.ARRAY(Integer()))
                    q = q.where(items.c.queue_id != all_(listed))
                else:
                    listed_json = func.json_each(bindparam("p_exclude", type_=JSON()))
                    q = q.where(
                        items.c.queue_id.not_in(select(listed_json.table_valued("value").c.value))
                    )
            if avoiding_a:
                # No hint counts as other work. A child at imminent risk outranks the
                # moderator's preference, so such items keep their place in the order.
                q = q.where(
                    or_(
                        items.c.suspected_category.is_(None),
                        items.c.suspected_category != _CATEGORY_A,
                        items.c.priority == _IMMINENT,
                    )
                )
            # LIMIT as a literal too: with a bound limit PostgreSQL judged the generic plan
            # too dear and re-planned the pick on every call (~0.3 ms of server CPU).
            order = (items.c.priority, items.c.received_at, items.c.id)
            return q.order_by(*order).limit(literal_column("1", Integer()))

        claim_cols = ["item_id", "user_id", "claimed_at", "expires_at"]
        self.take: dict[Pick, Prepared] = {}
        for by_queue, restriction, avoiding_a in itertools.product(
            (False, True), (NONE, EXCLUDING, GATED), (False, True)
        ):
            variant = (by_queue, restriction, avoiding_a)
            if pg:
                # One round trip: lock the pick (SKIP LOCKED lets 50 workstations pass
                # each other), open the claim, lease the item with the claim's id, and
                # read the item view: its state from what the UPDATE returned, its report
                # context and media through reviewer_item_context, the one door by which
                # a moderator's login role reads them, and only for what it holds or
                # decided (migration 0024).
                picked = pick(*variant).with_for_update(skip_locked=True).cte("picked")
                opened = (
                    insert(claims)
                    .from_select(claim_cols, select(picked.c.id, user, now, expires))
                    .returning(claims.c.id, claims.c.item_id, claims.c.expires_at)
                    .cte("opened")
                )
                leased = (
                    update(items)
                    .where(items.c.id == opened.c.item_id)
                    .values(
                        status="claimed",
                        claimed_by=user,
                        lease_expires_at=opened.c.expires_at,
                        claim_id=opened.c.id,
                    )
                    .returning(*(c for c in items.c if c.name not in _HIDDEN_COLS))
                    .cte("leased")
                )
                context = (
                    func.reviewer_item_context(leased.c.id)
                    .table_valued(
                        *(column(c, items.c[c].type) for c in _CONTEXT_COLS),
                        *(column(c, media_t.c[c].type) for c in _MEDIA_COLS),
                    )
                    .lateral("context")
                )
                self.take[variant] = Prepared(
                    select(
                        *(
                            c if c.key == "queue_name" else _from(context, leased, str(c.key))
                            for c in _view_columns(items)
                        ),
                        leased.c.claim_id,
                        leased.c.lease_expires_at,
                        now.label("p_at"),  # what the audit event is stamped and hashed with
                    )
                    # LEFT: a claim whose context cannot be read fails (_take), it is
                    # never committed unseen.
                    .join_from(leased, context, true(), isouter=True)
                    .join(queues_t, queues_t.c.id == leased.c.queue_id),
                    dialect,
                )
            else:
                # SQLite holds the write lock from BEGIN IMMEDIATE: open the claim on the
                # picked item, then lease the item and read its view (claim_next).
                chosen = pick(*variant).add_columns(user, now, expires)
                self.take[variant] = Prepared(
                    insert(claims)
                    .from_select(claim_cols, chosen)
                    .returning(claims.c.id, claims.c.item_id, claims.c.expires_at),
                    dialect,
                )
        self.lease = Prepared(
            update(items)
            .where(items.c.id == item)
            .values(status="claimed", claimed_by=user, lease_expires_at=expires, claim_id=claim),
            dialect,
        )
        self.view = Prepared(
            select(*_view_columns(items))
            .join_from(items, media_t, media_t.c.id == items.c.media_id)
            .join(queues_t, queues_t.c.id == items.c.queue_id)
            .where(items.c.id == item),
            dialect,
        )

        # -- lease expiry
        self.stale = (
            select(items.c.id, items.c.claim_id, items.c.claimed_by)
            .where(items.c.status == _CLAIMED, items.c.lease_expires_at < now)
            .order_by(items.c.id)
            .with_for_update(skip_locked=True)
        )
        self.requeue = (
            update(items)
            .where(items.c.id.in_(bindparam("p_items", expanding=True)))
            .values(status="pending", claimed_by=None, lease_expires_at=None, claim_id=None)
        )
        self.expire_claims = (
            update(claims)
            .where(
                claims.c.id.in_(bindparam("p_claims", expanding=True)), claims.c.closed_at.is_(None)
            )
            .values(closed_at=now, outcome="expired")
            .returning(claims.c.id, claims.c.item_id, claims.c.user_id)
        )

        # -- closing a claim (decide, skip, release). The token guard makes a retried
        # submit find its stored decision instead of closing anything; skip and
        # release pass a NULL token, which matches no row.
        token = bindparam("p_token", type_=String())
        close_item = (
            update(items)
            .where(
                items.c.id == item,
                items.c.claim_id == claim,
                items.c.status == _CLAIMED,
                ~exists().where(decisions.c.client_token == token),
            )
            .values(
                status=bindparam("p_status"),
                claimed_by=None,
                lease_expires_at=None,
                claim_id=None,
            )
        )
        close_claim = (
            update(claims)
            .where(claims.c.id == claim, claims.c.closed_at.is_(None))
            .values(closed_at=now, outcome=bindparam("p_outcome"))
        )
        # One ledger row per claim: a retry finds it there and leaves it.
        upsert = postgresql.insert if pg else sqlite.insert
        seen = {c: bindparam(f"p_{c}", type_=exposures.c[c].type) for c in _EXPOSURE_COLS}
        self.exposure = Prepared(
            upsert(exposures)
            .values(item_id=item, user_id=user, claim_id=claim, recorded_at=now, **seen)
            .on_conflict_do_nothing(index_elements=[exposures.c.claim_id]),
            dialect,
        )
        graded = {c: bindparam(f"p_{c}", type_=decisions.c[c].type) for c in _DECISION_COLS}
        self.decision = Prepared(
            insert(decisions)
            .values(
                client_token=token,
                item_id=item,
                user_id=user,
                claim_id=claim,
                decided_at=now,
                **graded,
            )
            .returning(decisions.c.id, decisions.c.decided_at),
            dialect,
        )
        self.decide: Prepared | None = None
        if pg:
            # The same four steps as one statement, one round trip (Store._decide).
            closed = close_item.returning(items.c.id).cte("closed")
            ledger = (
                upsert(exposures)
                .from_select(
                    ["item_id", "user_id", "claim_id", "recorded_at", *seen],
                    select(closed.c.id, user, claim, now, *seen.values()),
                )
                .on_conflict_do_nothing(index_elements=[exposures.c.claim_id])
                .cte("ledger")
            )
            ended = close_claim.where(exists(select(closed.c.id))).cte("ended")
            stored = (
                insert(decisions)
                .from_select(
                    ["client_token", "item_id", "user_id", "claim_id", "decided_at", *graded],
                    select(token, closed.c.id, user, claim, now, *graded.values()),
                )
                .returning(decisions.c.id, decisions.c.decided_at)
                .cte("stored")
            )
            self.decide = Prepared(
                select(stored.c.id, stored.c.decided_at).add_cte(ledger, ended), dialect
            )
        # Compiled only now: compiling memoises the statement's columns, which the
        # generative .returning() copies above would inherit.
        self.close_item = Prepared(close_item, dialect)
        self.close_claim = Prepared(close_claim, dialect)
        self.prior = Prepared(
            select(decisions.c.id, decisions.c.item_id, decisions.c.decided_at).where(
                decisions.c.client_token == token
            ),
            dialect,
        )
        self.skip = Prepared(
            insert(skips).values(
                item_id=item,
                user_id=user,
                reason=bindparam("p_reason", type_=String()),
                note=bindparam("p_note", type_=String()),
                at=now,
            ),
            dialect,
        )


# A bulk ingest this large refreshes the planner's statistics on items (PostgreSQL).
ANALYZE_AFTER_ITEMS = 1_000


class Store:
    def __init__(
        self, engine: Engine, clock: Clock | None = None, audit_key: bytes | None = None
    ) -> None:
        self.engine = engine
        self._audit_key = audit_key
        self._write = engine.execution_options(**{WRITE: True})
        self._clock = clock
        self._pg = engine.dialect.name == "postgresql"
        self._server_time = self._pg and clock is None
        self._sql = _Sql(engine.dialect, self._server_time)
        self._sweep_due_at = float("-inf")
        self._chain = audit_chain.ChainWriter(self._key)
        # SQLite: this Store's one write connection, opened on first use (_connection).
        self._writer: Connection | None = None
        self._writer_lock = threading.Lock()
        # Every service call's permission check, on the action's own connection.
        self.gate = Gate(
            self._server_time,
            lambda: clock.now() if clock is not None else datetime.now(UTC),
            dialect=engine.dialect,
        )

    @classmethod
    def open(
        cls,
        url: str,
        clock: Clock | None = None,
        migrate: bool = True,
        audit_key: bytes | None = None,
    ) -> Store:
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
                with self._tx() as conn:
                    self._chain.close(conn, self._audit_time(conn))
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

    # -- time ---------------------------------------------------------------------------

    def _now(self, offset_s: float = 0.0) -> ColumnElement[datetime]:
        """'Now' as the rules must see it. PostgreSQL leases run on the server's clock so
        that workstations with skewed clocks agree; tests inject a clock instead."""
        delta = timedelta(seconds=offset_s)
        if self._clock is not None:
            return literal(self._clock.now() + delta, UTCDateTime())
        if self._pg:
            expr = func.now() + delta if offset_s else func.now()
            return type_coerce(expr, UTCDateTime())
        return literal(datetime.now(UTC) + delta, UTCDateTime())

    def _stamp(self, lease_seconds: float = 0.0) -> dict[str, Any]:
        """Clock parameters for `_Sql` statements, taken once per transaction."""
        lease = timedelta(seconds=lease_seconds)
        if self._server_time:
            return {"p_lease": lease}
        now = self._clock.now() if self._clock is not None else datetime.now(UTC)
        return {"p_now": now, "p_expires": now + lease}

    def _sweep_due(self) -> bool:
        mono = self._clock.monotonic() if self._clock is not None else time.monotonic()
        if mono < self._sweep_due_at:
            return False
        self._sweep_due_at = mono + SWEEP_INTERVAL_S
        return True

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """Where a write transaction runs. On SQLite, one connection kept open for this
        Store's writes (SQLite lets one writer in at a time anyway): a claim or a
        decision then skips the pool checkout and the Connection set-up, about a sixth
        of its CPU (docs/BENCHMARKS.md). A second thread writing meanwhile, or a
        nested write, gets a pooled connection as before. On PostgreSQL, writers run in
        parallel: always a pooled connection."""
        if self._pg or not self._writer_lock.acquire(blocking=False):
            with self._write.connect() as conn:
                yield conn
            return
        try:
            if self._writer is None or self._writer.invalidated or self._writer.closed:
                self._writer = self._write.connect()
            yield self._writer
        finally:
            if self._writer is not None and self._writer.in_transaction():
                # A rollback that failed: start afresh rather than reuse it.
                self._writer.invalidate()
                self._writer = None
            self._writer_lock.release()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """A write transaction, committed when the block ends without an exception.

        A connection lost while COMMIT is on its way leaves the outcome unknown (the
        server may have committed before the line dropped): that raises OutcomeUnknown,
        never the "nothing was stored" of StoreUnavailable. Every state change a
        moderator makes carries a client token or is idempotent, so the retry settles
        it."""
        try:
            with self._connection() as conn:
                tx = conn.begin()
                try:
                    yield conn
                except BaseException:
                    if tx.is_active:
                        tx.rollback()
                    raise
                if tx.is_active:
                    try:
                        tx.commit()
                    except DBAPIError as exc:
                        if exc.connection_invalidated or _looks_disconnected(exc):
                            raise OutcomeUnknown(
                                f"connection lost while committing: {exc.orig}"
                            ) from exc
                        raise
        except Refused as refused:
            self._chain.rolled_back()
            raise self._refusal(refused) from None
        except BaseException:
            # Also for OutcomeUnknown: if the COMMIT did land, the chain's guarded head
            # update notices and re-reads the head on the next append.
            self._chain.rolled_back()
            raise
        self._chain.committed()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read transaction; a gate refusal in it is audited like one in _tx."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except Refused as refused:
            raise self._refusal(refused) from None

    def _refusal(self, refused: Refused) -> Exception:
        """Audit a gate refusal in a transaction of its own (the action's was rolled
        back), and return the AccessDenied to raise."""
        check = refused.check
        with self._tx() as conn:
            self._audit(
                conn,
                _Event(
                    check.actor_id if refused.user_exists else None,
                    "access_denied",
                    check.item_id,
                    refused.audit_detail(),
                ),
            )
        return refused.denied()

    def _enforce(self, conn: Connection, check: Check | None) -> Granted | None:
        return None if check is None else self.gate.enforce(conn, check)

    @_translate_errors
    def authorise(self, check: Check) -> Granted:
        """The gate alone, for an action outside the database (reading media from the
        media store): AccessDenied, audited, unless the account may."""
        with self._read() as conn:
            return self.gate.enforce(conn, check)

    # -- audit --------------------------------------------------------------------------

    def _key(self) -> bytes:
        if self._audit_key is None:
            self._audit_key = audit_chain.load_key()
        return self._audit_key

    def _audit(self, conn: Connection, *events: _Event, at: datetime | None = None) -> None:
        """Append `events` to this Store's audit chain, in order, inside the caller's
        transaction (see db.audit.ChainWriter). Every audit write goes through here.
        `at`: the transaction's time when a statement already returned it; else the
        server's now() on PostgreSQL (one more round trip), or this Store's clock."""
        if not events:
            return
        at = at or self._audit_time(conn)
        self._chain.append(conn, [audit_chain.NewEvent(*e) for e in events], at=at)

    def _audit_time(self, conn: Connection) -> datetime:
        if self._server_time:
            now: datetime = conn.execute(
                select(type_coerce(func.now(), UTCDateTime()))
            ).scalar_one()
            return now
        stamped: datetime = self._stamp()["p_now"]
        return stamped

    @_translate_errors
    def verify_audit(self) -> audit_chain.VerifyResult:
        """Check the whole audit chain (see db.audit.verify); never raises for damage."""
        return audit_chain.verify(self.engine, self._key())

    @_translate_errors
    def export_audit(self, since: datetime, out: TextIO) -> int:
        """Write audit events at or after `since` as JSON Lines; returns how many."""
        return audit_chain.export(self.engine, since, out)

    @_translate_errors
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
        with self._tx() as conn:
            self._enforce(conn, check)
            self._audit(conn, _Event(user_id, kind, item_id, detail))

    @_translate_errors
    def audit_events(self, item_id: int | None = None, kind: str | None = None) -> list[AuditEvent]:
        # Time, then id: both are covered by the events' hashes (db.audit).
        q = select(audit).order_by(audit.c.at, audit.c.id)
        if item_id is not None:
            q = q.where(audit.c.item_id == item_id)
        if kind is not None:
            q = q.where(audit.c.kind == kind)
        with self.engine.connect() as conn:
            return [
                AuditEvent(r.id, r.at, r.user_id, r.kind, r.item_id, dict(r.detail or {}))
                for r in conn.execute(q)
            ]

    # -- users and queues ---------------------------------------------------------------

    @_translate_errors
    def ensure_user(self, name: str, role: str = "moderator") -> User:
        name = name.strip()
        if not name:
            raise ValueError("a profile needs a name")
        with self._tx() as conn:
            row = conn.execute(
                select(users_t.c.id, users_t.c.name, users_t.c.role).where(users_t.c.name == name)
            ).first()
            if row is None:
                uid = conn.execute(
                    insert(users_t)
                    .values(name=name, role=role, created_at=self._now())
                    .returning(users_t.c.id)
                ).scalar_one()
                self._audit(conn, _Event(uid, "user_created", detail={"name": name, "role": role}))
                return User(uid, name, role)
            return User(row.id, row.name, row.role)

    @_translate_errors
    def users(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(users_t.c.id, users_t.c.name, users_t.c.role).order_by(users_t.c.name)
            )
            return [User(r.id, r.name, r.role) for r in rows]

    @_translate_errors
    def ensure_queue(self, name: str, target_minutes: int = 24 * 60) -> int:
        with self._tx() as conn:
            return self._queue_id(conn, name, target_minutes)

    def _queue_id(self, conn: Connection, name: str, target_minutes: int) -> int:
        qid = conn.execute(select(queues_t.c.id).where(queues_t.c.name == name)).scalar()
        if qid is None:
            qid = conn.execute(
                insert(queues_t)
                .values(name=name, target_minutes=target_minutes, created_at=self._now())
                .returning(queues_t.c.id)
            ).scalar_one()
        return int(qid)

    @_translate_errors
    def queue_summaries(self) -> list[QueueSummary]:
        with self.engine.connect() as conn:
            counts = open_counts(conn, by_priority=False)
            rows = conn.execute(
                select(queues_t.c.id, queues_t.c.name, queues_t.c.target_minutes).order_by(
                    queues_t.c.name
                )
            ).all()
        out = []
        for r in rows:
            c = counts.get((r.id,), OpenCounts())
            out.append(
                QueueSummary(
                    r.id, r.name, r.target_minutes, c.pending, c.claimed, c.oldest_pending_at
                )
            )
        return out

    @_translate_errors
    def item_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(items)).scalar_one())

    # -- ingest -------------------------------------------------------------------------

    @_translate_errors
    def add_media(
        self,
        sha256: str,
        size_bytes: int,
        format: str | None,
        width: int | None,
        height: int | None,
        unreadable_reason: str | None,
    ) -> int:
        with self._tx() as conn:
            mid = conn.execute(select(media_t.c.id).where(media_t.c.sha256 == sha256)).scalar()
            if mid is not None:
                return int(mid)
            return int(
                conn.execute(
                    insert(media_t)
                    .values(
                        sha256=sha256,
                        size_bytes=size_bytes,
                        format=format,
                        width=width,
                        height=height,
                        unreadable_reason=unreadable_reason,
                        stored_at=self._now(),
                    )
                    .returning(media_t.c.id)
                ).scalar_one()
            )

    @_translate_errors
    def add_item(self, new: NewItem, queue_target_minutes: int = 24 * 60) -> tuple[int, bool]:
        """Enqueue an item; returns (item id, created). A known dedupe key is not re-added."""
        qid = self.ensure_queue(new.queue, queue_target_minutes)
        with self._tx() as conn:
            existing = conn.execute(
                select(items.c.id).where(items.c.dedupe_key == new.dedupe_key)
            ).scalar()
            if existing is not None:
                return int(existing), False
            mid = conn.execute(
                select(media_t.c.id).where(media_t.c.sha256 == new.media_sha256)
            ).scalar()
            if mid is None:
                raise NotFound(f"media {new.media_sha256} is not in the store")
            iid = conn.execute(
                insert(items)
                .values(
                    queue_id=qid,
                    media_id=mid,
                    dedupe_key=new.dedupe_key,
                    source=new.source.value,
                    priority=priority_for(new.source, new.imminent_risk),
                    imminent_risk=new.imminent_risk,
                    received_at=self._now(),
                    status="pending",
                    report_text=new.report_text,
                    reported_accounts=list(new.reported_accounts),
                    upload_ip=new.upload_ip,
                    upload_time=new.upload_time,
                    extra=new.extra,
                    suspected_category=_hint_value(new),
                )
                .returning(items.c.id)
            ).scalar_one()
            self._audit(conn, _ingested(iid, new))
            return int(iid), True

    @_translate_errors
    def enqueue_many(self, items: Sequence[NewItem], queue_target_minutes: int = 24 * 60) -> int:
        """Enqueue a batch in one transaction; returns how many items were new.

        Per item, the same rules and audit event as add_item: a dedupe key already
        stored (or seen earlier in the batch) is passed over, and media missing from
        the store raises NotFound with nothing stored. On SQLite the batch holds the
        write lock throughout, so split very large imports to let claims in."""
        with self._tx() as conn:
            return self._enqueue_many(conn, list(items), queue_target_minutes)

    def _enqueue_many(self, conn: Connection, batch: list[NewItem], target_minutes: int) -> int:
        known = _lookup(conn, items.c.dedupe_key, items.c.id, {n.dedupe_key for n in batch})
        fresh: dict[str, NewItem] = {}
        for n in batch:
            if n.dedupe_key not in known:
                fresh.setdefault(n.dedupe_key, n)
        if not fresh:
            return 0
        shas = {n.media_sha256 for n in fresh.values()}
        media_ids = _lookup(conn, media_t.c.sha256, media_t.c.id, shas)
        if missing := sorted(shas - media_ids.keys()):
            raise NotFound(f"media {missing[0]} is not in the store ({len(missing)} missing)")
        queue_ids = {
            q: self._queue_id(conn, q, target_minutes) for q in {n.queue for n in fresh.values()}
        }
        # Ids are reserved first so the rows go in by a plain executemany: INSERT ...
        # RETURNING over many rows goes through SQLAlchemy's batched VALUES, which psycopg
        # re-parses page by page (a fifth of the speed at 20k items).
        ids = dict(zip(fresh, self._reserve_item_ids(conn, len(fresh)), strict=True))
        conn.execute(
            insert(items).values(received_at=self._now()),
            [
                {
                    "id": ids[n.dedupe_key],
                    "queue_id": queue_ids[n.queue],
                    "media_id": media_ids[n.media_sha256],
                    "dedupe_key": n.dedupe_key,
                    "source": n.source.value,
                    "priority": priority_for(n.source, n.imminent_risk),
                    "imminent_risk": n.imminent_risk,
                    "status": "pending",
                    "report_text": n.report_text,
                    "reported_accounts": list(n.reported_accounts),
                    "upload_ip": n.upload_ip,
                    "upload_time": n.upload_time,
                    "extra": n.extra,
                    "suspected_category": _hint_value(n),
                }
                for n in fresh.values()
            ],
        )
        self._audit(conn, *(_ingested(ids[key], n) for key, n in fresh.items()))
        if self._pg and len(fresh) >= ANALYZE_AFTER_ITEMS:
            # Row-level security makes the claim pick's plan depend on fresh statistics
            # (migration 0018): a bulk load refreshes them at once, not a minute later.
            conn.execute(select(func.reviewer_analyze_items()))
        return len(fresh)

    def _reserve_item_ids(self, conn: Connection, n: int) -> list[int]:
        if self._pg:
            seq = func.nextval(func.pg_get_serial_sequence("items", "id"))
            return sorted(
                conn.execute(select(seq).select_from(func.generate_series(1, n))).scalars()
            )
        # SQLite: this transaction holds the write lock, and SQLite itself would take
        # max(id) + 1 (items has no AUTOINCREMENT).
        last = conn.execute(select(func.coalesce(func.max(items.c.id), 0))).scalar_one()
        return list(range(last + 1, last + 1 + n))

    # -- reading items ------------------------------------------------------------------

    def _item_view(self, conn: Connection, item_id: int) -> ItemView:
        r = self._sql.view.first(conn, {"p_item": item_id})
        if r is None:
            raise NotFound(f"item {item_id}")
        return _to_view(self._sql.view.mapping(r))

    @_translate_errors
    def item(self, item_id: int) -> ItemView:
        with self.engine.connect() as conn:
            return self._item_view(conn, item_id)

    @_translate_errors
    def item_status(self, item_id: int) -> str:
        with self.engine.connect() as conn:
            status = conn.execute(select(items.c.status).where(items.c.id == item_id)).scalar()
            if status is None:
                raise NotFound(f"item {item_id}")
            return str(status)

    @_translate_errors
    def decisions(self, item_id: int | None = None) -> list[dict[str, Any]]:
        q = select(decisions).order_by(decisions.c.id)
        if item_id is not None:
            q = q.where(decisions.c.item_id == item_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    @_translate_errors
    def exposures(self, item_id: int | None = None) -> list[dict[str, Any]]:
        q = select(exposures).order_by(exposures.c.id)
        if item_id is not None:
            q = q.where(exposures.c.item_id == item_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    # -- the queue ----------------------------------------------------------------------

    def _expire_leases(self, conn: Connection, stamp: dict[str, Any]) -> tuple[int, list[_Event]]:
        """Requeue items whose lease ran out and close their claims; returns how many
        items, and the lease_expired events for the caller to write last."""
        stale = conn.execute(self._sql.stale, stamp).all()
        if not stale:
            return 0, []
        conn.execute(self._sql.requeue, {"p_items": [r.id for r in stale]})
        closed = conn.execute(
            self._sql.expire_claims,
            {"p_claims": [r.claim_id for r in stale if r.claim_id is not None], **stamp},
        ).all()
        events = [
            _Event(user_id, "lease_expired", item_id, {"claim_id": claim_id})
            for claim_id, item_id, user_id in sorted(closed, key=lambda r: (r.item_id, r.id))
        ]
        return len(stale), events

    @_translate_errors
    def expire_leases(self) -> int:
        """Return items whose lease ran out to the queue; returns how many."""
        with self._tx() as conn:
            n, events = self._expire_leases(conn, self._stamp())
            self._audit(conn, *events)
            return n

    def _take(
        self, conn: Connection, params: dict[str, Any], kind: Pick, check: Check | None
    ) -> _Taken | None:
        """Open a claim on the next item and lease it; None if nothing is claimable.
        `kind` picks the prepared statement (see Pick). With `check`, the gate's reads
        go in the same round trip as the pick, and its verdict comes before anything
        else is done with what the pick returned."""
        take = self._sql.take[kind]
        rows = self._gated(conn, check, take, params)[0]
        got = rows[0] if rows else None
        if self._pg:
            if got is None:
                return None
            row = take.mapping(got)
            if row["sha256"] is None:
                raise RuntimeError(f"item {row['id']} was claimed but its context is unreadable")
            return _Taken(row["claim_id"], row["lease_expires_at"], row, row["p_at"])
        opened = got
        if opened is None:
            return None
        claim_id, item_id, expires_at = opened
        ids = {"p_item": item_id, "p_claim": claim_id}
        self._sql.lease.run(conn, {**params, **ids})
        view = self._sql.view.first(conn, ids)
        assert view is not None  # leased in this transaction
        return _Taken(claim_id, expires_at, self._sql.view.mapping(view), None)

    def _take_next(
        self, conn: Connection, params: dict[str, Any], kind: Pick, check: Check | None = None
    ) -> _Taken | None:
        """`_take`; when avoiding Category A finds nothing, the usual pick: the moderator
        prefers other work when there is any, never no work at all."""
        taken = self._take(conn, params, kind, check)
        if taken is None and kind[2]:
            taken = self._take(conn, params, (kind[0], kind[1], False), None)
        return taken

    def _gated(
        self, conn: Connection, check: Check | None, stmt: Prepared, params: dict[str, Any]
    ) -> Result:
        """Run `stmt`; with `check`, the gate's reads first, in the same round trip on
        PostgreSQL (db.prepared.run_steps), and its verdict before the result is used:
        Refused (the transaction then rolls back, whatever `stmt` did) or on. A refusal
        outranks `stmt`'s own failure (on PostgreSQL the server may refuse it too)."""
        if check is None:
            return stmt.run(conn, params)
        reads = self.gate.reads(check)
        results, error = run_steps(conn, [*reads, (stmt, params)])
        if len(results) < len(reads):
            assert error is not None
            raise error
        self.gate.verdict(check, [rows for rows, _count in results[: len(reads)]])
        if error is not None:
            raise error
        return results[-1]

    @staticmethod
    def _as_actor(claim: Claim, check: Check | None) -> Claim:
        """The claim as the actor's: the person stored with the outcome is the one the
        gate lets through (who must hold the claim, as read from the database), never
        the user id the Claim object carries."""
        if check is None or check.actor_id == claim.user_id:
            return claim
        return dataclasses.replace(claim, user_id=check.actor_id)

    @_translate_errors
    def claim_next(
        self,
        user_id: int,
        queue_id: int | None = None,
        lease_seconds: float = 600,
        exclude_queue_ids: Collection[int] = (),
        avoid_category_a: bool = False,
        *,
        check: Check | None = None,
    ) -> Claim | None:
        """Lease the most urgent pending item (priority, then age) to `user_id`, passing
        by the queues in `exclude_queue_ids` (restricted queues the user may not claim
        from, when claiming from every queue).

        With `avoid_category_a` (the moderator has had N Category A items in a row), the
        most urgent item not suspected Category A (items.suspected_category; no hint
        counts as other work) or at imminent risk; only when there is no such item, the
        usual pick, which may be Category A.

        The pick takes the row with FOR UPDATE SKIP LOCKED on PostgreSQL, under the write
        lock taken at BEGIN IMMEDIATE on SQLite, so two workstations never hold the same
        item. Expired leases are swept at most once a second per Store, and always
        before answering that nothing is claimable; so an expired item may wait up to
        a second behind fresher pending ones, but is never reported missing.

        `check`: the gate's question for a person's claim (services always pass one);
        the restricted queues to pass by are then the ones the account, as stored in
        this transaction, has no access to."""
        stamp = self._stamp(lease_seconds)
        params = {**stamp, "p_user": user_id, "p_queue": queue_id}
        restriction = GATED if check is not None else EXCLUDING if exclude_queue_ids else NONE
        if restriction == EXCLUDING:
            params["p_exclude"] = sorted(exclude_queue_ids)
        kind = (queue_id is not None, restriction, avoid_category_a)
        with self._tx() as conn:
            events: list[_Event] = []
            swept = self._sweep_due()
            if swept:
                events = self._expire_leases(conn, stamp)[1]
            taken = self._take_next(conn, params, kind, check)
            if taken is None and not swept:
                requeued, events = self._expire_leases(conn, stamp)
                if requeued:
                    taken = self._take_next(conn, params, kind)
            if taken is not None:
                item_id = taken.view["id"]
                events.append(_Event(user_id, "claim", item_id, {"claim_id": taken.claim_id}))
            at = taken.at if taken is not None and taken.at is not None else stamp.get("p_now")
            self._audit(conn, *events, at=at)
        if taken is None:
            return None
        # Built after COMMIT: nothing here needs the locks.
        return Claim(taken.claim_id, _to_view(taken.view), user_id, taken.lease_expires_at)

    @_translate_errors
    def renew_lease(
        self, claim: Claim, lease_seconds: float = 600, *, check: Check | None = None
    ) -> Claim:
        with self._tx() as conn:
            self._enforce(conn, check)
            row = conn.execute(
                update(items)
                .where(
                    items.c.id == claim.item.id,
                    items.c.claim_id == claim.claim_id,
                    items.c.status == "claimed",
                )
                .values(lease_expires_at=self._now(lease_seconds))
                .returning(items.c.lease_expires_at)
            ).first()
            if row is None:
                raise LeaseLost(f"item {claim.item.id} is no longer held by this workstation")
            conn.execute(
                update(claims).where(claims.c.id == claim.claim_id).values(expires_at=row[0])
            )
            return Claim(claim.claim_id, claim.item, claim.user_id, row[0])

    @staticmethod
    def _closing(claim: Claim, exposure: Exposure, stamp: dict[str, Any]) -> dict[str, Any]:
        """Parameters naming the claim and what was seen of it, for `_Sql` statements."""
        return {
            "p_item": claim.item.id,
            "p_claim": claim.claim_id,
            "p_user": claim.user_id,
            "p_token": None,
            "p_seconds_revealed": exposure.seconds_revealed,
            "p_reveal_count": exposure.reveal_count,
            "p_max_area_fraction": exposure.max_area_fraction,
            "p_full_unprotected": exposure.full_unprotected,
            "p_area_seconds": exposure.area_seconds,
            "p_min_blur_step": exposure.min_blur_step,
            "p_colour_shown": exposure.colour_shown,
            "p_least_mode": exposure.least_mode,
            "p_stylised_seconds": exposure.stylised_seconds,
            **stamp,
        }

    def _record_exposure(self, conn: Connection, claim: Claim, exposure: Exposure) -> None:
        """The one writer of a claim's exposure ledger row, every field of it, for any
        path that closes a claim (review, QA re-grade, gold). A second call for the same
        claim leaves the first row: a retry finds it there."""
        self._sql.exposure.run(conn, self._closing(claim, exposure, self._stamp()))

    def _close(
        self,
        conn: Connection,
        params: dict[str, Any],
        status: str,
        outcome: str,
        check: Check | None,
    ) -> bool:
        """Close the claim, record the exposure and move the item to `status`; False,
        with nothing written, if the lease was lost (or p_token names a decision).
        `check`: the gate's, read with the first statement (_gated)."""
        took = self._gated(conn, check, self._sql.close_item, {**params, "p_status": status})[1]
        if took != 1:
            return False
        self._sql.exposure.run(conn, params)
        self._sql.close_claim.run(conn, {**params, "p_outcome": outcome})
        return True

    def _decide(
        self, conn: Connection, params: dict[str, Any], check: Check | None
    ) -> tuple[int, datetime] | None:
        """Close the claim and store the decision; None if nothing was written.
        `check`: the gate's, read with the first statement (_gated)."""
        params = {**params, "p_status": "decided", "p_outcome": "decided"}
        if self._sql.decide is not None:
            rows = self._gated(conn, check, self._sql.decide, params)[0]
            row = rows[0] if rows else None
        elif self._close(conn, params, "decided", "decided", check):
            row = self._sql.decision.first(conn, params)
        else:
            row = None
        return None if row is None else (row[0], row[1])

    def _closed_as(self, claim: Claim, outcome: str) -> bool:
        """Whether `claim` was already closed with `outcome`: so that resending a skip or
        release whose answer was lost is not reported as a lost hold."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(claims.c.outcome).where(
                    claims.c.id == claim.claim_id, claims.c.user_id == claim.user_id
                )
            ).scalar()
        return found == outcome

    def _lease_lost(self, claim: Claim, exposure: Exposure, attempted: str) -> LeaseLost:
        # Record what was seen even though the grading cannot be stored: a reveal is
        # evidence, and exposure counts against the moderator whatever happened next.
        with self._tx() as conn:
            self._record_exposure(conn, claim, exposure)
            self._audit(
                conn,
                _Event(
                    claim.user_id,
                    "lease_lost",
                    claim.item.id,
                    {"claim_id": claim.claim_id, "attempted": attempted},
                ),
            )
        return LeaseLost(
            "Your hold on this item ran out and it went back to the queue; "
            f"the {attempted} was not stored."
        )

    @_translate_errors
    def submit_decision(
        self,
        claim: Claim,
        grading: Grading,
        exposure: Exposure,
        client_token: str,
        *,
        check: Check | None = None,
    ) -> DecisionReceipt:
        """Decision + exposure record + audit event + lease closed, in one transaction.

        Retrying with the same client_token after a dropped connection returns the
        stored decision instead of storing it twice."""
        grading.validated()
        record = grading.to_record()
        params = self._closing(claim, exposure, self._stamp())
        params.update({f"p_{c}": record[c] for c in _DECISION_COLS}, p_token=client_token)
        claim = self._as_actor(claim, check)
        params["p_user"] = claim.user_id
        with self._tx() as conn:
            stored = self._decide(conn, params, check)
            if stored is not None:
                did, decided_at = stored
                self._audit(
                    conn,
                    _Event(
                        claim.user_id,
                        "decision",
                        claim.item.id,
                        {
                            "decision_id": did,
                            "claim_id": claim.claim_id,
                            "grading": record,
                            "exposure": exposure_record(exposure),
                        },
                    ),
                    at=decided_at,
                )
                return DecisionReceipt(did, claim.item.id, decided_at)
            prior = self._sql.prior.first(conn, params)
            if prior is not None:
                return DecisionReceipt(*prior)
            conn.rollback()
        raise self._lease_lost(claim, exposure, "decision")

    @_translate_errors
    def skip(
        self,
        claim: Claim,
        reason: SkipReason,
        note: str,
        exposure: Exposure,
        *,
        check: Check | None = None,
    ) -> None:
        """Put the item back for someone else; this moderator's claims pass it by."""
        stamp = self._stamp()
        claim = self._as_actor(claim, check)
        with self._tx() as conn:
            params = self._closing(claim, exposure, stamp)
            if self._close(conn, params, "pending", "skipped", check):
                self._sql.skip.run(
                    conn,
                    {
                        "p_item": claim.item.id,
                        "p_user": claim.user_id,
                        "p_reason": reason.value,
                        "p_note": note,
                        **stamp,
                    },
                )
                self._audit(
                    conn,
                    _Event(
                        claim.user_id,
                        "skip",
                        claim.item.id,
                        {
                            "claim_id": claim.claim_id,
                            "reason": reason.value,
                            "note": note,
                            "exposure": exposure_record(exposure),
                        },
                    ),
                )
                return
            conn.rollback()
        if self._closed_as(claim, "skipped"):
            return  # a retry after OutcomeUnknown: the first attempt did go through
        raise self._lease_lost(claim, exposure, "skip")

    @_translate_errors
    def release(
        self,
        claim: Claim,
        exposure: Exposure,
        why: str = "released",
        *,
        check: Check | None = None,
    ) -> None:
        """Hand the item back untouched (moving on, quitting, a break, an idle lock)."""
        claim = self._as_actor(claim, check)
        with self._tx() as conn:
            params = self._closing(claim, exposure, self._stamp())
            if self._close(conn, params, "pending", "released", check):
                self._audit(
                    conn,
                    _Event(
                        claim.user_id,
                        "release",
                        claim.item.id,
                        {
                            "claim_id": claim.claim_id,
                            "why": why,
                            "exposure": exposure_record(exposure),
                        },
                    ),
                )
                return
            conn.rollback()
        if self._closed_as(claim, "released"):
            return  # a retry after OutcomeUnknown: the first attempt did go through
        raise self._lease_lost(claim, exposure, "release")


def exposure_record(e: Exposure) -> dict[str, Any]:
    """The exposure as an audit event carries it: every field of the ledger row."""
    return {
        "seconds_revealed": e.seconds_revealed,
        "reveal_count": e.reveal_count,
        "max_area_fraction": e.max_area_fraction,
        "full_unprotected": e.full_unprotected,
        "area_seconds": e.area_seconds,
        "min_blur_step": e.min_blur_step,
        "colour_shown": e.colour_shown,
        "least_mode": e.least_mode,
        "stylised_seconds": e.stylised_seconds,
    }


def _hint_value(new: NewItem) -> str | None:
    return None if new.suspected_category is None else new.suspected_category.value


def _ingested(item_id: int, new: NewItem) -> _Event:
    detail = {"sha256": new.media_sha256, "source": new.source.value, "queue": new.queue}
    return _Event(None, "item_ingested", item_id, detail)


def _lookup(
    conn: Connection, key: ColumnElement[str], value: ColumnElement[int], keys: Iterable[str]
) -> dict[str, int]:
    """{key: value} for the given keys that exist, in chunks SQLite's parameter limit allows."""
    wanted = list(keys)
    out: dict[str, int] = {}
    for i in range(0, len(wanted), _CHUNK):
        rows = conn.execute(select(key, value).where(key.in_(wanted[i : i + _CHUNK])))
        out.update((k, v) for k, v in rows)
    return out
