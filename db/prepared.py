"""Statements compiled once and run on the driver's own cursor: the queue's hot path.

SQLAlchemy Core costs about 90 µs of Python per statement on top of the driver (cache
key, parameter processing, result set-up, events), and a claim plus a decision is a
dozen statements: on SQLite that overhead was six times the database's own work
(docs/BENCHMARKS.md, "Claims under load"). A `Prepared` is the same Core statement,
compiled for the engine's dialect once; running it binds the parameters with the
statement's own type processors, executes on the DBAPI connection inside the caller's
SQLAlchemy transaction, and converts the returned columns with their types' result
processors, so callers get what `Connection.execute` would have given them.

Driver errors are raised as SQLAlchemy's DBAPIError, and a lost connection is
invalidated, exactly as `Connection.execute` does, so Store's handling of a dropped
server is the same on either path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from psycopg import IsolationLevel, pq
from psycopg.types.numeric import Int2, Int4, Int8
from sqlalchemy import BigInteger, Connection, Float, Integer, Select, SmallInteger
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import TypeEngine

from db.models import UTCDateTime

Processor = Callable[[Any], Any] | None
_REQUIRED = object()  # a bind with no default that the caller must give

# SQLite's text form of a datetime (sqlalchemy.dialects.sqlite.DATETIME's default
# storage format), which UTCDateTime stores naive in UTC.
_SQLITE_DATETIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


def utc_text(value: datetime, template: str) -> str:
    """`template` filled with an aware `value`'s year, month, day, hour, minute, second
    and microsecond in UTC, in one step (no conversion when it already is in UTC)."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return template % (
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )


def _utc_to_sqlite_text(value: datetime | None) -> str | None:
    """UTCDateTime's bind processor on SQLite, in one call: what its generic processor
    chain (UTCDateTime.process_bind_param, then DATETIME's formatting) returns
    (tests/db/test_prepared.py)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database; use UTC-aware times")
    return utc_text(value, _SQLITE_DATETIME)


def _sqlite_text_to_utc(value: str | None) -> datetime | None:
    """UTCDateTime's result processor on SQLite, in one call (the generic chain is
    datetime.fromisoformat, then UTCDateTime.process_result_value)."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# psycopg sends a Python int as the smallest of int2, int4 and int8 that holds it, and
# keys its prepared statements by the parameters' types as well as the text: the same
# statement with an item id of 32,767 and one of 32,768 is two server-side statements,
# each parsed and planned on first use. Under row-level security planning the decision
# costs milliseconds, and every workstation crossed such a boundary at about the same
# time (the queue hands out items in the same order), so the claims of all of them
# stalled together. An integer column's value goes as its column's type instead, and a
# float column's as a float even when it is a whole number (an int would go as int2).
# A value outside its type's range goes unwrapped: psycopg's binary dumpers of these
# types keep only the low bytes (Int4(2**32) would be sent as 0 and match row 0), while
# a plain int goes as a wider type that the statement's cast then refuses, as before.
_PG_INTS: tuple[tuple[type[TypeEngine[Any]], type[int], int], ...] = (
    (BigInteger, Int8, 63),
    (SmallInteger, Int2, 15),
    (Integer, Int4, 31),
)


def _pg_int(wrap: type[int], bits: int, inner: Processor) -> Callable[[Any], Any]:
    low, high = -(2**bits), 2**bits - 1

    def bind(value: Any) -> Any:
        if inner is not None:
            value = inner(value)
        if value is None or not low <= value <= high:
            return value
        return wrap(value)

    return bind


def _pg_float(inner: Processor) -> Callable[[Any], Any]:
    def bind(value: Any) -> Any:
        if inner is not None:
            value = inner(value)
        return float(value) if type(value) is int else value

    return bind


def bind_processor(type_: TypeEngine[Any], dialect: Dialect) -> Processor:
    """The function that turns a Python value into what the driver takes for a column
    of `type_`: the type's own (SQLAlchemy's generic chain), or an equivalent one-call
    converter for the hot path's types where one is known to give the same value. On
    PostgreSQL an integer goes as its column's type, whatever its size, and a float as a
    float (_PG_INTS)."""
    if isinstance(type_, UTCDateTime) and dialect.name == "sqlite":
        return _utc_to_sqlite_text
    proc = type_.dialect_impl(dialect).bind_processor(dialect)
    if dialect.name == "postgresql":
        for sql_type, wrap, bits in _PG_INTS:
            if isinstance(type_, sql_type):
                return _pg_int(wrap, bits, proc)
        if isinstance(type_, Float):
            return _pg_float(proc)
    return proc


