"""The tamper-evident audit chain (db/audit.py, migration 0003).

A log is built through the real chain (db.audit.append inside transactions), then
tampered with by direct SQL, as someone with superuser rights on the database would:
on PostgreSQL the append-only triggers are disabled first. verify must name the first
broken event and how it is broken; the slow reference verifier must agree, and so must
verify with batches small enough that the damage falls inside a later batch.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from db import audit, audit_walk
from db.engine import WRITE, make_engine
from db.migrate import upgrade
from db.store import Store

N = 30  # events in the test log
PLAIN_INSERT = (  # what a writer that bypasses db.audit would do
    "INSERT INTO audit_events (at, user_id, kind, item_id, detail)"
    " VALUES (:t, NULL, 'x', NULL, '{}')"
)
T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@dataclass
class Log:
    engine: Engine
    key: bytes
    pg: bool

    def rows(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text("SELECT * FROM audit_events ORDER BY seq")))

    def row(self, seq: int) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT * FROM audit_events WHERE seq = :s"), {"s": seq}).one()

    def tamper(self, *statements: str, **params: Any) -> None:
        """Run statements as an attacker with full rights over the database would."""
        with self.engine.begin() as conn:
            if self.pg:
                conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER ALL"))
                conn.execute(text("ALTER TABLE audit_head DISABLE TRIGGER ALL"))
            else:
                conn.execute(text("DROP TRIGGER IF EXISTS audit_events_chained"))
            for stmt in statements:
                conn.execute(text(stmt), params)
            if self.pg:
                conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER ALL"))
                conn.execute(text("ALTER TABLE audit_head ENABLE TRIGGER ALL"))


def _detail(i: int) -> dict[str, Any]:
    # Unicode, floats, nesting, int-like keys: whatever could serialise differently.
    d: dict[Any, Any] = {"claim_id": i, "z": None, "a": [1.5, 2, "é ✓"], 10: "int key"}
    if i % 3 == 0:
        d["grading"] = {"severity": "category_b", "seconds": 0.1 + i / 7, "ok": True}
    if i % 5 == 0:
        d["note"] = 'line one\nline "two"\t\u2028 \x1e'
    return d


@pytest.fixture
def log(db_url: str) -> Iterator[Log]:
    engine = make_engine(db_url)
    upgrade(engine)
    key = audit.load_key()
    with engine.begin() as conn:
        for uid, name in ((1, "ana"), (2, "bo")):
            conn.execute(
                text("INSERT INTO users (id, name, role, created_at) VALUES (:i, :n, 'x', :t)"),
                {"i": uid, "n": name, "t": T0.replace(tzinfo=None)},
            )
    i = 0
    while i < N:
        # Mostly one event per transaction, sometimes three (as a claim that also
        # expires leases writes several).
        burst = 3 if i % 7 == 0 else 1
        with engine.begin() as conn:
            for _ in range(min(burst, N - i)):
                audit.append(
                    conn,
                    key,
                    at=T0 + timedelta(seconds=i, microseconds=0 if i % 4 == 0 else i * 1013),
                    user_id=(None, 1, 2)[i % 3],
                    kind=("claim", "decision", "skip", "release")[i % 4],
                    item_id=None if i % 6 == 0 else 100 + i,
                    detail=_detail(i),
                )
                i += 1
    yield Log(engine, key, engine.dialect.name == "postgresql")
    engine.dispose()


def check(log: Log, problem: str | None, seq: int | None, row_id: int | None = None) -> str:
    """verify (default and tiny batches) and the reference verifier all agree."""
    results = [
        audit.verify(log.engine, log.key),
        audit.verify(log.engine, log.key, batch=4),
        audit.verify_reference(log.engine, log.key),
    ]
    for r in results:
        assert (r.problem, r.first_bad_seq) == (problem, seq), r
        assert r.ok is (problem is None)
        if row_id is not None:
            assert r.first_bad_id == row_id, r
    return results[0].message


def forged_hash(
    prev: str,
    seq: int,
    at: datetime,
    kind: str,
    detail: dict[str, Any],
    row_id: int | None = None,
) -> str:
    # What an attacker can compute: the algorithm is public, only the key is secret.
    return audit.event_hash(
        audit.payload(
            prev,
            audit.ROOT,
            seq,
            audit.canonical_at(at),
            None,
            None,
            audit.canonical_detail(detail),
            kind,
            row_id=row_id,
        )
    )


# -- an intact log -----------------------------------------------------------------------


def test_untouched_log_verifies(log: Log) -> None:
    r = audit.verify(log.engine, log.key)
    assert r.ok and r.problem is None and r.checked == N, r
    assert r.slow_rows == 0  # the payloads the database built were all canonical
    assert (r.head_seq, r.head_hash) == (N, log.row(N).hash)
    assert "intact" in r.message
    assert audit.verify(log.engine, log.key, batch=4).slow_rows == 0
    check(log, None, None)


def test_seq_is_gap_free_and_each_event_links_to_the_previous(log: Log) -> None:
    rows = log.rows()
    assert [r.seq for r in rows] == list(range(1, N + 1))
    assert rows[0].prev_hash == audit.GENESIS
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash
    for r in rows:
        assert r.mac == hmac.new(log.key, bytes.fromhex(r.hash), hashlib.sha256).hexdigest()


def test_database_payload_equals_the_python_canonical_form(log: Log) -> None:
    """The SQL that assembles payloads for the fast path matches payload() exactly."""
    rest = audit_walk.REST_SQL[log.engine.dialect.name]
    with log.engine.connect() as conn:
        params = {"chain": audit.ROOT, "lo": 1, "hi": N}
        rows = conn.execute(text(audit_walk.ROWS_SQL.format(rest=rest)), params)
        built = {r.seq: r.payload for r in rows}
        typed = conn.execute(audit.events_t.select().order_by(audit.events_t.c.seq)).all()
    assert len(built) == len(typed) == N
    for r in typed:
        expected = audit.payload(
            r.prev_hash,
            r.chain_id,
            r.seq,
            audit.canonical_at(r.at),
            r.user_id,
            r.item_id,
            audit.canonical_detail(r.detail),
            r.kind,
        )
        assert built[r.seq] == expected
        assert audit.event_hash(expected) == r.hash


def test_times_round_trip_to_the_microsecond(log: Log) -> None:
    with log.engine.connect() as conn:
        ats = [r.at for r in conn.execute(audit.events_t.select().order_by(audit.events_t.c.seq))]
    assert ats[1] == T0 + timedelta(seconds=1, microseconds=1013)
    assert ats[0] == T0 and ats[0].tzinfo is not None


def test_verify_accepts_a_connection(log: Log) -> None:
    with log.engine.connect() as conn:
        assert audit.verify(conn, log.key).ok


def test_a_rolled_back_append_leaves_no_gap(log: Log) -> None:
    with pytest.raises(RuntimeError), log.engine.begin() as conn:
        audit.append(conn, log.key, at=T0, user_id=None, kind="lost")
        raise RuntimeError("the transaction fails after its audit event")
    with log.engine.begin() as conn:
        assert audit.append(conn, log.key, at=T0, user_id=None, kind="kept") == N + 1
    check(log, None, None)


def test_server_time_is_hashed_as_stored(log: Log) -> None:
    """A SQL expression for `at` (the server's now()) is read once and used for both."""
    from sqlalchemy import func, literal, type_coerce

    from db.models import UTCDateTime

    now = (
        type_coerce(func.now(), UTCDateTime())
        if log.pg
        else literal(datetime.now(UTC), UTCDateTime())
    )
    with log.engine.begin() as conn:
        audit.append_many(
            conn, log.key, [audit.NewEvent(1, "a"), audit.NewEvent(None, "b", 7, {"x": 1})], at=now
        )
    check(log, None, None)
    assert log.row(N + 1).at == log.row(N + 2).at


def test_concurrent_appends_stay_one_gap_free_chain(log: Log) -> None:
    writer = log.engine.execution_options(**{WRITE: True})  # as Store's transactions are
    errors: list[BaseException] = []

    def work(who: int) -> None:
        try:
            for j in range(15):
                with writer.begin() as conn:
                    audit.append(conn, log.key, at=T0, user_id=None, kind=f"t{who}", item_id=j)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    check(log, None, None)
    assert audit.verify(log.engine, log.key).checked == N + 60


def test_kind_may_not_break_the_payload_layout(log: Log) -> None:
    with log.engine.begin() as conn:
        for bad in ("two\nlines", "rec\x1esep"):
            with pytest.raises(ValueError, match="kind"):
                audit.append(conn, log.key, at=T0, user_id=None, kind=bad)
        with pytest.raises(ValueError, match="timezone"):
            audit.append(conn, log.key, at=datetime(2026, 1, 1), user_id=None, kind="naive")


def test_a_stored_detail_reformatted_but_equal_still_verifies(log: Log) -> None:
    """Whitespace or key order changed by hand is not a change of content."""
    reformatted = json.dumps(_detail(8), indent=2)  # not the canonical form
    cast = "CAST(:d AS json)" if log.pg else ":d"
    log.tamper(f"UPDATE audit_events SET detail = {cast} WHERE seq = 9", d=reformatted)
    r = audit.verify(log.engine, log.key)
    assert r.ok and r.slow_rows > 0, r
    check(log, None, None)


# -- tampering ---------------------------------------------------------------------------


def test_edited_detail(log: Log) -> None:
    cast = "CAST(:d AS json)" if log.pg else ":d"
    changed = {**_detail(9), "claim_id": 999}
    log.tamper(
        f"UPDATE audit_events SET detail = {cast} WHERE seq = 10",
        d=audit.canonical_detail(changed),
    )
    message = check(log, "edited", 10, log.row(10).id)
    assert "#10" in message and "changed" in message


def test_edited_timestamp_by_one_microsecond(log: Log) -> None:
    at = log.row(12).at
    at = at if isinstance(at, datetime) else datetime.fromisoformat(at)
    log.tamper("UPDATE audit_events SET at = :t WHERE seq = 12", t=at + timedelta(microseconds=1))
    check(log, "edited", 12)


def test_edited_user_id(log: Log) -> None:
    log.tamper("UPDATE audit_events SET user_id = 2 WHERE seq = 4")  # was none
    check(log, "edited", 4)


def test_edited_kind(log: Log) -> None:
    log.tamper("UPDATE audit_events SET kind = 'claim' WHERE seq = 20")  # was release
    check(log, "edited", 20)


def test_edited_stored_hash(log: Log) -> None:
    log.tamper("UPDATE audit_events SET hash = :h WHERE seq = 7", h="ab" * 32)
    check(log, "edited", 7)


def test_deleted_middle_row_is_a_gap(log: Log) -> None:
    log.tamper("DELETE FROM audit_events WHERE seq = 15")
    message = check(log, "gap", 15)
    assert "#15 is missing" in message and "#16" in message


def test_deleted_first_row_is_a_gap(log: Log) -> None:
    log.tamper("DELETE FROM audit_events WHERE seq = 1")
    check(log, "gap", 1)


def test_deleted_row_with_the_rest_renumbered_breaks_the_link(log: Log) -> None:
    log.tamper(
        "DELETE FROM audit_events WHERE seq = 15",
        # Two steps so the unique index on seq never sees a duplicate mid-statement.
        "UPDATE audit_events SET seq = -seq WHERE seq > 15",
        "UPDATE audit_events SET seq = -seq - 1 WHERE seq < 0",
    )
    message = check(log, "broken_link", 15)
    assert "does not follow event #14" in message


def test_deleted_last_row_is_a_truncated_tail(log: Log) -> None:
    log.tamper(f"DELETE FROM audit_events WHERE seq = {N}")
    message = check(log, "head_mismatch", N)
    assert "tail truncated" in message and f"#{N}" in message


def test_deleted_tail_of_several_rows(log: Log) -> None:
    log.tamper(f"DELETE FROM audit_events WHERE seq > {N - 5}")
    check(log, "head_mismatch", N - 4)


def test_emptied_table_is_a_truncated_tail(log: Log) -> None:
    log.tamper("DELETE FROM audit_events")
    check(log, "head_mismatch", 1)


def test_rows_swapped_in_the_chain_break_the_link(log: Log) -> None:
    """Reorder: events 8 and 9 trade places (every column but id moves with them)."""
    log.tamper(
        "UPDATE audit_events SET seq = -1 WHERE seq = 8",
        "UPDATE audit_events SET seq = 8 WHERE seq = 9",
        "UPDATE audit_events SET seq = 9 WHERE seq = -1",
    )
    check(log, "broken_link", 8)


def test_rows_content_swapped_is_an_edit(log: Log) -> None:
    """Reorder by content: two events trade what they say; the chain columns stay."""
    a, b = log.row(5), log.row(6)
    cast = "CAST(:d AS json)" if log.pg else ":d"
    set_ = (
        f"UPDATE audit_events SET at = :at, kind = :k, user_id = :u, item_id = :i, detail = {cast}"
    )

    def params(r: Any) -> dict[str, Any]:
        d = r.detail if isinstance(r.detail, str) else json.dumps(r.detail)
        return {"at": r.at, "k": r.kind, "u": r.user_id, "i": r.item_id, "d": d}

    with log.engine.begin() as conn:  # the same statement twice with different values
        if log.pg:
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER ALL"))
        conn.execute(text(set_ + " WHERE seq = 5"), params(b))
        conn.execute(text(set_ + " WHERE seq = 6"), params(a))
        if log.pg:
            conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER ALL"))
    check(log, "edited", 5)


def test_inserted_row_outside_the_chain(log: Log) -> None:
    log.tamper(
        "INSERT INTO audit_events (at, user_id, kind, item_id, detail)"
        " VALUES (:t, NULL, 'decision', 5, '{}')",
        t=T0,
    )
    with log.engine.connect() as conn:
        forged = conn.execute(text("SELECT id FROM audit_events WHERE seq IS NULL")).scalar_one()
    message = check(log, "inserted", None, forged)
    assert f"id {forged}" in message and "not in the chain" in message


def test_inserted_row_with_a_seq_but_no_hash(log: Log) -> None:
    log.tamper(
        "INSERT INTO audit_events (seq, at, user_id, kind, item_id, detail)"
        f" VALUES ({N + 1}, :t, NULL, 'decision', 5, '{{}}')",
        t=T0,
    )
    check(log, "inserted", N + 1)


def test_inserted_duplicate_seq(log: Log) -> None:
    """A copy of event 5 slipped in beside it (after dropping the unique index)."""
    log.tamper(
        "DROP INDEX ix_audit_events_chain_seq",
        "INSERT INTO audit_events (seq, at, user_id, kind, item_id, detail, prev_hash, hash, mac)"
        " SELECT seq, at, user_id, kind, item_id, detail, prev_hash, hash, mac"
        " FROM audit_events WHERE seq = 5",
    )
    check(log, "inserted", 5)


def test_forged_event_appended_with_a_recomputed_hash_but_no_key(log: Log) -> None:
    head = log.row(N).hash
    at = T0 + timedelta(days=1)
    h = forged_hash(head, N + 1, at, "decision", {})
    mac = hmac.new(b"a guess at the key", bytes.fromhex(h), hashlib.sha256).hexdigest()
    cast = "CAST('{}' AS json)" if log.pg else "'{}'"
    log.tamper(
        "INSERT INTO audit_events (id, seq, at, user_id, kind, item_id, detail, prev_hash,"
        f" hash, mac) VALUES (:i, :s, :t, NULL, 'decision', NULL, {cast}, :p, :h, :m)",
        "UPDATE audit_head SET seq = :s, hash = :h",
        i=audit.event_id(audit.ROOT, N + 1),
        s=N + 1,
        t=at if log.pg else at.replace(tzinfo=None),
        p=head,
        h=h,
        m=mac,
    )
    message = check(log, "mac", N + 1)
    assert "without the audit key" in message


def test_forged_event_inserted_mid_chain_with_a_recomputed_hash(log: Log) -> None:
    prev = log.row(10).hash
    at = log.row(10).at
    at = at if isinstance(at, datetime) else datetime.fromisoformat(at).replace(tzinfo=UTC)
    free_id = audit.event_id(99, 11)  # event_id(ROOT, 11) is still taken by the old #11
    h = forged_hash(prev, 11, at, "decision", {}, row_id=free_id)
    cast = "CAST('{}' AS json)" if log.pg else "'{}'"
    log.tamper(
        "UPDATE audit_events SET seq = -seq WHERE seq > 10",
        "UPDATE audit_events SET seq = -seq + 1 WHERE seq < 0",
        "INSERT INTO audit_events (id, seq, at, user_id, kind, item_id, detail, prev_hash,"
        f" hash, mac) VALUES ({free_id}, 11, :t, NULL,"
        f" 'decision', NULL, {cast}, :p, :h, :m)",
        t=at if log.pg else at.replace(tzinfo=None),
        p=prev,
        h=h,
        m="0" * 64,
    )
    check(log, "mac", 11)


def test_chain_recomputed_from_an_edit_without_the_key(log: Log) -> None:
    """Edit event 10, then recompute every hash from there on: only the MAC tells."""
    _rewrite_chain(log, from_seq=10, edit_seq=10)
    check(log, "mac", 10)


def test_whole_chain_recomputed_without_the_key(log: Log) -> None:
    _rewrite_chain(log, from_seq=1, edit_seq=None)
    check(log, "mac", 1)


def _rewrite_chain(log: Log, from_seq: int, edit_seq: int | None) -> None:
    wrong_key = b"not the key" * 3
    with log.engine.connect() as conn:
        rows = conn.execute(audit.events_t.select().order_by(audit.events_t.c.seq)).all()
    prev = audit.GENESIS if from_seq == 1 else rows[from_seq - 2].hash
    updates = []
    for r in rows[from_seq - 1 :]:
        detail = dict(r.detail)
        if r.seq == edit_seq:
            detail["claim_id"] = 12345
        d = audit.canonical_detail(detail)
        h = audit.event_hash(
            audit.payload(
                prev, r.chain_id, r.seq, audit.canonical_at(r.at), r.user_id, r.item_id, d, r.kind
            )
        )
        updates.append({"s": r.seq, "d": d, "p": prev, "h": h, "m": audit.event_mac(wrong_key, h)})
        prev = h
    cast = "CAST(:d AS json)" if log.pg else ":d"
    with log.engine.begin() as conn:
        if log.pg:
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER ALL"))
            conn.execute(text("ALTER TABLE audit_head DISABLE TRIGGER ALL"))
        conn.execute(
            text(
                f"UPDATE audit_events SET detail = {cast}, prev_hash = :p, hash = :h, mac = :m"
                " WHERE seq = :s"
            ),
            updates,
        )
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
        if log.pg:
            conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER ALL"))
            conn.execute(text("ALTER TABLE audit_head ENABLE TRIGGER ALL"))


def test_head_rewritten(log: Log) -> None:
    log.tamper("UPDATE audit_head SET hash = :h", h="cd" * 32)
    check(log, "head_mismatch", N)


def test_known_limit_tail_cut_with_the_head_rewound(log: Log) -> None:
    """Cutting the tail AND rewinding the head to match leaves a shorter chain that is
    intact: the chains alone cannot show it, a checkpoint taken before does
    (test_audit_checkpoints.py)."""
    before = audit.verify(log.engine, log.key)
    log.tamper(
        f"DELETE FROM audit_events WHERE seq = {N}",
        "UPDATE audit_head SET seq = :s, hash = :h",
        s=N - 1,
        h=log.row(N - 1).hash,
    )
    after = audit.verify(log.engine, log.key)
    assert after.ok and after.head_seq == N - 1 < before.head_seq  # type: ignore[operator]


def test_wrong_key_fails_at_the_first_event(log: Log) -> None:
    r = audit.verify(log.engine, b"another workstation's key")
    assert (r.ok, r.problem, r.first_bad_seq) == (False, "mac", 1)


# -- through the Store (its unit of work writes every event through db.audit) -----------


@pytest.mark.skipif(
    not hasattr(Store, "verify_audit"), reason="the Store does not write through db.audit"
)
def test_store_transactions_write_one_intact_chain(store: Store, enqueue, clock: Any) -> None:
    from reviewer.grading import Grading
    from reviewer.model import Exposure
    from reviewer.vocabulary import NotAssessableReason, Severity, SkipReason

    grade = Grading(
        severity=Severity.NOT_ASSESSABLE, not_assessable_reason=NotAssessableReason.TOO_SMALL
    )
    seen = Exposure(seconds_revealed=1.5, reveal_count=1, max_area_fraction=0.25)
    a, b = store.accounts.ensure_user("a"), store.accounts.ensure_user("b")
    enqueue(store, 4)
    for user in (a, b):
        claim = store.claims.claim_next(user.id, lease_seconds=60)
        assert claim is not None
        store.claims.submit_decision(claim, grade, seen, f"token-{user.id}")
    claim = store.claims.claim_next(a.id, lease_seconds=60)
    assert claim is not None
    store.claims.skip(claim, SkipReason.OTHER, "ünïcode note", seen)
    claim = store.claims.claim_next(b.id, lease_seconds=1)
    assert claim is not None
    clock.advance(5)  # the lease runs out: the next claim expires it in the same transaction
    assert store.claims.claim_next(a.id, lease_seconds=60) is not None
    store.record_event(a.id, "note", None, {"n": 1.5})

    result = store.verify_audit()  # type: ignore[attr-defined]
    events = store.audit_events()
    assert result.ok and result.checked == len(events) > 10, result
    assert result.slow_rows == 0
    assert {"claim", "decision", "skip", "lease_expired", "note"} <= {e.kind for e in events}


# -- the database refuses changes on its own (PostgreSQL; SQLite refuses unchained rows) --


@pytest.mark.postgres_only
def test_postgres_refuses_update_delete_and_truncate(log: Log) -> None:
    for stmt in (
        "UPDATE audit_events SET kind = 'x' WHERE seq = 3",
        "DELETE FROM audit_events WHERE seq = 3",
        "TRUNCATE audit_events",
        "DELETE FROM audit_head",
        "UPDATE audit_head SET seq = seq - 1",
        "TRUNCATE audit_head",
    ):
        with (
            pytest.raises(DBAPIError, match=r"append-only|only moves forward"),
            log.engine.begin() as conn,
        ):
            conn.execute(text(stmt))
    check(log, None, None)


def test_plain_insert_of_an_unchained_event_is_refused_once_the_chain_started(
    log: Log,
) -> None:
    with pytest.raises(DBAPIError, match="unchained event refused"), log.engine.begin() as conn:
        conn.execute(text(PLAIN_INSERT), {"t": T0 if log.pg else T0.replace(tzinfo=None)})
    check(log, None, None)


def test_before_the_chain_starts_a_plain_insert_is_kept_and_reported(db_url: str) -> None:
    """Code from before the chain still runs until switched over; verify names its rows."""
    engine = make_engine(db_url)
    upgrade(engine)
    key = audit.load_key()
    t = T0 if engine.dialect.name == "postgresql" else T0.replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(text(PLAIN_INSERT), {"t": t})
    r = audit.verify(engine, key)
    assert (r.problem, r.first_bad_seq, r.first_bad_id) == ("inserted", None, 1)
    with engine.begin() as conn:
        audit.append(conn, key, at=T0, user_id=None, kind="first")
    with pytest.raises(DBAPIError, match="unchained event refused"), engine.begin() as conn:
        conn.execute(text(PLAIN_INSERT), {"t": t})
    engine.dispose()


def test_migration_downgrades_and_upgrades_again(log: Log) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    from db.migrate import alembic_config

    cfg = alembic_config(log.engine)
    before = ScriptDirectory.from_config(cfg).get_revision("0003").down_revision
    command.downgrade(cfg, str(before))  # also undoes anything built on 0003
    with log.engine.connect() as conn:
        columns = list(conn.execute(text("SELECT * FROM audit_events")).keys())
    assert "seq" not in columns
    upgrade(log.engine)
    r = audit.verify(log.engine, log.key)  # the chain columns are gone: no event is chained
    assert (r.problem, r.first_bad_seq) == ("inserted", None)
    # The restarted root chain would take ids the old, now unchained events still hold:
    # refused outright rather than mixed in.
    with pytest.raises(DBAPIError, match=r"(?i)unique"), log.engine.begin() as conn:
        audit.append(conn, log.key, at=T0, user_id=None, kind="again")


# -- export ------------------------------------------------------------------------------


def test_export_since_a_date_and_reverify_it(log: Log) -> None:
    out = io.StringIO()
    n = audit.export(log.engine, T0 + timedelta(seconds=10), out)
    lines = out.getvalue().splitlines()
    assert n == len(lines) == N - 10
    first = json.loads(lines[0])
    assert first["seq"] == 11
    assert set(first) == {
        "chain_id",
        "seq",
        "id",
        "at",
        "user_id",
        "kind",
        "item_id",
        "detail",
        "prev_hash",
        "hash",
        "mac",
        "sig",
    }
    assert first["at"].endswith("Z") and first["detail"] == json.loads(
        audit.canonical_detail(_detail(10))
    )
    assert audit.verify_export(lines, log.key).ok
    assert audit.verify_export(lines, b"wrong").problem == "mac"

    edited = json.loads(lines[3])
    edited["detail"]["claim_id"] = -1
    bad = [*lines[:3], json.dumps(edited), *lines[4:]]
    r = audit.verify_export(bad, log.key)
    assert (r.problem, r.first_bad_seq) == ("edited", 14)
    r = audit.verify_export([*lines[:3], *lines[4:]], log.key)
    assert (r.problem, r.first_bad_seq) == ("gap", 14)


def test_export_of_everything_starts_at_genesis(log: Log) -> None:
    out = io.StringIO()
    assert audit.export(log.engine, datetime(2000, 1, 1, tzinfo=UTC), out) == N
    r = audit.verify_export(out.getvalue().splitlines(), log.key)
    assert r.ok and r.checked == N


# -- the key -----------------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 32, 64, 65, 200])
def test_fast_hmac_matches_the_hmac_module(length: int) -> None:
    key = bytes(range(256))[:length]
    inner, outer = audit_walk._hmac_pads(key)
    for msg in (b"", hashlib.sha256(b"x").digest()):
        i = inner.copy()
        i.update(msg)
        o = outer.copy()
        o.update(i.digest())
        assert o.hexdigest() == hmac.new(key, msg, hashlib.sha256).hexdigest()


def test_key_is_created_once_and_kept_in_the_keyring(memory_keyring: Any) -> None:
    with pytest.raises(LookupError, match="no audit key"):
        audit.load_key(create=False)  # a verifier must not invent one
    key = audit.load_key()
    assert audit.load_key(create=False) == key
    assert len(key) == 32 and audit.load_key() == key
    stored = memory_keyring.get_password("reviewer-keys", "audit-hmac")
    assert stored is not None and stored != key.hex()
