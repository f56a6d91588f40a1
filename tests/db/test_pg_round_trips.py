"""How a PostgreSQL transaction reaches the server: its BEGIN goes with its first
statement, its audit event with its COMMIT, and everything it does stays one
transaction.

The engine's connections run in psycopg's autocommit mode and each transaction sends
its own BEGIN (db.prepared.defer_begin): within the first pipeline for the statements
db.prepared runs, just before the statement for SQLAlchemy's. These tests count the
round trips of a claim and a decision with libpq's own trace, and try the ways a
statement could escape its transaction: one run through SQLAlchemy first, a rollback,
an isolation level, AUTOCOMMIT, a server-side cursor."""

from __future__ import annotations

import contextlib
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from psycopg import pq
from sign_in import stored_account
from sqlalchemy import Connection, event, func, select, text, update

from db import prepared
from db.audit import IN_WRITE, NewEvent
from db.models import AuditChainRow, AuditRow, QueueRow
from db.store import Store
from db.unit_of_work import Event
from reviewer.errors import AuditChainMoved
from reviewer.grading import Grading
from reviewer.model import Exposure
from reviewer.permissions import Check, Operation
from reviewer.vocabulary import NotAssessableReason, Severity

pytestmark = pytest.mark.postgres_only

GRADE = Grading(
    severity=Severity.NOT_ASSESSABLE, not_assessable_reason=NotAssessableReason.TOO_SMALL
)


class Trips:
    """libpq's trace of every transaction begun on `store`'s engine: the messages the
    workstation sent, one list per transaction."""

    def __init__(self, store: Store, folder: Path) -> None:
        self.store, self.folder = store, folder
        self.files: list[Path] = []
        self._traced: list[Any] = []
        event.listen(store.engine, "begin", self._on_begin)

    def _on_begin(self, conn: Connection) -> None:
        pgconn = conn.connection.driver_connection.pgconn
        if pgconn in self._traced:
            pgconn.untrace()
        path = self.folder / f"tx{len(self.files)}.trace"
        self.files.append(path)
        handle = path.open("w")
        pgconn.trace(handle.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        self._traced.append(pgconn)
        self._handles = [*getattr(self, "_handles", []), handle]

    def stop(self) -> None:
        event.remove(self.store.engine, "begin", self._on_begin)
        for pgconn in self._traced:
            pgconn.untrace()
        for handle in getattr(self, "_handles", []):
            handle.close()

    def sent(self, tx: int) -> list[str]:
        """The messages sent in transaction `tx` (Parse, Bind, Sync, Query ...)."""
        lines = self.files[tx].read_text().splitlines()
        return [line.split("\t")[2] for line in lines if line.startswith("F\t")]

    def round_trips(self, tx: int) -> int:
        """Each Sync and each simple Query makes the workstation wait for the server."""
        return sum(1 for m in self.sent(tx) if m in ("Sync", "Query"))


def _moderator(store: Store, enqueue: Any) -> int:
    enqueue(store, 4)
    return stored_account(store, "Round Trip Moderator").id


def _cycle(store: Store, uid: int) -> None:
    claim = store.claims.claim_next(uid, check=Check(uid, "m", Operation.CLAIM))
    assert claim is not None
    check = Check(uid, "m", Operation.SUBMIT, claim_id=claim.claim_id)
    store.claims.submit_decision(claim, GRADE, Exposure(), str(uuid.uuid4()), check=check)


def test_a_claim_and_a_decision_send_begin_with_their_first_statements(
    store: Store, enqueue: Any, tmp_path: Path
) -> None:
    uid = _moderator(store, enqueue)
    _cycle(store, uid)  # the chain opened, the statements prepared
    trips = Trips(store, tmp_path)
    try:
        _cycle(store, uid)
    finally:
        trips.stop()
    assert len(trips.files) == 2
    for tx in (0, 1):
        sent = trips.sent(tx)
        # BEGIN, the gate's read of the account and the statement go in one batch:
        # psycopg alone waited for BEGIN's answer before sending anything else.
        first_batch = sent[: sent.index("Sync")]
        assert first_batch.count("Execute") >= 3, sent
        # That batch, then the audit event with COMMIT.
        assert trips.round_trips(tx) == 2, sent


def _txid(conn: Connection) -> int:
    return int(conn.execute(select(func.txid_current())).scalar_one())


def _queue_count(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(QueueRow.__table__)).scalar_one())


def test_statements_through_sqlalchemy_and_the_driver_share_one_transaction(
    store: Store,
) -> None:
    one = prepared.Prepared(select(func.txid_current()), store.dialect)
    with store.write() as conn:  # SQLAlchemy's statement first
        first = _txid(conn)
        assert one.first(conn, {}) == (first,)
    with store.write() as conn:  # the driver's first
        (first,) = one.first(conn, {})
        assert _txid(conn) == first
        results, error = prepared.run_steps(conn, [(one, {}), (one, {})])
        assert error is None and [r[0][0][0] for r in results] == [first, first]


@pytest.mark.parametrize("first", ["sqlalchemy", "driver"])
def test_a_rolled_back_write_leaves_nothing_whichever_statement_came_first(
    store: Store, first: str
) -> None:
    before = _queue_count(store)
    add = text(
        "INSERT INTO queues (name, restricted, target_minutes, created_at)"
        " VALUES (:n, false, 60, now())"
    )
    with pytest.raises(RuntimeError), store.write() as conn:
        if first == "driver":
            prepared.execute_driver_sql(conn, "SELECT 1")
        conn.execute(add, {"n": f"escaped {first} 1"})
        conn.execute(add, {"n": f"escaped {first} 2"})
        raise RuntimeError("the action failed after its statements")
    assert _queue_count(store) == before


