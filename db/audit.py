"""Tamper-evident audit log: a SHA-256 hash chain with a keyed MAC on every event.

Each event has a gap-free position ``seq`` (1, 2, 3 …) and is stored with

    payload  = prev_hash "\\n" seq "\\n" at "\\n" user_id "\\n" item_id "\\n" detail "\\n" kind
    hash     = SHA-256(payload as UTF-8), hex
    mac      = HMAC-SHA-256(key, the 32 raw bytes of hash), hex

where ``prev_hash`` is the previous event's hash (64 zeros for event 1), ``at`` is the
UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, a missing user_id/item_id is the empty
string, and ``detail`` is ``json.dumps(detail, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)``. Only ``kind`` is free text; it comes last and may hold no
newline (nor chr 30, see _BATCH_SQL), so the layout is unambiguous. The one-row
``audit_head`` table holds the last seq and hash; every append locks it, so appends
are serialised and a truncated tail shows up as a head that is ahead of the rows.

The hash alone catches edits, deletions, reordering and insertions; the MAC catches
someone who rewrites the chain consistently but does not hold the key. Two things no
in-database check can catch: the last events cut off *and* audit_head rewound to match
(needs only write access), and anything at all done by someone holding the key. Keep
exports (``export``) and the head seq/hash that verify reports somewhere else, to
anchor the past.

``detail`` is stored as exactly its canonical text, which lets ``verify`` build the
payload inside the database and only hash in Python; a row whose stored form is not
canonical (say, reformatted by hand) is re-read through SQLAlchemy and checked the slow
way, so the fast path never changes what counts as intact.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

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

from db.keys import AUDIT_KEY, KeyringSecrets, SecretSource
from db.models import UTCDateTime
from db.prepared import Prepared

GENESIS = "0" * 64
ROOT = 0  # the root chain's chain_id; its head is audit_head
OPENED = "audit_chain_opened"  # the root event that brings a writer's chain into being
VERIFY_BATCH = 20_000

Problem = Literal["edited", "mac", "broken_link", "gap", "inserted", "head_mismatch"]
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


def canonical_at(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical_detail(detail: Any) -> str:
    # Round-trip first: int keys, tuples etc. come back from the database as JSON made
    # them, so the canonical text must be that of the JSON value, not the Python one.
    value = json.loads(json.dumps(detail if detail is not None else {}, allow_nan=False))
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def payload(
    prev_hash: str,
    seq: int,
    at: str,
    user_id: int | None,
    item_id: int | None,
    detail: str,
    kind: str,
) -> str:
    """The hashed text; `at` and `detail` already canonical (see the module docstring)."""
    uid = "" if user_id is None else str(user_id)
    iid = "" if item_id is None else str(item_id)
    return f"{prev_hash}\n{seq}\n{at}\n{uid}\n{iid}\n{detail}\n{kind}"


def event_hash(payload_text: str) -> str:
    return hashlib.sha256(payload_text.encode("utf-8")).hexdigest()


def event_mac(key: bytes, hash_hex: str) -> str:
    return hmac.new(key, bytes.fromhex(hash_hex), hashlib.sha256).hexdigest()


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
) -> int:
    """Append `events` in order inside the caller's transaction; returns the last seq.

    `at` is the time of every event that has none of its own: a datetime, or a SQL
    expression (now()) evaluated once. Call this last in the transaction: it holds the
    audit head lock until commit, which serialises every writer's final step."""
    todo = _checked(events)
    if not todo:
        return 0
    seq, prev, when = _lock_head(conn, len(todo), at)
    for start in range(0, len(todo), batch):
        rows = _rows(key, todo[start : start + batch], ROOT, seq, prev, when)
        seq, prev = rows[-1]["seq"], rows[-1]["hash"]
        _write_rows(conn, rows, prev)
    return seq


def _checked(events: Iterable[NewEvent]) -> list[NewEvent]:
    todo = list(events)
    for ev in todo:
        # The payload layout relies on it (see the module docstring and _BATCH_SQL).
        if "\n" in ev.kind or "\x1e" in ev.kind:
            raise ValueError(f"audit kind {ev.kind!r} holds a newline or record separator")
    return todo


