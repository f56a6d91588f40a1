"""Benchmark: what this machine allows for claims, without our code.

Run from the repository root:

    python tests/bench/bench_claims_floor.py [--seconds 8]

The same workload as bench_claims.py (pick the most urgent pending item with FOR
UPDATE SKIP LOCKED, open a claim, lease the item; then close it with a decision and
an exposure row) written as directly as it can be: raw psycopg / sqlite3, hand-written
SQL, a minimal schema with only the pending index, no SQLAlchemy, no Store. Variants:

* PostgreSQL `bare`: each step one autocommitted statement, no audit at all: the
  ceiling for any design on these 2 cores with 50 Python clients.
* PostgreSQL `audited`: each step a transaction with its audit event appended to the
  workstation's own hash chain (client-side SHA-256 + HMAC, guarded head update), sent
  with the COMMIT in one pipelined round trip: what this repository's design costs at
  best.
* PostgreSQL `bare, paced`: the bare variant offered 2,000 cycles/s (each workstation
  one cycle every 25 ms): the claim latency a design with no audit at all gets at the
  goal's rate.
* PostgreSQL `audited, our schema`: the statements Store sends (one round trip per
  step, as db.claims.ClaimStatements), by hand on raw psycopg, prepared on the server from their
  first run as db.prepared does, on a database made by this
  repository's migrations and seeded through the Store, audit append and COMMIT
  pipelined: the ceiling for this schema. Its connections start with the options
  every application connection does (db.engine.PG_OPTIONS: no JIT, a prepared
  statement's generic plan from its first run), so the floor runs under the server
  settings ours runs under, not psycopg's defaults.
* PostgreSQL `audited, our schema, own login roles`: the same, but each workstation
  signs in as its own PostgreSQL login role (a vetted moderator account made by an
  admin, as bench_claims does), so every statement passes migration 0018's grants and
  the row-level-security policies of 0023/0024: what the policies alone cost a raw
  driver. Two adaptations, both what Store's claim does under row-level security: the
  claim returns the item's columns a moderator may read (not `items.*`), and reads the
  report context and media through `reviewer_item_context()` instead of joining media.
* SQLite `audited`, 1 and 2 processes: the same transactions with a one-chain audit
  (SQLite serialises writers anyway).
* SQLite `audited, our schema`: the same hand-written transactions on a database made
  by this repository's migrations and seeded through the Store, so with every column,
  constraint, index, trigger and foreign key the application has (each workstation on
  a chain of its own, as db.audit.ChainWriter): the ceiling for this schema.
* SQLite `audited, our schema, Store's statements`: the same, sending every statement
  Store sends in its order, also those the workload itself does not need (the
  permission gate's read of the account in each transaction, the decision's read of
  its claim, the queue restriction): what this design's SQL
  costs with no Python of ours around it.

Prints cycles/s and claim p50/p99 per variant; last line `BENCH {json}`.
Not a pytest module: nothing is collected.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import hmac
import json
import multiprocessing as mp
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "bench"))

import psycopg  # noqa: E402
from pgserver import PgServer  # noqa: E402
from psycopg import sql  # noqa: E402

from db.engine import PG_OPTIONS  # noqa: E402

KEY = bytes(range(32))
PG_OURS_LABEL = "audited, our schema (pipelined)"
PG_RLS_LABEL = "audited, our schema, own login roles (RLS)"
SQLITE_OURS_LABEL = "audited, our schema, {procs} process(es)"
SQLITE_STORE_LABEL = "audited, our schema, Store's statements, {procs} process(es)"
GENESIS = "0" * 64

PG_SCHEMA = """
create table items(id bigserial primary key, status text not null default 'pending',
  priority int not null default 5, received_at timestamptz not null default now(),
  claimed_by int, lease_expires_at timestamptz, claim_id bigint, payload text default 'x');
create index ix_pending on items(priority, received_at, id) where status='pending';
create table claims(id bigserial primary key, item_id bigint, user_id int,
  claimed_at timestamptz, expires_at timestamptz, closed_at timestamptz, outcome text);
create table decisions(id bigserial primary key, item_id bigint, user_id int,
  claim_id bigint unique, decided_at timestamptz, category text, token text unique);
create table exposures(id bigserial primary key, item_id bigint, user_id int,
  claim_id bigint unique, seconds float);
create table audit(id bigserial primary key, chain int, seq bigint, at timestamptz,
  user_id int, kind text, item_id bigint, detail json, prev_hash text, hash text, mac text,
  unique(chain, seq));
create table heads(chain int primary key, seq bigint, hash text);
"""
PG_CLAIM = """
with picked as (select id from items where status='pending'
                order by priority, received_at, id limit 1 for update skip locked),
opened as (insert into claims(item_id, user_id, claimed_at, expires_at)
           select id, %(u)s, now(), now() + interval '10 min' from picked
           returning id, item_id, expires_at)
update items set status='claimed', claimed_by=%(u)s, lease_expires_at=opened.expires_at,
  claim_id=opened.id
from opened where items.id = opened.item_id
returning items.id, items.claim_id, now(), items.payload, items.priority, items.received_at
"""
PG_DECIDE = """
with closed as (update items set status='decided', claimed_by=null, lease_expires_at=null,
                  claim_id=null
                where id=%(i)s and claim_id=%(c)s and status='claimed' returning id),
ledger as (insert into exposures(item_id, user_id, claim_id, seconds)
           select id, %(u)s, %(c)s, 1.5 from closed on conflict do nothing),
