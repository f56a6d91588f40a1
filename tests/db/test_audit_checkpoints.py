"""The audit trail against its administrator: signed checkpoints kept outside the
database, per-writer Ed25519 signatures, ids and order covered by the hash.

A log is built through the real writers (db.audit.ChainWriter, one per session; the
checkpoint through db.audit_checkpoint.CheckpointRepo on a Store), a checkpoint is
taken, the log goes on, and then someone with every right over the database AND the
team key that every workstation holds tampers with it: on PostgreSQL the append-only
triggers are disabled first, MACs are recomputed with the team key. Each tamper must
be found against the checkpoint taken before it, naming the first bad event (chain
and seq) or the missing range; verify, verify with tiny batches and the reference
verifier must agree wherever the damage is visible inside the database alone.

Signatures are made every SIGN events here (256 in production) so that short chains
have signed and unsigned stretches.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from db import audit
from db.audit_checkpoint import (
    Checkpoint,
    CheckpointError,
    LocalCheckpoint,
    verify_since,
)
from db.engine import make_engine
from db.migrate import upgrade
from db.store import Store

KEY = bytes(range(32))  # the team key: the attacker holds it too
SIGN = 4
T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@dataclass
class Log:
    engine: Engine
    pg: bool
    store: Store  # the session that took the checkpoint
    cp: Checkpoint
    local: LocalCheckpoint
    a: int  # closed (signed close) before the checkpoint: sealed
    b: int  # 10 events at the checkpoint (signed at 4 and 8), 13 now (signed at 12)
    c: int  # 3 unsigned events at the checkpoint, 5 now (signed at 4)
    e: int  # 2 events, never signed: a session that crashed before the checkpoint
    d: int  # the checkpoint taker's chain
    writers: dict[int, audit.ChainWriter]

    def tamper(self, *statements: str, **params: Any) -> None:
        """Run statements as someone with full rights over the database would."""
        with self.engine.begin() as conn:
            _untriggered(conn, self.pg, True)
            for stmt in statements:
                conn.execute(text(stmt), params)
            _untriggered(conn, self.pg, False)

    def rows(self, chain: int) -> list[Any]:
        with self.engine.connect() as conn:
            q = audit.events_t.select().where(audit.events_t.c.chain_id == chain)
            return list(conn.execute(q.order_by(audit.events_t.c.seq)))

    def row(self, chain: int, seq: int) -> Any:
        return next(r for r in self.rows(chain) if r.seq == seq)

    def rehash(self, chain: int, *, edit: dict[int, dict[str, Any]] | None = None) -> None:
        """Recompute `chain`'s hashes and MACs with the team key, applying `edit` (seq ->
        new column values) on the way, and move its head: a consistent rewrite by
        someone who holds the team key but no writer's key. Signatures stay as they
        were unless `edit` changes them."""
        edit = edit or {}
        self.rewrite(chain, [{**r._asdict(), **edit.get(r.seq, {})} for r in self.rows(chain)])

    def rewrite(self, chain: int, values: list[dict[str, Any]]) -> None:
        """Replace `chain`'s events by `values` (whole rows), hashed and MACed with the
        team key in that order, and move its head to the last."""
        prev = audit.GENESIS
        rows = []
        for v in values:
            d = audit.canonical_detail(v["detail"])
            h = audit.event_hash(
                audit.payload(
                    prev,
                    chain,
                    v["seq"],
                    audit.canonical_at(v["at"]),
                    v["user_id"],
                    v["item_id"],
                    d,
                    v["kind"],
                    row_id=v["id"],
                )
            )
            at = v["at"] if self.pg else _naive(v["at"])
            rows.append(
                {**v, "at": at, "detail": d, "prev_hash": prev, "hash": h}
                | {"mac": audit.event_mac(KEY, h)}
            )
            prev = h
        cast = "CAST(:detail AS json)" if self.pg else ":detail"
        with self.engine.begin() as conn:
            _untriggered(conn, self.pg, True)
            conn.execute(text("DELETE FROM audit_events WHERE chain_id = :c"), {"c": chain})
            if rows:
                conn.execute(
                    text(
                        "INSERT INTO audit_events (id, chain_id, seq, at, user_id, kind, item_id,"
                        " detail, prev_hash, hash, mac, sig) VALUES (:id, :chain_id, :seq, :at,"
                        f" :user_id, :kind, :item_id, {cast}, :prev_hash, :hash, :mac, :sig)"
                    ),
                    rows,
                )
            seq, h = (rows[-1]["seq"], rows[-1]["hash"]) if rows else (0, audit.GENESIS)
            if chain == audit.ROOT:
                conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": seq, "h": h})
            else:
                conn.execute(
                    text("UPDATE audit_chains SET seq = :s, hash = :h WHERE id = :c"),
                    {"s": seq, "h": h, "c": chain},
                )
            _untriggered(conn, self.pg, False)


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def _untriggered(conn: Any, pg: bool, off: bool) -> None:
    if pg:
        for t in ("audit_events", "audit_head", "audit_chains"):
            conn.execute(text(f"ALTER TABLE {t} {'DISABLE' if off else 'ENABLE'} TRIGGER ALL"))
    elif off:
        conn.execute(text("DROP TRIGGER IF EXISTS audit_events_chained"))


def write(engine: Engine, w: audit.ChainWriter, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        with engine.begin() as conn:
            w.append(
                conn,
                [audit.NewEvent(None, "decision", 100 + i, {"i": i})],
                T0 + timedelta(seconds=i),
            )
        w.committed()


@pytest.fixture
def log(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Log]:
    monkeypatch.setattr(audit, "SIGN_EVERY", SIGN)
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as conn:  # people an attacker may pin forged events on
        for uid, name in ((1, "ana"), (2, "bo")):
            conn.execute(
                text("INSERT INTO users (id, name, role, created_at) VALUES (:i, :n, 'x', :t)"),
                {"i": uid, "n": name, "t": _naive(T0)},
            )
    ws = [audit.ChainWriter(lambda: KEY) for _ in range(4)]
    a, b, c, e = ws
    write(engine, a, 6)
    with engine.begin() as conn:
        a.close(conn, T0 + timedelta(seconds=7))
    a.committed()
    write(engine, b, 10)
    write(engine, c, 3)
    write(engine, e, 2)
    store = Store(engine, audit_key=KEY)
    local = LocalCheckpoint(tmp_path / "workstation")
    cp = store.checkpoints.take(KEY, local)
    write(engine, b, 3, start=10)
    write(engine, c, 2, start=3)
    ids = [w.chain_id for w in ws]
    assert None not in ids
    log = Log(
        engine,
        engine.dialect.name == "postgresql",
        store,
        cp,
        local,
        *ids,  # type: ignore[arg-type]
        d=cp.signer_chain,
        writers={w.chain_id: w for w in ws},  # type: ignore[misc]
    )
    yield log
    engine.dispose()


def found(log: Log, problem: str, chain: int, seq: int | None, *, alone: bool) -> str:
    """The tamper is named against the checkpoint; `alone`: verify without any
    checkpoint (fast, tiny batches, reference) names the same event, else it cannot
    see it at all (that is what the checkpoint is for)."""
    r = verify_since(log.engine, KEY, log.cp)
    assert (r.ok, r.problem, r.chain_id, r.first_bad_seq) == (False, problem, chain, seq), r
    if seq is not None:
        assert f"#{seq}" in r.message, r.message
    plain = [
        audit.verify(log.engine, KEY),
        audit.verify(log.engine, KEY, batch=3),
        # A worker process checks the later half of the writers' chains (SQLite).
        audit.verify(log.engine, KEY, batch=3, parallel_min=0, worker_wait=60),
        audit.verify_reference(log.engine, KEY),
    ]
    for p in plain:
        if alone:
            assert (p.problem, p.chain_id, p.first_bad_seq) == (problem, chain, seq), p
        else:
            assert p.ok, p
    # The worker's verdict, counts included, is the one this process reaches alone.
    assert plain[2] == audit.verify(log.engine, KEY, batch=3, parallel_min=10**9)
    return r.message


# -- an intact log -----------------------------------------------------------------------


def test_an_intact_log_extends_its_checkpoint(log: Log) -> None:
    r = verify_since(log.engine, KEY, log.cp)
    assert r.ok, r
    assert "extends the checkpoint" in r.message
    assert log.cp.signature_ok() and log.cp.root_seq == 5  # a, b, c, e, d opened
    assert log.cp.chains[log.b][0] == 10 and log.cp.chains[log.c][0] == 3
    assert log.a in log.cp.sealed and log.b not in log.cp.sealed
    # Unsigned tails: b after #12, c after #4, e entirely (crashed), d's is signed.
    assert set(r.unsigned) == {(log.b, 13, 13), (log.c, 5, 5), (log.e, 1, 2)}
    assert "not yet signed" in r.message
    both = audit.verify(log.engine, KEY, batch=3, parallel_min=0, worker_wait=60)
    assert both == audit.verify(log.engine, KEY, batch=3, parallel_min=10**9), both
    for p in (audit.verify(log.engine, KEY, batch=3), audit.verify_reference(log.engine, KEY)):
        assert p.ok, p


def test_signatures_fall_where_the_writer_said(log: Log) -> None:
    signed = {(r.chain_id, r.seq) for c in (log.a, log.b, log.c) for r in log.rows(c) if r.sig}
    assert signed == {
        (log.a, 4),
        (log.a, 7),  # the close
        (log.b, 4),
        (log.b, 8),
        (log.b, 12),
        (log.c, 4),
    }
    opened = [r for r in log.rows(audit.ROOT) if r.kind == audit.OPENED]
    assert all(r.sig for r in opened) and all(r.detail["sign_every"] == SIGN for r in opened)


def test_ids_are_derived_from_chain_and_seq_and_hashed(log: Log) -> None:
    for r in log.rows(log.b):
        assert r.id == audit.event_id(log.b, r.seq)
        assert f"\n{log.b}\n{r.id}\n{r.seq}\n" in audit._row_payload(r)  # type: ignore[operator]


# -- the five kinds the old trail missed -------------------------------------------------


def test_tail_cut_and_head_rewound(log: Log) -> None:
    log.tamper(
        "DELETE FROM audit_events WHERE chain_id = :c AND seq > 6",
        "UPDATE audit_chains SET seq = 6, hash = :h WHERE id = :c",
        c=log.b,
        h=log.row(log.b, 6).hash,
    )
    message = found(log, "missing", log.b, 7, alone=False)
    assert "#7–#10 were removed" in message


def test_whole_writer_chain_wiped_and_its_head_reset(log: Log) -> None:
    log.tamper(
        "DELETE FROM audit_events WHERE chain_id = :c",
        "UPDATE audit_chains SET seq = 0, hash = :h WHERE id = :c",
        c=log.c,
        h=audit.GENESIS,
    )
    message = found(log, "missing", log.c, 1, alone=False)
    assert "#1–#3" in message


def test_last_chain_dropped_with_its_opening_and_the_root_rewound(log: Log) -> None:
    last = max(log.rows(audit.ROOT), key=lambda r: r.seq)
    assert last.detail["chain_id"] == log.d
    log.tamper(
        "DELETE FROM audit_events WHERE chain_id = :c",
        "DELETE FROM audit_chains WHERE id = :c",
        "DELETE FROM audit_events WHERE chain_id = 0 AND seq = :s",
        "UPDATE audit_head SET seq = :s - 1, hash = :h",
        c=log.d,
        s=last.seq,
        h=log.row(audit.ROOT, last.seq - 1).hash,
    )
    message = found(log, "missing", audit.ROOT, last.seq, alone=False)
    assert "root chain ends at" in message


def test_two_rows_ids_swapped(log: Log) -> None:
    r2, r3 = log.row(log.b, 2), log.row(log.b, 3)
    log.tamper(
        "UPDATE audit_events SET id = -1 WHERE id = :i2",
        "UPDATE audit_events SET id = :i2 WHERE id = :i3",
        "UPDATE audit_events SET id = :i3 WHERE id = -1",
        i2=r2.id,
        i3=r3.id,
    )
    found(log, "edited", log.b, 2, alone=True)


def test_a_copy_of_an_event_beside_it_under_an_id_outside_its_chain(log: Log) -> None:
    """A copy of b's #2 under an id outside b's ids (the unique index dropped first):
    a walk that reads b's events by id does not see it; the count by chain and seq
    does, and the row-by-row check names it: as a duplicate, or (when the copy comes
    first of the two) as an event whose id no longer matches its hash."""
    log.tamper(
        "DROP INDEX ix_audit_events_chain_seq",
        "INSERT INTO audit_events (id, chain_id, seq, at, user_id, kind, item_id, detail,"
        " prev_hash, hash, mac, sig) SELECT :copy, chain_id, seq, at, user_id, kind, item_id,"
        " detail, prev_hash, hash, mac, sig FROM audit_events WHERE id = :i",
        copy=audit.event_id(log.b, 2) + (1 << 31),  # b's range holds its seqs only
        i=log.row(log.b, 2).id,
    )
    for r in (
        verify_since(log.engine, KEY, log.cp),
        audit.verify(log.engine, KEY),
        audit.verify(log.engine, KEY, batch=3),
        audit.verify(log.engine, KEY, batch=3, parallel_min=0, worker_wait=60),
        audit.verify_reference(log.engine, KEY),
    ):
        assert (r.ok, r.chain_id, r.first_bad_seq) == (False, log.b, 2), r
        assert r.problem in ("inserted", "edited"), r


def test_readers_order_by_what_the_hash_covers(log: Log) -> None:
    """Store.audit_events orders by (at, id): swapping ids changes what readers see,
    and the hash catches it (above); the order itself is the writers' order."""
    events = log.store.audit_events(kind="decision")
    assert events == sorted(events, key=lambda e: (e.at, e.id))


