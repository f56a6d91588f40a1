"""Signed audit checkpoints: every chain's head, kept outside the database.

The hash chains (db.audit) show any change *inside* what they still hold; what they
cannot show alone is something cut away together with the head rows that would have
told: a tail cut and its head rewound, a whole writer chain wiped and its head reset,
the last chain dropped with its opening event and the root head rewound. A checkpoint
records, at one moment, every chain's last seq and hash, which chains can no longer
grow (closed by their writer, or legacy), a SHA-256 digest over all of that, and the
Ed25519 signature of the workstation session that took it (its key registered in the
root chain the checkpoint covers). Kept somewhere the database's administrator cannot
reach (each workstation's data directory; a file a lead files away), it lets anyone
prove later that the log still *extends* it: every chain it names still exists, is at
least as long, sealed chains are exactly as long, and the event at each recorded
position still hashes to the recorded head.

A checkpoint is also written into the log itself (an `audit_checkpoint` event, signed),
so that the lead dashboard can show when the last one was taken and every workstation
can adopt the newest one it finds, after checking that the log extends both it and the
one it already holds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select, tuple_

from db import audit
from db.audit import ROOT, VerifyResult, events_t
from db.repo import Repo, translate_errors

FORMAT = "reviewer-audit-checkpoint/1"
KIND = "audit_checkpoint"  # the event that records a checkpoint in the log
LOCAL_NAME = "audit-checkpoint.json"  # the newest checkpoint a workstation has seen
_ANCHOR_BATCH = 400  # (chain, seq) pairs per anchor query


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read, or is not a checkpoint."""


@dataclass(frozen=True)
class Checkpoint:
    taken_at: datetime
    chains: dict[int, tuple[int, str]]  # chain id -> (last seq, its hash)
    sealed: frozenset[int]  # chains that may never grow
    signer_chain: int  # the chain of the session that took it, which registered ...
    public_key: str  # ... this Ed25519 key (hex) in the root chain
    signature: str = ""

    @property
    def root_seq(self) -> int:
        return self.chains.get(ROOT, (0, ""))[0]

    def digest(self) -> str:
        """SHA-256 over every chain's head, in chain order, and which are sealed."""
        h = hashlib.sha256(FORMAT.encode())
        for chain in sorted(self.chains):
            seq, head = self.chains[chain]
            h.update(f"\n{chain} {seq} {head} {int(chain in self.sealed)}".encode())
        return h.hexdigest()

    def message(self) -> bytes:
        """What the signature covers."""
        when = audit.canonical_at(self.taken_at)
        return f"{FORMAT}\n{when}\n{self.signer_chain}\n{self.public_key}\n{self.digest()}".encode()

    def signature_ok(self) -> bool:
        return audit.signature_ok(self.public_key, self.signature, self.message())

    def signed(self, signer: audit.Signer) -> Checkpoint:
        return dataclasses.replace(self, signature=signer.sign(self.message()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "taken_at": audit.canonical_at(self.taken_at),
            "chains": [[c, s, h] for c, (s, h) in sorted(self.chains.items())],
            "sealed": sorted(self.sealed),
            "digest": self.digest(),
            "signer": {"chain_id": self.signer_chain, "public_key": self.public_key},
            "signature": self.signature,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1) + "\n"

    @classmethod
    def from_dict(cls, d: Any) -> Checkpoint:
        try:
            if d["format"] != FORMAT:
                raise CheckpointError(f"not an audit checkpoint (format {d['format']!r})")
            cp = cls(
                datetime.fromisoformat(str(d["taken_at"]).replace("Z", "+00:00")),
                {int(c): (int(s), str(h)) for c, s, h in d["chains"]},
                frozenset(int(c) for c in d["sealed"]),
                int(d["signer"]["chain_id"]),
                str(d["signer"]["public_key"]),
                str(d["signature"]),
            )
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"not a readable audit checkpoint ({exc!r})") from None
        if cp.taken_at.tzinfo is None or d.get("digest") != cp.digest():
            raise CheckpointError("the checkpoint's digest does not match its chains")
        return cp

    @classmethod
    def from_json(cls, text_: str) -> Checkpoint:
        try:
            return cls.from_dict(json.loads(text_))
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"not a readable audit checkpoint ({exc.msg})") from None

    @classmethod
    def read(cls, path: Path) -> Checkpoint:
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CheckpointError(f"cannot read {path}: {exc.strerror}") from None

    def extends(self, older: Checkpoint) -> bool:
        """Whether this checkpoint could follow `older` in the same log: each chain of
        `older` is here, no shorter, at the same head if the same length, and chains
        sealed there are still sealed and the same length."""
        for chain, (seq, head) in older.chains.items():
            mine = self.chains.get(chain)
            if mine is None or mine[0] < seq or (mine[0] == seq and mine[1] != head):
                return False
            if chain in older.sealed and (chain not in self.sealed or mine[0] != seq):
                return False
        return True