ended as (update claims set closed_at=now(), outcome='decided'
          where id=%(c)s and exists(select 1 from closed)),
stored as (insert into decisions(item_id, user_id, claim_id, decided_at, category, token)
           select id, %(u)s, %(c)s, now(), 'A', %(t)s from closed
           returning id, decided_at)
select id, decided_at from stored
"""
PG_AUDIT = """
with h as (update heads set seq=%(seq)s, hash=%(hash)s
           where chain=%(ch)s and seq=%(pseq)s returning chain)
insert into audit(chain, seq, at, user_id, kind, item_id, detail, prev_hash, hash, mac)
select %(ch)s, %(seq)s, %(at)s, %(u)s, %(k)s, %(i)s, %(d)s, %(prev)s, %(hash)s, %(mac)s from h
"""
GRADING = {"age_band": "0-3", "age_confidence": "likely", "severity": "category_a"}


class Chain:
    """One workstation's audit chain, head kept in memory (as db.audit.ChainWriter)."""

    def __init__(self, uid: int) -> None:
        self.uid, self.seq, self.prev = uid, 0, GENESIS

    def row(self, kind: str, item: int, detail: dict[str, Any], at: datetime) -> dict[str, Any]:
        seq = self.seq + 1
        d = json.dumps(detail, sort_keys=True, separators=(",", ":"))
        stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        h = hashlib.sha256(
            f"{self.prev}\n{seq}\n{stamp}\n{self.uid}\n{item}\n{d}\n{kind}".encode()
        ).hexdigest()
        mac = hmac.new(KEY, bytes.fromhex(h), hashlib.sha256).hexdigest()
        row = dict(seq=seq, hash=h, ch=self.uid, pseq=self.seq, at=at, u=self.uid, k=kind)
        row.update(i=item, d=d, prev=self.prev, mac=mac)
        self.seq, self.prev = seq, h
        return row


def paced(
    seconds: float, interval: float, cycle: Callable[[int], float | None]
) -> tuple[int, list[float]]:
    """Run `cycle(n)` back to back, or (interval > 0) one every `interval` seconds from a
    random phase, as bench_claims.work_loop paces, until `seconds` have passed or it
    returns None (the queue ran dry). Returns (cycles run, each one's claim latency)."""
    n, lat = 0, []
    end = time.monotonic() + seconds
    next_at = time.monotonic() + random.uniform(0, interval)
    while time.monotonic() < end:
        if interval:
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at + interval, time.monotonic())
        took = cycle(n)
        if took is None:
            break
        lat.append(took)
        n += 1
    return n, lat


def pg_workstation(
    dsn: str, uid: int, seconds: float, mode: str, out: list[Any], interval: float
) -> None:
    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute("insert into heads values (%s, 0, %s) on conflict do nothing", (uid, GENESIS))
    chain = Chain(uid)

    def cycle(n: int) -> float | None:
        t0 = time.perf_counter()
        if mode == "bare":
            r = conn.execute(PG_CLAIM, {"u": uid}).fetchone()
            t1 = time.perf_counter()
            if r is None:
                return None
            conn.execute(PG_DECIDE, {"i": r[0], "c": r[1], "u": uid, "t": f"{uid}-{n}"})
            return t1 - t0
        with conn.pipeline():
            conn.execute("BEGIN")
            cur = conn.execute(PG_CLAIM, {"u": uid})
        r = cur.fetchone()
        if r is None:
            return None
        with conn.pipeline():
            conn.execute(PG_AUDIT, chain.row("claim", r[0], {"claim_id": r[1]}, r[2]))
            conn.execute("COMMIT")
        t1 = time.perf_counter()
        with conn.pipeline():
            conn.execute("BEGIN")
            cur = conn.execute(PG_DECIDE, {"i": r[0], "c": r[1], "u": uid, "t": f"{uid}-{n}"})
        d = cur.fetchone()
        assert d is not None
        detail = {"claim_id": r[1], "decision_id": d[0], "grading": GRADING}
        with conn.pipeline():
            conn.execute(PG_AUDIT, chain.row("decision", r[0], detail, d[1]))
            conn.execute("COMMIT")
        return t1 - t0

    out.append(paced(seconds, interval, cycle))
    conn.close()