def result_processor(type_: TypeEngine[Any], dialect: Dialect) -> Processor:
    """As `bind_processor`, for values coming back from the driver."""
    if isinstance(type_, UTCDateTime) and dialect.name == "sqlite":
        return _sqlite_text_to_utc
    return type_.dialect_impl(dialect).result_processor(dialect, None)


class Prepared:
    """One Core statement compiled for one dialect (see the module docstring).

    Not for statements with expanding (IN-list) parameters: those are rendered per
    call, so there is nothing to compile once."""

    def __init__(self, stmt: Select[Any] | UpdateBase, dialect: Dialect) -> None:
        compiled = stmt.compile(dialect=dialect)
        if any(bp.expanding for bp in compiled.bind_names):
            raise ValueError("expanding parameters are rendered per call; use Connection")
        self.sql = str(compiled)
        # Bind names as rendered, each with its default (a literal value in the statement)
        # and type processor, in the order the driver takes them: `positiontup` for
        # positional drivers (sqlite3), the compiled order for named ones (psycopg).
        binds = {name: bp for bp, name in compiled.bind_names.items()}
        self._positional = compiled.positiontup is not None
        order = compiled.positiontup if compiled.positiontup is not None else list(binds)
        # Most binds of a hot statement are its literals (a claim's has dozens): each
        # is processed here, once, into `_template`; a call copies the template and
        # processes only the values it was given. A name may fill several places
        # (positional drivers repeat it).
        self._names: tuple[str, ...] = tuple(order)
        self._template: list[Any] = []
        slots: dict[str, tuple[tuple[int, ...], Processor]] = {}
        # Defaults taken per call, as before: a callable's, or one its processor refuses
        # (which then fails only if the statement is run without a value for it).
        self._late: dict[str, BindParameter[Any]] = {}
        required = []
        for i, name in enumerate(order):
            bp = binds[name]
            proc = bind_processor(bp.type, dialect)
            slots[name] = ((*slots.get(name, ((), None))[0], i), proc)
            value = None
            if bp.required:
                required.append(name)
            elif bp.callable is not None:
                self._late[name] = bp
            else:
                try:
                    value = bp.effective_value if proc is None else proc(bp.effective_value)
                except Exception:
                    self._late[name] = bp
            self._template.append(value)
        self._required = frozenset(required)
        # Names bound in one place, and those a positional driver takes more than once.
        self._single = [(n, p[0], f) for n, (p, f) in slots.items() if len(p) == 1]
        self._multi = [(n, pf) for n, pf in slots.items() if len(pf[0]) > 1]
        described = (
            stmt.column_descriptions
            if isinstance(stmt, Select)
            else stmt.returning_column_descriptions
        )
        self.keys: tuple[str, ...] = tuple(d["name"] for d in described)
        procs = [result_processor(d["type"], dialect) for d in described]
        self._results: list[tuple[int, Callable[[Any], Any]]] = [
            (i, p) for i, p in enumerate(procs) if p is not None
        ]

    def _params(self, params: Mapping[str, Any]) -> list[Any] | dict[str, Any]:
        if not self._required.issubset(params):
            name = next(n for n in self._names if n in self._required and n not in params)
            raise KeyError(f"statement needs parameter {name!r}")
        values = self._template.copy()
        if self._late:
            params = {**{n: bp.effective_value for n, bp in self._late.items()}, **params}
        get = params.get
        for name, i, proc in self._single:
            value = get(name, _REQUIRED)
            if value is not _REQUIRED:  # else the template holds its default, processed
                values[i] = value if proc is None else proc(value)
        for name, (places, proc) in self._multi:
            value = get(name, _REQUIRED)
            if value is not _REQUIRED:
                if proc is not None:
                    value = proc(value)
                for i in places:
                    values[i] = value
        if self._positional:
            return values
        return dict(zip(self._names, values, strict=True))

    def bind(self, params: Mapping[str, Any]) -> list[Any] | dict[str, Any]:
        """`params` as the driver takes them for this statement."""
        return self._params(params)

    def processed(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Rows as the driver returned them, converted by the columns' result processors."""
        if not (self._results and rows):
            return rows
        out = []
        for row in rows:
            values = list(row)
            for i, proc in self._results:
                values[i] = proc(values[i])
            out.append(tuple(values))
        return out

    def run(self, conn: Connection, params: Mapping[str, Any]) -> tuple[list[tuple[Any, ...]], int]:
        """Execute in `conn`'s transaction; returns (processed rows, rowcount)."""
        rows, count = execute_driver_sql(conn, self.sql, self._params(params), prepare=True)
        return self.processed(rows), count

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        rows = self.run(conn, params)[0]
        return rows[0] if rows else None

    def mapping(self, row: tuple[Any, ...]) -> dict[str, Any]:
        return dict(zip(self.keys, row, strict=True))


# PostgreSQL: the BEGIN a transaction has yet to send, in its connection's info.
#
# psycopg begins a transaction with a round trip of its own before the first statement
# (and in a pipeline it waits for BEGIN's answer before sending the rest), so a claim
# or a decision spent one of its four round trips on BEGIN alone: under load every
# round trip is a wake-up of the workstation and of its server process. The engine's
# connections run in psycopg's autocommit mode instead; the engine's begin event
# leaves the command here (defer_begin) and the transaction's first statement sends
# it: in the same pipeline for the statements run here, just before itself for
# SQLAlchemy's (db.engine). Measured in docs/BENCHMARKS.md, "Session 16".
PENDING_BEGIN = "reviewer_pending_begin"
_IDLE = pq.TransactionStatus.IDLE


def begin_command(raw: Any) -> bytes:
    """The BEGIN psycopg would send for `raw` (a psycopg connection), with the isolation
    level and access mode set on it (SQLAlchemy sets them from execution options)."""
    parts = [b"BEGIN"]
    if raw.isolation_level is not None:
        level = IsolationLevel(raw.isolation_level).name.replace("_", " ")
        parts += [b"ISOLATION LEVEL", level.encode()]
    if raw.read_only is not None:
        parts.append(b"READ ONLY" if raw.read_only else b"READ WRITE")
    if raw.deferrable is not None:
        parts.append(b"DEFERRABLE" if raw.deferrable else b"NOT DEFERRABLE")
    return b" ".join(parts)


def defer_begin(conn: Connection) -> None:
    """At the start of `conn`'s transaction (PostgreSQL): leave its BEGIN for the first
    statement to send. A connection in SQLAlchemy's AUTOCOMMIT isolation has none, and
    one already in a transaction on the server keeps it."""
    if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return
    raw: Any = conn.connection.driver_connection
    if raw.pgconn.transaction_status != _IDLE:
        return
    command = begin_command(raw)
    if not raw.autocommit:
        # psycopg then never begins on its own; COMMIT and ROLLBACK still end the
        # transaction this module begins (psycopg sends them whenever one is open).
        raw.autocommit = True
    conn.info[PENDING_BEGIN] = command


def take_begin(conn: Connection) -> bytes | None:
    """The BEGIN `conn`'s transaction has yet to send, now the caller's to send."""
    begin: bytes | None = conn.info.pop(PENDING_BEGIN, None)
    return begin


# PostgreSQL: what a transaction holds back to send with its COMMIT (the audit event
# db.audit.ChainWriter writes last), in its connection's info as a function that sends
# it now. Any statement run on the connection first calls it (before_next), so nothing
# the transaction reads or writes later can miss or overtake it.
BEFORE_NEXT = "reviewer_before_next"


def before_next(conn: Connection) -> None:
    """Send what `conn`'s transaction held back for its COMMIT, because another
    statement comes first."""
    send = conn.info.pop(BEFORE_NEXT, None)
    if send is not None:
        send(conn)


def commit_with(conn: Connection, steps: Sequence[Step]) -> None:
    """Run `steps` and COMMIT `conn`'s transaction in one round trip (PostgreSQL), BEGIN
    first if nothing was sent yet. An error in a step leaves the transaction aborted
    and uncommitted, for the caller to roll back; SQLAlchemy's own commit afterwards
    finds nothing left to send. Errors come out as Connection.execute raises them."""
    raw: Any = conn.connection.driver_connection
    try:
        _pipeline(raw, take_begin(conn), steps, [], commit=True)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _driver_error(conn, raw, exc, steps, "COMMIT") from exc


def _pipeline(
    raw: Any, begin: bytes | None, steps: Sequence[Step], cursors: list[Any], commit: bool
) -> None:
    """Send `begin` (if any), `steps` and, with `commit`, COMMIT in one pipeline of the
    psycopg connection `raw`, each step on a cursor appended to `cursors`. The driver
    raises the first error when the pipeline ends; the steps before it have results."""
    with raw.pipeline():
        if begin is not None:
            raw.execute(begin, prepare=False)
        for stmt, params in steps:
            cur = raw.cursor()
            cursors.append(cur)
            cur.execute(stmt.sql, stmt.bind(params), prepare=True)
        if commit:
            raw.execute(b"COMMIT", prepare=False)


def _driver_error(
    conn: Connection, raw: Any, exc: Any, steps: Sequence[Step], *more: str
) -> DBAPIError:
    """The driver's error `exc` from a pipeline of `steps`, as Connection.execute raises
    it; a lost connection is invalidated."""
    dialect = conn.dialect
    gone = dialect.is_disconnect(exc, raw, None)
    if gone:
        conn.invalidate(exc)
    sql = "; ".join([*(stmt.sql for stmt, _p in steps), *more])
    error: DBAPIError = DBAPIError.instance(
        sql, None, exc, dialect.loaded_dbapi.Error, connection_invalidated=gone, dialect=dialect
    )
    return error


def execute_driver_sql(
    conn: Connection,
    sql: str,
    params: Sequence[Any] | Mapping[str, Any] = (),
    *,
    prepare: bool = False,
) -> tuple[list[tuple[Any, ...]], int]:
    """Run `sql` on `conn`'s DBAPI connection; returns (rows as the driver gave them,
    rowcount). Driver errors come out as Connection.execute raises them.

    `prepare` (PostgreSQL): a server-side prepared statement from the first execution,
    where psycopg by default parses and plans a statement afresh until its fifth, and
    again after anything empties its cache (every ROLLBACK does). Under row-level
    security planning a claim statement costs more than running it (docs/BENCHMARKS.md,
    session 8): a workstation's first claims were planned throughout."""
    dialect = conn.dialect
    dbapi_error = dialect.loaded_dbapi.Error
    # The driver's own connection and cursor: untyped in SQLAlchemy's stubs.
    raw: Any = conn.connection.driver_connection
    cur = raw.cursor()
    try:
        if dialect.name == "postgresql":
            before_next(conn)
            begin = take_begin(conn)
            if begin is None:
                cur.execute(sql, params, prepare=prepare or None)
            else:
                with raw.pipeline():
                    raw.execute(begin, prepare=False)
                    cur.execute(sql, params, prepare=prepare or None)
            return _pg_rows(cur), cur.rowcount
        cur.execute(sql, params)
        rows = [tuple(r) for r in cur.fetchall()] if cur.description is not None else []
        return rows, cur.rowcount
    except dbapi_error as exc:
        gone = dialect.is_disconnect(exc, raw, cur)
        if gone:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            sql, params, exc, dbapi_error, connection_invalidated=gone, dialect=dialect
        ) from exc
    finally:
        cur.close()