def _rows(
    key: bytes,
    events: list[NewEvent],
    chain_id: int,
    seq: int,
    prev: str,
    when: datetime | None,
) -> list[dict[str, Any]]:
    """The rows for `events` following event `seq` (hash `prev`) of chain `chain_id`."""
    rows: list[dict[str, Any]] = []
    for ev in events:
        t = ev.at or when
        if t is None:
            raise ValueError(f"audit event {ev.kind!r} has no time")
        seq += 1
        detail_c = canonical_detail(ev.detail)
        h = event_hash(
            payload(prev, seq, canonical_at(t), ev.user_id, ev.item_id, detail_c, ev.kind)
        )
        rows.append(
            {
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
    """Append one event inside the caller's transaction; returns its seq."""
    return append_many(conn, key, [NewEvent(user_id, kind, item_id, detail)], at=at)


class ChainWriter:
    """Appends one writer's events to a chain of its own, so that writers never wait
    for each other: a single shared head, locked from the audit write to COMMIT, made
    every workstation queue behind the slowest (issue 3).

    The chain is opened by the first append, in that transaction: a row in
    audit_chains and an `audit_chain_opened` event in the root chain naming it (the
    root chain's head is locked only then). After that the writer keeps the head in
    memory and computes hashes without reading it; the UPDATE that moves the head is
    guarded by the seq it expects, so a stale copy (a rolled-back transaction, or two
    threads sharing a writer) is noticed, the head re-read under a row lock, and the
    events hashed again. Call `committed` or `rolled_back` after each transaction.
    """

    def __init__(self, key: Callable[[], bytes]) -> None:
        self._key = key
        self._head: tuple[int, int, str] | None = None  # chain id, seq, hash: committed
        self._pending: tuple[int, int, str] | None = None  # ... after this transaction
        self._sql: _WriterSql | None = None

    @property
    def chain_id(self) -> int | None:
        return None if self._head is None else self._head[0]

    def append(self, conn: Connection, events: Iterable[NewEvent], at: datetime) -> None:
        """Append `events` in order inside the caller's transaction; `at` is the time of
        every event without its own."""
        todo = _checked(events)
        if not todo:
            return
        key = self._key()
        head = self._pending or self._head
        if head is None:
            head = self._open(conn, key, at)
        chain, seq, prev = head
        rows = _rows(key, todo, chain, seq, prev, at)
        if self._sql is None:
            self._sql = _WriterSql(conn.dialect)
        if not self._sql.write(conn, rows, seq):
            # The head moved under us: re-read it, locked, and hash again from there.
            row = conn.execute(
                select(chains_t.c.seq, chains_t.c.hash)
                .where(chains_t.c.id == chain)
                .with_for_update()
            ).one()
            rows = _rows(key, todo, chain, int(row.seq), str(row.hash), at)
            if not self._sql.write(conn, rows, int(row.seq)):
                raise RuntimeError(f"audit chain {chain} moved while locked")
        self._pending = (chain, rows[-1]["seq"], rows[-1]["hash"])

    def committed(self) -> None:
        if self._pending is not None:
            self._head, self._pending = self._pending, None

    def rolled_back(self) -> None:
        self._pending = None

    def _open(self, conn: Connection, key: bytes, at: datetime) -> tuple[int, int, str]:
        chain = conn.execute(
            insert(chains_t).values(seq=0, hash=GENESIS).returning(chains_t.c.id)
        ).scalar_one()
        append_many(conn, key, [NewEvent(None, OPENED, None, {"chain_id": chain})], at=at)
        return int(chain), 0, GENESIS


_ROW_COLS = ("chain_id", "seq", "at", "user_id", "kind", "item_id", "detail", "prev_hash")
_ROW_COLS += ("hash", "mac")


class _WriterSql:
    """ChainWriter's statements, compiled once for its dialect (db.prepared: an append
    runs with every claim and decision)."""

    def __init__(self, dialect: Dialect) -> None:
        expect = bindparam("p_expect", type_=BigInteger())
        chain = bindparam("chain_id", type_=BigInteger())
        values = [bindparam(c, type_=events_t.c[c].type) for c in _ROW_COLS]
        self.guarded: Prepared | None = None
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
        for row in rows:
            self.insert.run(conn, row)
        return True


# -- verifying ---------------------------------------------------------------------------

_Bad = tuple[Problem, int | None, int | None, str]


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

    def __str__(self) -> str:
        return self.message


# The payload after its prev_hash, built by the database from the stored text; it must
# equal payload(...)[64:] for every row append writes (a test checks both backends).
# SQLite keeps times as "YYYY-MM-DD HH:MM:SS.ffffff" in UTC, its printf writes NULL as
# nothing, and the raw newlines are the payload's own separators.
_REST = {
    "sqlite": (
        "printf('\n%d\n%sZ\n%s\n%s\n%s\n%s', seq, replace(at, ' ', 'T'), user_id, item_id,"
        " detail, kind)"
    ),
    "postgresql": (
        "chr(10) || seq::text || chr(10)"
        " || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24\\:MI\\:SS.US\"Z\"')"
        " || chr(10) || coalesce(user_id::text, '') || chr(10) || coalesce(item_id::text, '')"
        " || chr(10) || detail::text || chr(10) || kind"
    ),
}
# One row per batch: the batch's prev_hashes, hashes and MACs each run together, and its
# payloads joined by a record separator (chr 30, which canonical JSON always escapes and
# append refuses in a kind). Python then checks a whole batch with three string compares.
_BATCH_SQL = {
    "sqlite": (
        "SELECT count(*), group_concat(prev_hash, ''), group_concat(hash, ''),"
        " group_concat(mac, ''), group_concat(rest, char(30))"
        " FROM (SELECT prev_hash, hash, mac, {rest} AS rest FROM audit_events"
        " WHERE chain_id = :chain AND seq BETWEEN :lo AND :hi ORDER BY seq)"
    ),
    "postgresql": (
        "SELECT count(*), string_agg(prev_hash, '' ORDER BY seq),"
        " string_agg(hash, '' ORDER BY seq), string_agg(mac, '' ORDER BY seq),"
        " string_agg({rest}, chr(30) ORDER BY seq)"
        " FROM audit_events WHERE chain_id = :chain AND seq BETWEEN :lo AND :hi"
    ),
}
# Row by row, for a batch that failed the batch check: finds and names the bad event.
_ROWS_SQL = (
    "SELECT id, seq, prev_hash, hash, mac, prev_hash || {rest} AS payload"
    " FROM audit_events WHERE chain_id = :chain AND seq BETWEEN :lo AND :hi ORDER BY seq"
)
_SEP = b"\x1e"


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
        if r.prev_hash is None or r.at is None:
            return None
        return payload(
            r.prev_hash,
            r.seq,
            canonical_at(r.at),
            r.user_id,
            r.item_id,
            canonical_detail(r.detail),
            r.kind,
        )
    except (ValueError, TypeError):  # JSONDecodeError is a ValueError
        return None


def _describe(payload_text: str | None) -> str:
    if not payload_text:
        return ""
    parts = payload_text.split("\n", 6)
    if len(parts) < 7:
        return ""
    _prev, _seq, at, uid, iid, _detail, kind = parts
    bits = [at, f"kind {kind!r}"]
    if uid:
        bits.append(f"user {uid}")
    if iid:
        bits.append(f"item {iid}")
    return ", " + ", ".join(bits)


def _hmac_pads(key: bytes) -> tuple[Any, Any]:
    # HMAC by hand (RFC 2104) with the padded-key states precomputed: two C-level
    # hash copies per event instead of building an hmac object each time.
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer


class _Walk:
    """Walks the chain in seq order, one batch of seqs at a time."""

    def __init__(self, conn: Connection, key: bytes) -> None:
        self.conn = conn
        self.inner, self.outer = _hmac_pads(key)
        self.key = key
        self.chain = ROOT
        self.expect, self.prev = 1, GENESIS  # next seq due, and the hash it must follow
        self.checked = self.slow_rows = 0
        rest = _REST[conn.dialect.name]
        self.batch_sql = text(_BATCH_SQL[conn.dialect.name].format(rest=rest))
        self.rows_sql = text(_ROWS_SQL.format(rest=rest))

    def start(self, chain: int) -> None:
        self.chain, self.expect, self.prev = chain, 1, GENESIS

    def fetch(self, lo: int, hi: int) -> tuple[Any, ...]:
        params = {"chain": self.chain, "lo": lo, "hi": hi}
        return tuple(self.conn.execute(self.batch_sql, params).one())

    def batch_ok(self, lo: int, hi: int, data: tuple[Any, ...]) -> bool:
        """Check a whole batch; False means "look row by row", not "broken"."""
        n, prevs, hashes, macs, rests = data
        if lo != self.expect or n != hi - lo + 1 or None in (prevs, hashes, macs, rests):
            return False
        parts = rests.encode().split(_SEP)
        if len(parts) != n:
            return False
        sha, hexlify, inner, outer = hashlib.sha256, binascii.hexlify, self.inner, self.outer
        prev = self.prev.encode()
        hs: list[bytes] = []
        ms: list[bytes] = []
        # The hot loop: everything in it is a C call on bytes.
        for rest in parts:
            digest = sha(prev + rest).digest()
            prev = hexlify(digest)
            hs.append(prev)
            i = inner.copy()
            i.update(digest)
            o = outer.copy()
            o.update(i.digest())
            ms.append(o.digest())
        try:
            if b"".join(hs) != hashes.encode() or b"".join(ms) != bytes.fromhex(macs):
                return False
        except ValueError:  # a MAC that is not hex
            return False
        # Each stored prev_hash must be the hash before it: one compare for the batch.
        if prevs != self.prev + hashes[:-64]:
            return False
        self.prev, self.expect, self.checked = hashes[-64:], hi + 1, self.checked + n
        return True

    def rows(self, lo: int, hi: int) -> _Bad | None:
        """Check a batch row by row; returns the first bad event, if any."""
        for rid, seq, sprev, shash, smac, text_ in self.conn.execute(
            self.rows_sql, {"chain": self.chain, "lo": lo, "hi": hi}
        ).all():
            if seq != self.expect or sprev != self.prev or None in (shash, smac, text_):
                return _structural(rid, seq, self.expect, sprev, self.prev, shash, smac, text_)
            self.slow_rows += 1
            if event_hash(text_) != shash:
                # Maybe stored in a non-canonical but equivalent form: check the values.
                typed = _typed_payload(self.conn, rid)
                if typed is None or event_hash(typed) != shash:
                    return (
                        "edited",
                        seq,
                        rid,
                        f"event #{seq} (id {rid}{_describe(typed or text_)}) was changed after "
                        "it was written: its content no longer matches its hash",
                    )
            # Plain !=: compare_digest rejects non-ASCII text, which a forged MAC may be.
            if event_mac(self.key, shash) != smac:
                return (
                    "mac",
                    seq,
                    rid,
                    f"event #{seq} (id {rid}{_describe(text_)}) has a valid hash but a wrong "
                    "MAC: the chain was recomputed without the audit key",
                )
            self.prev, self.expect, self.checked = shash, seq + 1, self.checked + 1
        return None

    def run(self, ranges: list[tuple[int, int]]) -> _Bad | None:
        # The database assembles batch k+1 (SQLite and psycopg release the GIL while it
        # does) while a worker thread hashes batch k: the two costs overlap instead of
        # adding up. Only this thread touches the connection.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-verify") as pool:
            checking: Future[bool] | None = None
            for k, (lo, hi) in enumerate(ranges):
                data = self.fetch(lo, hi)
                failed = checking is not None and not checking.result()
                if failed and (bad := self.rows(*ranges[k - 1])):
                    return bad
                checking = pool.submit(self.batch_ok, lo, hi, data)
            if checking is not None and not checking.result():
                return self.rows(*ranges[-1])
        return None


def verify(bind: Bind, key: bytes, *, batch: int = VERIFY_BATCH) -> VerifyResult:
    """Check every chain; stops at the first broken event and says how it is broken.

    The root chain first (it says which writers' chains exist), then each writer's
    chain, then that the chains and their openings in the root chain agree.
    Give an Engine (verify takes its own consistent snapshot) or a Connection (the
    caller's transaction is used as it is)."""
    with _reading(bind) as conn:
        head = _read_head(conn)
        spans = _spans(conn)
        heads = _chain_heads(conn)
        walk = _Walk(conn, key)
        bad: _Bad | None = None
        root_end = (0, GENESIS)
        for chain in [ROOT, *sorted((set(spans) | set(heads)) - {ROOT})]:
            walk.start(chain)
            low, high = spans.get(chain, (None, None))
            if high is not None and low is not None:
                # From min(seq) if something sits below 1, so that it is seen and reported.
                first = min(1, low)
                ranges = [(a, min(a + batch - 1, high)) for a in range(first, high + 1, batch)]
                bad = walk.run(ranges)
            if bad is None:
                chain_head = head if chain == ROOT else heads.get(chain)
                bad = _after_chain(chain_head, walk.expect - 1, walk.prev)
            if bad is not None:
                bad = _in_chain(chain, bad)
                break
            if chain == ROOT:
                root_end = (walk.expect - 1, walk.prev)
        if bad is None:
            bad = _unanchored(conn, set(heads) | (set(spans) - {ROOT})) or _loose(conn)
    hs, hh = head if head else (None, None)
    if bad is None:
        n_chains = len(set(heads) | set(spans) | {ROOT})
        return VerifyResult(
            True,
            walk.checked,
            hs,
            hh,
            message=(
                f"audit chains intact: {walk.checked} events in {n_chains} chain(s), "
                f"root chain ends at #{root_end[0]}, hash {root_end[1][:16]}…"
            ),
            slow_rows=walk.slow_rows,
        )
    problem, bad_seq, bad_id, message = bad
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
        walk.chain,
    )


def _spans(conn: Connection) -> dict[int, tuple[int, int]]:
    """min and max seq of every chain that has chained events."""
    q = (
        select(events_t.c.chain_id, func.min(events_t.c.seq), func.max(events_t.c.seq))
        .where(events_t.c.seq.is_not(None))
        .group_by(events_t.c.chain_id)
    )
    return {int(c): (int(lo), int(hi)) for c, lo, hi in conn.execute(q)}


def _chain_heads(conn: Connection) -> dict[int, tuple[int, str]]:
    q = select(chains_t.c.id, chains_t.c.seq, chains_t.c.hash)
    return {int(c): (int(s), str(h)) for c, s, h in conn.execute(q)}


def _in_chain(chain: int, bad: _Bad | None) -> _Bad | None:
    if chain == ROOT or bad is None:
        return bad
    problem, seq, rid, message = bad
    return problem, seq, rid, f"chain {chain}: {message}"


def _unanchored(conn: Connection, chains: set[int]) -> _Bad | None:
    """Each writer's chain must be opened by an event in the (already verified) root
    chain, and each chain opened there must still exist: else a whole chain was added
    or removed behind the log's back."""
    opened: dict[int, tuple[int, int]] = {}
    q = select(events_t.c.id, events_t.c.seq, events_t.c.detail).where(
        events_t.c.chain_id == ROOT, events_t.c.kind == OPENED
    )
    for rid, seq, detail in conn.execute(q):
        chain = (detail or {}).get("chain_id")
        if isinstance(chain, int):
            opened[chain] = (int(seq), int(rid))
    for chain in sorted(chains - set(opened)):
        return (
            "inserted",
            None,
            None,
            f"audit chain {chain} was never opened in the root chain: "
            "it was added to the database directly",
        )
    for chain in sorted(set(opened) - chains):
        seq, rid = opened[chain]
        return (
            "head_mismatch",
            seq,
            rid,
            f"audit chain {chain}, opened by root event #{seq}, is gone: "
            "its head and events were removed",
        )
    return None


def _loose(conn: Connection) -> _Bad | None:
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


def _structural(
    rid: int,
    seq: int,
    expect: int,
    sprev: str | None,
    prev: str,
    shash: str | None,
    smac: str | None,
    text_: str | None,
) -> tuple[Problem, int | None, int | None, str]:
    """Diagnose a row that is out of place: by position first, then by link, then by
    missing chain fields (the order matters: a deleted row also breaks the next link)."""
    where = f"(id {rid}{_describe(text_)})"
    if seq > expect:
        return (
            "gap",
            expect,
            None,
            f"event #{expect} is missing (deleted): the next event present is #{seq} {where}",
        )
    if seq < expect:
        return (
            "inserted",
            seq,
            rid,
            f"event #{seq} {where} appears again after #{expect - 1}: "
            "a duplicate or out-of-order row was inserted",
        )
    if sprev is None or shash is None or smac is None:
        return (
            "inserted",
            seq,
            rid,
            f"event #{seq} {where} has no hash or MAC: it was inserted outside the chain",
        )
    return (
        "broken_link",
        seq,
        rid,
        f"event #{seq} {where} does not follow event #{seq - 1}: its prev_hash is not the "
        "previous event's hash (events deleted, reordered or replaced)",
    )


def _after_chain(head: tuple[int, str] | None, last_seq: int, last_hash: str) -> _Bad | None:
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
        q = (
            select(events_t)
            .where(events_t.c.seq.is_not(None))
            .order_by(events_t.c.chain_id != ROOT, events_t.c.chain_id, events_t.c.seq)
        )
        if limit is not None:
            q = q.limit(limit)
        result = conn.execute(q)
        chain, expect, prev, checked = ROOT, 1, GENESIS, 0
        seen = {ROOT}
        bad: _Bad | None = None
        while bad is None and (r := result.fetchone()) is not None:
            if r.chain_id != chain:
                if limit is None:
                    bad = _in_chain(chain, _after_chain(heads.get(chain), expect - 1, prev))
                chain, expect, prev = int(r.chain_id), 1, GENESIS
                seen.add(chain)
                if bad is not None:
                    break
            text_: str | None = None
            if r.at is not None and r.prev_hash is not None:
                try:
                    text_ = payload(
                        r.prev_hash,
                        r.seq,
                        canonical_at(r.at),
                        r.user_id,
                        r.item_id,
                        canonical_detail(r.detail),
                        r.kind,
                    )
                except (ValueError, TypeError):
                    text_ = ""
            if r.seq != expect or r.prev_hash != prev or r.hash is None or r.mac is None:
                bad = _structural(r.id, r.seq, expect, r.prev_hash, prev, r.hash, r.mac, text_)
            elif not text_ or event_hash(text_) != r.hash:
                bad = ("edited", r.seq, r.id, f"event #{r.seq} (id {r.id}) was changed")
            elif event_mac(key, r.hash) != r.mac:
                bad = ("mac", r.seq, r.id, f"event #{r.seq} (id {r.id}) has a wrong MAC")
            else:
                prev, expect, checked = r.hash, expect + 1, checked + 1
            bad = _in_chain(chain, bad)
        result.close()
        if bad is None and limit is None:
            bad = _in_chain(chain, _after_chain(heads.get(chain), expect - 1, prev))
            for other in sorted(set(heads) - seen):  # chains with a head but no events
                bad = bad or _in_chain(other, _after_chain(heads[other], 0, GENESIS))
            bad = bad or _unanchored(conn, set(heads) - {ROOT}) or _loose(conn)
    hs, hh = (head[0], head[1]) if head else (None, None)
    if bad is None:
        return VerifyResult(True, checked, hs, hh, message=f"{checked} events intact")
    return VerifyResult(False, checked, hs, hh, bad[0], bad[1], bad[2], bad[3], chain_id=chain)


# -- export ------------------------------------------------------------------------------


def export(bind: Bind, since: datetime, out: TextIO, *, batch: int = VERIFY_BATCH) -> int:
    """Write events at or after `since` as JSON Lines in chain order; returns how many.

    Each line carries everything needed to re-check it with the key (`verify_export`):
    chain_id, seq, id, at (canonical form), user_id, kind, item_id, detail, prev_hash,
    hash, mac; the root chain first, then each writer's chain. Rows outside the chains
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
            }
            # ASCII: a raw U+2028 in a line would split it for many readers.
            out.write(json.dumps(line, sort_keys=True) + "\n")
            n += 1
    return n


def verify_export(lines: Iterable[str], key: bytes) -> VerifyResult:
    """Re-check an export, chain by chain. A chain may start mid-way: its first
    prev_hash is taken on trust unless it is event #1, so compare that against an
    earlier export."""
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
                    seq,
                    canonical_at(when),
                    ev.get("user_id"),
                    ev.get("item_id"),
                    canonical_detail(ev.get("detail")),
                    ev["kind"],
                )
        except (KeyError, ValueError, TypeError, AttributeError):
            text_ = ""
        h, m = ev.get("hash"), ev.get("mac")
        if seq != expect or ev.get("prev_hash") != prev or h is None or m is None:
            problem, bseq, bid, msg = _structural(
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