def write_file(cp: Checkpoint, path: Path) -> None:
    """Write atomically, owner-only: a half-written checkpoint is never left behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(cp.to_json())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LocalCheckpoint:
    """The newest checkpoint this workstation has seen, in its data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCAL_NAME

    def load(self) -> Checkpoint | None:
        """None if there is none yet; CheckpointError if it is unreadable or its
        signature fails (someone changed it: that is a finding, not a fresh start)."""
        if not self.path.exists():
            return None
        cp = Checkpoint.read(self.path)
        if not cp.signature_ok():
            raise CheckpointError(f"{self.path}: the signature does not verify (changed)")
        return cp

    def keep(self, cp: Checkpoint) -> bool:
        """Keep `cp` if it is newer than (and extends) the one held; whether it was."""
        held = self.load()
        if held is not None and not (
            cp.extends(held) and (cp.root_seq, cp.taken_at) > (held.root_seq, held.taken_at)
        ):
            return False
        write_file(cp, self.path)
        return True


# -- the comparison ----------------------------------------------------------------------

_Bad = tuple[audit.Problem, int | None, int | None, str, int]  # + the chain


def _stored(conn: Connection, cp: Checkpoint) -> tuple[dict[int, int], dict[tuple[int, int], Any]]:
    """Each chain's last stored seq (-1: the chain is gone), and the stored rows (id,
    hash) at the checkpoint's positions."""
    last: dict[int, int] = {c: -1 for c in cp.chains}
    q = (
        select(events_t.c.chain_id, func.max(events_t.c.seq))
        .where(events_t.c.seq.is_not(None))
        .group_by(events_t.c.chain_id)
    )
    for chain, seq in conn.execute(q):
        if int(chain) in last:
            last[int(chain)] = int(seq)
    heads = {ROOT: audit._read_head(conn), **audit._chain_heads(conn)}
    for chain in last:
        if last[chain] < 0 and heads.get(chain) is not None:
            last[chain] = 0  # a chain with a head row and no events
    pairs = [(c, s) for c, (s, _) in cp.chains.items() if s > 0]
    rows: dict[tuple[int, int], Any] = {}
    for i in range(0, len(pairs), _ANCHOR_BATCH):
        part = pairs[i : i + _ANCHOR_BATCH]
        q2 = select(events_t.c.chain_id, events_t.c.seq, events_t.c.id, events_t.c.hash).where(
            tuple_(events_t.c.chain_id, events_t.c.seq).in_(part)
        )
        for r in conn.execute(q2):
            rows[(int(r.chain_id), int(r.seq))] = r
    return last, rows


def _last_signed(conn: Connection, chain: int, seq: int) -> int:
    q = select(func.max(events_t.c.seq)).where(
        events_t.c.chain_id == chain, events_t.c.seq <= seq, events_t.c.sig.is_not(None)
    )
    return int(conn.execute(q).scalar() or 0)