def _pg_rows(cur: Any) -> list[tuple[Any, ...]]:
    """The rows a psycopg cursor's statement returned; [] for one that returns none.
    Told by the result's status: psycopg's cursor.description builds a Column object
    per column on every call, and asking it of every statement was a fifth of a
    claim's client CPU (the claim returns two dozen columns)."""
    result = cur.pgresult
    if result is None or result.status != pq.ExecStatus.TUPLES_OK:
        return []
    return [tuple(r) for r in cur.fetchall()]


Step = tuple[Prepared, Mapping[str, Any]]
Result = tuple[list[tuple[Any, ...]], int]


def run_steps(conn: Connection, steps: Sequence[Step]) -> tuple[list[Result], DBAPIError | None]:
    """Run `steps` in order in `conn`'s transaction: on PostgreSQL in one pipeline (one
    round trip, BEGIN included when the transaction starts here), on SQLite one after
    another. Returns the results of the steps that ran, in order, and the error that
    stopped the rest (None if all ran); the caller decides which error wins (the gate's
    refusal is read by the first steps and outranks a later statement's failure)."""
    if conn.dialect.name != "postgresql":
        done: list[Result] = []
        for stmt, params in steps:
            try:
                done.append(stmt.run(conn, params))
            except DBAPIError as exc:
                return done, exc
        return done, None
    before_next(conn)
    dbapi_error = conn.dialect.loaded_dbapi.Error
    raw: Any = conn.connection.driver_connection
    cursors: list[Any] = []
    failure: Any = None  # the driver's error (its class is the dialect's dbapi.Error)
    try:
        _pipeline(raw, take_begin(conn), steps, cursors, commit=False)
    except dbapi_error as exc:
        failure = exc
    results: list[Result] = []
    for (stmt, _params), cur in zip(steps, cursors, strict=False):
        try:
            rows = _pg_rows(cur)
        except dbapi_error as exc:
            failure = failure or exc
            break
        results.append((stmt.processed(rows), cur.rowcount))
        cur.close()
    if failure is None:
        return results, None
    return results, _driver_error(conn, raw, failure, steps)
