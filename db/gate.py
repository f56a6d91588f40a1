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

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    Row,
    Select,
    String,
    bindparam,
    cast,
    func,
    null,
    select,
    type_coerce,
)

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
    conn: Connection, row: Row[Any], queue_ids: Iterable[int] | None = None
) -> Account:
    """An Account from its users row and its granted queues (read on `conn` unless
    given)."""
    if queue_ids is None:
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
        # Users from before migration 0005 (or made by Store.ensure_user) have only
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


def _joined(column: ColumnElement[int], *where: ColumnElement[bool]) -> Any:
    """The ids of `column` where `where` holds, as one comma-joined text value."""
    return select(func.aggregate_strings(cast(column, String), ",")).where(*where)


def restricted_queues(conn: Connection) -> frozenset[int]:
    return frozenset(
        conn.execute(select(queues_t.c.id).where(queues_t.c.restricted.is_(True))).scalars()
    )


class Gate:
    """Decides each call from reviewer.permissions.MATRIX, on the action's connection.

    The statements are built once (the gate sits on every claim and decision). 'Now'
    is the Store's: the server's clock on PostgreSQL without an injected clock
    (`server_time`), else `now()` bound per call, so that a vetting lapses at the same
    instant for the gate and for everything else."""

    def __init__(self, server_time: bool, now: Callable[[], datetime], *, pg: bool) -> None:
        self._server_time = server_time
        self._now = now
        now_sql: ColumnElement[datetime] = (
            type_coerce(func.now(), UTCDateTime())
            if server_time
            else bindparam("gate_now", type_=UTCDateTime())
        )
        # The account, its granted queues, the restricted queues and 'now': one statement.
        self._who = users_select(pg).add_columns(
            now_sql.label("gate_now"),
            _joined(access_t.c.queue_id, access_t.c.user_id == users_t.c.id)
            .scalar_subquery()
            .label("gate_granted"),
            _joined(queues_t.c.id, queues_t.c.restricted.is_(True))
            .scalar_subquery()
            .label("gate_restricted"),
        ).where(users_t.c.id == bindparam("gate_user", type_=Integer()))
        self._today = select(now_sql)
        self._claim = (
            select(claims_t.c.user_id, items_t.c.queue_id, queues_t.c.restricted)
            .join(items_t, items_t.c.id == claims_t.c.item_id)
            .join(queues_t, queues_t.c.id == items_t.c.queue_id)
            .where(claims_t.c.id == bindparam("gate_claim", type_=BigInteger()))
        )
        item = bindparam("gate_item", type_=BigInteger())
        self._item = (
            select(items_t.c.queue_id, queues_t.c.restricted)
            .join(queues_t, queues_t.c.id == items_t.c.queue_id)
            .where(items_t.c.id == item)
        )
        # Acting on an item already decided (a group grid hands on its grade): the claim
        # it was decided under, i.e. its latest decision, must be the actor's own.
        self._decider = (
            select(decisions_t.c.user_id)
            .where(decisions_t.c.item_id == item)
            .order_by(decisions_t.c.id.desc())
            .limit(1)
        )
        self._queue = select(queues_t.c.restricted).where(
            queues_t.c.id == bindparam("gate_queue", type_=Integer())
        )
        self._authors = (
            select(samples_t.c.moderator_id, grades_t.c.qa_user_id)
            .outerjoin(grades_t, grades_t.c.sample_id == samples_t.c.id)
            .where(samples_t.c.id == bindparam("gate_sample", type_=BigInteger()))
        )

    def _clock(self) -> dict[str, Any]:
        return {} if self._server_time else {"gate_now": self._now()}

    def enforce(self, conn: Connection, check: Check) -> Granted:
        """The account as stored now if it may do `check`; else raise Refused."""
        rule = MATRIX[check.op]
        row = conn.execute(self._who, {"gate_user": check.actor_id, **self._clock()}).first()
        account = None if row is None else account_from_row(conn, row, _ids(row.gate_granted))
        when: datetime = (
            row.gate_now if row is not None
            else conn.execute(self._today, self._clock()).scalar_one()
        )
        today = when.date()
        facts = self._facts(conn, check)
        why = refusal(check.op, account, today, facts)
        if why is not None:
            raise Refused(check, why, user_exists=account is not None)
        assert account is not None and row is not None  # refusal() refuses a missing one
        blocked: frozenset[int] = frozenset()
        if rule.queue and check.queue_id is None and check.claim_id is None:
            blocked = _ids(row.gate_restricted) - account.queue_ids
        return Granted(account, blocked)

    def _facts(self, conn: Connection, check: Check) -> Facts:
        queue_id: int | None = None
        restricted = False
        claim_user: int | None = None
        claim_found = True
        decided_by: frozenset[int] = frozenset()
        if check.claim_id is not None:
            found = conn.execute(self._claim, {"gate_claim": check.claim_id}).first()
            claim_found = found is not None
            if found is not None:
                claim_user, queue_id, restricted = found.user_id, found.queue_id, found.restricted
        elif check.item_id is not None:
            found = conn.execute(self._item, {"gate_item": check.item_id}).first()
            if found is not None:
                queue_id, restricted = found.queue_id, found.restricted
            if MATRIX[check.op].own_claim:
                claim_user = conn.execute(self._decider, {"gate_item": check.item_id}).scalar()
                claim_found = claim_user is not None
        if check.queue_id is not None:
            queue_id = check.queue_id
            restricted = bool(conn.execute(self._queue, {"gate_queue": check.queue_id}).scalar())
        if check.sample_id is not None:
            authors = conn.execute(self._authors, {"gate_sample": check.sample_id}).first()
            if authors is not None:
                decided_by = frozenset(a for a in authors if a is not None)
        return Facts(
            queue_id=queue_id,
            queue_restricted=bool(restricted),
            claim_user_id=claim_user,
            claim_found=claim_found,
            decided_by=decided_by,
        )