def pg_process(
    dsn: str, uids: list[int], seconds: float, mode: str, q: Any, interval: float
) -> None:
    out: list[Any] = []
    threads = [
        threading.Thread(target=pg_workstation, args=(dsn, u, seconds, mode, out, interval))
        for u in uids
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q.put(out)


SQLITE_SCHEMA = """
create table items(id integer primary key, status text not null default 'pending',
  priority int not null default 5, received_at text not null, claimed_by int,
  lease_expires_at text, claim_id int, payload text default 'x');
create index ix_pending on items(priority, received_at, id) where status='pending';
create table claims(id integer primary key, item_id int, user_id int, claimed_at text,
  expires_at text, closed_at text, outcome text);
create table decisions(id integer primary key, item_id int, user_id int,
  claim_id int unique, decided_at text, category text, token text unique);
create table exposures(id integer primary key, item_id int, user_id int,
  claim_id int unique, seconds float);
create table audit(id integer primary key, seq int unique, at text, user_id int,
  kind text, item_id int, detail text, prev_hash text, hash text, mac text);
create table audit_head(id int primary key, seq int, hash text);
"""


def sqlite_audit(cur: sqlite3.Cursor, uid: int, kind: str, item: int, detail: Any, at: str) -> None:
    seq, prev = cur.execute(
        "update audit_head set seq = seq + 1 where id = 1 returning seq, hash"
    ).fetchone()
    d = json.dumps(detail, sort_keys=True, separators=(",", ":"))
    h = hashlib.sha256(f"{prev}\n{seq}\n{at}\n{uid}\n{item}\n{d}\n{kind}".encode()).hexdigest()
    mac = hmac.new(KEY, bytes.fromhex(h), hashlib.sha256).hexdigest()
    cur.execute(
        "insert into audit(seq, at, user_id, kind, item_id, detail, prev_hash, hash, mac)"
        " values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, at, uid, kind, item, d, prev, h, mac),
    )
    cur.execute("update audit_head set hash = ? where id = 1", (h,))


def sqlite_workstation(path: str, uid: int, seconds: float, q: Any) -> None:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("pragma synchronous=normal")
    cur = conn.cursor()
    n, lat = 0, []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        now = datetime.now(UTC).isoformat()
        cur.execute("begin immediate")
        r = cur.execute(
            "insert into claims(item_id, user_id, claimed_at, expires_at)"
            " select id, ?, ?, ? from items where status = 'pending'"
            " order by priority, received_at, id limit 1 returning id, item_id",
            (uid, now, now),
        ).fetchone()
        if r is None:
            cur.execute("rollback")
            break
        cur.execute(
            "update items set status='claimed', claimed_by=?, lease_expires_at=?, claim_id=?"
            " where id=? returning *",
            (uid, now, r[0], r[1]),
        ).fetchone()
        sqlite_audit(cur, uid, "claim", r[1], {"claim_id": r[0]}, now)
        cur.execute("commit")
        t1 = time.perf_counter()
        now = datetime.now(UTC).isoformat()
        token = f"{uid}-{n}"
        cur.execute("begin immediate")
        cur.execute(
            "update items set status='decided', claimed_by=null, lease_expires_at=null,"
            " claim_id=null where id=? and claim_id=? and status='claimed'",
            (r[1], r[0]),
        )
        cur.execute(
            "insert into exposures(item_id, user_id, claim_id, seconds) values (?, ?, ?, 1.5)",
            (r[1], uid, r[0]),
        )
        cur.execute(
            "update claims set closed_at=?, outcome='decided' where id=? and closed_at is null",
            (now, r[0]),
        )
        did = cur.execute(
            "insert into decisions(item_id, user_id, claim_id, decided_at, category, token)"
            " values (?, ?, ?, ?, 'A', ?) returning id",
            (r[1], uid, r[0], now, token),
        ).fetchone()[0]
        detail = {"claim_id": r[0], "decision_id": did, "grading": GRADING}
        sqlite_audit(cur, uid, "decision", r[1], detail, now)
        cur.execute("commit")
        lat.append(t1 - t0)
        n += 1
    q.put([(n, lat)])


# The application's own schema (every migration), written to as directly as above.
OURS_CLAIM = (
    "insert into claims(item_id, user_id, claimed_at, expires_at)"
    " select id, ?, ?, ? from items where status = 'pending'"
    " and not exists (select 1 from skips where skips.item_id = items.id and skips.user_id = ?)"
    " order by priority, received_at, id limit 1 returning id, item_id"
)
OURS_LEASE = (
    "update items set status = 'claimed', claimed_by = ?, lease_expires_at = ?, claim_id = ?"
    " where id = ?"
)
# What the workstation is shown: the item with its media and queue (Store's item view).
OURS_VIEW = (
    "select items.*, media.sha256, media.size_bytes, media.format, media.width,"
    " media.height, media.unreadable_reason, queues.name from items join media"
    " on media.id = items.media_id join queues on queues.id = items.queue_id where items.id = ?"
)
OURS_CLOSE_ITEM = (
    "update items set status = 'decided', claimed_by = null, lease_expires_at = null,"
    " claim_id = null where id = ? and claim_id = ? and status = 'claimed'"
)
OURS_EXPOSURE = (
    "insert into exposures(item_id, user_id, claim_id, recorded_at, seconds_revealed,"
    " reveal_count, max_area_fraction, full_unprotected, area_seconds, min_blur_step,"
    " colour_shown, least_mode) values (?, ?, ?, ?, 1.5, 1, 0.4, 0, 0.6, null, 0, 'protected')"
)
OURS_CLOSE_CLAIM = (
    "update claims set closed_at = ?, outcome = 'decided' where id = ? and closed_at is null"
)
OURS_DECISION = (
    "insert into decisions(client_token, item_id, user_id, claim_id, decided_at, severity,"
    " csea_related, not_assessable_reason, age_band, age_confidence, production_context,"
    " actions, note) values (?, ?, ?, ?, ?, 'not_assessable', 0, 'too_small', null, null,"
    " null, '[]', '') returning id"
)
OURS_AUDIT = (
    "insert into audit_events(chain_id, seq, at, user_id, kind, item_id, detail, prev_hash,"
    " hash, mac) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
OURS_HEAD = "update audit_chains set seq = ?, hash = ? where id = ? and seq = ?"


def ours_sqlite_db(path: str, n_items: int, workstations: int) -> list[tuple[int, int]]:
    """Migrate and seed `path` through the Store; returns (user id, chain id) pairs."""
    from bench_claims import BENCH_AUDIT_KEY, seed

    from db.store import Store

    store = Store.open(f"sqlite:///{path}", audit_key=BENCH_AUDIT_KEY)
    try:
        seed(store, n_items, "floor")
        users = [store.accounts.ensure_user(f"floor{i}").id for i in range(workstations)]
    finally:
        store.close()
    c = sqlite3.connect(path)
    chains = [10_000 + u for u in users]
    c.executemany(
        "insert into audit_chains(id, seq, hash) values (?, 0, ?)", [(ch, GENESIS) for ch in chains]
    )
    c.commit()
    c.close()
    return list(zip(users, chains, strict=True))


def ours_audit(
    cur: sqlite3.Cursor, head: list[Any], uid: int, kind: str, item: int, detail: Any, at: str
) -> None:
    """Append to this workstation's chain, head kept in memory, guarded by its seq."""
    chain, seq, prev = head
    d = json.dumps(detail, sort_keys=True, separators=(",", ":"))
    h = hashlib.sha256(f"{prev}\n{seq + 1}\n{at}\n{uid}\n{item}\n{d}\n{kind}".encode()).hexdigest()
    mac = hmac.new(KEY, bytes.fromhex(h), hashlib.sha256).hexdigest()
    # Head first, then the event, in Store's order (db.audit).
    if cur.execute(OURS_HEAD, (seq + 1, h, chain, seq)).rowcount != 1:
        raise RuntimeError(f"audit chain {chain} moved")
    cur.execute(OURS_AUDIT, (chain, seq + 1, at, uid, kind, item, d, prev, h, mac))
    head[1:] = [seq + 1, h]


# What Store sends besides, by hand: the permission gate's read of the account at the
# start of each transaction (db.gate), the pick's queue restriction, the decision's read
# of its claim, and the decision's full exposure record.
STORE_GATE = (
    "select users.id, users.name, users.role, users.created_at, users.password_hash,"
    " users.roles, users.disabled, users.vetting_status, users.vetted_on, users.training,"
    " users.db_role, ? as gate_now, (select group_concat(cast(queue_access.queue_id as"
    " varchar), ',') from queue_access where queue_access.user_id = users.id),"
    " (select group_concat(cast(queues.id as varchar), ',') from queues"
    " where queues.restricted is 1) from users where users.id = ?"
)
STORE_CLAIM = (
    "insert into claims(item_id, user_id, claimed_at, expires_at)"
    " select id, ?, ?, ? from items where status = 'pending'"
    " and not exists (select 1 from skips where skips.item_id = items.id and skips.user_id = ?)"
    " and items.queue_id not in (select queues.id from queues where queues.restricted is 1"
    " and not exists (select 1 from queue_access where queue_access.queue_id = queues.id"
    " and queue_access.user_id = ?))"
    " order by priority, received_at, id limit 1 returning id, item_id"
)
STORE_CLAIM_READ = (
    "select claims.user_id, items.queue_id, queues.restricted from claims"
    " join items on items.id = claims.item_id join queues on queues.id = items.queue_id"
    " where claims.id = ?"
)
STORE_EXPOSURE = (
    "insert into exposures(item_id, user_id, claim_id, recorded_at, seconds_revealed,"
    " reveal_count, max_area_fraction, full_unprotected, area_seconds, min_blur_step,"
    " colour_shown, least_mode, stylised_seconds) values (?, ?, ?, ?, 1.5, 1, 0.4, 0, 0.0,"
    " null, 0, 'protected', 0.0) on conflict (claim_id) do nothing"
)

# The exposure record as the decision's audit event carries it.
STORE_EXPOSURE_DETAIL = {
    "area_seconds": 0.0,
    "colour_shown": False,
    "full_unprotected": False,
    "least_mode": "protected",
    "max_area_fraction": 0.4,
    "min_blur_step": None,
    "reveal_count": 1,
    "seconds_revealed": 1.5,
    "stylised_seconds": 0.0,
}


def ours_sqlite_workstation(
    path: str, uid: int, chain: int, seconds: float, q: Any, store_statements: bool = False
) -> None:
    """One workstation's claims and decisions. `store_statements`: every statement Store
    sends, in its order (the gate's reads included), not only those the workload needs."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    for pragma in ("journal_mode=wal", "synchronous=normal", "foreign_keys=on"):
        conn.execute(f"pragma {pragma}")
    cur = conn.cursor()
    head: list[Any] = [chain, 0, GENESIS]
    n, lat = 0, []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        cur.execute("begin immediate")
        if store_statements:
            cur.execute(STORE_GATE, (now, uid)).fetchone()
            r = cur.execute(STORE_CLAIM, (uid, now, now, uid, uid)).fetchone()
        else:
            r = cur.execute(OURS_CLAIM, (uid, now, now, uid)).fetchone()
        if r is None:
            cur.execute("rollback")
            break
        claim, item = r
        cur.execute(OURS_LEASE, (uid, now, claim, item))
        cur.execute(OURS_VIEW, (item,)).fetchone()
        ours_audit(cur, head, uid, "claim", item, {"claim_id": claim}, now)
        cur.execute("commit")
        t1 = time.perf_counter()
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        token = f"{uid}-{n}"
        cur.execute("begin immediate")
        if store_statements:
            cur.execute(STORE_GATE, (now, uid)).fetchone()
            cur.execute(STORE_CLAIM_READ, (claim,)).fetchone()
        closed = cur.execute(OURS_CLOSE_ITEM, (item, claim)).rowcount
        cur.execute(STORE_EXPOSURE if store_statements else OURS_EXPOSURE, (item, uid, claim, now))
        if closed != 1:
            raise RuntimeError("lease lost")
        cur.execute(OURS_CLOSE_CLAIM, (now, claim))
        did = cur.execute(OURS_DECISION, (token, item, uid, claim, now)).fetchone()[0]
        detail = {"claim_id": claim, "decision_id": did, "grading": GRADING}
        if store_statements:
            detail["exposure"] = STORE_EXPOSURE_DETAIL
        ours_audit(cur, head, uid, "decision", item, detail, now)
        cur.execute("commit")
        lat.append(t1 - t0)
        n += 1
    q.put([(n, lat)])
    conn.close()


# The same on PostgreSQL: the statements Store sends (db.claims.ClaimStatements), one round trip per
# step, on a database made by our migrations; audit append and COMMIT pipelined.
# Both claims pick, open and lease alike; they differ in what they return.
_PG_PICK_OPEN_LEASE = """
with picked as (select id from items where status = 'pending' and not exists
                  (select 1 from skips where skips.item_id = items.id
                   and skips.user_id = %(u)s)
                order by priority, received_at, id limit 1 for update skip locked),
opened as (insert into claims(item_id, user_id, claimed_at, expires_at)
           select id, %(u)s, now(), now() + interval '10 min' from picked
           returning id, item_id, expires_at),
leased as (update items set status = 'claimed', claimed_by = %(u)s,
             lease_expires_at = opened.expires_at, claim_id = opened.id
           from opened where items.id = opened.item_id"""
PG_OURS_CLAIM = (
    _PG_PICK_OPEN_LEASE
    + """ returning items.*)
select leased.*, media.sha256, media.size_bytes, media.format, media.width, media.height,
  media.unreadable_reason, queues.name, now()
from leased join media on media.id = leased.media_id
  join queues on queues.id = leased.queue_id
"""
)
# Under row-level security (the login role's grants and policies): the columns of items
# a moderator may read, the report context and media through reviewer_item_context
# (migration 0024), as db.claims.ClaimStatements' claim does.
PG_RLS_CLAIM = (
    _PG_PICK_OPEN_LEASE
    + """
           returning items.id, items.queue_id, items.media_id, items.source, items.priority,
             items.imminent_risk, items.received_at, items.status, items.claimed_by,
             items.claim_id, items.lease_expires_at, items.reported_at,
             items.erasure_requested_at, items.media_disposed_at,
             items.personal_data_disposed_at, items.suspected_category)
select leased.id, leased.claim_id, now(), leased.queue_id, queues.name, leased.source,
  leased.priority, leased.received_at, leased.suspected_category, context.*
from leased left join lateral reviewer_item_context(leased.id) as context on true
  join queues on queues.id = leased.queue_id
"""
)
RLS_SHA256 = 14  # context.sha256's place in PG_RLS_CLAIM's row: never NULL when readable
PG_OURS_DECIDE = """
with closed as (update items set status = 'decided', claimed_by = null,
                  lease_expires_at = null, claim_id = null
                where id = %(i)s and claim_id = %(c)s and status = 'claimed'
                returning id),
ledger as (insert into exposures(item_id, user_id, claim_id, recorded_at,
             seconds_revealed, reveal_count, max_area_fraction, full_unprotected,
             area_seconds, min_blur_step, colour_shown, least_mode)
           select id, %(u)s, %(c)s, now(), 1.5, 1, 0.4, false, 0.6, null, false,
             'protected' from closed on conflict (claim_id) do nothing),
ended as (update claims set closed_at = now(), outcome = 'decided'
          where id = %(c)s and closed_at is null and exists (select 1 from closed)),
drawn as (select nextval('decisions_id_seq') as id),
stored as (insert into decisions(id, client_token, item_id, user_id, claim_id, decided_at,
             severity, csea_related, not_assessable_reason, age_band, age_confidence,
             production_context, actions, note)
           select drawn.id, %(t)s, closed.id, %(u)s, %(c)s, now(), 'not_assessable', false,
             'too_small', null, null, null, '[]', '' from drawn, closed)
select drawn.id, now() from drawn where exists (select 1 from closed)
"""
PG_OURS_AUDIT = """
with h as (update audit_chains set seq = %(seq)s, hash = %(hash)s
           where id = %(ch)s and seq = %(pseq)s returning id)
insert into audit_events(chain_id, seq, at, user_id, kind, item_id, detail, prev_hash,
  hash, mac)
select %(ch)s, %(seq)s, %(at)s, %(u)s, %(k)s, %(i)s, %(d)s, %(prev)s, %(hash)s, %(mac)s
from h
"""


# Cycles each floor workstation runs before its window: the first executions of a
# statement on a connection plan it (about 1 ms each as a login role under the
# policies), which bench_claims' own workstations also do before theirs.
PG_WARM_CYCLES = 3


def pg_ours_workstation(
    dsn: str,
    uid: int,
    chain_id: int,
    seconds: float,
    out: list[Any],
    interval: float,
    claim_sql: str = PG_OURS_CLAIM,
    warmed: threading.Barrier | None = None,
    done: Any = None,
) -> None:
    """Claim and decide until `seconds` have passed; with `warmed`, first a few cycles
    and then wait there for the process's other workstations; with `done` (a barrier of
    every workstation), disconnect only once all have stopped (all_stopped), as
    bench_claims' workstations do."""
    # The application's connection options: under the policies, psycopg's defaults
    # (a custom plan for each of a statement's first five runs, then whichever the
    # server's cost estimate prefers) re-plan statements the application plans once.
    conn = psycopg.connect(dsn, autocommit=True, options=PG_OPTIONS)
    chain = Chain(chain_id)

    def cycle(_n: int = 0) -> float | None:
        """One claim + decision; the claim's latency, or None when the queue ran dry."""
        t0 = time.perf_counter()
        with conn.pipeline():
            conn.execute("BEGIN")
            cur = conn.execute(claim_sql, {"u": uid}, prepare=True)
        r = cur.fetchone()
        if r is None:
            return None
        if claim_sql is PG_OURS_CLAIM:
            assert cur.description is not None  # the claim statement returns rows
            item, claim, at = r[0], r[[c.name for c in cur.description].index("claim_id")], r[-1]
        else:
            item, claim, at = r[0], r[1], r[2]
            if r[RLS_SHA256] is None:  # the media's hash, from reviewer_item_context
                raise RuntimeError("the claimed item's context was not readable")
        with conn.pipeline():
            row = chain.row("claim", item, {"claim_id": claim}, at)
            conn.execute(PG_OURS_AUDIT, {**row, "u": uid}, prepare=True)
            conn.execute("COMMIT")
        t1 = time.perf_counter()
        with conn.pipeline():
            conn.execute("BEGIN")
            cur = conn.execute(
                PG_OURS_DECIDE,
                {"i": item, "c": claim, "u": uid, "t": str(uuid.uuid4())},
                prepare=True,
            )
        d = cur.fetchone()
        assert d is not None
        detail = {"claim_id": claim, "decision_id": d[0], "grading": GRADING}
        with conn.pipeline():
            conn.execute(
                PG_OURS_AUDIT, {**chain.row("decision", item, detail, d[1]), "u": uid}, prepare=True
            )
            conn.execute("COMMIT")
        return t1 - t0

    if warmed is not None:
        for _ in range(PG_WARM_CYCLES):
            cycle()
        warmed.wait()
    out.append(paced(seconds, interval, cycle))
    if done is not None:
        all_stopped(done, seconds)
    conn.close()


