"""Engines for the embedded SQLite default and a shared PostgreSQL server."""

from __future__ import annotations

import contextlib
import json
import random
import select
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DisconnectionError

from db.prepared import (
    BEFORE_NEXT,
    PENDING_BEGIN,
    before_next,
    deallocates,
    defer_begin,
    execute_driver_sql,
    forget_prepared,
    take_begin,
)
from reviewer.private_files import private_file, tighten_if_present

# Execution option marking connections that will write: on SQLite they take the write
# lock at BEGIN, so two processes never deadlock upgrading a read lock (SQLITE_BUSY).
WRITE = "reviewer_write"

# How long a SQLite writer waits for another's write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Set in a pooled connection's info while SQLite's busy handler is off on it (a writer
# has it checked out); the pool's checkin turns the handler back on.
_BUSY_HANDLER_OFF = "reviewer_busy_handler_off"

# A pooled PostgreSQL connection idle this long is pinged before reuse (see below).
IDLE_PING_S = 10.0

# SQLite's write-ahead log is checkpointed by this process at most this often ...
CHECKPOINT_EVERY_S = 0.5
# ... and emptied once it holds more frames (pages) than this: 64 MB of 4 KB pages
# (see _checkpoint).
WAL_RESTART_FRAMES = 16_384


# Settings of every application connection to PostgreSQL (libpq `options`).
# No JIT: a workstation runs short statements, and under a login role's row-level
# security the planner's cost estimates pass jit_above_cost, so one sign-in's welfare
# query spent about 4 s compiling itself (and every later run as long again).
# Generic plans from a prepared statement's first execution: PostgreSQL otherwise plans
# a prepared statement afresh on each of its first five runs, and planning a statement
# under the policies' sub-selects costs a login role about 1 ms; a claim's statements
# run a few times per connection, so the custom plans were most of the claim's server
# CPU. Measured in docs/BENCHMARKS.md, "Session 9 (speed2)" (bench_claims, and
# tests/bench/bench_plan_cache.py for the lead's, QA's and queue reads).
PG_OPTIONS = "-c jit=off -c plan_cache_mode=force_generic_plan"


