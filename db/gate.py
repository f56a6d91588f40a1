"""The permission gate: every service call passes here, inside its own transaction.

`Gate.enforce(conn, check)` re-reads the acting account (enabled, roles, vetting, queue
access) and the facts about the data (whose claim, which queue, whose decision) on the
action's own connection, then asks reviewer.permissions for the verdict. A refusal is
raised as `Refused`; the Store's transaction wrappers roll the action back and write the
`access_denied` audit event in a transaction of its own (so the refusal is on record
although the action is not), then raise reviewer.accounts.AccessDenied.

Nothing else in the code decides who may do what.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnClause,
    ColumnElement,
    Connection,
    Integer,
    Row,
    Select,
    String,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    type_coerce,
)
from sqlalchemy.engine import Dialect

from db.models import (
    ClaimRow,
    DecisionRow,
    ItemRow,
    QaGradeRow,
    QaSampleRow,
    QueueAccessRow,
    QueueRow,
    UserRow,
    UTCDateTime,
)
from db.prepared import Prepared, Step
from reviewer.accounts import AccessDenied, Account, TrainingRecord, VettingStatus, roles_from
from reviewer.permissions import MATRIX, Check, Facts, refusal
from reviewer.untrusted import recorded_name

users_t = UserRow.__table__
queues_t = QueueRow.__table__
access_t = QueueAccessRow.__table__
claims_t = ClaimRow.__table__
decisions_t = DecisionRow.__table__
items_t = ItemRow.__table__
samples_t = QaSampleRow.__table__
grades_t = QaGradeRow.__table__


class Refused(Exception):
    """Raised inside a transaction by the gate; the transaction wrapper audits it and
    raises AccessDenied once the action has been rolled back."""

    def __init__(self, check: Check, why: str, user_exists: bool) -> None:
        super().__init__(why)
        self.check = check
        self.why = why
        self.user_exists = user_exists

    def audit_detail(self) -> dict[str, Any]:
        c = self.check
        detail: dict[str, Any] = {
            "name": recorded_name(c.actor_name),  # the caller's: bounded, escaped
            "operation": c.op.value,
            "why": self.why,
        }
        for key in ("queue_id", "claim_id", "sample_id", "item_id"):
            value = getattr(c, key)
            if value is not None:
                detail[key] = value
        return detail

    def denied(self) -> AccessDenied:
        return AccessDenied(self.why)


@dataclass(frozen=True)
class Granted:
    """The gate's yes: the account as stored now, and (for a claim from every queue) the
    restricted queues it may not be handed items from."""

    account: Account
    blocked_queues: frozenset[int] = frozenset()


def users_select(pg: bool) -> Select[Any]:
    """Every column of users. On PostgreSQL without password_hash, which a person's
    login role may not read (it is empty there: the server keeps passwords, migration
    0018), so that the same reads work for every role."""
    if not pg:
        return select(users_t)
    kept = [c for c in users_t.c if c.name != "password_hash"]
    return select(*kept, null().label("password_hash"))


def account_from_row(
    conn: Connection | None, row: Row[Any] | SimpleNamespace, queue_ids: Iterable[int] | None = None
) -> Account:
    """An Account from its users row and its granted queues (read on `conn` unless
    given)."""
    if queue_ids is None:
        assert conn is not None, "the granted queues, or a connection to read them on"
        queue_ids = conn.execute(
            select(access_t.c.queue_id).where(access_t.c.user_id == row.id)
        ).scalars()
    training = tuple(
        TrainingRecord(str(t["course"]), date.fromisoformat(str(t["completed_on"])))
        for t in (row.training or [])
    )
    return Account(
        id=row.id,
        name=row.name,
        # Users from before migration 0005 (or made by AccountsRepo.ensure_user) have only
        # their primary role.
        roles=roles_from(row.roles or [row.role]),
        disabled=bool(row.disabled),
        vetting=VettingStatus(row.vetting_status),
        vetted_on=row.vetted_on,
        training=training,
        queue_ids=frozenset(int(q) for q in queue_ids),
        has_password=row.password_hash is not None or row.db_role is not None,
    )


def load_account(conn: Connection, user_id: int) -> Account | None:
    pg = conn.dialect.name == "postgresql"
    row = conn.execute(users_select(pg).where(users_t.c.id == user_id)).first()
    return None if row is None else account_from_row(conn, row)


def _ids(joined: str | None) -> frozenset[int]:
    return frozenset(int(i) for i in joined.split(",")) if joined else frozenset()


def _joined(pg: bool, column: ColumnElement[int], *where: ColumnElement[bool]) -> Any:
    """The ids of `column` where `where` holds, as one comma-joined text value. The
    separator is a literal of the statement (compiled once, db.prepared)."""
    text = cast(column, String)
    comma: ColumnClause[str] = literal_column("','")
    joined = func.string_agg(text, comma) if pg else func.group_concat(text, comma)
    return select(joined).where(*where)


def restricted_queues(conn: Connection) -> frozenset[int]:
    return frozenset(
        conn.execute(select(queues_t.c.id).where(queues_t.c.restricted.is_(True))).scalars()
    )


class Gate:
    """Decides each call from reviewer.permissions.MATRIX, on the action's connection.

    The statements are compiled once (db.prepared: the gate sits on every claim and
    decision). `reads(check)` are the statements that gather what the verdict needs
    (the account, then the facts about the data); `verdict(check, results)` decides.
    The Store sends the reads in the same round trip as the action's first statement
    (db.prepared.run_steps) and acts on the verdict before anything commits; `enforce`
    does both on its own, for every other caller. 'Now' is the Store's: the server's
    clock on PostgreSQL without an injected clock (`server_time`), else `now()` bound
    per call, so that a vetting lapses at the same instant for the gate and for
    everything else."""

    def __init__(self, server_time: bool, now: Callable[[], datetime], *, dialect: Dialect) -> None:
        self._server_time = server_time
        self._now = now
        pg = dialect.name == "postgresql"
        now_sql: ColumnElement[datetime] = (
            type_coerce(func.now(), UTCDateTime())
            if server_time
            else bindparam("gate_now", type_=UTCDateTime())
        )
        # The account, its granted queues, the restricted queues and 'now': one statement.
        self._who = Prepared(
            users_select(pg)
            .add_columns(
                now_sql.label("gate_now"),
                _joined(pg, access_t.c.queue_id, access_t.c.user_id == users_t.c.id)
                .scalar_subquery()
                .label("gate_granted"),
                _joined(pg, queues_t.c.id, queues_t.c.restricted.is_(True))
                .scalar_subquery()
                .label("gate_restricted"),
            )
            .where(users_t.c.id == bindparam("gate_user", type_=Integer())),
            dialect,
        )
        self._claim = Prepared(
            select(claims_t.c.user_id, items_t.c.queue_id, queues_t.c.restricted)
            .join(items_t, items_t.c.id == claims_t.c.item_id)
            .join(queues_t, queues_t.c.id == items_t.c.queue_id)
            .where(claims_t.c.id == bindparam("gate_claim", type_=BigInteger())),
            dialect,
        )
        item = bindparam("gate_item", type_=BigInteger())
        self._item = Prepared(
            select(items_t.c.queue_id, queues_t.c.restricted)
            .join(queues_t, queues_t.c.id == items_t.c.queue_id)
            .where(items_t.c.id == item),
            dialect,
        )
        # Acting on an item already decided (a group grid hands on its grade): the claim
        # it was decided under, i.e. its latest decision, must be the actor's own.
        self._decider = Prepared(
            select(decisions_t.c.user_id)
            .where(decisions_t.c.item_id == item)
            .order_by(decisions_t.c.id.desc())
            .limit(1),
            dialect,
        )
        self._queue = Prepared(
            select(queues_t.c.restricted).where(
                queues_t.c.id == bindparam("gate_queue", type_=Integer())
            ),
            dialect,
        )
        self._authors = Prepared(
            select(samples_t.c.moderator_id, grades_t.c.qa_user_id)
            .outerjoin(grades_t, grades_t.c.sample_id == samples_t.c.id)
            .where(samples_t.c.id == bindparam("gate_sample", type_=BigInteger())),
            dialect,
        )

    def _clock(self) -> dict[str, Any]:
        return {} if self._server_time else {"gate_now": self._now()}

    def reads(self, check: Check) -> list[Step]:
        """What the verdict on `check` needs read, in the order `verdict` takes it."""
        steps: list[Step] = [(self._who, {"gate_user": check.actor_id, **self._clock()})]
        if check.claim_id is not None:
            steps.append((self._claim, {"gate_claim": check.claim_id}))
        elif check.item_id is not None:
            steps.append((self._item, {"gate_item": check.item_id}))
            if MATRIX[check.op].own_claim:
                steps.append((self._decider, {"gate_item": check.item_id}))
        if check.queue_id is not None:
            steps.append((self._queue, {"gate_queue": check.queue_id}))
        if check.sample_id is not None:
            steps.append((self._authors, {"gate_sample": check.sample_id}))
        return steps

    def enforce(self, conn: Connection, check: Check) -> Granted:
        """The account as stored now if it may do `check`; else raise Refused."""
        return self.verdict(
            check, [stmt.run(conn, params)[0] for stmt, params in self.reads(check)]
        )

    def verdict(self, check: Check, results: Sequence[list[tuple[Any, ...]]]) -> Granted:
        """Decide `check` from the rows its `reads` returned; raise Refused if it may not."""
        rows = iter(results)
        who = next(rows)
        row = SimpleNamespace(**self._who.mapping(who[0])) if who else None
        account = None if row is None else account_from_row(None, row, _ids(row.gate_granted))
        # A missing account is refused before any date matters.
        today = row.gate_now.date() if row is not None else date.min
        facts = self._facts(check, rows)
        why = refusal(check.op, account, today, facts)
        if why is not None:
            raise Refused(check, why, user_exists=account is not None)
        assert account is not None and row is not None  # refusal() refuses a missing one
        blocked: frozenset[int] = frozenset()
        if MATRIX[check.op].queue and check.queue_id is None and check.claim_id is None:
            blocked = _ids(row.gate_restricted) - account.queue_ids
        return Granted(account, blocked)

    @staticmethod
    def _facts(check: Check, rows: Iterator[list[tuple[Any, ...]]]) -> Facts:
        queue_id: int | None = None
        restricted = False
        claim_user: int | None = None
        claim_found = True
        decided_by: frozenset[int] = frozenset()
        if check.claim_id is not None:
            found = next(rows)
            claim_found = bool(found)
            if found:
                claim_user, queue_id, restricted = found[0]
        elif check.item_id is not None:
            found = next(rows)
            if found:
                queue_id, restricted = found[0]
            if MATRIX[check.op].own_claim:
                decider = next(rows)
                claim_user = decider[0][0] if decider else None
                claim_found = claim_user is not None
        if check.queue_id is not None:
            queue_id = check.queue_id
            found = next(rows)
            restricted = bool(found[0][0]) if found else False
        if check.sample_id is not None:
            authors = next(rows)
            if authors:
                decided_by = frozenset(a for a in authors[0] if a is not None)
        return Facts(
            queue_id=queue_id,
            queue_restricted=bool(restricted),
            claim_user_id=claim_user,
            claim_found=claim_found,
            decided_by=decided_by,
        )