def test_forged_events_resigned_with_the_team_key_in_a_signed_stretch(log: Log) -> None:
    """Event #6 of b edited and b re-hashed with the team key from there: hashes and
    MACs hold, but b's writer signed #8 over the old chain."""
    log.rehash(log.b, edit={6: {"item_id": 999}})
    message = found(log, "signature", log.b, 8, alone=True)
    assert "#5–#8" in message  # the last good signature is #4


def test_forged_event_inserted_into_anothers_chain(log: Log) -> None:
    """A whole new event put in as c's #2 (the rest shifted, ids re-derived, all
    re-hashed with the team key, signatures kept on their events): the event now at
    #4 should carry c's writer's signature and cannot."""
    rows = [r._asdict() for r in log.rows(log.c)]
    forged = {**rows[0], "user_id": 1, "kind": "decision", "item_id": 7, "sig": None}
    forged["detail"] = {"forged": True}
    values = [rows[0], forged, *rows[1:]]
    for seq, v in enumerate(values, start=1):
        v.update(seq=seq, id=audit.event_id(log.c, seq))
    log.rewrite(log.c, values)
    found(log, "signature", log.c, 4, alone=True)


def test_signatures_stripped_and_the_chain_rewritten(log: Log) -> None:
    log.tamper("UPDATE audit_events SET sig = NULL WHERE chain_id = :c", c=log.b)
    log.rehash(log.b, edit={2: {"user_id": 1}})
    message = found(log, "signature", log.b, 4, alone=True)
    assert "stripped" in message


