"""Tamper-evident audit log: SHA-256 hash chains, one per writer, each signed by its
writer's own Ed25519 key, anchored outside the database by signed checkpoints
(db.audit_checkpoint).

Each event has a gap-free position ``seq`` (1, 2, 3 …) in its chain ``chain_id`` (0 is
the root chain), an ``id`` that is a function of both, ``event_id(chain_id, seq)``, and
is stored with

    payload  = prev_hash "\\n" chain_id "\\n" id "\\n" seq "\\n" at "\\n" user_id "\\n"
               item_id "\\n" detail "\\n" kind
    hash     = SHA-256(payload as UTF-8), hex
    mac      = HMAC-SHA-256(team key, the 32 raw bytes of hash), hex
    sig      = on some events: Ed25519(writer's key, "reviewer-audit-sig/2" chain seq hash)

where ``prev_hash`` is the previous event's hash in the chain (64 zeros for event 1),
``at`` is the UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, a missing user_id/item_id is
the empty string, and ``detail`` is ``json.dumps(detail, sort_keys=True,
separators=(",", ":"), ensure_ascii=False)``. Only ``kind`` is free text; it comes last
and may hold no newline (nor chr 30, see db.audit_walk._BATCH_SQL), so the layout is unambiguous.
Everything a reader orders or identifies events by (id, chain_id, seq, at) is hashed.

Signatures. A writer (ChainWriter, one per Store, i.e. per workstation session) makes
an Ed25519 key pair that lives only in its memory, and registers the public key in the
``audit_chain_opened`` event that opens its chain in the root chain (that event is
signed by the same key). It signs an event's hash, which covers its whole chain up to
there, every SIGN_EVERY events, when asked to (checkpoints), and in the signed
``audit_chain_closed`` event it writes when the session ends; nothing may follow that.
So only the session itself can have written a signed stretch of its chain: the team
key (which every workstation holds) and write access to the database no longer forge
anything there. The events after a chain's last signature are its *unsigned tail*:
normal for a session that is still running; after a crash they are protected only by
the hash chain and the team MAC, i.e. against someone without the team key, and by any
checkpoint taken after them. verify reports each chain's unsigned tail.

Checkpoints (db.audit_checkpoint) record every chain's head outside the database, so
cutting a tail and rewinding its head row, wiping a chain, or dropping the last chain
and rewinding the root are caught against a checkpoint taken before.

Events written before migration 0015 are the *legacy prefix*: the older payload
``prev_hash seq at user_id item_id detail kind`` (no chain or id), no signatures, ids
below 2**32 (``event_id`` gives every newer event an id above). verify accepts them
only where they can stand: the root chain may start with legacy events, a chain opened
by a legacy event is legacy throughout and sealed (a checkpoint taken after the
upgrade pins its length), and no legacy event may follow a newer one.

The one-row ``audit_head`` table holds the root chain's last seq and hash,
``audit_chains`` every writer chain's; a chain's appends are serialised by its head.

``detail`` is stored as exactly its canonical text, which lets ``verify`` build the
payload inside the database and only hash in Python; a row whose stored form is not
canonical (say, reformatted by hand) is re-read through SQLAlchemy and checked the slow
way, so the fast path never changes what counts as intact.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TextIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Dialect

from db.audit_walk import CLOSED as CLOSED
from db.audit_walk import GENESIS as GENESIS
from db.audit_walk import ID_BASE as ID_BASE
from db.audit_walk import (
    REST_SQL,
    ROWS_SQL,
    Bad,
    Chain,
    ChainSpec,
    ChainState,
    Mode,
    Query,
    Task,
    Worker,
    batch_sql,
    chain_tasks,
    in_chain,
    sig_message,
    spec_chain,
    structural,
    worker_process,
)
from db.audit_walk import ROOT as ROOT
from db.audit_walk import SIGN_EVERY as SIGN_EVERY
from db.audit_walk import VERIFY_BATCH as VERIFY_BATCH
from db.audit_walk import Problem as Problem
from db.audit_walk import Walk as BatchWalk
from db.audit_walk import event_hash as event_hash
from db.audit_walk import event_id as event_id
from db.audit_walk import event_mac as event_mac
from db.audit_walk import signature_ok as signature_ok
from db.keys import AUDIT_KEY, KeyringSecrets, SecretSource
from db.models import UTCDateTime
from db.prepared import BEFORE_NEXT, Prepared, Step, utc_text

OPENED = "audit_chain_opened"  # the root event that brings a writer's chain into being
# Below this many events in writers' chains a worker process costs more than it saves:
# starting one (an interpreter importing db.audit_walk) takes about 0.1 CPU-seconds, and
# it reads its half in a snapshot of its own.
PARALLEL_MIN_EVENTS = 300_000
Bind = Engine | Connection


class _CanonicalJSON(TypeDecorator[Any]):
    """JSON that is written as given: append binds the canonical text itself, so the
    stored bytes are exactly what was hashed (see the module docstring). Reads parse."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None  # no re-serialising; PostgreSQL still casts the text ::JSON


# The chain's view of the tables (the ORM models in db.models may lag behind 0003).
_meta = MetaData()
events_t = Table(
    "audit_events",
    _meta,
    Column("id", BigInteger, primary_key=True),
    Column("at", UTCDateTime()),
    Column("user_id", Integer),
    Column("kind", String(40)),
    Column("item_id", BigInteger),
    Column("detail", _CanonicalJSON()),
    Column("chain_id", BigInteger),
    Column("seq", BigInteger),
    Column("prev_hash", String(64)),
    Column("hash", String(64)),
    Column("mac", String(64)),
    Column("sig", String(128)),
)
head_t = Table(
    "audit_head",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger),
    Column("hash", String(64)),
)
chains_t = Table(
    "audit_chains",
    _meta,
    Column("id", BigInteger, primary_key=True),
    Column("seq", BigInteger),
    Column("hash", String(64)),
)


# -- canonical form ----------------------------------------------------------------------


# isoformat(timespec="microseconds") of the time in UTC, with a Z: formatted in one
# step, since every event is hashed with it, when written and again when verified.
_CANONICAL_AT = "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ"


