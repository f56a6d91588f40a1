"""The audit chains' batch walk: what verify does for every event, importable without
SQLAlchemy, so that the worker process that checks half of a large SQLite log
(`Worker`) starts in a fraction of the time db.audit and its models take to import.

db.audit (see its docstring for the payload, hash, MAC and signature) owns verify and
everything around the walk: the snapshot, the root chain's openings, the heads, and the
row-by-row check that names a bad event. This module has the per-event rules
(`Chain.check_row`), the batch check, the SQL that builds a batch in the database, and
the worker; it imports nothing else of the project.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import itertools
import json
import os
import select as select_io
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, overload

from nacl.bindings import crypto_sign_open
from nacl.exceptions import CryptoError

GENESIS = "0" * 64
ROOT = 0  # the root chain's chain_id; its head is audit_head
CLOSED = "audit_chain_closed"  # a writer's last event, signed: nothing may follow it
VERIFY_BATCH = 20_000
# A writer signs at least every SIGN_EVERY events. Verifying one Ed25519 signature costs
# about as much as hashing 30-100 events, so this keeps signatures under a tenth of
# verify's time while bounding a running session's unsigned tail.
SIGN_EVERY = 256
ID_BASE = 1 << 32  # ids from event_id are above it; legacy (pre-0015) ids below
SIG_CONTEXT = b"reviewer-audit-sig/2"

Problem = Literal[
    "edited",
    "mac",
    "broken_link",
    "gap",
    "inserted",
    "head_mismatch",
    "signature",  # a signature that does not verify, or a signed event left unsigned
    "forged",  # events where only someone else could have written them
    "missing",  # against a checkpoint: events or a chain it recorded are gone
    "rewritten",  # against a checkpoint: a recorded event no longer has its hash
]
Bad = tuple[Problem, int | None, int | None, str]
Mode = Literal["root", "legacy", "keyed"]


def event_id(chain_id: int, seq: int) -> int:
    """The id of event `seq` of chain `chain_id`: known before the row is written, so
    that it can be hashed, unique, and above every legacy id."""
    if not 0 < seq < ID_BASE or chain_id < 0:
        raise ValueError(f"audit position out of range: chain {chain_id}, seq {seq}")
    return ((chain_id + 1) << 32) | seq


def event_hash(payload_text: str) -> str:
    return hashlib.sha256(payload_text.encode("utf-8")).hexdigest()


def event_mac(key: bytes, hash_hex: str) -> str:
    return hmac.digest(key, bytes.fromhex(hash_hex), "sha256").hex()


def sig_message(chain_id: int, seq: int, hash_hex: str) -> bytes:
    """What a writer signs: its chain's hash at `seq`, which covers events 1..seq."""
    return b"%s\n%d\n%d\n%s" % (SIG_CONTEXT, chain_id, seq, hash_hex.encode())


def public_key(public_hex: str | None) -> bytes | None:
    """A raw Ed25519 public key from its hex form; None if it cannot be one."""
    try:
        raw = bytes.fromhex(public_hex or "")
    except ValueError:
        return None
    return raw if len(raw) == 32 else None


def signature_ok(public: str | bytes | None, signature_hex: str | None, message: bytes) -> bool:
    """Whether `signature_hex` is the Ed25519 signature of `message` by `public` (hex,
    or raw from public_key); False (never an exception) for anything malformed.

    Checked by libsodium (PyNaCl) rather than OpenSSL (cryptography, which makes the
    signatures): the same RFC 8032 signatures, verified in half the time, and verify
    checks one every SIGN_EVERY events (docs/BENCHMARKS.md, "Audit verify")."""
    raw = public_key(public) if isinstance(public, str) else public
    if raw is None or not signature_hex:
        return False
    try:
        signature = bytes.fromhex(signature_hex)
        if len(signature) != 64:
            return False
        crypto_sign_open(signature + message, raw)
    except (ValueError, TypeError, CryptoError):
        return False
    return True


