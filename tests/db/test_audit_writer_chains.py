"""Every writer (Store) appends to an audit chain of its own, opened in the
root chain, so workstations never queue behind one shared head row. The tampering
cases of test_audit_chain.py still hold per chain; here: what is new about chains."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from db import audit
from db.engine import make_engine
from db.migrate import upgrade

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
KEY = bytes(range(32))


@dataclass
class Db:
    engine: Engine
    pg: bool

    def tamper(self, *statements: str, **params: Any) -> None:
        """Run statements as someone with full rights over the database would."""
        tables = ("audit_events", "audit_head", "audit_chains")
        with self.engine.begin() as conn:
            if self.pg:
                for t in tables:
                    conn.execute(text(f"ALTER TABLE {t} DISABLE TRIGGER ALL"))
            else:
                conn.execute(text("DROP TRIGGER IF EXISTS audit_events_chained"))
            for stmt in statements:
                conn.execute(text(stmt), params)
            if self.pg:
                for t in tables:
                    conn.execute(text(f"ALTER TABLE {t} ENABLE TRIGGER ALL"))

    def rows(self, chain: int) -> list[Any]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    text("SELECT * FROM audit_events WHERE chain_id = :c ORDER BY seq"),
                    {"c": chain},
                )
            )


@pytest.fixture
def db(db_url: str) -> Iterator[Db]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield Db(engine, engine.dialect.name == "postgresql")
    engine.dispose()


def write(db: Db, writer: audit.ChainWriter, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        with db.engine.begin() as conn:
            writer.append(
                conn, [audit.NewEvent(None, "note", 100 + i, {"i": i})], T0 + timedelta(seconds=i)
            )
        writer.committed()


def verdicts(db: Db) -> list[audit.VerifyResult]:
    return [
        audit.verify(db.engine, KEY),
        audit.verify(db.engine, KEY, batch=3),
        # A worker process checks the later half of the writers' chains (SQLite).
        audit.verify(db.engine, KEY, batch=3, parallel_min=0, worker_wait=60),
        audit.verify_reference(db.engine, KEY),
    ]


def expect(db: Db, problem: str | None, chain: int | None = None) -> None:
    for r in verdicts(db):
        assert r.problem == problem, r
        assert r.ok is (problem is None)
        if chain is not None:
            assert r.chain_id == chain, r


def test_each_writer_gets_its_own_gap_free_chain_opened_in_the_root(db: Db) -> None:
    a, b = audit.ChainWriter(lambda: KEY), audit.ChainWriter(lambda: KEY)
    write(db, a, 4)
    write(db, b, 3)
    write(db, a, 2, start=10)
    assert a.chain_id is not None and b.chain_id is not None and a.chain_id != b.chain_id
    assert [r.seq for r in db.rows(a.chain_id)] == [1, 2, 3, 4, 5, 6]
    assert [r.seq for r in db.rows(b.chain_id)] == [1, 2, 3]
    opened = [r for r in db.rows(audit.ROOT) if r.kind == audit.OPENED]
    details = [json.loads(r.detail) if isinstance(r.detail, str) else r.detail for r in opened]
    assert [d["chain_id"] for d in details] == [a.chain_id, b.chain_id]
    for r in verdicts(db):
        assert r.ok and r.checked == 6 + 3 + 2, r  # 2 root events open the chains


def test_concurrent_writers_do_not_share_a_head(db: Db) -> None:
    writers = [audit.ChainWriter(lambda: KEY) for _ in range(4)]
    errors: list[BaseException] = []

    def run(w: audit.ChainWriter) -> None:
        try:
            write(db, w, 15)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({w.chain_id for w in writers}) == 4
    expect(db, None)


def test_a_rolled_back_transaction_leaves_the_chain_consistent(db: Db) -> None:
    w = audit.ChainWriter(lambda: KEY)
    write(db, w, 3)
    with pytest.raises(RuntimeError, match="abandoned"), db.engine.begin() as conn:
        w.append(conn, [audit.NewEvent(None, "lost", None, {})], T0)
        raise RuntimeError("abandoned")
    w.rolled_back()
    write(db, w, 2, start=3)
    assert w.chain_id is not None
    assert [r.kind for r in db.rows(w.chain_id)] == ["note"] * 5
    expect(db, None)


def test_a_stale_head_in_memory_is_noticed_and_rehashed(db: Db) -> None:
    """A writer not told of a rollback (or two threads sharing one) holds a head the
    database no longer has: the guarded head update notices and the events are hashed
    again from the real head, never forked."""
    w = audit.ChainWriter(lambda: KEY)
    write(db, w, 2)
    with pytest.raises(RuntimeError), db.engine.begin() as conn:
        w.append(conn, [audit.NewEvent(None, "lost", None, {})], T0)
        w.committed()  # wrongly: the transaction is about to roll back
        raise RuntimeError("abandoned")
    write(db, w, 2, start=2)
    assert w.chain_id is not None
    assert [r.seq for r in db.rows(w.chain_id)] == [1, 2, 3, 4]
    expect(db, None)


def test_an_edit_inside_a_writer_chain_names_the_chain(db: Db) -> None:
    a, b = audit.ChainWriter(lambda: KEY), audit.ChainWriter(lambda: KEY)
    write(db, a, 3)
    write(db, b, 3)
    db.tamper("UPDATE audit_events SET item_id = 999 WHERE chain_id = :c AND seq = 2", c=b.chain_id)
    expect(db, "edited", chain=b.chain_id)
    assert f"chain {b.chain_id}" in audit.verify(db.engine, KEY).message


def test_a_whole_writer_chain_removed_is_found_missing(db: Db) -> None:
    a, b = audit.ChainWriter(lambda: KEY), audit.ChainWriter(lambda: KEY)
    write(db, a, 3)
    write(db, b, 3)
    db.tamper(
        "DELETE FROM audit_events WHERE chain_id = :c",
        "DELETE FROM audit_chains WHERE id = :c",
        c=a.chain_id,
    )
    expect(db, "head_mismatch")
    assert "is gone" in audit.verify(db.engine, KEY).message


def test_a_chain_added_behind_the_roots_back_is_reported(db: Db) -> None:
    """Someone with the key's help could forge events, but not a chain the root never
    opened: here a writer's chain copied under a new id, head and all."""
    a = audit.ChainWriter(lambda: KEY)
    write(db, a, 2)
    db.tamper(
        "INSERT INTO audit_chains (id, seq, hash) SELECT 77, seq, hash FROM audit_chains"
        " WHERE id = :c",
        "INSERT INTO audit_events (chain_id, seq, at, user_id, kind, item_id, detail,"
        " prev_hash, hash, mac) SELECT 77, seq, at, user_id, kind, item_id, detail,"
        " prev_hash, hash, mac FROM audit_events WHERE chain_id = :c",
        c=a.chain_id,
    )
    expect(db, "inserted")
    assert "never opened" in audit.verify(db.engine, KEY).message