def test_an_isolation_level_set_on_the_connection_is_the_transaction_s(store: Store) -> None:
    with store.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            level = conn.execute(text("SHOW transaction_isolation")).scalar_one()
    assert level == "repeatable read"
    with store.engine.connect() as conn, conn.begin():
        level = conn.execute(text("SHOW transaction_isolation")).scalar_one()
    assert level == "read committed"


def test_autocommit_runs_outside_any_transaction(store: Store) -> None:
    with store.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("VACUUM queues")  # refused inside a transaction block


def test_a_streamed_read_runs_in_its_transaction(store: Store) -> None:
    with store.engine.connect() as conn, conn.begin():
        tx = _txid(conn)
        rows = conn.execution_options(stream_results=True, yield_per=2).execute(
            select(func.txid_current()).select_from(func.generate_series(1, 5))
        )
        assert {r[0] for r in rows} == {tx}


# -- the audit event sent with COMMIT ----------------------------------------------------


def _events(store: Store, kind: str) -> int:
    return len(store.audit_events(kind=kind))


def test_a_statement_after_the_audit_event_sees_it_and_it_is_stored_once(store: Store) -> None:
    count = select(func.count()).select_from(AuditRow.__table__).where(AuditRow.kind == "held")
    with store.write() as conn:
        store.audit(conn, Event(None, "held", None, {"n": 1}))
        assert conn.execute(count).scalar_one() == 1  # through SQLAlchemy
        store.audit(conn, Event(None, "held", None, {"n": 2}))
        assert prepared.Prepared(count, store.dialect).first(conn, {}) == (2,)  # the driver
        store.audit(conn, Event(None, "held", None, {"n": 3}))  # this one goes with COMMIT
    assert _events(store, "held") == 3
    assert store.verify_audit().ok


def test_a_held_event_is_not_lost_when_someone_else_commits_the_transaction(
    store: Store,
) -> None:
    writer = store.audit_writer
    with store.write() as conn:  # the chain opened
        store.audit(conn, Event(None, "opening", None, {}))
    with store.engine.begin() as conn:
        conn.info[IN_WRITE] = True  # as write() marks its own, but SQLAlchemy commits
        writer.append(conn, [NewEvent(None, "held elsewhere")], store.clock_now())
        info = conn.info
    writer.end(info, committed=True)
    assert _events(store, "held elsewhere") == 1
    assert store.verify_audit().ok


def test_a_held_event_whose_chain_moved_stores_nothing_and_the_retry_goes_through(
    store: Store, enqueue: Any
) -> None:
    uid = _moderator(store, enqueue)
    _cycle(store, uid)
    chain = store.audit_writer.chain_id
    claim = store.claims.claim_next(uid, check=Check(uid, "m", Operation.CLAIM))
    assert claim is not None
    # Someone appends to this session's chain behind its back (the head moves on).
    with store.engine.begin() as conn:
        conn.execute(
            update(AuditChainRow.__table__)
            .where(AuditChainRow.id == chain)
            .values(seq=AuditChainRow.seq + 1, hash="f" * 64)
        )
    token = str(uuid.uuid4())
    check = Check(uid, "m", Operation.SUBMIT, claim_id=claim.claim_id)
    with pytest.raises(AuditChainMoved, match="Nothing was stored"):
        store.claims.submit_decision(claim, GRADE, Exposure(), token, check=check)
    assert store.items.decisions(claim.item.id) == []
    receipt = store.claims.submit_decision(claim, GRADE, Exposure(), token, check=check)
    assert [d["id"] for d in store.items.decisions(claim.item.id)] == [receipt.decision_id]
    # The writer left the chain someone else wrote to for a new one, which says so.
    assert store.audit_writer.chain_id != chain
    [opened] = [
        e
        for e in store.audit_events(kind="audit_chain_opened")
        if e.detail["chain_id"] == store.audit_writer.chain_id
    ]
    assert opened.detail["abandons"]["chain_id"] == chain
    _cycle(store, uid)  # and holds events back again


def test_two_threads_writing_through_one_store_keep_one_unbroken_chain(
    store: Store, enqueue: Any
) -> None:
    enqueue(store, 40)
    people = [stored_account(store, f"Thread Moderator {i}").id for i in range(2)]
    errors: list[BaseException] = []

    def work(uid: int) -> None:
        try:
            for _ in range(20):
                _cycle(store, uid)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(uid,)) for uid in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert _events(store, "decision") == 40
    result = store.verify_audit()
    assert result.ok, result.message


def test_a_failed_write_with_no_event_leaves_the_head_of_one_in_flight(store: Store) -> None:
    with store.write() as conn:  # the chain opened
        store.audit(conn, Event(None, "first", None, {}))
    in_flight, failed = threading.Event(), threading.Event()

    def other() -> None:
        in_flight.wait(10)
        with contextlib.suppress(RuntimeError), store.write() as conn:
            conn.execute(select(1))
            raise RuntimeError("a write that fails, on another connection")
        failed.set()

    thread = threading.Thread(target=other)
    thread.start()
    with store.write() as conn:  # its event in flight while the other write fails
        store.audit(conn, Event(None, "second", None, {}))
        in_flight.set()
        assert failed.wait(10)
    thread.join(10)
    with store.write() as conn:  # goes with COMMIT: refused if the head had been lost
        store.audit(conn, Event(None, "third", None, {}))
    assert [_events(store, k) for k in ("first", "second", "third")] == [1, 1, 1]
    assert store.verify_audit().ok