def strict_json(value: Any) -> str:
    """JSON columns hold strict JSON: NaN and Infinity are refused (ValueError) rather
    than stored, since the databases' JSON functions reject a document holding them and
    one such row would break every query that reads the column."""
    return json.dumps(value, allow_nan=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Build an engine for `url`. Call only once the database location is known."""
    kwargs.setdefault("json_serializer", strict_json)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _private_sqlite_files(parsed.database)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            **kwargs,
        )
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("connect_args", {"options": PG_OPTIONS})
    engine = create_engine(url, **kwargs)
    _begin_with_first_statement(engine)
    if not kwargs.get("pool_pre_ping"):
        _ping_after_idle(engine)
    return engine


def _begin_with_first_statement(engine: Engine) -> None:
    """Each PostgreSQL transaction sends its BEGIN with its first statement rather than
    in a round trip of its own (db.prepared.defer_begin): in the same pipeline for
    db.prepared's statements, right before the statement for SQLAlchemy's. A
    transaction that runs no statement sends nothing."""

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        defer_begin(conn)

    @event.listens_for(engine, "before_cursor_execute")
    def _before_execute(
        conn: Connection, _cursor: Any, statement: str, _params: Any, _ctx: Any, _many: bool
    ) -> None:
        before_next(conn)
        if deallocates(statement):
            forget_prepared(conn.connection.driver_connection)
        begin = take_begin(conn)
        if begin is not None:
            # On the connection, not on `_cursor`: that may be a server-side cursor
            # (stream_results), which would declare itself over the BEGIN.
            raw: Any = conn.connection.driver_connection
            raw.execute(begin, prepare=False)

    @event.listens_for(engine, "commit")
    def _on_commit(conn: Connection) -> None:
        # A transaction committed by anyone but UnitOfWork.write (which sends what was
        # held back with its COMMIT) sends it now, before COMMIT: nothing is dropped.
        before_next(conn)
        conn.info.pop(PENDING_BEGIN, None)

    @event.listens_for(engine, "rollback")
    def _on_rollback(conn: Connection) -> None:
        if conn.invalidated:
            # Its DBAPI connection is gone with all it held (the pool's checkin clears
            # the record); asking for it here would fail the rollback itself.
            return
        conn.info.pop(PENDING_BEGIN, None)
        conn.info.pop(BEFORE_NEXT, None)
        forget_prepared(conn.connection.driver_connection)

    @event.listens_for(engine, "reset")
    def _on_reset(dbapi_conn: Any, _record: Any, _state: Any) -> None:
        forget_prepared(dbapi_conn)  # the pool rolls back a connection it takes back

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info.pop(PENDING_BEGIN, None)
        record.info.pop(BEFORE_NEXT, None)


def _private_sqlite_files(database: str | None) -> None:
    """The database file owner-only before SQLite opens it: SQLite creates its -wal and
    -shm files with the database file's mode, and those left wider by an older version
    are tightened too. (The folder is the caller's: the data folder is made private by
    reviewer.config; a path given with --db is left as the user keeps it.)"""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return  # SQLite's own error says it better
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        tighten_if_present(path.with_name(path.name + suffix))


def _ping_after_idle(engine: Engine) -> None:
    """pool_pre_ping, but only for connections that sat idle or have heard from the
    server while idle.

    pool_pre_ping costs a round trip on every checkout: a fifth of a claim under load.
    A connection that drops while in use already surfaces as a disconnect error, which
    makes SQLAlchemy invalidate the whole pool and Store raise StoreUnavailable, so the
    next call reconnects. What a ping still buys is a stale connection found before use,
    and those go stale while idle. Two kinds: a server restart or a cut line closes the
    socket (or the server sends its "terminating connection" notice first), which
    makes an idle connection's socket readable: a poll with no wait, about a
    microsecond, finds those on every checkout, so the first call after an outage does
    not fail on a pooled connection. A NAT or firewall timeout drops a connection
    silently, so one idle for IDLE_PING_S is pinged as well.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None:
            return  # a fresh connection
        error = idle_connection_error(engine.dialect, dbapi_conn, idle_since)
        if error is not None:
            # The pool discards this connection and checks out a fresh one.
            raise DisconnectionError(f"stale pooled connection: {error}") from error


def idle_connection_error(dialect: Dialect, dbapi_conn: Any, idle_since: float) -> Exception | None:
    """Why a PostgreSQL connection idle since `idle_since` (time.monotonic) can no longer
    be used, or None: the check the pool makes on checkout (_ping_after_idle), also
    made by whoever keeps a connection between transactions (db.unit_of_work)."""
    if time.monotonic() - idle_since < IDLE_PING_S and not _readable(dbapi_conn):
        return None
    try:
        dialect.do_ping(dbapi_conn)
    except dialect.loaded_dbapi.Error as exc:
        return exc
    return None


def _readable(dbapi_conn: Any) -> bool:
    """Whether an idle connection's socket has something to read (the server closed it
    or said why it will), without waiting."""
    try:
        ready, _w, _x = select.select([dbapi_conn.fileno()], [], [], 0)
    except Exception:  # also the driver's own error for a socket it lost
        return True  # no usable socket: let the ping say what is wrong
    return bool(ready)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event issue BEGIN itself (pysqlite's own is deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # Checkpoints are this module's (_checkpoint), not every commit's.
        cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_conn: Any, record: Any) -> None:
        # A writer turned SQLite's busy handler off (_begin_immediate): on again before
        # anyone else gets the connection. A connection being discarded has none.
        if dbapi_conn is not None and record.info.pop(_BUSY_HANDLER_OFF, False):
            try:
                dbapi_conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            except sqlite3.Error as exc:
                record.invalidate(exc)  # never hand out a connection that would not wait

    # When this engine last checkpointed, and whether the log was left too long (then
    # every transaction tries again until it is emptied).
    checkpointed, too_long = [0.0], [False]

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        now = time.monotonic()
        if too_long[0] or now - checkpointed[0] >= CHECKPOINT_EVERY_S:
            checkpointed[0] = now
            too_long[0] = _checkpoint(conn, empty=too_long[0])
        # On the driver's cursor: every claim and decision begins here (db.prepared).
        if conn.get_execution_options().get(WRITE, False):
            _begin_immediate(conn)
        else:
            execute_driver_sql(conn, "BEGIN")


def _checkpoint(conn: Connection, empty: bool) -> bool:
    """Checkpoint the write-ahead log before a transaction begins (so never inside
    one): a passive checkpoint, and when the log holds more than WAL_RESTART_FRAMES
    (or `empty`: it did last time), one that empties it. Returns whether the log is
    still too long. The engine does this at most every CHECKPOINT_EVERY_S, and before
    every transaction while the log is too long.

    SQLite's own (wal_autocheckpoint, off on these connections) runs in the committing
    connection whenever the log holds over 1,000 pages. A writer starts the log over
    only when every frame has been checkpointed and no one reads from it; with two
    processes writing back to back the other one always is, so the log never started
    over: it grew by the whole write rate (122 MB in 5 s of bench_claims with two
    processes), and every commit past its first 4 MB paid a checkpoint with its fsyncs
    (commits 5x slower). The emptying checkpoint needs a moment with no writer and no
    reader: it does not wait for one (SQLite's busy handler naps for so long that a
    writer busy back to back starved it for seconds), it is tried again next time."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)  # only SQLite engines come here
    # A checkpoint that fails leaves the log as it was: a later one tries again.
    with contextlib.suppress(sqlite3.Error):
        if not empty:
            # (busy, frames in the log, frames checkpointed); busy: another process is
            # checkpointing (frames -1), which leaves the emptying to it.
            _busy, frames, _done = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if frames <= WAL_RESTART_FRAMES:
                return False
        handler_on = not conn.connection.info.get(_BUSY_HANDLER_OFF)  # a writer's is off
        if handler_on:
            raw.execute("PRAGMA busy_timeout=0")
        try:
            busy, _frames, _done = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            if handler_on:
                raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        return bool(busy)
    return False  # it failed: tried again after CHECKPOINT_EVERY_S


def _begin_immediate(conn: Connection) -> None:
    """BEGIN IMMEDIATE, waiting for another process's write lock in short naps.

    SQLite's own busy handler sleeps 1, 2, 5, 10 … 100 ms between tries, so a writer
    waiting behind another process's sub-millisecond transactions mostly sleeps through
    the moments the lock is free and can lose to it for over a second (bench_claims:
    claim_next max 1.4 s with two processes). Here the handler is off and the tries
    come 0.1 to 2 ms apart, up to the same overall timeout.

    The handler stays off while a writer has the connection checked out, and the pool's
    checkin turns it back on (_configure_sqlite), rather than two PRAGMAs around every
    BEGIN: a claim and its decision sent four, under the write lock half of them. A
    writer's statements never wait for a lock after BEGIN IMMEDIATE (it holds the write
    lock, and in WAL mode reads never wait); its checkpoints run without the handler
    anyway (_checkpoint)."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)  # only SQLite engines come here
    info = conn.connection.info
    if not info.get(_BUSY_HANDLER_OFF):
        raw.execute("PRAGMA busy_timeout=0")
        info[_BUSY_HANDLER_OFF] = True
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    nap = 1e-4
    while time.monotonic() < deadline:
        try:
            raw.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                break
        time.sleep(nap * random.uniform(0.5, 1.5))
        nap = min(nap * 2, 2e-3)
    # Out of time, or not a busy lock: once more, failing as Connection.execute would.
    execute_driver_sql(conn, "BEGIN IMMEDIATE")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
