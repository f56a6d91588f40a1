"""The claim lifecycle: claim the next item, renew the lease, and close the claim by a
decision, a skip, a release or expiry; each with its exposure record and audit event, in
one transaction. Handed out by the unit of work as `store.claims` (db.store).

These run for every item a moderator sees, so their statements are built and compiled
once per repository (`ClaimStatements`) and executed on the driver's cursor
(db.prepared); on PostgreSQL a claim and a decision are two round trips each: BEGIN, the
gate's reads and the statement in one, the audit event and COMMIT in the other.
tests/bench/bench_claims.py measures them under load.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnClause,
    ColumnElement,
    Connection,
    Integer,
    Interval,
    Select,
    Sequence,
    String,
    Table,
    all_,
    bindparam,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import UpdateBase

from db.items import (
    HIDDEN_COLS,
    ItemViews,
    from_either,
    item_context,
    items_t,
    queues_t,
    to_view,
    view_columns,
)
from db.models import (
    ClaimRow,
    DecisionRow,
    ExposureRow,
    QaSampleRow,
    QueueAccessRow,
    SkipRow,
    UTCDateTime,
)
from db.open_items import CLAIMED, PENDING
from db.prepared import Prepared, Result, run_steps
from db.repo import Repo
from db.unit_of_work import Event, UnitOfWork, translate_errors
from reviewer.errors import LeaseLost
from reviewer.grading import Grading
from reviewer.model import PRIORITY_IMMINENT_RISK, Claim, DecisionReceipt, Exposure
from reviewer.permissions import Check
from reviewer.vocabulary import Severity, SkipReason

items = items_t
claims = ClaimRow.__table__
decisions = DecisionRow.__table__
exposures = ExposureRow.__table__
skips = SkipRow.__table__
samples = QaSampleRow.__table__

# Leases last minutes, so sweeping expired ones once a second per repository is plenty;
# doing it on every claim cost a statement per claim. An empty pick sweeps at once.
SWEEP_INTERVAL_S = 1.0
_CATEGORY_A: ColumnClause[str] = literal_column(f"'{Severity.A.value}'")
_IMMINENT = literal_column(str(PRIORITY_IMMINENT_RISK), Integer())
EXPOSURE_COLS = (
    "seconds_revealed",
    "reveal_count",
    "max_area_fraction",
    "full_unprotected",
    # The least-protected level used: what the moderator actually saw.
    "area_seconds",
    "min_blur_step",
    "colour_shown",
    "least_mode",
    "stylised_seconds",
)
DECISION_COLS = (
    "severity",
    "csea_related",
    "not_assessable_reason",
    "age_band",
    "age_confidence",
    "production_context",
    "actions",
    "note",
    "basis",
)


class _Taken(NamedTuple):
    claim_id: int
    lease_expires_at: datetime
    view: dict[str, Any]
    at: datetime | None  # the claim's time, when the database chose it (server clock)


# How a pick passes by restricted queues (see ClaimStatements): not at all, a caller's
# list, or the ones the claiming account has no access to.
NONE, EXCLUDING, GATED = "none", "excluding", "gated"
# (from one queue, restriction, avoiding suspected Category A): a pick's variant.
Pick = tuple[bool, str, bool]


@dataclass(frozen=True)
class Leased:
    """What a claim leases: a row with status ('pending' / 'claimed'), claimed_by,
    claim_id and lease_expires_at, about one item. Review and gold lease the items row
    itself; a QA re-grade leases its qa_samples row (the item stays as it was decided).
    The claims row, its exposure record and its audit events are the same for all."""

    table: Table
    item_col: str  # the row's item: "id" (items) or "item_id" (qa_samples)
    noun: str  # what the person is told they held
    queue: str  # where it went back to
    detail_key: str | None  # the row's id in audit details (None: the row is the item)


ITEM = Leased(items, "id", "item", "the queue", None)
QA_SAMPLE = Leased(samples, "item_id", "sample", "the QA queue", "sample_id")


class ClaimStatements:
    """The queue path's statements, built and compiled once per repository.

    Those run for every claim and decision are `Prepared` (db.prepared): compiled for
    the engine's dialect here and executed on the driver's cursor, without SQLAlchemy's
    per-call work; the once-a-second lease sweep, whose IN lists vary, stays Core.
    Custom bind names start with p_ (column names are reserved in VALUES and SET).
    Times are either the server's now() (PostgreSQL without an injected clock, so
    skewed workstations agree) or bound from Python as p_now / p_expires; see
    UnitOfWork.stamp for the matching parameters.
    """

    def __init__(self, dialect: Dialect, server_time: bool) -> None:
        pg = dialect.name == "postgresql"
        now: ColumnElement[datetime]
        expires: ColumnElement[datetime]
        if server_time:
            now = type_coerce(func.now(), UTCDateTime())
            lease = bindparam("p_lease", type_=Interval())
            expires = type_coerce(func.now() + lease, UTCDateTime())
        else:
            now = bindparam("p_now", type_=UTCDateTime())
            expires = bindparam("p_expires", type_=UTCDateTime())
        user = bindparam("p_user", type_=Integer())
        item = bindparam("p_item", type_=BigInteger())
        claim = bindparam("p_claim", type_=BigInteger())

        # -- claim: pick the most urgent pending item this user has not skipped, passing
        # by restricted queues: `excluding` those of p_exclude (a caller's list), or
        # `gated` those p_user has no access to, read in the same statement (the claim
        # through the gate, whose verdict then needs nothing from before the pick).
        # Each its own variant so the usual statement stays as it was. When
        # `avoiding_a`, only items not suspected Category A, or at imminent risk: the
        # welfare cap on consecutive A items, its own variant likewise.
        def pick(by_queue: bool, restriction: str, avoiding_a: bool) -> Select[Any]:
            q = select(items.c.id).where(
                items.c.status == PENDING,
                ~exists().where(skips.c.item_id == items.c.id, skips.c.user_id == user),
            )
            if by_queue:
                q = q.where(items.c.queue_id == bindparam("p_queue", type_=Integer()))
            if restriction == GATED:
                access = QueueAccessRow.__table__
                blocked = select(queues_t.c.id).where(
                    queues_t.c.restricted.is_(True),
                    ~exists().where(access.c.queue_id == queues_t.c.id, access.c.user_id == user),
                )
                q = q.where(items.c.queue_id.not_in(blocked))
            if restriction == EXCLUDING:
                # One bound value, not an IN list rendered per call, so that the statement
                # compiles once: an array on PostgreSQL, JSON text on SQLite.
                if pg:
                    listed = bindparam("p_exclude", type_=postgresql.ARRAY(Integer()))
                    q = q.where(items.c.queue_id != all_(listed))
                else:
                    listed_json = func.json_each(bindparam("p_exclude", type_=JSON()))
                    q = q.where(
                        items.c.queue_id.not_in(select(listed_json.table_valued("value").c.value))
                    )
            if avoiding_a:
                # No hint counts as other work. A child at imminent risk outranks the
                # moderator's preference, so such items keep their place in the order.
                q = q.where(
                    or_(
                        items.c.suspected_category.is_(None),
                        items.c.suspected_category != _CATEGORY_A,
                        items.c.priority == _IMMINENT,
                    )
                )
            # LIMIT as a literal too: with a bound limit PostgreSQL judged the generic plan
            # too dear and re-planned the pick on every call (~0.3 ms of server CPU).
            order = (items.c.priority, items.c.received_at, items.c.id)
            return q.order_by(*order).limit(literal_column("1", Integer()))

        claim_cols = ["item_id", "user_id", "claimed_at", "expires_at"]
        self.take: dict[Pick, Prepared] = {}
        for by_queue, restriction, avoiding_a in itertools.product(
            (False, True), (NONE, EXCLUDING, GATED), (False, True)
        ):
            variant = (by_queue, restriction, avoiding_a)
            if pg:
                # One round trip: lock the pick (SKIP LOCKED lets 50 workstations pass
                # each other), open the claim, lease the item with the claim's id, and
                # read the item view: its state from what the UPDATE returned, its report
                # context and media through reviewer_item_context, the one door by which
                # a moderator's login role reads them, and only for what it holds or
                # decided (migration 0024).
                picked = pick(*variant).with_for_update(skip_locked=True).cte("picked")
                opened = (
                    insert(claims)
                    .from_select(claim_cols, select(picked.c.id, user, now, expires))
                    .returning(claims.c.id, claims.c.item_id, claims.c.expires_at)
                    .cte("opened")
                )
                leased = (
                    update(items)
                    .where(items.c.id == opened.c.item_id)
                    .values(
                        status="claimed",
                        claimed_by=user,
                        lease_expires_at=opened.c.expires_at,
                        claim_id=opened.c.id,
                    )
                    .returning(*(c for c in items.c if c.name not in HIDDEN_COLS))
                    .cte("leased")
                )
                context = item_context(leased.c.id).lateral("context")
                self.take[variant] = Prepared(
                    select(
                        *(
                            c if c.key == "queue_name" else from_either(context, leased, str(c.key))
                            for c in view_columns(items)
                        ),
                        leased.c.claim_id,
                        leased.c.lease_expires_at,
                        now.label("p_at"),  # what the audit event is stamped and hashed with
                    )
                    # LEFT: a claim whose context cannot be read fails (_take), it is
                    # never committed unseen.
                    .join_from(leased, context, true(), isouter=True)
                    .join(queues_t, queues_t.c.id == leased.c.queue_id),
                    dialect,
                )
            else:
                # SQLite holds the write lock from BEGIN IMMEDIATE: open the claim on the
                # picked item, then lease the item and read its view (claim_next).
                chosen = pick(*variant).add_columns(user, now, expires)
                self.take[variant] = Prepared(
                    insert(claims)
                    .from_select(claim_cols, chosen)
                    .returning(claims.c.id, claims.c.item_id, claims.c.expires_at),
                    dialect,
                )
        self.lease = Prepared(
            update(items)
            .where(items.c.id == item)
            .values(status="claimed", claimed_by=user, lease_expires_at=expires, claim_id=claim),
            dialect,
        )

        # -- lease expiry: for each kind of row a claim leases (see Leased). In no
        # particular order (expire_in sorts the events): ordered by id, SQLite walked
        # the whole items table in id order instead of the claimed rows' lease index,
        # every sweep, under the write lock (about 15 % of a claim's time at 30,000
        # items, growing with every item ever received).
        # The find is prepared (db.prepared): every workstation runs it once a second,
        # and on PostgreSQL planning it under the policies cost more than running it.
        self.expiry: dict[str, tuple[Prepared, UpdateBase]] = {}
        for t in (ITEM.table, QA_SAMPLE.table):
            self.expiry[t.name] = (
                Prepared(
                    select(t.c.id, t.c.claim_id, t.c.claimed_by)
                    .where(t.c.status == CLAIMED, t.c.lease_expires_at < now)
                    .with_for_update(skip_locked=True),
                    dialect,
                ),
                update(t)
                .where(t.c.id.in_(bindparam("p_rows", expanding=True)))
                .values(status="pending", claimed_by=None, lease_expires_at=None, claim_id=None),
            )
        self.expire_claims = (
            update(claims)
            .where(
                claims.c.id.in_(bindparam("p_claims", expanding=True)), claims.c.closed_at.is_(None)
            )
            .values(closed_at=now, outcome="expired")
            .returning(claims.c.id, claims.c.item_id, claims.c.user_id)
        )

        # -- closing a claim (decide, skip, release). Only the claim that holds the item
        # closes it, and a claim id is never given out twice: so a retried submit whose
        # decision was stored (the item left 'claimed' in that same transaction) closes
        # nothing and finds its decision by the client token (submit_decision).
        token = bindparam("p_token", type_=String())
        close_item = (
            update(items)
            .where(items.c.id == item, items.c.claim_id == claim, items.c.status == CLAIMED)
            .values(
                status=bindparam("p_status"),
                claimed_by=None,
                lease_expires_at=None,
                claim_id=None,
            )
        )
        close_claim = (
            update(claims)
            .where(claims.c.id == claim, claims.c.closed_at.is_(None))
            .values(closed_at=now, outcome=bindparam("p_outcome"))
        )
        # One ledger row per claim: a retry finds it there and leaves it.
        upsert = postgresql.insert if pg else sqlite.insert
        seen = {c: bindparam(f"p_{c}", type_=exposures.c[c].type) for c in EXPOSURE_COLS}
        self.exposure = Prepared(
            upsert(exposures)
            .values(item_id=item, user_id=user, claim_id=claim, recorded_at=now, **seen)
            .on_conflict_do_nothing(index_elements=[exposures.c.claim_id]),
            dialect,
        )
        graded = {c: bindparam(f"p_{c}", type_=decisions.c[c].type) for c in DECISION_COLS}
        self.decision = Prepared(
            insert(decisions)
            .values(
                client_token=token,
                item_id=item,
                user_id=user,
                claim_id=claim,
                decided_at=now,
                **graded,
            )
            .returning(decisions.c.id, decisions.c.decided_at),
            dialect,
        )
        self.decide: Prepared | None = None
        if pg:
            # The same four steps as one statement, one round trip (ClaimsRepo._decide).
            # The decision's id is drawn from its sequence first, not returned by the
            # INSERT: under row-level security a RETURNING also holds the new row to the
            # decisions' read policy, whose sub-selects (QA samples and grades, each
            # with policies of their own) the server plans and sets up on every run,
            # though the insert's own policy already admits only one's own claim.
            closed = close_item.returning(items.c.id).cte("closed")
            drawn = select(Sequence(f"{decisions.name}_id_seq").next_value().label("id")).cte(
                "drawn"
            )
            ledger = (
                upsert(exposures)
                .from_select(
                    ["item_id", "user_id", "claim_id", "recorded_at", *seen],
                    select(closed.c.id, user, claim, now, *seen.values()),
                )
                .on_conflict_do_nothing(index_elements=[exposures.c.claim_id])
                .cte("ledger")
            )
            ended = close_claim.where(exists(select(closed.c.id))).cte("ended")
            stored = (
                insert(decisions)
                .from_select(
                    ["id", "client_token", "item_id", "user_id", "claim_id", "decided_at", *graded],
                    select(drawn.c.id, token, closed.c.id, user, claim, now, *graded.values()),
                )
                .cte("stored")
            )
            # A row exactly when the item was closed, and so the decision stored (or the
            # statement failed); `now` is the decided_at stored, fixed for the transaction.
            self.decide = Prepared(
                select(drawn.c.id, now)
                .where(exists(select(closed.c.id)))
                .add_cte(ledger, ended, stored),
                dialect,
            )
        # Compiled only now: compiling memoises the statement's columns, which the
        # generative .returning() copies above would inherit.
        self.close_item = Prepared(close_item, dialect)
        self.close_claim = Prepared(close_claim, dialect)
        self.prior = Prepared(
            select(decisions.c.id, decisions.c.item_id, decisions.c.decided_at).where(
                decisions.c.client_token == token
            ),
            dialect,
        )
        self.skip = Prepared(
            insert(skips).values(
                item_id=item,
                user_id=user,
                reason=bindparam("p_reason", type_=String()),
                note=bindparam("p_note", type_=String()),
                at=now,
            ),
            dialect,
        )


class ClaimsRepo(Repo):
    """The claim lifecycle for review (see the module's docstring)."""

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self._sql = ClaimStatements(uow.dialect, uow.server_time)
        self._views = ItemViews(uow.dialect)
        self._sweep_due_at = float("-inf")

    @property
    def statements(self) -> ClaimStatements:
        """The compiled statements (the benchmarks and the profiler run them as is)."""
        return self._sql

    def _sweep_due(self) -> bool:
        mono = self.store.monotonic()
        if mono < self._sweep_due_at:
            return False
        self._sweep_due_at = mono + SWEEP_INTERVAL_S
        return True

    # -- the queue ----------------------------------------------------------------------

    def expire_in(
        self, conn: Connection, stamp: dict[str, Any], leased: Leased = ITEM
    ) -> tuple[int, list[Event]]:
        """Put `leased` rows whose lease ran out back (pending, nobody's) and close
        their claims as expired, in the caller's transaction; returns how many rows,
        and the lease_expired events for the caller to write last."""
        find, requeue = self._sql.expiry[leased.table.name]
        stale = find.run(conn, stamp)[0]  # (id, claim_id, claimed_by)
        if not stale:
            return 0, []
        conn.execute(requeue, {"p_rows": [row_id for row_id, _c, _u in stale]})
        closed = conn.execute(
            self._sql.expire_claims,
            {"p_claims": [c for _r, c, _u in stale if c is not None], **stamp},
        ).all()
        row_of = {c: row_id for row_id, c, _u in stale}
        events = [
            Event(user_id, "lease_expired", item_id, _detail(leased, row_of[claim_id], claim_id))
            for claim_id, item_id, user_id in sorted(closed, key=lambda r: (r.item_id, r.id))
        ]
        return len(stale), events

    # -- the lifecycle for what else a claim leases (QA samples, gold servings) --------

    def open_claim(
        self,
        conn: Connection,
        leased: Leased,
        row_id: int,
        item_id: int,
        user_id: int,
        lease_seconds: float,
    ) -> tuple[int, datetime]:
        """Open a claims row for `user_id` on `item_id` and lease the `leased` row
        `row_id` to it, in the caller's transaction: (claim id, lease expiry). The
        review path does the same in its one pipelined statement (ClaimStatements)."""
        claim_id, expires_at = conn.execute(
            insert(claims)
            .values(
                item_id=item_id,
                user_id=user_id,
                claimed_at=self.store.now(),
                expires_at=self.store.now(lease_seconds),
            )
            .returning(claims.c.id, claims.c.expires_at)
        ).one()
        t = leased.table
        conn.execute(
            update(t)
            .where(t.c.id == row_id)
            .values(
                status="claimed",
                claimed_by=user_id,
                claim_id=claim_id,
                lease_expires_at=expires_at,
            )
        )
        return int(claim_id), expires_at

    def renew_claim(
        self, conn: Connection, leased: Leased, claim: Claim, lease_seconds: float
    ) -> Claim:
        """Extend the lease of the `leased` row `claim` holds, and its claims row;
        LeaseLost if the claim no longer holds it."""
        t = leased.table
        row = conn.execute(
            update(t)
            .where(
                t.c[leased.item_col] == claim.item.id,
                t.c.claim_id == claim.claim_id,
                t.c.status == "claimed",
            )
            .values(lease_expires_at=self.store.now(lease_seconds))
            .returning(t.c.lease_expires_at)
        ).first()
        if row is None:
            raise LeaseLost(f"item {claim.item.id} is no longer held by this workstation")
        conn.execute(update(claims).where(claims.c.id == claim.claim_id).values(expires_at=row[0]))
        return Claim(claim.claim_id, claim.item, claim.user_id, row[0])

    def close_claim(
        self,
        conn: Connection,
        leased: Leased,
        claim: Claim,
        exposure: Exposure,
        outcome: str,
        status: str,
        *,
        keep_claim_id: bool = False,
    ) -> int | None:
        """Close `claim`: its `leased` row moves to `status` and is nobody's, the claims
        row is closed with `outcome`, and what was seen goes into the exposure ledger
        (every field, by the one writer); returns the row's id. None, with nothing
        written, if the claim no longer holds the row (the caller reports lease_lost).
        `keep_claim_id`: the row keeps naming the claim that finished it (a graded
        sample)."""
        t = leased.table
        done: dict[str, Any] = {"status": status, "claimed_by": None, "lease_expires_at": None}
        if not keep_claim_id:
            done["claim_id"] = None
        row = conn.execute(
            update(t)
            .where(
                t.c.claim_id == claim.claim_id,
                t.c.claimed_by == claim.user_id,
                t.c.status == "claimed",
            )
            .values(**done)
            .returning(t.c.id)
        ).first()
        if row is None:
            return None
        conn.execute(
            update(claims)
            .where(claims.c.id == claim.claim_id, claims.c.closed_at.is_(None))
            .values(closed_at=self.store.now(), outcome=outcome)
        )
        self.record_exposure(conn, claim, exposure)
        return int(row[0])

    @translate_errors
    def expire_leases(self) -> int:
        """Return items whose lease ran out to the queue; returns how many."""
        with self.store.write() as conn:
            n, events = self.expire_in(conn, self.store.stamp())
            self.store.audit(conn, *events)
            return n

    def _take(
        self, conn: Connection, params: dict[str, Any], kind: Pick, check: Check | None
    ) -> _Taken | None:
        """Open a claim on the next item and lease it; None if nothing is claimable.
        `kind` picks the prepared statement (see Pick). With `check`, the gate's reads
        go in the same round trip as the pick, and its verdict comes before anything
        else is done with what the pick returned."""
        take = self._sql.take[kind]
        rows = self._gated(conn, check, take, params)[0]
        got = rows[0] if rows else None
        if self.pg:
            if got is None:
                return None
            row = take.mapping(got)
            if row["sha256"] is None:
                raise RuntimeError(f"item {row['id']} was claimed but its context is unreadable")
            return _Taken(row["claim_id"], row["lease_expires_at"], row, row["p_at"])
        opened = got
        if opened is None:
            return None
        claim_id, item_id, expires_at = opened
        ids = {"p_item": item_id, "p_claim": claim_id}
        self._sql.lease.run(conn, {**params, **ids})
        # Leased in this transaction: readable (ItemViews).
        return _Taken(claim_id, expires_at, self._views.row(conn, item_id), None)

    def _take_next(
        self, conn: Connection, params: dict[str, Any], kind: Pick, check: Check | None = None
    ) -> _Taken | None:
        """`_take`; when avoiding Category A finds nothing, the usual pick: the moderator
        prefers other work when there is any, never no work at all."""
        taken = self._take(conn, params, kind, check)
        if taken is None and kind[2]:
            taken = self._take(conn, params, (kind[0], kind[1], False), None)
        return taken

    def _gated(
        self, conn: Connection, check: Check | None, stmt: Prepared, params: dict[str, Any]
    ) -> Result:
        """Run `stmt`; with `check`, the gate's reads first, in the same round trip on
        PostgreSQL (db.prepared.run_steps), and its verdict before the result is used:
        Refused (the transaction then rolls back, whatever `stmt` did) or on. A refusal
        outranks `stmt`'s own failure (on PostgreSQL the server may refuse it too)."""
        if check is None:
            return stmt.run(conn, params)
        reads = self.gate.reads(check)
        results, error = run_steps(conn, [*reads, (stmt, params)])
        if len(results) < len(reads):
            assert error is not None
            raise error
        self.gate.verdict(check, [rows for rows, _count in results[: len(reads)]])
        if error is not None:
            raise error
        return results[-1]

    @staticmethod
    def _as_actor(claim: Claim, check: Check | None) -> Claim:
        """The claim as the actor's: the person stored with the outcome is the one the
        gate lets through (who must hold the claim, as read from the database), never
        the user id the Claim object carries."""
        if check is None or check.actor_id == claim.user_id:
            return claim
        return dataclasses.replace(claim, user_id=check.actor_id)

    @translate_errors
    def claim_next(
        self,
        user_id: int,
        queue_id: int | None = None,
        lease_seconds: float = 600,
        exclude_queue_ids: Collection[int] = (),
        avoid_category_a: bool = False,
        *,
        check: Check | None = None,
    ) -> Claim | None:
        """Lease the most urgent pending item (priority, then age) to `user_id`, passing
        by the queues in `exclude_queue_ids` (restricted queues the user may not claim
        from, when claiming from every queue).

        With `avoid_category_a` (the moderator has had N Category A items in a row), the
        most urgent item not suspected Category A (items.suspected_category; no hint
        counts as other work) or at imminent risk; only when there is no such item, the
        usual pick, which may be Category A.

        The pick takes the row with FOR UPDATE SKIP LOCKED on PostgreSQL, under the write
        lock taken at BEGIN IMMEDIATE on SQLite, so two workstations never hold the same
        item. Expired leases are swept at most once a second per repository, and always
        before answering that nothing is claimable; so an expired item may wait up to
        a second behind fresher pending ones, but is never reported missing.

        `check`: the gate's question for a person's claim (services always pass one);
        the restricted queues to pass by are then the ones the account, as stored in
        this transaction, has no access to."""
        stamp = self.store.stamp(lease_seconds)
        params = {**stamp, "p_user": user_id, "p_queue": queue_id}
        restriction = GATED if check is not None else EXCLUDING if exclude_queue_ids else NONE
        if restriction == EXCLUDING:
            params["p_exclude"] = sorted(exclude_queue_ids)
        kind = (queue_id is not None, restriction, avoid_category_a)
        with self.store.write() as conn:
            events: list[Event] = []
            swept = self._sweep_due()
            if swept:
                events = self.expire_in(conn, stamp)[1]
            taken = self._take_next(conn, params, kind, check)
            if taken is None and not swept:
                requeued, events = self.expire_in(conn, stamp)
                if requeued:
                    taken = self._take_next(conn, params, kind)
            if taken is not None:
                item_id = taken.view["id"]
                events.append(Event(user_id, "claim", item_id, {"claim_id": taken.claim_id}))
            at = taken.at if taken is not None and taken.at is not None else stamp.get("p_now")
            self.store.audit(conn, *events, at=at)
        if taken is None:
            return None
        # Built after COMMIT: nothing here needs the locks.
        return Claim(taken.claim_id, to_view(taken.view), user_id, taken.lease_expires_at)

    @translate_errors
    def renew_lease(
        self, claim: Claim, lease_seconds: float = 600, *, check: Check | None = None
    ) -> Claim:
        with self.store.write() as conn:
            self.store.enforce(conn, check)
            return self.renew_claim(conn, ITEM, claim, lease_seconds)

    @staticmethod
    def closing_params(claim: Claim, exposure: Exposure, stamp: dict[str, Any]) -> dict[str, Any]:
        """Parameters naming the claim and what was seen of it, for the compiled statements."""
        return {
            "p_item": claim.item.id,
            "p_claim": claim.claim_id,
            "p_user": claim.user_id,
            "p_seconds_revealed": exposure.seconds_revealed,
            "p_reveal_count": exposure.reveal_count,
            "p_max_area_fraction": exposure.max_area_fraction,
            "p_full_unprotected": exposure.full_unprotected,
            "p_area_seconds": exposure.area_seconds,
            "p_min_blur_step": exposure.min_blur_step,
            "p_colour_shown": exposure.colour_shown,
            "p_least_mode": exposure.least_mode,
            "p_stylised_seconds": exposure.stylised_seconds,
            **stamp,
        }

    def record_exposure(self, conn: Connection, claim: Claim, exposure: Exposure) -> None:
        """The one writer of a claim's exposure ledger row, every field of it, for any
        path that closes a claim (review, QA re-grade, gold). A second call for the same
        claim leaves the first row: a retry finds it there."""
        self._sql.exposure.run(conn, self.closing_params(claim, exposure, self.store.stamp()))

    def _close(
        self,
        conn: Connection,
        params: dict[str, Any],
        status: str,
        outcome: str,
        check: Check | None,
    ) -> bool:
        """Close the claim, record the exposure and move the item to `status`; False,
        with nothing written, if the lease was lost.
        `check`: the gate's, read with the first statement (_gated)."""
        took = self._gated(conn, check, self._sql.close_item, {**params, "p_status": status})[1]
        if took != 1:
            return False
        self._sql.exposure.run(conn, params)
        self._sql.close_claim.run(conn, {**params, "p_outcome": outcome})
        return True

    def _decide(
        self, conn: Connection, params: dict[str, Any], check: Check | None
    ) -> tuple[int, datetime] | None:
        """Close the claim and store the decision; None if nothing was written.
        `check`: the gate's, read with the first statement (_gated)."""
        params = {**params, "p_status": "decided", "p_outcome": "decided"}
        if self._sql.decide is not None:
            rows = self._gated(conn, check, self._sql.decide, params)[0]
            row = rows[0] if rows else None
        elif self._close(conn, params, "decided", "decided", check):
            row = self._sql.decision.first(conn, params)
        else:
            row = None
        return None if row is None else (row[0], row[1])

    def _closed_as(self, claim: Claim, outcome: str) -> bool:
        """Whether `claim` was already closed with `outcome`: so that resending a skip or
        release whose answer was lost is not reported as a lost hold."""
        with self.read() as conn:
            found = conn.execute(
                select(claims.c.outcome).where(
                    claims.c.id == claim.claim_id, claims.c.user_id == claim.user_id
                )
            ).scalar()
        return found == outcome

    def lease_lost(
        self, claim: Claim, exposure: Exposure, attempted: str, leased: Leased = ITEM
    ) -> LeaseLost:
        """Record, in a transaction of its own, what was seen under a claim that lost
        its hold, and a lease_lost event; returns the LeaseLost to raise."""
        # Record what was seen even though the grading cannot be stored: a reveal is
        # evidence, and exposure counts against the moderator whatever happened next.
        with self.store.write() as conn:
            self.record_exposure(conn, claim, exposure)
            self.store.audit(
                conn,
                Event(
                    claim.user_id,
                    "lease_lost",
                    claim.item.id,
                    {"claim_id": claim.claim_id, "attempted": attempted},
                ),
            )
        return LeaseLost(
            f"Your hold on this {leased.noun} ran out and it went back to {leased.queue}; "
            f"the {attempted} was not stored."
        )

    @translate_errors
    def submit_decision(
        self,
        claim: Claim,
        grading: Grading,
        exposure: Exposure,
        client_token: str,
        *,
        check: Check | None = None,
    ) -> DecisionReceipt:
        """Decision + exposure record + audit event + lease closed, in one transaction.

        Retrying with the same client_token after a dropped connection returns the
        stored decision instead of storing it twice."""
        grading.validated()
        record = grading.to_record()
        params = self.closing_params(claim, exposure, self.store.stamp())
        params.update({f"p_{c}": record[c] for c in DECISION_COLS}, p_token=client_token)
        claim = self._as_actor(claim, check)
        params["p_user"] = claim.user_id
        with self.store.write() as conn:
            stored = self._decide(conn, params, check)
            if stored is not None:
                did, decided_at = stored
                self.store.audit(
                    conn,
                    Event(
                        claim.user_id,
                        "decision",
                        claim.item.id,
                        {
                            "decision_id": did,
                            "claim_id": claim.claim_id,
                            "grading": record,
                            "exposure": exposure_record(exposure),
                        },
                    ),
                    at=decided_at,
                )
                return DecisionReceipt(did, claim.item.id, decided_at)
            prior = self._sql.prior.first(conn, params)
            if prior is not None:
                return DecisionReceipt(*prior)
            conn.rollback()
        raise self.lease_lost(claim, exposure, "decision")

    @translate_errors
    def skip(
        self,
        claim: Claim,
        reason: SkipReason,
        note: str,
        exposure: Exposure,
        *,
        check: Check | None = None,
    ) -> None:
        """Put the item back for someone else; this moderator's claims pass it by."""
        stamp = self.store.stamp()
        claim = self._as_actor(claim, check)
        with self.store.write() as conn:
            params = self.closing_params(claim, exposure, stamp)
            if self._close(conn, params, "pending", "skipped", check):
                self._sql.skip.run(
                    conn,
                    {
                        "p_item": claim.item.id,
                        "p_user": claim.user_id,
                        "p_reason": reason.value,
                        "p_note": note,
                        **stamp,
                    },
                )
                self.store.audit(
                    conn,
                    Event(
                        claim.user_id,
                        "skip",
                        claim.item.id,
                        {
                            "claim_id": claim.claim_id,
                            "reason": reason.value,
                            "note": note,
                            "exposure": exposure_record(exposure),
                        },
                    ),
                )
                return
            conn.rollback()
        if self._closed_as(claim, "skipped"):
            return  # a retry after OutcomeUnknown: the first attempt did go through
        raise self.lease_lost(claim, exposure, "skip")

    @translate_errors
    def release(
        self,
        claim: Claim,
        exposure: Exposure,
        why: str = "released",
        *,
        check: Check | None = None,
    ) -> None:
        """Hand the item back untouched (moving on, quitting, a break, an idle lock)."""
        claim = self._as_actor(claim, check)
        with self.store.write() as conn:
            params = self.closing_params(claim, exposure, self.store.stamp())
            if self._close(conn, params, "pending", "released", check):
                self.store.audit(
                    conn,
                    Event(
                        claim.user_id,
                        "release",
                        claim.item.id,
                        {
                            "claim_id": claim.claim_id,
                            "why": why,
                            "exposure": exposure_record(exposure),
                        },
                    ),
                )
                return
            conn.rollback()
        if self._closed_as(claim, "released"):
            return  # a retry after OutcomeUnknown: the first attempt did go through
        raise self.lease_lost(claim, exposure, "release")


def exposure_record(e: Exposure) -> dict[str, Any]:
    """The exposure as an audit event carries it: every field of the ledger row."""
    return {
        "seconds_revealed": e.seconds_revealed,
        "reveal_count": e.reveal_count,
        "max_area_fraction": e.max_area_fraction,
        "full_unprotected": e.full_unprotected,
        "area_seconds": e.area_seconds,
        "min_blur_step": e.min_blur_step,
        "colour_shown": e.colour_shown,
        "least_mode": e.least_mode,
        "stylised_seconds": e.stylised_seconds,
    }


def _detail(leased: Leased, row_id: int, claim_id: int) -> dict[str, Any]:
    if leased.detail_key is None:
        return {"claim_id": claim_id}
    return {"claim_id": claim_id, leased.detail_key: row_id}
