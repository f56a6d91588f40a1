"""SQLite writers wait for each other's write lock in short naps (db.engine)."""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from db import engine as db_engine
from db.engine import WRITE, make_engine


def _engine(path: Path) -> Engine:
    e = make_engine(f"sqlite:///{path}")
    with e.begin() as conn:
        conn.execute(text("create table if not exists t (x int)"))
    return e


def _hold_write_lock(path: Path, seconds: float, held: threading.Event) -> None:
    other = _engine(path)
    with other.execution_options(**{WRITE: True}).begin() as conn:
        conn.execute(text("insert into t values (1)"))
        held.set()
        time.sleep(seconds)
    other.dispose()


def test_a_writer_gets_the_lock_soon_after_another_lets_go(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    mine = _engine(path)
    held = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, 0.3, held))
    holder.start()
    assert held.wait(10)
    t0 = time.monotonic()
    with mine.execution_options(**{WRITE: True}).begin() as conn:
        waited = time.monotonic() - t0
        conn.execute(text("insert into t values (2)"))
    holder.join()
    assert waited >= 0.2  # it did wait for the other writer
    with mine.connect() as conn:
        assert conn.execute(text("select count(*) from t")).scalar_one() == 2
        # SQLite's own busy handler is back on for everything else.
        busy_ms = conn.execute(text("pragma busy_timeout")).scalar_one()
    assert busy_ms == db_engine.SQLITE_BUSY_TIMEOUT_MS
    mine.dispose()


def test_a_writer_gives_up_after_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "lock.db"
    mine = _engine(path)
    monkeypatch.setattr(db_engine, "SQLITE_BUSY_TIMEOUT_MS", 200)
    held = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, 1.5, held))
    holder.start()
    assert held.wait(10)
    with (
        pytest.raises(OperationalError, match="locked"),
        mine.execution_options(**{WRITE: True}).begin(),
    ):
        pass
    holder.join()
    with mine.execution_options(**{WRITE: True}).begin() as conn:
        conn.execute(text("insert into t values (3)"))
    with mine.connect() as conn:
        assert conn.execute(text("pragma busy_timeout")).scalar_one() == 200
    mine.dispose()


def test_a_writers_connection_waits_again_once_back_in_the_pool(tmp_path: Path) -> None:
    """A writer turns SQLite's busy handler off for as long as it has the connection
    (its own naps wait instead); whoever gets the connection next waits as SQLite does,
    and a reader never finds the handler off."""
    mine = _engine(tmp_path / "pool.db")
    writer = mine.execution_options(**{WRITE: True})
    with writer.connect() as conn:
        raw = conn.connection.dbapi_connection
        for n in range(3):  # one checkout, several transactions
            with conn.begin():
                conn.execute(text("insert into t values (:n)"), {"n": n})
                assert conn.execute(text("pragma busy_timeout")).scalar_one() == 0
    with mine.connect() as conn:
        assert conn.connection.dbapi_connection is raw  # the pool's one connection
        assert conn.execute(text("pragma busy_timeout")).scalar_one() == (
            db_engine.SQLITE_BUSY_TIMEOUT_MS
        )
        assert conn.execute(text("select count(*) from t")).scalar_one() == 3
    mine.dispose()


def _write_back_to_back(path: str, seconds: float) -> None:
    """A process writing one small transaction after another, as a busy workstation."""
    e = make_engine(f"sqlite:///{path}")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with e.execution_options(**{WRITE: True}).begin() as conn:
            conn.execute(text("insert into t values (randomblob(3000))"))
    e.dispose()


def test_two_processes_writing_without_a_pause_keep_the_log_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With two writers back to back the log never starts over by itself (each always
    reads from it while the other commits): SQLite's own checkpoints then let it grow
    by the whole write rate. The engine's empty it once it is past its limit."""
    monkeypatch.setattr(db_engine, "CHECKPOINT_EVERY_S", 0.05)
    monkeypatch.setattr(db_engine, "WAL_RESTART_FRAMES", 200)
    path = tmp_path / "two.db"
    _engine(path).dispose()
    wal = Path(f"{path}-wal")
    ctx = multiprocessing.get_context("fork")  # the limits above go with the fork
    writers = [ctx.Process(target=_write_back_to_back, args=(str(path), 3.0)) for _ in range(2)]
    for w in writers:
        w.start()
    sizes = []
    while any(w.is_alive() for w in writers):
        with contextlib.suppress(OSError):
            sizes.append(wal.stat().st_size)
        time.sleep(0.005)
    for w in writers:
        w.join()
        assert w.exitcode == 0
    # Emptied while both were writing: the file shrank (only a truncating checkpoint
    # shrinks it), and it never grew far past the limit.
    assert any(b < a for a, b in itertools.pairwise(sizes)), max(sizes)
    assert max(sizes) < 16 * 1024 * 1024, max(sizes)
