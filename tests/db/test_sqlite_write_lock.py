"""SQLite writers wait for each other's write lock in short naps (db.engine)."""

from __future__ import annotations

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
        assert conn.execute(text("pragma busy_timeout")).scalar_one() == 200
    mine.dispose()