def compare(conn: Connection, cp: Checkpoint, *, verified: bool) -> _Bad | None:
    """The first way the log in `conn` fails to extend `cp`, root chain first. With
    `verified` (verify has just passed on this snapshot), signatures up to a position
    are known good, which narrows down where a rewritten chain was changed."""
    last, rows = _stored(conn, cp)
    for chain in sorted(cp.chains, key=lambda c: (c != ROOT, c)):
        seq, head = cp.chains[chain]
        name = "root chain" if chain == ROOT else f"chain {chain}"
        now = last[chain]
        if now < 0:
            return (
                "missing",
                1,
                None,
                f"{name} is gone: the checkpoint of {_when(cp)} recorded it with "
                f"{seq} event(s) (#1–#{seq} missing, and its head row)",
                chain,
            )
        if now < seq:
            return (
                "missing",
                now + 1,
                None,
                f"{name} ends at #{now} but the checkpoint of {_when(cp)} recorded "
                f"#{seq}: event(s) #{now + 1}–#{seq} were removed (tail cut and head rewound)",
                chain,
            )
        if chain in cp.sealed and now > seq:
            return (
                "forged",
                seq + 1,
                None,
                f"{name} was sealed at #{seq} when the checkpoint of {_when(cp)} was taken "
                f"(closed by its writer, or legacy) but now goes on to #{now}: "
                f"event(s) #{seq + 1}–#{now} were added by someone else",
                chain,
            )
        row = rows.get((chain, seq))
        if seq > 0 and (row is None or row.hash != head):
            after = _last_signed(conn, chain, seq) if verified else 0
            rid = None if row is None else int(row.id)
            return (
                "rewritten",
                seq,
                rid,
                f"{name}: event #{seq} no longer has the hash the checkpoint of {_when(cp)} "
                f"recorded ({head[:16]}…): the chain was rewritten and re-hashed somewhere in "
                f"#{after + 1}–#{seq}"
                + (f" (#{after} and before are signed by its writer and intact)" if after else ""),
                chain,
            )
    return None


def _when(cp: Checkpoint) -> str:
    return cp.taken_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _failed(result: VerifyResult, bad: _Bad) -> VerifyResult:
    problem, seq, rid, message, chain = bad
    return dataclasses.replace(
        result,
        ok=False,
        problem=problem,
        first_bad_seq=seq,
        first_bad_id=rid,
        message=message,
        chain_id=chain,
        heads={},
        sealed=frozenset(),
        keys={},
        unsigned=(),
    )


def verify_since(bind: Any, key: bytes, *checkpoints: Checkpoint) -> VerifyResult:
    """`audit.verify`, and then that the log still extends each checkpoint: every chain
    it names exists, is at least as long (sealed ones exactly), still has the recorded
    hash at the recorded position, and the session that signed it is registered in the
    log. One pass over the log however many checkpoints are given."""
    for cp in checkpoints:
        if not cp.signature_ok():
            return VerifyResult(
                False,
                0,
                None,
                None,
                "signature",
                message=f"the checkpoint of {_when(cp)}: its signature does not verify: it "
                "was changed after it was signed",
            )
    with audit._reading(bind) as conn:
        # The snapshot is verify's own when `bind` is an Engine: a worker may share it.
        result = audit.verify_snapshot(conn, key, bind if isinstance(bind, Engine) else None)
        if not result.ok:
            return result
        for cp in checkpoints:
            bad = compare(conn, cp, verified=True)
            if bad is None and result.keys.get(cp.signer_chain) != cp.public_key:
                bad = (
                    "signature",
                    None,
                    None,
                    f"the checkpoint of {_when(cp)} is signed by a key that chain "
                    f"{cp.signer_chain} never registered in this log: it was made for "
                    "another database, or forged",
                    cp.signer_chain,
                )
            if bad is not None:
                return _failed(result, bad)
    extends = "; ".join(
        f"the log extends the checkpoint of {_when(cp)} ({len(cp.chains)} chain(s), "
        f"root chain at #{cp.root_seq})"
        for cp in checkpoints
    )
    return dataclasses.replace(result, message="; ".join(filter(None, [result.message, extends])))


@dataclass(frozen=True)
class StartCheck:
    ok: bool
    message: str
    held: Checkpoint | None  # the checkpoint this workstation holds afterwards