def test_a_writer_chain_tail_cut_shows_against_its_head(db: Db) -> None:
    a = audit.ChainWriter(lambda: KEY)
    write(db, a, 4)
    db.tamper("DELETE FROM audit_events WHERE chain_id = :c AND seq = 4", c=a.chain_id)
    expect(db, "head_mismatch", chain=a.chain_id)


@pytest.mark.postgres_only
def test_postgres_refuses_rewinding_or_removing_a_writer_head(db: Db) -> None:
    a = audit.ChainWriter(lambda: KEY)
    write(db, a, 2)
    for stmt in (
        "UPDATE audit_chains SET seq = seq - 1",
        "DELETE FROM audit_chains",
        "TRUNCATE audit_chains",
    ):
        with pytest.raises(DBAPIError, match="only moves forward"), db.engine.begin() as conn:
            conn.execute(text(stmt))
    expect(db, None)


def test_export_carries_each_chain_and_reverifies(db: Db) -> None:
    a, b = audit.ChainWriter(lambda: KEY), audit.ChainWriter(lambda: KEY)
    write(db, a, 3)
    write(db, b, 2)
    write(db, a, 2, start=5)
    out = io.StringIO()
    n = audit.export(db.engine, T0 - timedelta(days=1), out)
    lines = out.getvalue().splitlines()
    assert n == len(lines) == 2 + 3 + 2 + 2
    assert audit.verify_export(lines, KEY).ok
    # Dropping a middle event of one chain breaks that chain in the export too.
    a_lines = [i for i, s in enumerate(lines) if json.loads(s)["chain_id"] == a.chain_id]
    del lines[a_lines[1]]
    r = audit.verify_export(lines, KEY)
    assert not r.ok and r.problem in ("gap", "broken_link")