def test_rewrite_of_a_never_signed_chain_shows_against_the_checkpoint(log: Log) -> None:
    """e crashed before signing anything: only the checkpoint can tell its rewrite."""
    log.rehash(log.e, edit={1: {"kind": "skip"}})
    message = found(log, "rewritten", log.e, 2, alone=False)
    assert "#1–#2" in message


def test_events_added_to_a_closed_chain(log: Log) -> None:
    last = log.row(log.a, 7)
    cast = "CAST('{}' AS json)" if log.pg else "'{}'"
    at = T0 + timedelta(hours=1)
    h = audit.event_hash(
        audit.payload(last.hash, log.a, 8, audit.canonical_at(at), None, 5, "{}", "decision")
    )
    log.tamper(
        "INSERT INTO audit_events (id, chain_id, seq, at, user_id, kind, item_id, detail,"
        f" prev_hash, hash, mac) VALUES (:i, :c, 8, :t, NULL, 'decision', 5, {cast}, :p, :h, :m)",
        "UPDATE audit_chains SET seq = 8, hash = :h WHERE id = :c",
        i=audit.event_id(log.a, 8),
        c=log.a,
        t=at if log.pg else _naive(at),
        p=last.hash,
        h=h,
        m=audit.event_mac(KEY, h),
    )
    message = found(log, "forged", log.a, 8, alone=True)
    assert "signed close" in message