def all_stopped(done: Any, seconds: float) -> None:
    """Wait at `done` (a barrier of every workstation in every process) until all have
    stopped claiming. A session's end is work of its own (the signed close of its audit
    chain, the server's backend exiting); fifty of them ending together would land on the
    last claims of the others, which no team's steady state does: in one 20 s window at
    200/s, 6 of the 9 claims over 15 ms finished in the 0.3 s after the window's end."""
    with contextlib.suppress(threading.BrokenBarrierError):
        done.wait(timeout=seconds + 120)


def pg_ours_process(
    seats: list[tuple[str, int, int]],
    seconds: float,
    q: Any,
    interval: float,
    claim_sql: str = PG_OURS_CLAIM,
    done: Any = None,
) -> None:
    """`seats`: (DSN to sign in with, user id, audit chain id), one thread each;
    `done`: a barrier of every workstation in every process (pg_ours_workstation)."""
    out: list[Any] = []
    warmed = threading.Barrier(len(seats))
    threads = [
        threading.Thread(
            target=pg_ours_workstation,
            args=(dsn, u, ch, seconds, out, interval, claim_sql, warmed, done),
        )
        for dsn, u, ch in seats
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q.put(out)


def analyze_what_was_loaded(dsn: str) -> list[str]:
    """VACUUM ANALYZE the tables of the public schema that hold rows, and no others;
    returns their names. `dsn`: the owner's or the superuser's (libpq form).

    Statistics for what a set-up loaded keep autovacuum's first visit, a minute on, out
    of the measured windows. A table analyzed while empty (claims, decisions, exposures
    before the first claim) tells the planner it is empty: each workstation's backend
    then keeps plans that scan the whole of it (the decision, the gate's claim read,
    the policies' own-claims branch, the foreign-key checks), while it fills at hundreds
    of rows a second, until an analyze makes every backend plan again
    (docs/BENCHMARKS.md, session 20). Left alone, a table never analyzed is planned as
    ten pages until autovacuum analyzes it after its first fifty rows, as on a new team
    server, where nothing analyzes a table before its first rows."""
    with psycopg.connect(dsn, autocommit=True) as c:
        tables = [
            str(r[0])
            for r in c.execute("select tablename from pg_tables where schemaname = 'public'")
        ]
        loaded = []
        for table in sorted(tables):
            query = sql.SQL("select exists (select 1 from {})").format(sql.Identifier(table))
            row = c.execute(query).fetchone()
            if row is not None and row[0]:
                loaded.append(table)
        if loaded:
            names = sql.SQL(", ").join(sql.Identifier(t) for t in loaded)
            c.execute(sql.SQL("vacuum analyze {}").format(names))
    return loaded


def add_history(url: str, copies: int) -> int:
    """Give a seeded database a history, as a team's server has after months of work:
    `copies` decided items for every pending one, each with its claim, decision and
    exposure record, then the four tables' statistics. `url`: the superuser's
    (SQLAlchemy form), which skips the triggers, so no sampling outbox row and no foreign-key
    check is made for rows that are history. Returns how many items are history.

    The history keeps autovacuum off the hot statements' tables during a run: tables
    that start empty cross its thresholds (50 rows + 10 or 20 %) within seconds, and
    each analyze or vacuum that changes a table's row counts makes every workstation
    plan its statements again at once (docs/BENCHMARKS.md, session 14)."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("set session_replication_role = replica")
        added = c.execute(
            "insert into items (queue_id, media_id, dedupe_key, source, priority,"
            " imminent_risk, received_at, status, report_text, reported_accounts, extra)"
            " select i.queue_id, i.media_id, md5(i.dedupe_key || '-history-' || g), i.source,"
            " i.priority, i.imminent_risk, i.received_at - make_interval(days => g),"
            " 'decided', i.report_text, i.reported_accounts, i.extra"
            " from items i, generate_series(1, %s) g where i.status = 'pending'",
            (copies,),
        ).rowcount
        c.execute(
            "insert into claims (item_id, user_id, claimed_at, expires_at, closed_at, outcome)"
            " select id, (select min(id) from users), received_at,"
            " received_at + interval '10 minutes', received_at + interval '1 minute',"
            " 'decided' from items where status = 'decided'"
        )
        c.execute(
            "insert into decisions (client_token, item_id, user_id, claim_id, decided_at,"
            " severity, csea_related, not_assessable_reason, actions, note, basis)"
            " select md5('history-' || c.id), c.item_id, c.user_id, c.id, c.closed_at,"
            " 'not_assessable', false, 'too_small', '[]', '', 'assessed'"
            " from claims c where c.outcome = 'decided'"
        )
        c.execute(
            "insert into exposures (item_id, user_id, claim_id, recorded_at,"
            " seconds_revealed, reveal_count, max_area_fraction, full_unprotected,"
            " area_seconds, min_blur_step, colour_shown, least_mode, stylised_seconds)"
            " select c.item_id, c.user_id, c.id, c.closed_at, 1.5, 1, 0.4, false, 0.6, null,"
            " false, 'protected', 0 from claims c where c.outcome = 'decided'"
        )
        c.execute("set session_replication_role = origin")
        c.execute("vacuum analyze items, claims, decisions, exposures")
    return added


def run_pg_ours(
    url: str,
    procs: int,
    per: int,
    seconds: float,
    n_items: int,
    offered: float = 0.0,
    history: int = 0,
) -> list[Any]:
    """The `our schema` floor on PostgreSQL: `url` (SQLAlchemy form, the superuser's)
    is an empty database, migrated and seeded here through the Store; with `history`,
    given one (add_history)."""
    from bench_claims import BENCH_AUDIT_KEY, seed

    from db.store import Store

    store = Store.open(url, audit_key=BENCH_AUDIT_KEY)
    try:
        seed(store, n_items, "pg-floor")
        users = [store.accounts.ensure_user(f"pgfloor{i}").id for i in range(procs * per)]
    finally:
        store.close()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    if history:
        add_history(url, history)
    chains = [10_000 + u for u in users]
    with psycopg.connect(dsn, autocommit=True) as c:
        for ch in chains:
            c.execute("insert into audit_chains(id, seq, hash) values (%s, 0, %s)", (ch, GENESIS))
    analyze_what_was_loaded(dsn)
    seats = [(dsn, u, ch) for u, ch in zip(users, chains, strict=True)]
    interval = procs * per / offered if offered else 0.0
    q: Any = mp.Queue()
    done = mp.Barrier(procs * per)
    workers = [
        mp.Process(
            target=pg_ours_process,
            args=(seats[p * per : p * per + per], seconds, q, interval, PG_OURS_CLAIM, done),
        )
        for p in range(procs)
    ]
    return gather(workers, q)


def run_pg_rls(
    pg: PgServer,
    dbname: str,
    procs: int,
    per: int,
    seconds: float,
    n_items: int,
    offered: float = 0.0,
    prefix: str = "rls",
    history: int = 0,
) -> list[Any]:
    """The `our schema` floor with each workstation signed in as its own login role (a
    vetted moderator, made by an admin as in team mode), under row-level security.
    `dbname`: a database not yet made; the owner role migrates and seeds it. Login
    roles belong to the whole server, hence names of their own (`prefix`00, ...): a
    second run on the same server needs another prefix. `offered` > 0: cycles/s
    offered in all, spread evenly over the workstations (as run_pg_ours); `history`:
    as run_pg_ours."""
    from bench_claims import BENCH_AUDIT_KEY, login_seats, seed, vet

    from db.store import Store

    pg.create_database(dbname, owner=pg.owner)
    owner = pg.owner_url(dbname)
    store = Store.open(owner, audit_key=BENCH_AUDIT_KEY)
    try:
        seed(store, n_items, "pg-rls-floor")
        signed_in = login_seats(
            store, procs * per, functools.partial(pg.url, dbname), prefix=prefix
        )
        vet(store, [uid for _url, uid in signed_in])
    finally:
        store.close()
    if history:
        add_history(pg.url(dbname), history)
    seats = [
        (url.replace("postgresql+psycopg://", "postgresql://"), uid, 10_000 + uid)
        for url, uid in signed_in
    ]
    with psycopg.connect(seats[0][0]) as c:  # the policies apply: no bypass, no owner
        row = c.execute(
            "select rolbypassrls, has_column_privilege('items', 'report_text', 'SELECT')"
            " from pg_roles where rolname = current_user"
        ).fetchone()
        if row != (False, False):
            raise RuntimeError(f"a login role of the RLS floor is not bound by policies: {row}")
    owner_dsn = owner.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(owner_dsn) as c:
        for _url, uid in signed_in:
            c.execute(
                "insert into audit_chains(id, seq, hash) values (%s, 0, %s)",
                (10_000 + uid, GENESIS),
            )
        c.commit()
    analyze_what_was_loaded(owner_dsn)
    interval = procs * per / offered if offered else 0.0
    q: Any = mp.Queue()
    done = mp.Barrier(procs * per)
    workers = [
        mp.Process(
            target=pg_ours_process,
            args=(seats[p * per : p * per + per], seconds, q, interval, PG_RLS_CLAIM, done),
        )
        for p in range(procs)
    ]
    return gather(workers, q)


def run_sqlite_ours(procs: int, seconds: float, store_statements: bool = False) -> list[Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ours.db")
        pairs = ours_sqlite_db(path, int(6_000 * seconds), procs)
        q: Any = mp.Queue()
        workers = [
            mp.Process(
                target=ours_sqlite_workstation, args=(path, u, ch, seconds, q, store_statements)
            )
            for u, ch in pairs
        ]
        return gather(workers, q)


def gather(workers: list[mp.Process], q: Any) -> list[Any]:
    """Start the workstation processes and collect what each puts on `q`."""
    for w in workers:
        w.start()
    results = [r for _ in workers for r in q.get()]
    for w in workers:
        w.join()
    return results


def summarise(label: str, results: list[Any], seconds: float) -> dict[str, Any]:
    n = sum(r[0] for r in results)
    lat = sorted(x for r in results for x in r[1])
    out = {
        "cycles_per_s": round(n / seconds, 1),
        "claim_p50_ms": round(lat[len(lat) // 2] * 1e3, 2) if lat else None,
        "claim_p99_ms": round(lat[int(len(lat) * 0.99)] * 1e3, 2) if lat else None,
    }
    print(
        f"  {label:<44} {out['cycles_per_s']:>7} claim+decide/s, "
        f"claim p50 {out['claim_p50_ms']} ms p99 {out['claim_p99_ms']} ms"
    )
    return out


def run_pg(
    pg: PgServer, mode: str, procs: int, per: int, seconds: float, offered: float = 0.0
) -> list[Any]:
    """`offered` > 0: cycles/s offered in all, spread evenly over the workstations."""
    interval = procs * per / offered if offered else 0.0
    dsn = pg.url().replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("drop table if exists items, claims, decisions, exposures, audit, heads")
        c.execute(PG_SCHEMA)
        c.execute(
            "insert into items(priority, received_at) select g % 7,"
            " now() - g * interval '1 s' from generate_series(1, 300000) g"
        )
        c.execute("vacuum analyze")
    q: Any = mp.Queue()
    workers = [
        mp.Process(
            target=pg_process,
            args=(dsn, list(range(p * per + 1, p * per + per + 1)), seconds, mode, q, interval),
        )
        for p in range(procs)
    ]
    return gather(workers, q)


def run_sqlite(procs: int, seconds: float) -> list[Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "floor.db")
        c = sqlite3.connect(path)
        c.execute("pragma journal_mode=wal")
        c.executescript(SQLITE_SCHEMA)
        c.execute("insert into audit_head values (1, 0, ?)", (GENESIS,))
        c.executemany(
            "insert into items(priority, received_at) values (?, ?)",
            [(i % 7, f"2026-01-01 00:00:{i:06d}") for i in range(200_000)],
        )
        c.commit()
        c.close()
        q: Any = mp.Queue()
        workers = [
            mp.Process(target=sqlite_workstation, args=(path, u + 1, seconds, q))
            for u in range(procs)
        ]
        return gather(workers, q)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()
    s = args.seconds
    bench: dict[str, Any] = {"bench": "claims_floor", "cpus": os.cpu_count(), "seconds": s}
    print(f"== PostgreSQL, 50 workstations (2 processes x 25 threads), {s:g} s each")
    with PgServer() as pg:
        bench["pg_bare"] = summarise("bare (no audit, autocommit)", run_pg(pg, "bare", 2, 25, s), s)
        bench["pg_audited"] = summarise(
            "audited (per-workstation chain, pipelined)", run_pg(pg, "audited", 2, 25, s), s
        )
        bench["pg_bare_paced_2000"] = summarise(
            "bare, paced at 2000/s offered", run_pg(pg, "bare", 2, 25, s, offered=2000), s
        )
        bench["pg_ours"] = summarise(
            PG_OURS_LABEL,
            run_pg_ours(pg.create_database("floor_ours"), 2, 25, s, int(3_000 * s)),
            s,
        )
        bench["pg_rls"] = summarise(
            PG_RLS_LABEL, run_pg_rls(pg, "floor_rls", 2, 25, s, int(3_000 * s)), s
        )
    print("== SQLite")
    for procs in (1, 2):
        bench[f"sqlite_audited_{procs}p"] = summarise(
            f"audited, {procs} process(es)", run_sqlite(procs, s), s
        )
    for procs in (1, 2):
        bench[f"sqlite_ours_{procs}p"] = summarise(
            SQLITE_OURS_LABEL.format(procs=procs), run_sqlite_ours(procs, s), s
        )
        bench[f"sqlite_store_{procs}p"] = summarise(
            SQLITE_STORE_LABEL.format(procs=procs), run_sqlite_ours(procs, s, True), s
        )
    print("BENCH " + json.dumps(bench, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