class CheckpointRepo(Repo):
    """Taking checkpoints, and checking the log against them, for one workstation."""

    @translate_errors
    def take(self, key: bytes, local: LocalCheckpoint) -> Checkpoint:
        """Verify the log (against the checkpoint held here and the newest the log
        records), then sign every chain's head with this session's key, record it in
        the log and keep it locally.
        Raises CheckpointError, naming the damage, if the log does not verify: a
        checkpoint of a damaged log would vouch for the damage."""
        writer = self.store.audit_writer  # this session's chain and key
        with self.write() as conn:
            signer_chain = writer.open(conn, self.now_value(conn))
        # The one this workstation holds, and the newest the log records: a log that no
        # longer extends either is refused, not vouched for afresh.
        anchors = [cp for cp in (local.load(), self.newest_recorded()) if cp is not None]
        result = verify_since(self.engine, key, *anchors)
        if not result.ok:
            raise CheckpointError(f"the audit log does not verify: {result.message}")
        with self.write() as conn:
            at = self.now_value(conn)
            cp = Checkpoint(
                at, result.heads, result.sealed, signer_chain, writer.signer.public_hex
            ).signed(writer.signer)
            writer.append(
                conn,
                [audit.NewEvent(None, KIND, None, {"checkpoint": cp.to_dict()})],
                at,
                sign=True,
            )
        local.keep(cp)
        return cp

    @translate_errors
    def verify(self, key: bytes, *since: Checkpoint) -> VerifyResult:
        """The whole log, and that it extends each of `since` (see verify_since)."""
        return verify_since(self.engine, key, *since)

    @translate_errors
    def newest_recorded(self) -> Checkpoint | None:
        """The newest checkpoint recorded in the log whose signature holds, if any."""
        with self.read() as conn:
            rows = conn.execute(
                select(events_t.c.detail)
                .where(events_t.c.kind == KIND)
                .order_by(events_t.c.at.desc(), events_t.c.id.desc())
                .limit(20)
            ).all()
        for (detail,) in rows:
            try:
                cp = Checkpoint.from_dict((detail or {}).get("checkpoint"))
            except (CheckpointError, AttributeError):
                continue
            if cp.signature_ok():
                return cp
        return None

    @translate_errors
    def last_taken_at(self) -> datetime | None:
        with self.read() as conn:
            return last_taken_at(conn)

    @translate_errors
    def check_at_start(self, local: LocalCheckpoint) -> StartCheck:
        """The quick check a workstation makes when it starts: the log still extends the
        checkpoint it holds (chains there, long enough, same hash at the recorded
        positions: no full re-hash, which `reviewer audit verify` does), then it adopts
        the newest checkpoint recorded in the log if that one holds too and is newer."""
        try:
            held = local.load()
        except CheckpointError as exc:
            return StartCheck(False, f"the checkpoint kept on this workstation: {exc}", None)
        if held is not None:
            with self.read() as conn:
                bad = compare(conn, held, verified=False)
            if bad is not None:
                return StartCheck(False, f"the audit log no longer extends: {bad[3]}", held)
        newest = self.newest_recorded()
        if newest is not None and (held is None or newest.extends(held)):
            with self.read() as conn:
                registered = _registered_key(conn, newest.signer_chain)
                bad = compare(conn, newest, verified=False)
            if registered == newest.public_key and bad is None and local.keep(newest):
                held = newest
        if held is None:
            return StartCheck(True, "no audit checkpoint taken yet", None)
        return StartCheck(
            True,
            f"the audit log extends the checkpoint of {_when(held)} ({len(held.chains)} chain(s))",
            held,
        )


def last_taken_at(conn: Connection) -> datetime | None:
    """When the newest checkpoint recorded in the log was taken (None: never)."""
    return conn.execute(select(func.max(events_t.c.at)).where(events_t.c.kind == KIND)).scalar()


def _registered_key(conn: Connection, chain: int) -> str | None:
    opened, _bad = audit._openings(conn)
    op = opened.get(chain)
    return None if op is None else op.public_key