def test_a_chains_registered_key_replaced(log: Log) -> None:
    """b's opening event made to register the attacker's key, signed with it, and the
    root re-hashed with the team key (so that b could then be re-signed at will): the
    openings after it were signed by their own writers over the old root chain."""
    attacker = audit.Signer()
    opening = next(r for r in log.rows(audit.ROOT) if r.detail.get("chain_id") == log.b)
    detail = {**opening.detail, "public_key": attacker.public_hex}
    h = audit.event_hash(
        audit.payload(
            opening.prev_hash,
            audit.ROOT,
            opening.seq,
            audit.canonical_at(opening.at),
            None,
            None,
            audit.canonical_detail(detail),
            opening.kind,
        )
    )
    sig = attacker.sign_event(audit.ROOT, opening.seq, h)
    log.rehash(audit.ROOT, edit={opening.seq: {"detail": detail, "sig": sig}})
    message = found(log, "signature", audit.ROOT, opening.seq + 1, alone=True)
    assert "not signed by the key it registers" in message


# -- edits, deletes, inserts, reorders anywhere ------------------------------------------


@pytest.mark.parametrize(
    ("where", "column", "value"),
    [
        ("b", "item_id", 4242),
        ("b", "user_id", 1),
        ("c", "kind", "skip"),
        ("e", "at", "2026-03-01 09:30:00.000001"),
        ("root", "detail", '{"chain_id": 1}'),
        ("d", "detail", "{}"),  # the checkpoint event itself
    ],
)
def test_an_edit_anywhere(log: Log, where: str, column: str, value: Any) -> None:
    chain = audit.ROOT if where == "root" else getattr(log, where)
    seq = 1 if where in ("root", "e", "d") else 2
    if column == "detail" and log.pg:
        value_sql = "CAST(:v AS json)"
    elif column == "at" and log.pg:
        value_sql = "CAST(:v AS timestamptz)"
        value = value + "+00"
    else:
        value_sql = ":v"
    log.tamper(
        f"UPDATE audit_events SET {column} = {value_sql} WHERE chain_id = :c AND seq = :s",
        v=value,
        c=chain,
        s=seq,
    )
    found(log, "edited", chain, seq, alone=True)


