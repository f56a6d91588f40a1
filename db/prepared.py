"""Statements compiled once and run on the driver's own cursor: the queue's hot path.

SQLAlchemy Core costs about 90 µs of Python per statement on top of the driver (cache
key, parameter processing, result set-up, events), and a claim plus a decision is a
dozen statements: on SQLite that overhead was six times the database's own work
(docs/BENCHMARKS.md, "Claims under load"). A `Prepared` is the same Core statement,
compiled for the engine's dialect once; running it binds the parameters with the
statement's own type processors, executes on the DBAPI connection inside the caller's
SQLAlchemy transaction, and converts the returned columns with their types' result
processors, so callers get what `Connection.execute` would have given them. On
PostgreSQL the statements go to the server through libpq's pipeline directly
(`_pipeline`), prepared there from their first run, with psycopg's own adapters.

Driver errors are raised as SQLAlchemy's DBAPIError, and a lost connection is
invalidated, exactly as `Connection.execute` does, so Store's handling of a dropped
server is the same on either path.
"""

from __future__ import annotations

import itertools
import re
import select
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from psycopg import IsolationLevel, pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.errors import InvalidSqlStatementName, error_from_result
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


# psycopg's placeholders as SQLAlchemy renders them, and a percent sign doubled.
_PYFORMAT = re.compile(r"%(?:%|\((\w+)\)s)")


def numbered(sql: str, names: Sequence[str]) -> tuple[bytes, tuple[int, ...]]:
    """A statement in psycopg's `%(name)s` form in libpq's `$n` form, as psycopg itself
    converts it (a name used twice is one parameter); and for each `$n`, the index of
    its name in `names`."""
    order: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in order:
            order[name] = len(order) + 1
        return f"${order[name]}"

    text = _PYFORMAT.sub(number, sql)
    index = {name: i for i, name in enumerate(names)}
    return text.encode(), tuple(index[name] for name in order)


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
        if dialect.name == "postgresql":
            # What the lean pipeline sends (_pipeline): libpq's own form of the text, and
            # the values in its order.
            self.pg_sql, self._pg_index = numbered(self.sql, self._names)
            self.pg_formats = [PyFormat.AUTO] * len(self._pg_index)

    def pg_values(self, params: Mapping[str, Any]) -> list[Any]:
        """`params` in the order of the `$n` of `pg_sql` (PostgreSQL)."""
        values = self._values(params)
        return [values[i] for i in self._pg_index]

    def _params(self, params: Mapping[str, Any]) -> list[Any] | dict[str, Any]:
        values = self._values(params)
        if self._positional:
            return values
        return dict(zip(self._names, values, strict=True))

    def _values(self, params: Mapping[str, Any]) -> list[Any]:
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
        return values

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
        if conn.dialect.name == "postgresql":
            results, error = run_steps(conn, [(self, params)])
            if error is not None:
                raise error
            return results[0]
        rows, count = execute_driver_sql(conn, self.sql, self._params(params))
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
        _results, failure = _pipeline(raw, take_begin(conn), steps, commit=True)
    except conn.dialect.loaded_dbapi.Error as exc:
        failure = exc
    if failure is not None:
        raise _driver_error(conn, raw, failure, steps, "COMMIT") from failure


class _ServerStatements:
    """Which of _pipeline's statements one psycopg connection has prepared on its
    server."""

    __slots__ = ("generation", "ready")

    def __init__(self) -> None:
        self.ready: set[bytes] = set()
        self.generation = 0


_SERVER: weakref.WeakKeyDictionary[Any, _ServerStatements] = weakref.WeakKeyDictionary()
# A name per statement text and parameter types (as psycopg keys its own, `_pg3_<n>`).
_NAMES: dict[tuple[bytes, tuple[int, ...]], bytes] = {}
_NAME_NUMBERS = itertools.count()
# libpq 17's Close message: a statement prepared again is closed first, which is no
# error when it is already gone. Without it, a connection that forgot its statements
# prepares them again under new names.
_CAN_CLOSE = pq.version() >= 170000
_ROWS = pq.ExecStatus.TUPLES_OK
_SYNC = pq.ExecStatus.PIPELINE_SYNC
_FAILED = pq.ExecStatus.FATAL_ERROR
# The commands after which psycopg deallocates every prepared statement of the
# connection, when it has prepared any of its own (psycopg._preparing).
# Matched on the statement's text where psycopg matches the server's command tag, so
# ABORT (tagged ROLLBACK) is here too; one matched in vain only prepares again.
_DEALLOCATES = re.compile(r"\s*(?:DROP|ALTER|ROLLBACK|ABORT|DISCARD|DEALLOCATE)\b", re.IGNORECASE)


def forget_prepared(raw: Any) -> None:
    """The psycopg connection `raw` may have lost _pipeline's statements on its server:
    psycopg sends DEALLOCATE ALL after a ROLLBACK, and after a statement that drops,
    alters or discards, whenever it has prepared statements of its own. db.engine
    calls this then; each statement is prepared again on its next run."""
    state = _SERVER.get(raw)
    if state is not None and state.ready:
        state.ready.clear()
        state.generation += 1


def deallocates(sql: str) -> bool:
    """Whether psycopg may deallocate every prepared statement after running `sql`."""
    return _DEALLOCATES.match(sql) is not None