# The payload after its prev_hash, built by the database from the stored text; it must
# equal payload(...)[64:] for every row append writes (a test checks both backends).
# SQLite keeps times as "YYYY-MM-DD HH:MM:SS.ffffff" in UTC, its printf writes NULL as
# nothing, and the raw newlines are the payload's own separators. Legacy rows (ids
# below ID_BASE) have the older layout, without chain and id.
_CURRENT = {
    "sqlite": (
        "printf('\n%d\n%d\n%d\n%sZ\n%s\n%s\n%s\n%s', chain_id, id, seq,"
        " replace(at, ' ', 'T'), user_id, item_id, detail, kind)"
    ),
    "postgresql": "chr(10) || chain_id::text || chr(10) || id::text || {legacy}",
}
_LEGACY = {
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
_CURRENT["postgresql"] = _CURRENT["postgresql"].format(legacy=_LEGACY["postgresql"])
REST_SQL = {
    d: f"CASE WHEN id >= {ID_BASE} THEN {_CURRENT[d]} ELSE {_LEGACY[d]} END" for d in _CURRENT
}
# One row per batch: the batch's prev_hashes, hashes and MACs each run together, and its
# payloads joined by a record separator (chr 30, which canonical JSON always escapes and
# append refuses in a kind). Python then checks a whole batch with three compares.
# Also the batch's signatures as "seq:sig" (sparse: NULLs are skipped), where a close
# event sits, and which payload forms it holds: a legacy chain's events must all be
# legacy (max id); the root chain may hold legacy events and then current ones (how many
# current ones, and where they start).
#
# A keyed chain's events must all carry the id event_id(chain, seq) gives (all current
# ones, above ID_BASE). On SQLite they are read by that id range: the table itself in
# id order, which is seq order, instead of the (chain_id, seq) index and a table lookup
# per row. What that range would not see, a row of the chain whose id lies outside it,
# makes the count of the batch's rows by chain and seq (its "form", read from the
# index) differ from the rows seen, and the batch is then checked row by row, in seq
# order. PostgreSQL reads the batch through the index, and its form is the count only
# if every id seen lies in the range (else NULL).
#
# SQLite hands the runs over as bytes (CAST … AS BLOB): the hashing needs bytes, and
# text would be decoded only to be encoded again.
_KEYED_FORMS = {
    "sqlite": "(SELECT count(*) FROM audit_events WHERE chain_id = :chain"
    " AND seq BETWEEN :lo AND :hi), NULL",
    "postgresql": "CASE WHEN min(id) >= :idlo AND max(id) <= :idhi THEN count(*) END, NULL",
}
_FORMS = {
    "legacy": "max(id), NULL",
    "root": f"sum(CASE WHEN id >= {ID_BASE} THEN 1 ELSE 0 END),"
    f" min(CASE WHEN id >= {ID_BASE} THEN seq END)",
}
_IN_BATCH = "chain_id = :chain AND seq BETWEEN :lo AND :hi"
_IN_KEYED_BATCH = {
    # The unary + keeps SQLite's planner off the (chain_id, seq) index.
    "sqlite": "id BETWEEN :idlo AND :idhi AND +chain_id = :chain AND +seq BETWEEN :lo AND :hi",
    "postgresql": _IN_BATCH,
}
_BATCH_SQL = {
    "sqlite": (
        "SELECT count(*), CAST(group_concat(prev_hash, '') AS BLOB),"
        " CAST(group_concat(hash, '') AS BLOB), CAST(group_concat(mac, '') AS BLOB),"
        " CAST(group_concat(rest, char(30)) AS BLOB),"
        " group_concat(CASE WHEN sig IS NOT NULL THEN seq || ':' || sig END, ','),"
        f" max(CASE WHEN kind = '{CLOSED}' THEN seq END), {{forms}}"
        " FROM (SELECT id, seq, kind, sig, prev_hash, hash, mac, {rest} AS rest"
        " FROM audit_events WHERE {where}{order})"
    ),
    "postgresql": (
        "SELECT count(*), string_agg(prev_hash, '' ORDER BY seq),"
        " string_agg(hash, '' ORDER BY seq), string_agg(mac, '' ORDER BY seq),"
        " string_agg({rest}, chr(30) ORDER BY seq),"
        " string_agg(seq::text || ':' || sig, ','),"
        f" max(CASE WHEN kind = '{CLOSED}' THEN seq END), {{forms}}"
        " FROM audit_events WHERE {where}"
    ),
}


def batch_sql(dialect: str) -> dict[Mode, str]:
    """The batch query of each kind of chain on `dialect` ("sqlite", "postgresql")."""
    rest: dict[Mode, str] = {
        "keyed": _CURRENT[dialect],
        "legacy": _LEGACY[dialect],
        "root": REST_SQL[dialect],
    }
    return {
        mode: _BATCH_SQL[dialect].format(
            rest=rest[mode],
            forms=_KEYED_FORMS[dialect] if mode == "keyed" else _FORMS[mode],
            where=_IN_KEYED_BATCH[dialect] if mode == "keyed" else _IN_BATCH,
            order="" if mode == "keyed" else " ORDER BY seq",
        )
        for mode in rest
    }


# Row by row, for a batch that failed the batch check: finds and names the bad event.
ROWS_SQL = (
    "SELECT id, seq, prev_hash, hash, mac, sig, kind, prev_hash || {rest} AS payload"
    " FROM audit_events WHERE chain_id = :chain AND seq BETWEEN :lo AND :hi ORDER BY seq"
)
_SEP = b"\x1e"


def _describe(payload_text: str | None) -> str:
    if not payload_text:
        return ""
    parts = payload_text.split("\n")
    if len(parts) < 7:
        return ""
    if len(parts) >= 9 and parts[1].isdigit() and parts[2].isdigit() and int(parts[2]) >= ID_BASE:
        at, uid, iid = parts[4], parts[5], parts[6]
    else:
        at, uid, iid = parts[2], parts[3], parts[4]
    kind = parts[-1]
    bits = [at, f"kind {kind!r}"]
    if uid:
        bits.append(f"user {uid}")
    if iid:
        bits.append(f"item {iid}")
    return ", " + ", ".join(bits)


def structural(
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


def _hmac_pads(key: bytes) -> tuple[Any, Any]:
    # HMAC by hand (RFC 2104) with the padded-key states precomputed: two C-level
    # hash copies per event instead of building an hmac object each time.
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer


class Chain:
    """Where the walk is in one chain, and the rules of that chain: its mode (root:
    legacy events then current ones; legacy: legacy events only; keyed: current events
    only, signed by `public_key`), and that nothing follows a signed close."""

    def __init__(
        self,
        chain: int,
        mode: Mode,
        public_key_hex: str | None,
        key: bytes,
        every: int = SIGN_EVERY,
    ) -> None:
        self.chain, self.mode, self.public_key, self.key = chain, mode, public_key_hex, key
        self.every = every  # a keyed chain's writer signed at least every this many events
        # public_key, decoded once; an unusable key leaves None: every signature in the
        # chain then fails.
        self.verifier = public_key(public_key_hex)
        self.expect, self.prev = 1, GENESIS  # next seq due, and the hash it must follow
        self.current = mode == "keyed"  # current-format events seen (or required)
        self.closed: int | None = None  # seq of the chain's close event
        self.signed = 0  # last seq with a good signature

    def check_row(
        self,
        rid: int,
        seq: int,
        sprev: str | None,
        shash: str | None,
        smac: str | None,
        sig: str | None,
        kind: str | None,
        text_: str | None,
        typed: Callable[[], str | None],
    ) -> Bad | None:
        """Check one row in seq order; on success the walk moves past it."""
        if seq != self.expect or sprev != self.prev or None in (shash, smac, text_):
            return structural(rid, seq, self.expect, sprev, self.prev, shash, smac, text_)
        assert shash is not None and smac is not None
        where = f"(id {rid}{_describe(text_)})"
        if self.closed is not None:
            return (
                "forged",
                seq,
                rid,
                f"event #{seq} {where} follows the signed close of its chain at "
                f"#{self.closed}: its writer had ended, so someone else wrote it",
            )
        if rid >= ID_BASE:
            if self.mode == "legacy":
                return (
                    "forged",
                    seq,
                    rid,
                    f"event #{seq} {where} was added to a legacy chain (opened before the "
                    "upgrade to signed chains), which no writer can still append to",
                )
            self.current = True
        elif self.current:
            return (
                "inserted",
                seq,
                rid,
                f"event #{seq} {where} has the legacy form (id {rid}, not covered by its "
                "hash) where only current events may be: it was written outside db.audit",
            )
        if event_hash(text_ or "") != shash:
            # Maybe stored in a non-canonical but equivalent form: check the values.
            t = typed()
            if t is None or event_hash(t) != shash:
                return (
                    "edited",
                    seq,
                    rid,
                    f"event #{seq} (id {rid}{_describe(t or text_)}) was changed after it was "
                    "written: its content no longer matches its hash",
                )
        # Plain !=: compare_digest rejects non-ASCII text, which a forged MAC may be.
        if event_mac(self.key, shash) != smac:
            return (
                "mac",
                seq,
                rid,
                f"event #{seq} {where} has a valid hash but a wrong MAC: the chain was "
                "recomputed without the audit key",
            )
        if self.mode != "root":
            if sig is not None:
                if not signature_ok(self.verifier, sig, sig_message(self.chain, seq, shash)):
                    return (
                        "signature",
                        seq,
                        rid,
                        f"event #{seq} {where} carries a signature that its writer's key "
                        "(registered when the chain was opened) did not make: the chain was "
                        f"rewritten somewhere in #{self.signed + 1}–#{seq}"
                        + (
                            f" (#{self.signed} and before are signed and intact)"
                            if self.signed
                            else ""
                        )
                        + ", or the signature forged",
                    )
                self.signed = seq
            elif self.mode == "keyed" and seq - self.signed >= self.every:
                return (
                    "signature",
                    seq,
                    rid,
                    f"event #{seq} {where} carries no signature, but its writer signs at "
                    f"least every {self.every} events: signatures were stripped, and the "
                    f"chain may have been rewritten anywhere in #{self.signed + 1}–#{seq}",
                )
            if kind == CLOSED and self.mode == "keyed":
                if sig is None:
                    return (
                        "signature",
                        seq,
                        rid,
                        f"event #{seq} {where} closes the chain but is not signed",
                    )
                self.closed = seq
        self.prev, self.expect = shash, seq + 1
        return None


Task = tuple[Chain, int, int, bool]  # a chain, a range of seqs, last range of the chain


class _Stop(Exception):
    """A batch the worker cannot vouch for: the parent checks it row by row."""

    def __init__(self, c: Chain, lo: int) -> None:
        super().__init__(c.chain, lo)
        self.chain, self.lo = c, lo


_MAX_CHAIN = (1 << 31) - 1  # event_id stays a signed 64-bit integer below it
_NO_BATCH = (-1, *[None] * 8)  # a batch that fails the batch check: see rows()

# One batch's row: count, runs of prev_hashes, hashes and MACs, payloads, signatures,
# the close's seq, two form columns (see _FORMS).
Query = Callable[[Mode, dict[str, int]], Sequence[Any]]


class Walk:
    """Walks chains in seq order, one batch of seqs at a time. `query` runs a batch
    query (batch_sql) with its parameters and gives its one row.

    A batch that fails the batch check is checked row by row (`rows`), which takes the
    typed rows of db.audit; here, in the worker, that hands the batch back (_Stop)."""

    def __init__(self, query: Query, key: bytes) -> None:
        self.query = query
        self.inner, self.outer = _hmac_pads(key)
        self.key = key
        self.checked = self.slow_rows = 0

    def fetch(self, c: Chain, lo: int, hi: int) -> Sequence[Any] | None:
        if lo > hi:
            return None  # a chain with a head and no events
        params = {"chain": c.chain, "lo": lo, "hi": hi}
        if c.mode == "keyed":
            if not 0 <= c.chain < _MAX_CHAIN:
                return _NO_BATCH  # no event_id is in reach: let rows() say what is there
            # Seqs out of event_id's range find no row by id: the counts then differ.
            ids = (event_id(c.chain, min(max(s, 1), ID_BASE - 1)) for s in (lo, hi))
            params |= dict(zip(("idlo", "idhi"), ids, strict=True))
        return self.query(c.mode, params)

    def rows(self, c: Chain, lo: int, hi: int) -> Bad | None:
        raise _Stop(c, lo)

    def batch_ok(self, c: Chain, lo: int, hi: int, data: Sequence[Any] | None) -> bool:
        """Check a whole batch; False means "look row by row", not "broken"."""
        if data is None:
            return True
        n, prevs, hashes, macs, rests, sigs, closed, form_a, form_b = data
        if lo != c.expect or n != hi - lo + 1 or None in (prevs, hashes, macs, rests):
            return False
        if c.closed is not None or not self._forms_ok(c, hi, n, form_a, form_b):
            return False
        if closed is not None and c.mode == "keyed" and int(closed) != hi:
            return False  # something follows the close: look row by row
        prevs, hashes, macs, rests = map(_bytes, (prevs, hashes, macs, rests))
        parts = rests.split(_SEP)
        if len(parts) != n:
            return False
        sha, hexlify, inner, outer = hashlib.sha256, binascii.hexlify, self.inner, self.outer
        start = prev = c.prev.encode()
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
        # MACs compared as lowercase hex, as the row-by-row check compares them.
        if b"".join(hs) != hashes or hexlify(b"".join(ms)) != macs:
            return False
        # Each stored prev_hash must be the hash before it: one compare for the batch.
        if prevs != start + hashes[:-64]:
            return False
        signed = self._signatures_ok(c, lo, hi, hs, sigs, closed)
        if signed is None:
            return False
        if c.mode == "root" and form_a:
            c.current = True
        if closed is not None and c.mode == "keyed":
            c.closed = int(closed)
        c.signed = max(c.signed, signed)
        c.prev, c.expect, self.checked = hashes[-64:].decode(), hi + 1, self.checked + n
        return True

    @staticmethod
    def _forms_ok(c: Chain, hi: int, n: int, a: Any, b: Any) -> bool:
        if c.mode == "keyed":
            return a is not None and int(a) == n  # see _KEYED_FORMS
        if c.mode == "legacy":
            return int(a) < ID_BASE  # max(id)
        n_cur = int(a or 0)  # the root chain: legacy events, then current ones only
        if c.current:
            return n_cur == n
        return n_cur == 0 or (b is not None and n_cur == hi - int(b) + 1)

    @staticmethod
    def _signatures_ok(
        c: Chain, lo: int, hi: int, hs: list[bytes], sigs: str | None, closed: int | None
    ) -> int | None:
        """The last signed seq of a batch whose signatures all verify (0: none), else
        None. The root chain's are checked with its opening events (_openings)."""
        if c.mode == "root":
            return 0
        if c.mode == "legacy":
            return None if sigs else 0
        found: dict[int, str] = {}
        for item in (sigs or "").split(","):
            if item:
                signed_seq, _, signature = item.partition(":")
                found[int(signed_seq)] = signature
        if closed is not None and int(closed) not in found:
            return None
        # The writer signs at least every `every` events: none may be missing.
        last = c.signed
        for seq in sorted(found):
            if seq - last > c.every:
                return None
            last = seq
        if hi - last >= c.every:
            return None
        for seq, sig in found.items():
            h = hs[seq - lo].decode()
            if not signature_ok(c.verifier, sig, sig_message(c.chain, seq, h)):
                return None
        return max(found, default=0)

    def run(
        self,
        pool: ThreadPoolExecutor,
        tasks: Iterable[Task],
        finish: Callable[[Chain], Bad | None],
    ) -> tuple[Bad, int] | None:
        """Check `tasks` in order; `finish` each chain after its last range. The first
        bad event and its chain, if any.

        The database assembles batch k+1 (SQLite and psycopg release the GIL while it
        does) while a worker thread hashes batch k, across chain boundaries: the two
        costs overlap instead of adding up. Only this thread touches the connection."""
        checking: tuple[Task, Future[bool]] | None = None
        for task in itertools.chain(tasks, [None]):
            data = None if task is None else self.fetch(task[0], task[1], task[2])
            if checking is not None:
                (c, lo, hi, last), done = checking
                bad = None if done.result() else self.rows(c, lo, hi)
                if bad is None and last:
                    bad = finish(c)
                if bad is not None:
                    return in_chain(c.chain, bad), c.chain
            if task is not None:
                checking = task, pool.submit(self.batch_ok, task[0], task[1], task[2], data)
        return None


@overload
def in_chain(chain: int, bad: Bad) -> Bad: ...
@overload
def in_chain(chain: int, bad: Bad | None) -> Bad | None: ...
def in_chain(chain: int, bad: Bad | None) -> Bad | None:
    if chain == ROOT or bad is None:
        return bad
    problem, seq, rid, message = bad
    return problem, seq, rid, f"chain {chain}: {message}"


def _bytes(run: bytes | str) -> bytes:
    return run if isinstance(run, bytes) else run.encode()


def chain_tasks(
    c: Chain, span: tuple[int, int] | None, batch: int, start: int | None = None
) -> list[Task]:
    """The batches of chain `c` (min and max seq `span`), from `start` if given."""
    if span is None:
        return [(c, 1, 0, True)]  # no events: only its head to check
    low, high = span
    # From min(seq) if something sits below 1, so that it is seen and reported.
    starts = range(min(1, low) if start is None else start, high + 1, batch)
    return [(c, a, min(a + batch - 1, high), a + batch > high) for a in starts]


# -- a second process for the writers' chains --------------------------------------------

ChainSpec = tuple[int, Mode, str | None, int, tuple[int, int] | None]  # see db.audit._spec
# Where the worker left a chain: chain, next seq due, last hash, close seq, last signed
# seq, and the worker's running count of events checked.
ChainState = tuple[int, int, str, int | None, int, int]
# The chains the worker finished, in order, and the one it stopped in, if any: its state
# before the batch it could not vouch for, and that batch's first seq (the parent goes
# on from there, row by row).
Remote = tuple[list[ChainState], tuple[ChainState, int] | None]


def spec_chain(spec: ChainSpec, key: bytes) -> tuple[Chain, tuple[int, int] | None]:
    chain, mode, public_key, every, span = spec
    return Chain(chain, mode, public_key, key, every), span


def _state(c: Chain, checked: int) -> ChainState:
    return c.chain, c.expect, c.prev, c.closed, c.signed, checked


class Worker:
    """A fresh interpreter that runs _verify_chains on request (JSON over its stdin and
    stdout). Not multiprocessing: its start methods either fork a possibly threaded
    process (the GUI) or re-import the caller's main module, which a library cannot
    ask of its callers. Started early, it boots (imports this module only: about a
    tenth of a CPU-second) while the root chain is walked."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[1])  # where `db` is importable from
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            [sys.executable, "-P", "-c", "import db.audit_walk; db.audit_walk._serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
        )
        self._ready = False

    def ready(self, timeout: float = 0.0) -> bool:
        """Whether it has started (imported what it needs): it then says so first."""
        if not self._ready and self.proc.stdout is not None:
            try:
                readable, _, _ = select_io.select([self.proc.stdout], [], [], timeout)
            except (OSError, ValueError):
                return False
            if readable:
                self._ready = self.proc.stdout.readline() == b"ready\n"
        return self._ready

    def wait_ready(self, timeout: float) -> None:
        if timeout > 0:
            self.ready(timeout)

    def send(self, database: str, key: bytes, specs: list[ChainSpec], batch: int) -> bool:
        """Ask it to check `specs` in the SQLite file `database`; False if it cannot be
        asked."""
        assert self.proc.stdin is not None
        request = {"database": database, "key": key.hex(), "specs": specs, "batch": batch}
        try:
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.close()
        except OSError:
            return False
        return True

    def result(self) -> Remote | None:
        """Its answer; None if it failed (the caller then checks those chains itself)."""
        assert self.proc.stdout is not None
        try:
            answer = json.loads(self.proc.stdout.read())
        except (OSError, ValueError):
            return None
        if self.proc.wait() != 0:
            return None
        done: list[ChainState] = [_state_of(d) for d in answer["done"]]
        stopped = answer["stopped"]
        return done, None if stopped is None else (_state_of(stopped[0]), int(stopped[1]))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # a bad event found here made its answer moot
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None:
                f.close()


def _state_of(d: Sequence[Any]) -> ChainState:
    chain, expect, prev, closed, signed, checked = d
    return int(chain), int(expect), str(prev), closed, int(signed), int(checked)


def _serve() -> None:
    """The worker's main: says it is ready, then one request on stdin, its answer on
    stdout."""
    sys.stdout.buffer.write(b"ready\n")
    sys.stdout.flush()
    request = json.loads(sys.stdin.buffer.readline())
    specs = [
        (c, m, k, e, None if s is None else (s[0], s[1])) for c, m, k, e, s in request["specs"]
    ]
    done, stopped = _verify_chains(
        request["database"], bytes.fromhex(request["key"]), specs, int(request["batch"])
    )
    sys.stdout.buffer.write(json.dumps({"done": done, "stopped": stopped}).encode())
    sys.stdout.flush()


@contextmanager
def worker_process(wanted: bool) -> Iterator[Worker | None]:
    if not wanted:
        yield None
        return
    try:
        worker = Worker()
    except OSError:
        yield None
        return
    try:
        yield worker
    finally:
        worker.close()


def _verify_chains(database: str, key: bytes, specs: list[ChainSpec], batch: int) -> Remote:
    """In the worker: check the chains of `specs` in order, within the seq ranges the
    parent saw, in one read transaction on the SQLite file `database` (read-only; the
    parent's open connection keeps its WAL files there). The chains finished, and where
    it stopped if a batch failed the batch check."""
    done: list[ChainState] = []
    queries = batch_sql("sqlite")
    uri = Path(database).resolve().as_uri() + "?mode=ro"
    con = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
    try:
        con.execute("BEGIN")

        def query(mode: Mode, params: dict[str, int]) -> Sequence[Any]:
            row = con.execute(queries[mode], params).fetchone()
            assert row is not None  # an aggregate without GROUP BY: always one row
            return tuple(row)

        walk = Walk(query, key)

        def finish(c: Chain) -> None:
            done.append(_state(c, walk.checked))

        tasks = [t for spec in specs for t in chain_tasks(*spec_chain(spec, key), batch)]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-verify") as pool:
            try:
                walk.run(pool, tasks, finish)
            except _Stop as stop:
                # The chain's state is as the last good batch left it.
                return done, (_state(stop.chain, walk.checked), stop.lo)
        return done, None
    finally:
        con.close()