def test_a_row_moved_to_another_chain(log: Log) -> None:
    log.tamper(
        "UPDATE audit_events SET chain_id = :e, seq = 3 WHERE chain_id = :a AND seq = 2",
        "UPDATE audit_chains SET seq = 3 WHERE id = :e",
        a=log.a,
        e=log.e,
    )
    found(log, "gap", log.a, 2, alone=True)


@pytest.mark.parametrize(("where", "seq"), [("root", 2), ("b", 1), ("b", 5), ("c", 2)])
def test_a_delete_anywhere(log: Log, where: str, seq: int) -> None:
    chain = audit.ROOT if where == "root" else getattr(log, where)
    log.tamper("DELETE FROM audit_events WHERE chain_id = :c AND seq = :s", c=chain, s=seq)
    found(log, "gap", chain, seq, alone=True)


def test_an_insert_without_a_chain_position(log: Log) -> None:
    log.tamper(
        "INSERT INTO audit_events (id, chain_id, at, kind, detail)"
        " VALUES (5, :c, :t, 'decision', '{}')",
        c=log.b,
        t=T0 if log.pg else _naive(T0),
    )
    r = verify_since(log.engine, KEY, log.cp)
    assert (r.problem, r.first_bad_id) == ("inserted", 5), r


def test_a_legacy_form_event_slipped_into_a_signed_chain(log: Log) -> None:
    """An id below 2**32 selects the legacy payload, which does not hash the id: a
    row written that way after the upgrade is refused, not read as legacy."""
    r = log.row(log.b, 3)
    legacy = audit.event_hash(
        audit.payload(
            r.prev_hash,
            log.b,
            3,
            audit.canonical_at(r.at),
            r.user_id,
            r.item_id,
            audit.canonical_detail(r.detail),
            r.kind,
            row_id=77,
        )
    )
    assert legacy != r.hash
    log.tamper("UPDATE audit_events SET id = 77 WHERE id = :i", i=r.id)
    found(log, "inserted", log.b, 3, alone=True)