def canonical_at(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return utc_text(at, _CANONICAL_AT)


def canonical_detail(detail: Any) -> str:
    value = detail if detail is not None else {}
    if not _json_plain(value):
        # Round-trip first: int keys, tuples etc. come back from the database as JSON
        # made them, so the canonical text must be that of the JSON value, not the
        # Python one. A value already made only of JSON's own types comes back as
        # itself, so it skips the round trip (tests/db/test_audit_canonical.py).
        value = json.loads(json.dumps(value, allow_nan=False))
    return _CANONICAL_JSON.encode(value)


# What json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
# allow_nan=False) gives, without building an encoder for every event.
_CANONICAL_JSON = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
_JSON_SCALARS = frozenset({str, int, bool, float, type(None)})


def _json_plain(value: Any) -> bool:
    """Whether `value` is built of exactly dict (str keys), list, str, int, bool, float
    and None: what json.loads(json.dumps(value)) gives back unchanged. Subclasses (an
    IntEnum, a str Enum) and tuples are not. NaN and infinity pass: the final dumps
    refuses them as the round trip would."""
    kind = type(value)
    if kind is dict:
        return all(type(k) is str and _json_plain(v) for k, v in value.items())
    if kind is list:
        return all(_json_plain(v) for v in value)
    return kind in _JSON_SCALARS


def payload(
    prev_hash: str,
    chain_id: int,
    seq: int,
    at: str,
    user_id: int | None,
    item_id: int | None,
    detail: str,
    kind: str,
    *,
    row_id: int | None = None,
) -> str:
    """The hashed text; `at` and `detail` already canonical (see the module docstring).
    `row_id`: the stored id when checking a row (else the one event_id gives); a legacy
    id (below ID_BASE) selects the legacy payload, which has no chain or id."""
    uid = "" if user_id is None else str(user_id)
    iid = "" if item_id is None else str(item_id)
    rid = event_id(chain_id, seq) if row_id is None else row_id
    if rid < ID_BASE:
        return f"{prev_hash}\n{seq}\n{at}\n{uid}\n{iid}\n{detail}\n{kind}"
    return f"{prev_hash}\n{chain_id}\n{rid}\n{seq}\n{at}\n{uid}\n{iid}\n{detail}\n{kind}"


def public_key_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


# -- appending ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NewEvent:
    """An event to append; fields in the order of Store's own event tuple."""

    user_id: int | None
    kind: str
    item_id: int | None = None
    detail: dict[str, Any] | None = None
    at: datetime | None = None  # None: the `at` given to append_many


def _lock_head(
    conn: Connection, n: int, at: datetime | ColumnElement[datetime] | None
) -> tuple[int, str, datetime | None]:
    """Reserve seqs for `n` events; returns (last seq before them, its hash, at).

    UPDATE first, not SELECT: it takes the row lock on PostgreSQL (as SELECT … FOR
    UPDATE would) and the write lock on SQLite even in a deferred transaction, so no two
    appends can read the same head. RETURNING gives the new seq and the still-unchanged
    hash, and evaluates a SQL `at` such as now() in the same round trip, so the stored
    and the hashed time are one value."""
    cols: list[Any] = [head_t.c.seq, head_t.c.hash]
    if at is not None and not isinstance(at, datetime):
        cols.append(at)
    row = conn.execute(
        update(head_t).where(head_t.c.id == 1).values(seq=head_t.c.seq + n).returning(*cols)
    ).first()
    if row is None:
        raise RuntimeError("audit_head is missing: the audit log cannot be appended to")
    when: Any = row[2] if len(cols) == 3 else at
    if when is not None and not (isinstance(when, datetime) and when.tzinfo is not None):
        raise ValueError("audit time must be a timezone-aware datetime")
    return int(row[0]) - n, str(row[1]), when


def _write_rows(conn: Connection, rows: list[dict[str, Any]], head: str) -> None:
    set_head = update(head_t).where(head_t.c.id == 1).values(hash=head)
    if conn.dialect.name == "postgresql" and len(rows) == 1:
        # The usual case, one event: the head moves in the same round trip, in a CTE.
        conn.execute(insert(events_t).values(rows[0]).add_cte(set_head.cte("set_head")))
        return
    conn.execute(insert(events_t), rows)
    conn.execute(set_head)


def append_many(
    conn: Connection,
    key: bytes,
    events: Iterable[NewEvent],
    *,
    at: datetime | ColumnElement[datetime] | None = None,
    batch: int = 50_000,
    signer: Signer | None = None,
) -> int:
    """Append `events` to the root chain in order inside the caller's transaction;
    returns the last seq. `signer`: sign every one of them (a chain's opening event).

    `at` is the time of every event that has none of its own: a datetime, or a SQL
    expression (now()) evaluated once. Call this last in the transaction: it holds the
    audit head lock until commit, which serialises every writer's final step."""
    todo = _checked(events)
    if not todo:
        return 0
    seq, prev, when = _lock_head(conn, len(todo), at)
    every = 1 if signer is not None else None
    for start in range(0, len(todo), batch):
        rows = _rows(key, todo[start : start + batch], ROOT, seq, prev, when, signer, every)
        seq, prev = rows[-1]["seq"], rows[-1]["hash"]
        _write_rows(conn, rows, prev)
    return seq


def _checked(events: Iterable[NewEvent]) -> list[NewEvent]:
    todo = list(events)
    for ev in todo:
        # The payload layout relies on it (see the module docstring and db.audit_walk._BATCH_SQL).
        if "\n" in ev.kind or "\x1e" in ev.kind:
            raise ValueError(f"audit kind {ev.kind!r} holds a newline or record separator")
    return todo


class Signer:
    """A writer's Ed25519 key pair. The private half lives only in this object, in the
    memory of one workstation session: it is never written to disk or the keyring, so
    once the session ends nobody (not its own OS account, not a later session) can sign
    as it, and a chain it closed can never be extended or rewritten unnoticed."""

    def __init__(self) -> None:
        self._key = Ed25519PrivateKey.generate()
        self.public_hex = public_key_hex(self._key)

    def sign(self, message: bytes) -> str:
        return self._key.sign(message).hex()

    def sign_event(self, chain_id: int, seq: int, hash_hex: str) -> str:
        return self.sign(sig_message(chain_id, seq, hash_hex))


def _rows(
    key: bytes,
    events: list[NewEvent],
    chain_id: int,
    seq: int,
    prev: str,
    when: datetime | None,
    signer: Signer | None = None,
    sign_every: int | None = None,
    signed: int = 0,
    sign_last: bool = False,
) -> list[dict[str, Any]]:
    """The rows for `events` following event `seq` (hash `prev`) of chain `chain_id`.
    With a `signer`, an event is signed once `sign_every` events have passed since the
    last signed one (`signed`), and the last event if `sign_last`."""
    rows: list[dict[str, Any]] = []
    last = seq + len(events)
    for ev in events:
        t = ev.at or when
        if t is None:
            raise ValueError(f"audit event {ev.kind!r} has no time")
        seq += 1
        rid = event_id(chain_id, seq)
        detail_c = canonical_detail(ev.detail)
        h = event_hash(
            payload(prev, chain_id, seq, canonical_at(t), ev.user_id, ev.item_id, detail_c, ev.kind)
        )
        sig = None
        due = sign_every is not None and seq - signed >= sign_every
        if signer is not None and (due or (sign_last and seq == last)):
            sig, signed = signer.sign_event(chain_id, seq, h), seq
        rows.append(
            {
                "id": rid,
                "chain_id": chain_id,
                "seq": seq,
                "at": t,
                "user_id": ev.user_id,
                "kind": ev.kind,
                "item_id": ev.item_id,
                "detail": detail_c,
                "prev_hash": prev,
                "hash": h,
                "mac": event_mac(key, h),
                "sig": sig,
            }
        )
        prev = h
    return rows


def append(
    conn: Connection,
    key: bytes,
    *,
    at: datetime | ColumnElement[datetime],
    user_id: int | None,
    kind: str,
    item_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Append one event to the root chain inside the caller's transaction; its seq."""
    return append_many(conn, key, [NewEvent(user_id, kind, item_id, detail)], at=at)


@dataclass(frozen=True)
class _Head:
    chain: int
    seq: int
    hash: str
    signed: int  # the last seq this writer signed
    every: int  # signs at least every this many events
    closed: bool = False


class ChainWriter:
    """Appends one writer's events to a chain of its own, so that writers never wait
    for each other: a single shared head, locked from the audit write to COMMIT, made
    every workstation queue behind the slowest.

    The chain is opened by the first append, in that transaction: a row in
    audit_chains and an `audit_chain_opened` event in the root chain naming it and
    registering this writer's public key, signed with it (the root chain's head is
    locked only then). After that the writer keeps the head in memory and computes
    hashes without reading it; the UPDATE that moves the head is guarded by the seq it
    expects, so a stale copy (a rolled-back transaction, or two threads sharing a
    writer) is noticed, the head re-read under a row lock, and the events hashed again
    from there, but only from a head this writer wrote itself: a head it never wrote
    means someone else appended to its chain, and the writer abandons that chain for a
    new one whose opening event records where its own events ended (verify then
    reports the intruders). Call `committed` or `rolled_back` after each transaction
    (`end` does, for a transaction of UnitOfWork.write).

    Appends in a transaction of UnitOfWork.write (its connection's info carries
    IN_WRITE; write calls `end` when it is over) take turns: one such transaction at a
    time has events of this writer in flight, from its first append to its end, as the
    guarded UPDATE's row lock made them, and its single event, on PostgreSQL, waits
    to go with COMMIT (commit_steps), which saves a round trip on every claim and
    decision (docs/BENCHMARKS.md, "Session 16"). That insert cannot be guarded and
    hashed again before COMMIT: if the head moved (someone else appended to this chain,
    or a COMMIT this writer never heard the outcome of had landed) it fails, and the
    transaction with it (`chain_moved`); the writer is then `unsettle`d and its next
    append goes the guarded way, which sees what happened.
    """

    _REMEMBER = 4096  # own recent heads kept to tell a stale head from a foreign one

    def __init__(self, key: Callable[[], bytes]) -> None:
        # Held by the one write transaction with events in flight, from its first
        # append to `end`; _held_by is its connection's info.
        self._holder = threading.Lock()
        self._held_by: dict[Any, Any] | None = None
        self._unsettled = False  # the head may not be what this writer thinks
        self._key = key
        self.signer = Signer()
        self._head: _Head | None = None  # committed
        self._pending: _Head | None = None  # ... after this transaction
        # (chain, seq) -> hash written here, oldest first; popitem is atomic, so a Store
        # shared by threads cannot trip over another thread's trimming.
        self._own: OrderedDict[tuple[int, int], str] = OrderedDict()
        self._abandon: tuple[int, int] | None = None  # (chain, last own seq) to record
        self._sql: _WriterSql | None = None

    @property
    def chain_id(self) -> int | None:
        return None if self._head is None else self._head.chain

    @property
    def is_open(self) -> bool:
        """Whether this writer has a chain it may still append to."""
        return self._live() is not None

    def append(
        self, conn: Connection, events: Iterable[NewEvent], at: datetime, *, sign: bool = False
    ) -> None:
        """Append `events` in order inside the caller's transaction; `at` is the time of
        every event without its own. `sign`: sign the last of them whatever the count
        (a checkpoint, a session's end)."""
        todo = _checked(events)
        if not todo:
            return
        flush_held(conn)  # one held back earlier in this transaction goes first
        in_write = self._take_turn(conn)
        key = self._key()
        head = self._live()
        if head is None:
            head = self._open(conn, key, at)
        rows = self._rows(key, todo, head, at, sign)
        if self._sql is None:
            self._sql = _WriterSql(conn.dialect)
        strict = self._sql.strict
        if in_write and strict is not None and len(rows) == 1 and not self._unsettled:
            conn.info[_HELD] = (strict, {**rows[0], "p_expect": head.seq})
            conn.info[BEFORE_NEXT] = flush_held
            self._note(head, rows)
            return
        if not self._sql.write(conn, rows, head.seq):
            # The head moved under us: re-read it, locked, and hash again from there.
            row = conn.execute(
                select(chains_t.c.seq, chains_t.c.hash)
                .where(chains_t.c.id == head.chain)
                .with_for_update()
            ).one()
            seq, h = int(row.seq), str(row.hash)
            if seq and self._own.get((head.chain, seq)) != h:
                # Not a head this writer wrote: someone appended to its chain.
                self._abandon = (head.chain, self._head.seq if self._head else 0)
                head = self._open(conn, key, at)
            else:
                # What this writer signed may have been rolled back: ask the database.
                signed = conn.execute(
                    select(func.coalesce(func.max(events_t.c.seq), 0)).where(
                        events_t.c.chain_id == head.chain, events_t.c.sig.is_not(None)
                    )
                ).scalar_one()
                head = _Head(head.chain, seq, h, int(signed), head.every)
            rows = self._rows(key, todo, head, at, sign)
            if not self._sql.write(conn, rows, head.seq):
                raise RuntimeError(f"audit chain {head.chain} moved while locked")
        self._unsettled = False  # the head was checked in this transaction
        self._note(head, rows)

    def _note(self, head: _Head, rows: list[dict[str, Any]]) -> None:
        """The head after `rows`, once this transaction commits."""
        last = rows[-1]
        signed = max([head.signed] + [r["seq"] for r in rows if r["sig"] is not None])
        closed = last["kind"] == CLOSED
        self._pending = _Head(head.chain, last["seq"], last["hash"], signed, head.every, closed)
        for r in rows:
            self._own[(head.chain, r["seq"])] = r["hash"]
        while len(self._own) > self._REMEMBER:
            self._own.popitem(last=False)

    def _take_turn(self, conn: Connection) -> bool:
        """Whether `conn`'s transaction is a write transaction that has (now) the turn.
        Others only wait for the one that has it to end: this writer's next event is
        that one's, and must not be overtaken. Neither waits for ever: past HOLD_WAIT_S
        (a turn never given back) the append goes ahead, and the turn's held event is
        refused at COMMIT (chain_moved) rather than anything hanging."""
        if self._held_by is conn.info:
            return True
        got = self._holder.acquire(timeout=HOLD_WAIT_S)
        if got and conn.info.get(IN_WRITE):
            self._held_by = conn.info
            return True
        if got:
            self._holder.release()
        return False

    def commit_steps(self, conn: Connection) -> list[Step]:
        """The event `conn`'s transaction held back, as steps to run with its COMMIT
        (db.prepared.commit_with); [] if none."""
        conn.info.pop(BEFORE_NEXT, None)
        held = conn.info.pop(_HELD, None)
        return [] if held is None else [held]

    def end(self, info: dict[Any, Any], committed: bool) -> None:
        """The write transaction of the connection whose `info` this is (Connection.info,
        taken while it was usable) has ended, `committed` or not: if it had the turn,
        the head moves on (or stays) and the next may append. A transaction without
        the turn never appended, so leaves the head to the one that has it."""
        info.pop(IN_WRITE, None)
        info.pop(_HELD, None)
        info.pop(BEFORE_NEXT, None)
        if self._held_by is info:
            if committed:
                self.committed()
            else:
                self.rolled_back()
            self._held_by = None
            self._holder.release()

    def unsettle(self) -> None:
        """The head may have moved unseen (a COMMIT whose outcome is unknown, a held event
        refused): the next append checks it before anything is held back."""
        self._unsettled = True

    def open(self, conn: Connection, at: datetime) -> int:
        """Open this writer's chain now if it is not open (its key registered in the
        root chain, in the caller's transaction); returns the chain id."""
        head = self._live() or self._open(conn, self._key(), at)
        if self._pending is None:
            self._pending = head
        return head.chain

    def close(self, conn: Connection, at: datetime) -> None:
        """End the session's chain with a signed `audit_chain_closed` event, so that
        nothing can be added to it or cut from it later; a later append opens a new
        chain. Nothing is written if the chain was never opened."""
        if self._live() is not None:
            self.append(conn, [NewEvent(None, CLOSED, None, {})], at, sign=True)

    def committed(self) -> None:
        if self._pending is not None:
            self._head, self._pending = self._pending, None

    def rolled_back(self) -> None:
        self._pending = None

    def _live(self) -> _Head | None:
        head = self._pending or self._head
        return None if head is None or head.closed else head

    def _rows(
        self, key: bytes, todo: list[NewEvent], head: _Head, at: datetime, sign: bool
    ) -> list[dict[str, Any]]:
        return _rows(
            key, todo, head.chain, head.seq, head.hash, at, self.signer, head.every,
            head.signed, sign or todo[-1].kind == CLOSED,
        )  # fmt: skip

    def _open(self, conn: Connection, key: bytes, at: datetime) -> _Head:
        chain = int(
            conn.execute(
                insert(chains_t).values(seq=0, hash=GENESIS).returning(chains_t.c.id)
            ).scalar_one()
        )
        detail: dict[str, Any] = {
            "chain_id": chain,
            "public_key": self.signer.public_hex,
            "sign_every": SIGN_EVERY,
        }
        if self._abandon is not None:
            old, last_own = self._abandon
            detail["abandons"] = {"chain_id": old, "last_own_seq": last_own}
            self._abandon = None
        append_many(conn, key, [NewEvent(None, OPENED, None, detail)], at=at, signer=self.signer)
        head = _Head(chain, 0, GENESIS, 0, detail["sign_every"])
        self._pending = head
        return head


# Connection info keys: set by UnitOfWork.write for its transaction, which ends with
# ChainWriter.end; and the insert of an event held back for COMMIT.
IN_WRITE = "reviewer_in_write"
_HELD = "reviewer_audit_held"
HOLD_WAIT_S = 30.0


def flush_held(conn: Connection) -> None:
    """Send the event `conn`'s transaction held back for its COMMIT, now: another
    statement of the transaction comes first (db.prepared.before_next)."""
    conn.info.pop(BEFORE_NEXT, None)
    held = conn.info.pop(_HELD, None)
    if held is not None:
        stmt, params = held
        stmt.run(conn, params)


def chain_moved(exc: BaseException) -> bool:
    """Whether `exc` is a held-back event refused because its chain's head had moved:
    its chain_id came back NULL from the guarded update (_WriterSql.strict)."""
    orig = getattr(exc, "orig", None)
    diag = getattr(orig, "diag", None)
    return (
        diag is not None
        and getattr(orig, "sqlstate", None) == "23502"  # not_null_violation
        and diag.table_name == "audit_events"
        and diag.column_name == "chain_id"
    )


_ROW_COLS: tuple[str, ...] = ("id", "chain_id", "seq", "at", "user_id", "kind", "item_id")
_ROW_COLS += ("detail", "prev_hash", "hash", "mac", "sig")


class _WriterSql:
    """ChainWriter's statements, compiled once for its dialect (db.prepared: an append
    runs with every claim and decision)."""

    def __init__(self, dialect: Dialect) -> None:
        expect = bindparam("p_expect", type_=BigInteger())
        chain = bindparam("chain_id", type_=BigInteger())
        values = [bindparam(c, type_=events_t.c[c].type) for c in _ROW_COLS]
        self.guarded: Prepared | None = None
        self.strict: Prepared | None = None
        if dialect.name == "postgresql":
            # One round trip: the insert selects from the guarded UPDATE's RETURNING.
            moved = (
                update(chains_t)
                .where(chains_t.c.id == chain, chains_t.c.seq == expect)
                .values(
                    seq=bindparam("seq", type_=BigInteger()),
                    hash=bindparam("hash", type_=String()),
                )
                .returning(chains_t.c.id)
                .cte("moved")
            )
            self.guarded = Prepared(
                insert(events_t).from_select(list(_ROW_COLS), select(*values).select_from(moved)),
                dialect,
            )
            # The same insert for a held-back event, which goes with COMMIT: a head that
            # moved gives chain_id NULL, which the column refuses, so the transaction
            # fails rather than commit without its event (ChainWriter.append).
            chain_at = _ROW_COLS.index("chain_id")
            checked: list[ColumnElement[Any]] = [*values]
            checked[chain_at] = select(moved.c.id).scalar_subquery()
            self.strict = Prepared(
                insert(events_t).from_select(list(_ROW_COLS), select(*checked)), dialect
            )
        self.move = Prepared(
            update(chains_t)
            .where(chains_t.c.id == chain, chains_t.c.seq == expect)
            .values(
                seq=bindparam("p_last_seq", type_=BigInteger()),
                hash=bindparam("p_last_hash", type_=String()),
            ),
            dialect,
        )
        self.insert = Prepared(
            insert(events_t).values(dict(zip(_ROW_COLS, values, strict=True))), dialect
        )

    def write(self, conn: Connection, rows: list[dict[str, Any]], expect: int) -> bool:
        """Move the head from seq `expect` to the last row and insert the rows; False,
        with nothing written, if the head is no longer at `expect`."""
        if self.guarded is not None and len(rows) == 1:
            return self.guarded.run(conn, {**rows[0], "p_expect": expect})[1] == 1
        last = rows[-1]
        moved = {
            "chain_id": last["chain_id"],
            "p_expect": expect,
            "p_last_seq": last["seq"],
            "p_last_hash": last["hash"],
        }
        if self.move.run(conn, moved)[1] != 1:
            return False
        if len(rows) > _BULK:
            conn.execute(insert(events_t), rows)  # one executemany (a big ingest)
            return True
        for row in rows:
            self.insert.run(conn, row)
        return True


_BULK = 32  # rows above which one executemany beats the prepared single inserts


# -- verifying ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int  # events whose hash and MAC were checked and found good
    head_seq: int | None
    head_hash: str | None
    problem: Problem | None = None
    first_bad_seq: int | None = None
    first_bad_id: int | None = None
    message: str = ""
    # Rows checked one by one because their batch failed the fast batch check (0 for an
    # intact log written by append; > 0 after tampering or hand-reformatted rows).
    slow_rows: int = 0
    chain_id: int = ROOT  # the chain first_bad_seq is in
    # When intact: every chain's last event (seq, hash) as verified, the chains that can
    # never grow (closed by their writer, or legacy), each chain's registered public key,
    # and the unsigned tails (chain, first seq, last seq) of keyed chains.
    heads: dict[int, tuple[int, str]] = field(default_factory=dict)
    sealed: frozenset[int] = frozenset()
    keys: dict[int, str] = field(default_factory=dict)
    unsigned: tuple[tuple[int, int, int], ...] = ()

    def __str__(self) -> str:
        return self.message


@contextmanager
def _reading(bind: Bind) -> Iterator[Connection]:
    """A connection seeing one consistent snapshot of the rows and the head."""
    if isinstance(bind, Connection):
        yield bind
        return
    opts: dict[str, Any] = {}
    if bind.dialect.name == "postgresql":
        opts["isolation_level"] = "REPEATABLE READ"
    with bind.connect() as conn, conn.execution_options(**opts).begin():
        yield conn


def _read_head(conn: Connection) -> tuple[int, str] | None:
    row = conn.execute(select(head_t.c.seq, head_t.c.hash).where(head_t.c.id == 1)).first()
    return None if row is None else (int(row[0]), str(row[1]))


def _typed_payload(conn: Connection, row_id: int) -> str | None:
    """The payload of one row built the slow way, from typed values; None if the row
    cannot be put in canonical form at all (bad JSON, missing time…)."""
    try:
        r = conn.execute(select(events_t).where(events_t.c.id == row_id)).one()
        return _row_payload(r)
    except (ValueError, TypeError):  # JSONDecodeError is a ValueError
        return None


def _row_payload(r: Any) -> str | None:
    if r.prev_hash is None or r.at is None or r.seq is None:
        return None
    return payload(
        r.prev_hash,
        r.chain_id,
        r.seq,
        canonical_at(r.at),
        r.user_id,
        r.item_id,
        canonical_detail(r.detail),
        r.kind,
        row_id=r.id,
    )


def _batches(conn: Connection) -> Query:
    stmts = {mode: text(sql) for mode, sql in batch_sql(conn.dialect.name).items()}

    def query(mode: Mode, params: dict[str, int]) -> tuple[Any, ...]:
        return tuple(conn.execute(stmts[mode], params).one())

    return query


class _Walk(BatchWalk):
    """The batch walk on one of our connections, which also checks a batch row by row
    (the batch check failed) and names the first bad event."""

    def __init__(self, conn: Connection, key: bytes) -> None:
        super().__init__(_batches(conn), key)
        self.conn = conn
        self.rows_sql = text(ROWS_SQL.format(rest=REST_SQL[conn.dialect.name]))

    def rows(self, c: Chain, lo: int, hi: int) -> Bad | None:
        """Check a batch row by row; returns the first bad event, if any."""
        for rid, seq, sprev, shash, smac, sig, kind, text_ in self.conn.execute(
            self.rows_sql, {"chain": c.chain, "lo": lo, "hi": hi}
        ).all():
            self.slow_rows += 1
            rid_ = int(rid)
            bad = c.check_row(
                rid_,
                seq,
                sprev,
                shash,
                smac,
                sig,
                kind,
                text_,
                partial(_typed_payload, self.conn, rid_),
            )
            if bad is not None:
                return bad
            self.checked += 1
        return None


@dataclass(frozen=True)
class _Opening:
    seq: int
    row_id: int
    public_key: str | None  # None: a legacy chain
    abandons: tuple[int, int] | None  # (chain, last seq its writer wrote there)
    sign_every: int = SIGN_EVERY


def _chain_for(chain: int, op: _Opening | None, key: bytes) -> Chain:
    if op is None or op.public_key is None:
        return Chain(chain, "legacy", None, key)
    return Chain(chain, "keyed", op.public_key, key, op.sign_every)


def verify(
    bind: Bind,
    key: bytes,
    *,
    batch: int = VERIFY_BATCH,
    parallel_min: int = PARALLEL_MIN_EVENTS,
    worker_wait: float = 0.0,
) -> VerifyResult:
    """Check every chain; stops at the first broken event and says how it is broken.

    The root chain first (it says which writers' chains exist and their keys), then
    that the chains and their openings agree, then each writer's chain (hashes, MACs,
    signatures), then that no one appended to a chain its writer abandoned.
    Give an Engine (verify takes its own consistent snapshot) or a Connection (the
    caller's transaction is used as it is).

    Given an Engine of a SQLite file and at least `parallel_min` events in writers'
    chains, a second process checks the later half of those chains meanwhile (see
    verify_snapshot); the result is the same as checking them all here."""
    with _reading(bind) as conn:
        return verify_snapshot(
            conn, key, bind if isinstance(bind, Engine) else None, batch=batch,
            parallel_min=parallel_min, worker_wait=worker_wait,
        )  # fmt: skip


def verify_snapshot(
    conn: Connection,
    key: bytes,
    source: Engine | None,
    *,
    batch: int = VERIFY_BATCH,
    parallel_min: int = PARALLEL_MIN_EVENTS,
    worker_wait: float = 0.0,
) -> VerifyResult:
    """verify on `conn`, a snapshot opened by _reading on `source` (None: a caller's
    connection, whose transaction may hold writes nobody else can see).

    The hashing is Python-bound and holds the GIL, so one process checks at most one
    core's worth of events however the database keeps up. With `source` a SQLite file
    and enough events, a worker process (see Worker) is started at once; this process
    walks the writers' chains in order meanwhile, and once the worker is ready, hands
    it the later half of the chains not yet begun. The worker reads only the seq
    ranges seen in this snapshot; since events are only ever appended past them (or
    new chains opened), it sees the same rows. `worker_wait`: seconds to wait for the
    worker before the writers' chains (tests, to have it used on a tiny log).
    PostgreSQL gets no worker: the server already builds the batches in its own
    process, and a team login cannot be handed to a child."""
    head = _read_head(conn)
    heads = _chain_heads(conn)
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-verify") as pool,
        # Started first: it boots while the chains are measured and the root walked.
        worker_process(_parallel(source, parallel_min, heads)) as workers,
    ):
        spans, loose_rows = _layout(conn)
        walk = _Walk(conn, key)
        ends: dict[int, tuple[int, str]] = {}
        sealed: set[int] = set()
        unsigned: list[tuple[int, int, int]] = []

        def finish(c: Chain) -> Bad | None:
            last = c.expect - 1
            bad = _after_chain(head if c.chain == ROOT else heads.get(c.chain), last, c.prev)
            if bad is not None:
                return bad
            ends[c.chain] = (last, c.prev)
            if c.mode == "legacy" or c.closed is not None:
                sealed.add(c.chain)
            elif c.mode == "keyed" and c.signed < last:
                unsigned.append((c.chain, c.signed + 1, last))
            return None

        root = Chain(ROOT, "root", None, key)
        found = walk.run(pool, chain_tasks(root, spans.get(ROOT), batch), finish)
        openings: dict[int, _Opening] = {}
        if found is None:
            openings, bad = _openings(conn)
            others = sorted((set(heads) | set(spans)) - {ROOT})
            bad = bad or _unanchored(openings, set(others))
            if bad is not None:
                found = bad, ROOT
            else:
                hand = _HandOver(workers, source, key, batch, others, spans, openings)
                if workers is not None:
                    workers.wait_ready(worker_wait)
                found = walk.run(pool, hand.tasks(), finish)
                if found is None and hand.specs:
                    remote = workers.result() if workers is not None else None
                    # If the worker failed, its chains are all checked here.
                    done, stopped = remote or ([], None)
                    found = _merge(done, walk, hand.specs, key, finish)
                    if found is None:
                        rest = _left(hand.specs, done, stopped, walk, key, batch)
                        found = walk.run(pool, rest, finish)
        if found is None:
            found = _abandoned(conn, openings, ends)
        if found is None and loose_rows and (loose := _loose(conn)) is not None:
            found = loose, ROOT
    hs, hh = head if head else (None, None)
    if found is None:
        root_end = ends[ROOT]
        message = (
            f"audit chains intact: {walk.checked} events in {len(ends)} chain(s), "
            f"root chain ends at #{root_end[0]}, hash {root_end[1][:16]}…"
        )
        legacy = sum(1 for c, o in openings.items() if o.public_key is None and c in ends)
        if legacy:
            message += (
                f"; {legacy} legacy chain(s) from before signed chains (hash and team MAC "
                "only; a checkpoint pins them)"
            )
        if unsigned:
            message += f"; {len(unsigned)} chain(s) end in events not yet signed: " + ", ".join(
                f"chain {c} #{a}–#{b}" for c, a, b in unsigned[:5]
            )
            message += "…" if len(unsigned) > 5 else ""
        return VerifyResult(
            True,
            walk.checked,
            hs,
            hh,
            message=message,
            slow_rows=walk.slow_rows,
            heads=ends,
            sealed=frozenset(sealed),
            keys={c: o.public_key for c, o in openings.items() if o.public_key},
            unsigned=tuple(unsigned),
        )
    (problem, bad_seq, bad_id, message), bad_chain = found
    return VerifyResult(
        False,
        walk.checked,
        hs,
        hh,
        problem,
        bad_seq,
        bad_id,
        message,
        walk.slow_rows,
        bad_chain,
    )


# -- a second process for the writers' chains --------------------------------------------


def _parallel(source: Engine | None, parallel_min: int, heads: dict[int, tuple[int, str]]) -> bool:
    """Whether to check half of the writers' chains in a worker: a SQLite file, 2+
    cores, and at least `parallel_min` events in writers' chains by their heads (a
    guess, which only decides how fast the check runs, not what it finds)."""
    if source is None or source.dialect.name != "sqlite" or (os.cpu_count() or 1) < 2:
        return False
    if getattr(sys, "frozen", False) or os.name == "nt":
        return False  # sys.executable is the application; pipes cannot be polled
    db = source.url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return False  # an in-memory database exists only in this process
    return sum(seq for seq, _hash in heads.values()) >= parallel_min


def _split(chains: list[int], spans: dict[int, tuple[int, int]]) -> tuple[list[int], list[int]]:
    """The chains in order, cut where half the events are before the cut: the first
    part is checked here, the rest by the worker."""
    sizes = [(lambda s: 0 if s is None else s[1] - s[0] + 1)(spans.get(c)) for c in chains]
    half, seen = sum(sizes) / 2, 0
    for i, size in enumerate(sizes):
        seen += size
        if seen >= half:
            return chains[: i + 1], chains[i + 1 :]
    return chains, []


def _spec(chain: int, op: _Opening | None, span: tuple[int, int] | None) -> ChainSpec:
    c = _chain_for(chain, op, b"")
    return chain, c.mode, c.public_key, c.every, span


class _HandOver:
    """The writers' chains this process walks, in order, as batches. Once the worker
    is ready, the later half (by events) of the chains not yet begun goes to it: they
    are then in `specs`, and this walk stops before them."""

    def __init__(
        self,
        worker: Worker | None,
        source: Engine | None,
        key: bytes,
        batch: int,
        chains: list[int],
        spans: dict[int, tuple[int, int]],
        openings: dict[int, _Opening],
    ) -> None:
        self.worker, self.source, self.key, self.batch = worker, source, key, batch
        self.chains, self.spans, self.openings = chains, spans, openings
        self.specs: list[ChainSpec] = []

    def tasks(self) -> Iterator[Task]:
        chains = list(self.chains)
        i = 0
        while i < len(chains):
            if self.worker is not None and self.source is not None and self.worker.ready():
                mine, theirs = _split(chains[i:], self.spans)
                if theirs:
                    specs = [_spec(c, self.openings.get(c), self.spans.get(c)) for c in theirs]
                    database = str(self.source.url.database)  # a file: see _parallel
                    if self.worker.send(database, self.key, specs, self.batch):
                        self.specs = specs
                        chains = chains[:i] + mine
                    self.worker = None  # asked once, whatever came of it
            if i < len(chains):
                c = _chain_for(chains[i], self.openings.get(chains[i]), self.key)
                yield from chain_tasks(c, self.spans.get(chains[i]), self.batch)
            i += 1


def _merge(
    done: list[ChainState],
    walk: _Walk,
    specs: list[ChainSpec],
    key: bytes,
    finish: Callable[[Chain], Bad | None],
) -> tuple[Bad, int] | None:
    """The chains the worker finished, finished here in order as if walked here (so
    the head rows are compared in this snapshot)."""
    base = walk.checked
    by_chain = {spec[0]: spec for spec in specs}
    for chain, expect, prev, closed, signed, n in done:
        c, _span = spec_chain(by_chain[chain], key)
        c.expect, c.prev, c.closed, c.signed = expect, prev, closed, signed
        walk.checked = base + n
        ended = finish(c)
        if ended is not None:
            return in_chain(chain, ended), chain
    return None


def _left(
    specs: list[ChainSpec],
    done: list[ChainState],
    stopped: tuple[ChainState, int] | None,
    walk: _Walk,
    key: bytes,
    batch: int,
) -> Iterator[Task]:
    """The batches of the worker's chains it did not finish, from where it stopped:
    the batch it could not vouch for is checked here (row by row if need be)."""
    finished = {state[0] for state in done}
    for spec in specs:
        if spec[0] in finished:
            continue
        c, span = spec_chain(spec, key)
        start = None
        if stopped is not None and stopped[0][0] == c.chain:
            (_chain, c.expect, c.prev, c.closed, c.signed, n), start = stopped
            walk.checked += n - (done[-1][5] if done else 0)
        yield from chain_tasks(c, span, batch, start)


def _spans(conn: Connection) -> dict[int, tuple[int, int]]:
    """min and max seq of every chain that has chained events."""
    return _layout(conn)[0]


# Every chain's min and max seq, and whether it has rows without a seq, by walking the
# (chain_id, seq) index from one chain to the next: a few seeks per chain instead of a
# pass over every event (a tenth of verify's time on a SQLite file).
_LAYOUT_SQL = text(
    "WITH RECURSIVE chains(id) AS ("
    " SELECT min(chain_id) FROM audit_events"
    " UNION ALL SELECT (SELECT min(chain_id) FROM audit_events WHERE chain_id > chains.id)"
    " FROM chains WHERE chains.id IS NOT NULL)"
    " SELECT id, (SELECT min(seq) FROM audit_events WHERE chain_id = chains.id),"
    " (SELECT max(seq) FROM audit_events WHERE chain_id = chains.id),"
    " EXISTS (SELECT 1 FROM audit_events WHERE chain_id = chains.id AND seq IS NULL)"
    " FROM chains WHERE id IS NOT NULL"
)


def _layout(conn: Connection) -> tuple[dict[int, tuple[int, int]], bool]:
    """_spans, and whether any row has no seq (see _loose)."""
    spans: dict[int, tuple[int, int]] = {}
    loose = False
    for c, lo, hi, unchained in conn.execute(_LAYOUT_SQL):
        if lo is not None:
            spans[int(c)] = (int(lo), int(hi))
        loose = loose or bool(unchained)
    return spans, loose


def _chain_heads(conn: Connection) -> dict[int, tuple[int, str]]:
    q = select(chains_t.c.id, chains_t.c.seq, chains_t.c.hash)
    return {int(c): (int(s), str(h)) for c, s, h in conn.execute(q)}


def _openings(conn: Connection) -> tuple[dict[int, _Opening], Bad | None]:
    """The chains the (already verified) root chain opens, with their keys. A current
    opening event must be signed by the key it registers: only the writer holding it
    can have opened that chain and everything in the root chain before."""
    opened: dict[int, _Opening] = {}
    q = (
        select(events_t.c.id, events_t.c.seq, events_t.c.hash, events_t.c.sig, events_t.c.detail)
        .where(events_t.c.chain_id == ROOT, events_t.c.kind == OPENED)
        .order_by(events_t.c.seq)
    )
    for rid, seq, h, sig, detail in conn.execute(q):
        d = detail if isinstance(detail, dict) else {}
        chain = d.get("chain_id")
        if not isinstance(chain, int):
            continue
        if chain in opened:
            return opened, (
                "inserted",
                int(seq),
                int(rid),
                f"root event #{seq} opens audit chain {chain} a second time",
            )
        public_key = None
        if rid >= ID_BASE:
            public_key = d.get("public_key") if isinstance(d.get("public_key"), str) else None
            if not signature_ok(public_key, sig, sig_message(ROOT, int(seq), str(h))):
                return opened, (
                    "signature",
                    int(seq),
                    int(rid),
                    f"root event #{seq}, which opens audit chain {chain}, is not signed by "
                    "the key it registers: it was not written by that chain's writer",
                )
        ab = d.get("abandons")
        abandons = None
        if isinstance(ab, dict) and isinstance(ab.get("chain_id"), int):
            abandons = (int(ab["chain_id"]), int(ab.get("last_own_seq") or 0))
        every = d.get("sign_every")
        every = every if isinstance(every, int) and every > 0 else SIGN_EVERY
        opened[chain] = _Opening(int(seq), int(rid), public_key, abandons, every)
    return opened, None


def _unanchored(opened: dict[int, _Opening], chains: set[int]) -> Bad | None:
    """Each writer's chain must be opened by an event in the (already verified) root
    chain, and each chain opened there must still exist: else a whole chain was added
    or removed behind the log's back."""
    for chain in sorted(chains - set(opened)):
        return (
            "inserted",
            None,
            None,
            f"audit chain {chain} was never opened in the root chain: "
            "it was added to the database directly",
        )
    for chain in sorted(set(opened) - chains):
        op = opened[chain]
        return (
            "head_mismatch",
            op.seq,
            op.row_id,
            f"audit chain {chain}, opened by root event #{op.seq}, is gone: "
            "its head and events were removed",
        )
    return None


def _abandoned(
    conn: Connection, opened: dict[int, _Opening], ends: dict[int, tuple[int, str]]
) -> tuple[Bad, int] | None:
    """A writer that found its chain's head moved by someone else left that chain and
    said where its own events ended: any event after that point is not its."""
    for chain, op in sorted(opened.items()):
        if op.abandons is None:
            continue
        old, last_own = op.abandons
        if ends.get(old, (0, ""))[0] > last_own:
            rid = conn.execute(
                select(events_t.c.id).where(
                    events_t.c.chain_id == old, events_t.c.seq == last_own + 1
                )
            ).scalar()
            return (
                "forged",
                last_own + 1,
                rid,
                f"chain {old}: event #{last_own + 1} and after were not written by the "
                f"chain's writer: it found them there, left the chain at #{last_own} and "
                f"went on in chain {chain} (root event #{op.seq})",
            ), old
    return None


def _loose(conn: Connection) -> Bad | None:
    loose = conn.execute(
        select(events_t.c.id, events_t.c.kind)
        .where(events_t.c.seq.is_(None))
        .order_by(events_t.c.id)
        .limit(1)
    ).first()
    if loose is None:
        return None
    return (
        "inserted",
        None,  # an unchained row has no position
        int(loose.id),
        f"event id {loose.id} (kind {loose.kind!r}) is not in the chain at all "
        "(no seq): it was inserted directly into the table, or written before the "
        "chain existed",
    )


def _after_chain(head: tuple[int, str] | None, last_seq: int, last_hash: str) -> Bad | None:
    if head is None:
        return ("head_mismatch", last_seq + 1, None, "the audit head row is missing")
    head_seq, head_hash = head
    if head_seq > last_seq:
        missing = f"#{last_seq + 1}" if head_seq == last_seq + 1 else f"#{last_seq + 1}–#{head_seq}"
        return (
            "head_mismatch",
            last_seq + 1,
            None,
            f"the head records {head_seq} events but the chain ends at #{last_seq}: "
            f"event(s) {missing} were removed from the end (tail truncated)",
        )
    if head_seq < last_seq or head_hash != last_hash:
        return (
            "head_mismatch",
            head_seq,
            None,
            f"the head (#{head_seq}, {head_hash[:16]}…) does not match the last event "
            f"(#{last_seq}, {last_hash[:16]}…): the head or the tail was rewritten",
        )
    return None


def verify_reference(bind: Bind, key: bytes, *, limit: int | None = None) -> VerifyResult:
    """The obvious verifier: typed rows through SQLAlchemy, one at a time, everything
    recomputed in Python. Slow; it is the oracle for tests and the benchmark baseline."""
    with _reading(bind) as conn:
        head = _read_head(conn)
        heads: dict[int, tuple[int, str] | None] = {ROOT: head, **_chain_heads(conn)}
        chains = (set(heads) | set(_spans(conn))) - {ROOT}
        openings, open_bad = _openings(conn)
        q = (
            select(events_t)
            .where(events_t.c.seq.is_not(None))
            .order_by(events_t.c.chain_id != ROOT, events_t.c.chain_id, events_t.c.seq)
        )
        if limit is not None:
            q = q.limit(limit)
        result = conn.execute(q)
        st = Chain(ROOT, "root", None, key)
        ends: dict[int, tuple[int, str]] = {}
        checked = 0
        bad: Bad | None = None

        def finish(st: Chain) -> Bad | None:
            ends[st.chain] = (st.expect - 1, st.prev)
            if limit is not None:
                return None
            found = _after_chain(heads.get(st.chain), st.expect - 1, st.prev)
            if found is None and st.chain == ROOT:
                found = open_bad or _unanchored(openings, chains)
            return in_chain(st.chain, found)

        def begin(chain: int) -> Chain:
            return _chain_for(chain, openings.get(chain), key)

        while bad is None and (r := result.fetchone()) is not None:
            if r.chain_id != st.chain:
                bad = finish(st)
                if bad is not None:
                    break
                for other in sorted(c for c in chains if c < r.chain_id and c not in ends):
                    st = begin(other)  # a chain with a head but no events
                    bad = bad or finish(st)
                if bad is not None:
                    break
                st = begin(int(r.chain_id))
            try:
                text_ = _row_payload(r) or ""
            except (ValueError, TypeError):
                text_ = ""
            bad = in_chain(
                st.chain,
                st.check_row(
                    r.id, r.seq, r.prev_hash, r.hash, r.mac, r.sig, r.kind, text_, str
                ),  # no slower fallback: text_ is already the typed payload
            )
            if bad is None:
                checked += 1
        result.close()
        if bad is None:
            bad = finish(st)
            for other in sorted(chains - set(ends)):  # chains with a head but no events
                if bad is None:
                    st = begin(other)
                    bad = finish(st)
        bad_chain = st.chain
        if limit is None and bad is None:
            bad, bad_chain = _abandoned(conn, openings, ends) or (_loose(conn), ROOT)
    hs, hh = (head[0], head[1]) if head else (None, None)
    if bad is None:
        return VerifyResult(True, checked, hs, hh, message=f"{checked} events intact", heads=ends)
    return VerifyResult(False, checked, hs, hh, bad[0], bad[1], bad[2], bad[3], chain_id=bad_chain)


# -- export ------------------------------------------------------------------------------


def export(bind: Bind, since: datetime, out: TextIO, *, batch: int = VERIFY_BATCH) -> int:
    """Write events at or after `since` as JSON Lines in chain order; returns how many.

    Each line carries everything needed to re-check it with the key (`verify_export`):
    chain_id, seq, id, at (canonical form), user_id, kind, item_id, detail, prev_hash,
    hash, mac, sig; the root chain first, then each writer's chain. Rows outside the chains
    (no seq) come last, so an inspector sees them too."""
    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    n = 0
    with _reading(bind) as conn:
        q = (
            select(events_t)
            .where(events_t.c.at >= since)
            .order_by(events_t.c.seq.is_(None), events_t.c.chain_id, events_t.c.seq, events_t.c.id)
        )
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(q)
        for r in result:
            line = {
                "chain_id": r.chain_id,
                "seq": r.seq,
                "id": r.id,
                "at": canonical_at(r.at),
                "user_id": r.user_id,
                "kind": r.kind,
                "item_id": r.item_id,
                "detail": r.detail,
                "prev_hash": r.prev_hash,
                "hash": r.hash,
                "mac": r.mac,
                "sig": r.sig,
            }
            # ASCII: a raw U+2028 in a line would split it for many readers.
            out.write(json.dumps(line, sort_keys=True) + "\n")
            n += 1
    return n


def verify_export(lines: Iterable[str], key: bytes) -> VerifyResult:
    """Re-check an export, chain by chain. A chain may start mid-way: its first
    prev_hash is taken on trust unless it is event #1, so compare that against an
    earlier export. Hashes and MACs only: signatures are checked by verify, against the
    keys the root chain registers."""
    at: dict[int, tuple[int, str]] = {}  # chain -> (next seq due, hash it must follow)
    checked = 0
    for raw in lines:
        if not raw.strip():
            continue
        ev = json.loads(raw)
        seq, rid = ev.get("seq"), ev.get("id")
        if not isinstance(seq, int):
            return VerifyResult(
                False, checked, None, None, "inserted", None, rid, f"id {rid} is not chained"
            )
        chain = ev.get("chain_id", ROOT)
        expect, prev = at.get(chain) or (seq, GENESIS if seq == 1 else str(ev.get("prev_hash")))
        text_: str | None = None
        try:
            when = datetime.fromisoformat(ev["at"].replace("Z", "+00:00"))
            if ev.get("prev_hash") is not None:
                text_ = payload(
                    ev["prev_hash"],
                    chain,
                    seq,
                    canonical_at(when),
                    ev.get("user_id"),
                    ev.get("item_id"),
                    canonical_detail(ev.get("detail")),
                    ev["kind"],
                    row_id=rid,
                )
        except (KeyError, ValueError, TypeError, AttributeError):
            text_ = ""
        h, m = ev.get("hash"), ev.get("mac")
        if seq != expect or ev.get("prev_hash") != prev or h is None or m is None:
            problem, bseq, bid, msg = structural(
                rid, seq, expect, ev.get("prev_hash"), prev, h, m, text_
            )
            return VerifyResult(False, checked, None, None, problem, bseq, bid, msg)
        if not text_ or event_hash(text_) != h:
            return VerifyResult(
                False, checked, None, None, "edited", seq, rid, f"event #{seq} was changed"
            )
        if event_mac(key, h) != m:
            return VerifyResult(
                False, checked, None, None, "mac", seq, rid, f"event #{seq} has a wrong MAC"
            )
        at[chain] = (expect + 1, h)
        checked += 1
    return VerifyResult(True, checked, None, None, message=f"{checked} exported events intact")


# -- the key -----------------------------------------------------------------------------


def load_key(source: SecretSource | None = None, *, create: bool = True) -> bytes:
    """The audit HMAC key (32 bytes) from `source`, else the OS keyring (service
    "reviewer-keys", name "audit-hmac", base64); the CLI passes
    db.keys.open_secrets(data_dir), which falls back to a passphrase vault.

    Created on first use unless `create` is False: a verifier must not invent a fresh
    key, under which every event would look forged; it raises LookupError instead."""
    source = source or KeyringSecrets()
    if create:
        return source.get_or_create(AUDIT_KEY)
    key = source.get(AUDIT_KEY)
    if key is None:
        raise LookupError(
            f"there is no audit key in {source.location}: this workstation has never "
            "written audit events; import the team's keys before verifying"
        )
    return key