def _pipeline(
    raw: Any, begin: bytes | None, steps: Sequence[Step], commit: bool
) -> tuple[list[Result], Exception | None]:
    """Send `begin` (if any), `steps` and, with `commit`, COMMIT in one pipeline of the
    psycopg connection `raw`, straight through libpq; returns the results of the steps
    before the first error, and that error (None if there was none).

    psycopg's own pipeline costs the workstation about 290 µs of CPU for four commands,
    this about 100: a claim and a decision are four pipelines (docs/BENCHMARKS.md,
    "Session 18"). The statements are prepared on the server from their first run, as
    `prepare=True` asks of psycopg: each is parsed in the same pipeline just before it
    first runs, and counted as prepared only once the server said so. A lost connection
    raises the driver's error as psycopg would."""
    pgconn = raw.pgconn
    server = _SERVER.get(raw)
    if server is None:
        server = _SERVER[raw] = _ServerStatements()
    tx = Transformer(raw)
    # Every step's parameters first: a value the driver refuses (a missing one, a NUL
    # in text) fails here, before anything is sent.
    bound = []
    for stmt, params in steps:
        values = tx.dump_sequence(stmt.pg_values(params), stmt.pg_formats)
        types = tuple(tx.types or ())
        key = (stmt.pg_sql, types)
        name = _NAMES.get(key) or _NAMES.setdefault(key, b"reviewer_%d" % next(_NAME_NUMBERS))
        bound.append((stmt.pg_sql, name, values, types, list(tx.formats or ())))
    # What each result answers, in the order they come: None for BEGIN, COMMIT and a
    # Close, a step's index, or the name of a statement being prepared.
    expected: list[int | bytes | None] = []
    with raw.lock:
        pgconn.enter_pipeline_mode()
        try:
            if begin is not None:
                pgconn.send_query_params(begin, None)
                expected.append(None)
            for i, (sql, name, values, types, formats) in enumerate(bound):
                if not _CAN_CLOSE:
                    name += b"_%d" % server.generation
                if name not in server.ready:
                    if _CAN_CLOSE:
                        pgconn.send_close_prepared(name)
                        expected.append(None)
                    pgconn.send_prepare(name, sql, param_types=types)
                    expected.append(name)
                pgconn.send_query_prepared(name, values, param_formats=formats)
                expected.append(i)
            if commit:
                pgconn.send_query_params(b"COMMIT", None)
                expected.append(None)
            pgconn.pipeline_sync()
            answers = _exchange(pgconn)
            pgconn.exit_pipeline_mode()
        except BaseException:
            # A pipeline read halfway, or one libpq will not leave, is never used again.
            raw.close()
            raise
    results: list[Result] = []
    failure: Exception | None = None
    for what, answer in zip(expected, answers, strict=True):
        status = answer.status
        if status == _FAILED and failure is None:
            failure = error_from_result(answer, encoding=raw.info.encoding)
            if isinstance(failure, InvalidSqlStatementName):
                # Deallocated behind forget_prepared's back: prepared again next time.
                server.ready.clear()
                server.generation += 1
        if failure is not None:
            continue
        if isinstance(what, bytes):
            server.ready.add(what)
        elif what is not None:
            rows: list[tuple[Any, ...]] = []
            if status == _ROWS:
                tx.set_pgresult(answer)
                rows = tx.load_rows(0, answer.ntuples, tuple)
            count = answer.command_tuples
            results.append((steps[what][0].processed(rows), -1 if count is None else count))
    return results, failure


def _exchange(pgconn: Any) -> list[Any]:
    """Flush the pipeline `pgconn` has queued up to its sync and collect one result per
    command sent, waiting on the socket with the interpreter's lock released."""
    fileno = pgconn.socket
    poller = select.poll()
    poller.register(fileno, select.POLLIN | select.POLLOUT)
    while pgconn.flush():  # more to send: wait until it can go or the server answers
        if any(events != select.POLLOUT for _fd, events in poller.poll()):
            pgconn.consume_input()  # reads what came (an error, if the line dropped)
    poller.modify(fileno, select.POLLIN)
    answers: list[Any] = []
    while True:
        while pgconn.is_busy():
            poller.poll()
            pgconn.consume_input()
        answer = pgconn.get_result()
        if answer is None:  # the end of one command's results
            continue
        if answer.status == _SYNC:
            return answers
        answers.append(answer)


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
) -> tuple[list[tuple[Any, ...]], int]:
    """Run `sql` on `conn`'s DBAPI connection; returns (rows as the driver gave them,
    rowcount). Driver errors come out as Connection.execute raises them. (A Prepared
    statement on PostgreSQL goes through _pipeline instead.)"""
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
                cur.execute(sql, params)
            else:
                with raw.pipeline():
                    raw.execute(begin, prepare=False)
                    cur.execute(sql, params)
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
    raw: Any = conn.connection.driver_connection
    try:
        results, failure = _pipeline(raw, take_begin(conn), steps, commit=False)
    except conn.dialect.loaded_dbapi.Error as exc:
        results, failure = [], exc
    if failure is None:
        return results, None
    return results, _driver_error(conn, raw, failure, steps)