def test_a_legacy_id_on_an_unsigned_event_hashed_in_the_current_form(log: Log) -> None:
    """c's last event (#5, after its last signature) moved to id 77 and hashed again
    with the team key over the current payload, which hashes the id: the hash and the
    MAC hold, but a keyed chain holds only ids that event_id gives, which the batch
    check sees on both backends as the row-by-row check does."""
    r = log.row(log.c, 5)
    current = audit._row_payload(r)
    assert current is not None
    h = audit.event_hash(current.replace(f"\n{r.id}\n", "\n77\n", 1))
    log.tamper(
        "UPDATE audit_events SET id = 77, hash = :h, mac = :m WHERE id = :i",
        "UPDATE audit_chains SET hash = :h WHERE id = :c",
        h=h,
        m=audit.event_mac(KEY, h),
        i=r.id,
        c=log.c,
    )
    for p in (
        audit.verify(log.engine, KEY),
        audit.verify(log.engine, KEY, batch=3),
        audit.verify_reference(log.engine, KEY),
    ):
        assert (p.problem, p.chain_id, p.first_bad_seq) == ("inserted", log.c, 5), p
        assert "legacy form" in p.message, p


@pytest.mark.parametrize("where", ["root", "b"])
def test_a_reorder_anywhere(log: Log, where: str) -> None:
    chain = audit.ROOT if where == "root" else log.b
    log.tamper(
        "UPDATE audit_events SET seq = -1 WHERE chain_id = :c AND seq = 2",
        "UPDATE audit_events SET seq = 2 WHERE chain_id = :c AND seq = 3",
        "UPDATE audit_events SET seq = 3 WHERE chain_id = :c AND seq = -1",
        c=chain,
    )
    found(log, "broken_link", chain, 2, alone=True)


# -- the writer that finds a stranger in its chain ---------------------------------------


def test_a_writer_leaves_a_chain_someone_else_appended_to(log: Log) -> None:
    """Someone appends a well-formed event (team key) to c while c's session runs;
    the session notices that the head is not its own, goes on in a new chain and
    records where its events ended, so verify names the intruder."""
    last = log.row(log.c, 5)
    at = T0 + timedelta(hours=2)
    h = audit.event_hash(
        audit.payload(last.hash, log.c, 6, audit.canonical_at(at), 2, 9, "{}", "decision")
    )
    cast = "CAST('{}' AS json)" if log.pg else "'{}'"
    log.tamper(
        "INSERT INTO audit_events (id, chain_id, seq, at, user_id, kind, item_id, detail,"
        f" prev_hash, hash, mac) VALUES (:i, :c, 6, :t, 2, 'decision', 9, {cast}, :p, :h, :m)",
        "UPDATE audit_chains SET seq = 6, hash = :h WHERE id = :c",
        i=audit.event_id(log.c, 6),
        c=log.c,
        t=at if log.pg else _naive(at),
        p=last.hash,
        h=h,
        m=audit.event_mac(KEY, h),
    )
    writer = log.writers[log.c]
    write(log.engine, writer, 1, start=50)
    assert writer.chain_id not in (None, log.c)
    message = found(log, "forged", log.c, 6, alone=True)
    assert "not written by the chain's writer" in message


# -- the checkpoint itself ---------------------------------------------------------------


def test_a_checkpoint_file_changed_by_hand_is_refused(log: Log, tmp_path: Path) -> None:
    d = log.cp.to_dict()
    d["chains"] = [[c, s - 1 if c == log.b else s, h] for c, s, h in d["chains"]]
    with pytest.raises(CheckpointError, match="digest"):
        Checkpoint.from_dict(d)
    # Rewound consistently, digest and all: the signature no longer holds.
    rewound = replace(log.cp, chains={**log.cp.chains, log.b: (6, log.row(log.b, 6).hash)})
    r = verify_since(log.engine, KEY, Checkpoint.from_dict(rewound.to_dict()))
    assert (r.ok, r.problem) == (False, "signature"), r


def test_a_checkpoint_of_another_database_is_refused(db_url: str, log: Log) -> None:
    """Signed, intact, but by a session this log never registered."""
    stranger = audit.Signer()
    other = replace(log.cp, signer_chain=log.d, public_key=stranger.public_hex).signed(stranger)
    r = verify_since(log.engine, KEY, other)
    assert (r.ok, r.problem) == (False, "signature") and "never registered" in r.message


def test_the_checkpoint_round_trips_through_its_file(log: Log, tmp_path: Path) -> None:
    assert Checkpoint.read(log.local.path) == log.cp
    data = json.loads(log.local.path.read_text())
    assert data["digest"] == log.cp.digest() and data["signer"]["chain_id"] == log.d
    assert log.local.path.stat().st_mode & 0o777 == 0o600


def test_a_checkpoint_of_a_damaged_log_is_refused(log: Log) -> None:
    log.tamper("UPDATE audit_events SET item_id = 1 WHERE chain_id = :c AND seq = 1", c=log.b)
    with pytest.raises(CheckpointError, match="does not verify"):
        log.store.checkpoints.take(KEY, log.local)


def test_start_check_catches_a_cut_and_adopts_newer_checkpoints(log: Log, tmp_path: Path) -> None:
    repo = log.store.checkpoints
    assert repo.check_at_start(log.local).ok
    # Another workstation, which has never held a checkpoint, adopts the one recorded
    # in the log; a later checkpoint replaces it there.
    other = LocalCheckpoint(tmp_path / "other-workstation")
    check = repo.check_at_start(other)
    assert check.ok and check.held == log.cp and other.load() == log.cp
    newer = Store(log.engine, audit_key=KEY).checkpoints.take(KEY, LocalCheckpoint(tmp_path))
    assert repo.check_at_start(other).held == newer and other.load() == newer
    assert repo.last_taken_at() is not None
    # A cut before the held checkpoint is caught at start, and nothing is adopted.
    log.tamper(
        "DELETE FROM audit_events WHERE chain_id = :c AND seq > 2",
        "UPDATE audit_chains SET seq = 2, hash = :h WHERE id = :c",
        c=log.b,
        h=log.row(log.b, 2).hash,
    )
    check = repo.check_at_start(other)
    assert not check.ok and "#3–#13 were removed" in check.message
    assert other.load() == newer


def test_a_changed_local_checkpoint_is_reported_at_start(log: Log) -> None:
    data = json.loads(log.local.path.read_text())
    data["taken_at"] = "2020-01-01T00:00:00.000000Z"
    log.local.path.write_text(json.dumps(data))
    check = log.store.checkpoints.check_at_start(log.local)
    assert not check.ok and "signature" in check.message


def test_known_limit_a_tail_after_the_last_checkpoint(log: Log) -> None:
    """Events after the newest checkpoint can still be cut from the end of a chain
    with its head rewound: nothing outside the database has seen them yet. This is
    why checkpoints are taken often (the README says how)."""
    log.tamper(
        "DELETE FROM audit_events WHERE chain_id = :c AND seq > 10",
        "UPDATE audit_chains SET seq = 10, hash = :h WHERE id = :c",
        c=log.b,
        h=log.row(log.b, 10).hash,
    )
    assert verify_since(log.engine, KEY, log.cp).ok


def test_store_close_seals_the_session_chain(log: Log) -> None:
    store = Store(log.engine, audit_key=KEY)
    store.record_event(None, "note")
    chain = store.audit_writer.chain_id
    store.close()
    assert chain is not None
    last = max(log.rows(chain), key=lambda r: r.seq)
    assert last.kind == audit.CLOSED and last.sig
    assert audit.verify(log.engine, KEY).sealed >= {chain, log.a}


def test_legacy_prefix_is_accepted_only_in_place(db_url: str, tmp_path: Path) -> None:
    """Events written before 0015 (legacy ids, old payload, no keys) still verify;
    a legacy chain sealed by a checkpoint may not grow."""
    engine = make_engine(db_url)
    upgrade(engine)
    pg = engine.dialect.name == "postgresql"
    # Legacy rows as the pre-0015 code wrote them: a root chain opening chain 1.
    prev = audit.GENESIS
    rows: list[dict[str, object]] = []
    for chain, seq, kind, detail in [
        (0, 1, "user_created", {"name": "ana"}),
        (0, 2, audit.OPENED, {"chain_id": 1}),
        (1, 1, "claim", {"claim_id": 1}),
        (1, 2, "decision", {"claim_id": 1}),
    ]:
        if seq == 1:
            prev = audit.GENESIS
        d = audit.canonical_detail(detail)
        at = T0 + timedelta(seconds=len(rows))
        rid = len(rows) + 1
        h = audit.event_hash(
            audit.payload(prev, chain, seq, audit.canonical_at(at), None, None, d, kind, row_id=rid)
        )
        rows.append(
            {"i": rid, "c": chain, "s": seq, "t": at if pg else _naive(at), "k": kind, "d": d}
            | {"p": prev, "h": h, "m": audit.event_mac(KEY, h)}
        )
        prev = h
    cast = "CAST(:d AS json)" if pg else ":d"
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO audit_chains (id, seq, hash) VALUES (1, 2, :h)"), {"h": prev}
        )
        conn.execute(
            text(
                "INSERT INTO audit_events (id, chain_id, seq, at, kind, detail, prev_hash, hash,"
                f" mac) VALUES (:i, :c, :s, :t, :k, {cast}, :p, :h, :m)"
            ),
            rows,
        )
        conn.execute(text("UPDATE audit_head SET seq = 2, hash = :h"), {"h": rows[1]["h"]})
        if pg:  # the ids above were given by hand: move the id sequence past them
            conn.execute(text("SELECT setval(pg_get_serial_sequence('audit_chains', 'id'), 1)"))
    assert audit.verify(engine, KEY).ok
    # Now a current writer and a checkpoint: the legacy chain is sealed by it.
    store = Store(engine, audit_key=KEY)
    store.record_event(None, "after the upgrade")
    cp = store.checkpoints.take(KEY, LocalCheckpoint(tmp_path))
    assert 1 in cp.sealed and verify_since(engine, KEY, cp).ok
    r = audit.verify_reference(engine, KEY)
    assert r.ok, r
    # A legacy-form event appended to the legacy chain (team key): sealed, refused.
    at = T0 + timedelta(days=1)
    h = audit.event_hash(
        audit.payload(prev, 1, 3, audit.canonical_at(at), None, None, "{}", "decision", row_id=50)
    )
    with engine.begin() as conn:
        _untriggered(conn, pg, True)
        conn.execute(
            text(
                "INSERT INTO audit_events (id, chain_id, seq, at, kind, detail, prev_hash, hash,"
                f" mac) VALUES (50, 1, 3, :t, 'decision', {cast.replace(':d', ':dd')}, :p, :h, :m)"
            ),
            {
                "t": at if pg else _naive(at),
                "dd": "{}",
                "p": prev,
                "h": h,
                "m": audit.event_mac(KEY, h),
            },
        )
        conn.execute(text("UPDATE audit_chains SET seq = 3, hash = :h WHERE id = 1"), {"h": h})
        _untriggered(conn, pg, False)
    assert audit.verify(engine, KEY).ok  # alone, a legacy chain can still be extended
    r = verify_since(engine, KEY, cp)
    assert (r.problem, r.chain_id, r.first_bad_seq) == ("forged", 1, 3), r
    store.close()
    engine.dispose()


def test_a_new_workstation_will_not_vouch_for_a_log_cut_since_the_last_checkpoint(
    log: Log, tmp_path: Path
) -> None:
    """A workstation that holds no checkpoint yet still checks the log against the
    newest one the log records before signing a new one."""
    log.tamper(
        "DELETE FROM audit_events WHERE chain_id = :c AND seq > 6",
        "UPDATE audit_chains SET seq = 6, hash = :h WHERE id = :c",
        c=log.b,
        h=log.row(log.b, 6).hash,
    )
    fresh = LocalCheckpoint(tmp_path / "new-workstation")
    with pytest.raises(CheckpointError, match="#7–#10 were removed"):
        Store(log.engine, audit_key=KEY).checkpoints.take(KEY, fresh)
    assert fresh.load() is None
