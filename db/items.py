"""Queues, media and items: ingest, the item view every screen shows, and listings
(decisions, exposures, queue summaries, counts). Handed out by the unit of work as
`store.items` (db.store); each public method is one transaction.

The item view has one reader (`ItemViews`) for every role: on PostgreSQL a moderator's
login role reads an item's report context and media only through reviewer_item_context
(migration 0024), so the reader always goes through it there; the claim statement
(db.claims) reads the same columns in the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    FromClause,
    RowMapping,
    Select,
    bindparam,
    column,
    func,
    insert,
    select,
    true,
)
from sqlalchemy.engine import Dialect

from db.models import DecisionRow, ExposureRow, ItemRow, MediaRow, QueueRow
from db.open_items import OpenCounts, open_counts
from db.prepared import Prepared
from db.repo import Repo
from db.unit_of_work import Event, UnitOfWork, translate_errors
from reviewer.errors import NotFound
from reviewer.model import ItemView, MediaInfo, NewItem, QueueSummary, priority_for
from reviewer.vocabulary import Severity, Source

items_t = ItemRow.__table__
media_t = MediaRow.__table__
queues_t = QueueRow.__table__
decisions_t = DecisionRow.__table__
exposures_t = ExposureRow.__table__

# Bulk lookups stay well under SQLite's bound-parameter limit.
_CHUNK = 500
# A bulk ingest this large refreshes the planner's statistics on items (PostgreSQL).
ANALYZE_AFTER_ITEMS = 1_000

# An item's report context and its media's description: what a moderator's login role
# reads only through reviewer_item_context (migration 0024).
CONTEXT_COLS = ("report_text", "reported_accounts", "upload_ip", "upload_time", "extra")
# ... and what nobody's claim needs back (only QA, leads and admins may read them).
HIDDEN_COLS = (*CONTEXT_COLS, "dedupe_key")
MEDIA_COLS = ("sha256", "size_bytes", "format", "width", "height", "unreadable_reason")


def view_columns(src: FromClause) -> list[ColumnElement[Any]]:
    """What an ItemView is built from; `src` is the items table or a CTE returning it."""
    return [
        src.c.id,
        src.c.queue_id,
        queues_t.c.name.label("queue_name"),
        src.c.source,
        src.c.priority,
        src.c.imminent_risk,
        src.c.received_at,
        src.c.report_text,
        src.c.reported_accounts,
        src.c.upload_ip,
        src.c.upload_time,
        src.c.extra,
        src.c.suspected_category,
        media_t.c.sha256,
        media_t.c.size_bytes,
        media_t.c.format,
        media_t.c.width,
        media_t.c.height,
        media_t.c.unreadable_reason,
    ]


def item_context(item_id: ColumnElement[int]) -> FromClause:
    """reviewer_item_context(item) as a table: the item's report context and media, the
    one door by which a moderator's login role reads them (PostgreSQL only)."""
    return func.reviewer_item_context(item_id).table_valued(
        *(column(c, items_t.c[c].type) for c in CONTEXT_COLS),
        *(column(c, media_t.c[c].type) for c in MEDIA_COLS),
    )


def from_either(first: FromClause, then: FromClause, key: str) -> ColumnElement[Any]:
    """Column `key` of `first` if it has one, else of `then`, labelled `key`."""
    return (first.c[key] if key in first.c else then.c[key]).label(key)


def to_view(m: RowMapping | dict[str, Any]) -> ItemView:
    return ItemView(
        id=m["id"],
        queue_id=m["queue_id"],
        queue_name=m["queue_name"],
        source=Source(m["source"]),
        priority=m["priority"],
        imminent_risk=bool(m["imminent_risk"]),
        received_at=m["received_at"],
        media=MediaInfo(
            sha256=m["sha256"],
            size_bytes=m["size_bytes"],
            format=m["format"],
            width=m["width"],
            height=m["height"],
            unreadable_reason=m["unreadable_reason"],
        ),
        report_text=m["report_text"] or "",
        reported_accounts=tuple(m["reported_accounts"] or ()),
        upload_ip=m["upload_ip"],
        upload_time=m["upload_time"],
        extra=dict(m["extra"] or {}),
        suspected_category=_severity(m["suspected_category"]),
    )


def _severity(value: str | None) -> Severity | None:
    return None if value is None else Severity(value)


class ItemViews:
    """The one reader of an item's view, compiled once for the engine's dialect.

    On PostgreSQL the report context and media come through reviewer_item_context, so
    the same statement serves a moderator's login role (which may read them for what it
    holds or decided), QA, leads, admins and the owner; an item the caller may not see
    is NotFound. The embedded database has no login roles: it reads the rows."""

    def __init__(self, dialect: Dialect) -> None:
        item = bindparam("p_item", type_=BigInteger())
        stmt: Select[Any]
        if dialect.name == "postgresql":
            ctx = item_context(items_t.c.id).lateral("context")
            stmt = (
                select(
                    *(
                        from_either(ctx, items_t, str(c.key)) if c.key != "queue_name" else c
                        for c in view_columns(items_t)
                    )
                )
                .join_from(items_t, ctx, true())
                .join(queues_t, queues_t.c.id == items_t.c.queue_id)
                .where(items_t.c.id == item)
            )
        else:
            stmt = (
                select(*view_columns(items_t))
                .join_from(items_t, media_t, media_t.c.id == items_t.c.media_id)
                .join(queues_t, queues_t.c.id == items_t.c.queue_id)
                .where(items_t.c.id == item)
            )
        self._stmt = Prepared(stmt, dialect)

    def row(self, conn: Connection, item_id: int) -> dict[str, Any]:
        """The view's columns by name (db.claims builds the ItemView after COMMIT)."""
        r = self._stmt.first(conn, {"p_item": item_id})
        if r is None:
            raise NotFound(f"item {item_id}")
        return self._stmt.mapping(r)

    def read(self, conn: Connection, item_id: int) -> ItemView:
        return to_view(self.row(conn, item_id))


def _hint_value(new: NewItem) -> str | None:
    return None if new.suspected_category is None else new.suspected_category.value


def _ingested(item_id: int, new: NewItem) -> Event:
    detail = {"sha256": new.media_sha256, "source": new.source.value, "queue": new.queue}
    return Event(None, "item_ingested", item_id, detail)


def _lookup(
    conn: Connection, key: ColumnElement[str], value: ColumnElement[int], keys: Iterable[str]
) -> dict[str, int]:
    """{key: value} for the given keys that exist, in chunks SQLite's parameter limit allows."""
    wanted = list(keys)
    out: dict[str, int] = {}
    for i in range(0, len(wanted), _CHUNK):
        rows = conn.execute(select(key, value).where(key.in_(wanted[i : i + _CHUNK])))
        out.update((k, v) for k, v in rows)
    return out


class ItemsRepo(Repo):
    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.views = ItemViews(uow.dialect)

    # -- queues -------------------------------------------------------------------------

    @translate_errors
    def ensure_queue(self, name: str, target_minutes: int = 24 * 60) -> int:
        with self.write() as conn:
            return self.queue_id(conn, name, target_minutes)

    def queue_id(self, conn: Connection, name: str, target_minutes: int) -> int:
        """The queue named `name`, created in this transaction if new."""
        qid = conn.execute(select(queues_t.c.id).where(queues_t.c.name == name)).scalar()
        if qid is None:
            qid = conn.execute(
                insert(queues_t)
                .values(name=name, target_minutes=target_minutes, created_at=self.now())
                .returning(queues_t.c.id)
            ).scalar_one()
        return int(qid)

    @translate_errors
    def queue_summaries(self) -> list[QueueSummary]:
        with self.read() as conn:
            counts = open_counts(conn, by_priority=False)
            rows = conn.execute(
                select(queues_t.c.id, queues_t.c.name, queues_t.c.target_minutes).order_by(
                    queues_t.c.name
                )
            ).all()
        out = []
        for r in rows:
            c = counts.get((r.id,), OpenCounts())
            out.append(
                QueueSummary(
                    r.id, r.name, r.target_minutes, c.pending, c.claimed, c.oldest_pending_at
                )
            )
        return out

    @translate_errors
    def item_count(self) -> int:
        with self.read() as conn:
            return int(conn.execute(select(func.count()).select_from(items_t)).scalar_one())

    # -- ingest -------------------------------------------------------------------------

    @translate_errors
    def add_media(
        self,
        sha256: str,
        size_bytes: int,
        format: str | None,
        width: int | None,
        height: int | None,
        unreadable_reason: str | None,
    ) -> int:
        with self.write() as conn:
            mid = conn.execute(select(media_t.c.id).where(media_t.c.sha256 == sha256)).scalar()
            if mid is not None:
                return int(mid)
            return int(
                conn.execute(
                    insert(media_t)
                    .values(
                        sha256=sha256,
                        size_bytes=size_bytes,
                        format=format,
                        width=width,
                        height=height,
                        unreadable_reason=unreadable_reason,
                        stored_at=self.now(),
                    )
                    .returning(media_t.c.id)
                ).scalar_one()
            )

    @translate_errors
    def add_item(self, new: NewItem, queue_target_minutes: int = 24 * 60) -> tuple[int, bool]:
        """Enqueue an item; returns (item id, created). A known dedupe key is not re-added."""
        qid = self.ensure_queue(new.queue, queue_target_minutes)
        with self.write() as conn:
            existing = conn.execute(
                select(items_t.c.id).where(items_t.c.dedupe_key == new.dedupe_key)
            ).scalar()
            if existing is not None:
                return int(existing), False
            mid = conn.execute(
                select(media_t.c.id).where(media_t.c.sha256 == new.media_sha256)
            ).scalar()
            if mid is None:
                raise NotFound(f"media {new.media_sha256} is not in the store")
            iid = conn.execute(
                insert(items_t)
                .values(
                    queue_id=qid,
                    media_id=mid,
                    dedupe_key=new.dedupe_key,
                    source=new.source.value,
                    priority=priority_for(new.source, new.imminent_risk),
                    imminent_risk=new.imminent_risk,
                    received_at=self.now(),
                    status="pending",
                    report_text=new.report_text,
                    reported_accounts=list(new.reported_accounts),
                    upload_ip=new.upload_ip,
                    upload_time=new.upload_time,
                    extra=new.extra,
                    suspected_category=_hint_value(new),
                )
                .returning(items_t.c.id)
            ).scalar_one()
            self.store.audit(conn, _ingested(iid, new))
            return int(iid), True

    @translate_errors
    def enqueue_many(self, items: Sequence[NewItem], queue_target_minutes: int = 24 * 60) -> int:
        """Enqueue a batch in one transaction; returns how many items were new.

        Per item, the same rules and audit event as add_item: a dedupe key already
        stored (or seen earlier in the batch) is passed over, and media missing from
        the store raises NotFound with nothing stored. On SQLite the batch holds the
        write lock throughout, so split very large imports to let claims in."""
        with self.write() as conn:
            return self._enqueue_many(conn, list(items), queue_target_minutes)

    def _enqueue_many(self, conn: Connection, batch: list[NewItem], target_minutes: int) -> int:
        known = _lookup(conn, items_t.c.dedupe_key, items_t.c.id, {n.dedupe_key for n in batch})
        fresh: dict[str, NewItem] = {}
        for n in batch:
            if n.dedupe_key not in known:
                fresh.setdefault(n.dedupe_key, n)
        if not fresh:
            return 0
        shas = {n.media_sha256 for n in fresh.values()}
        media_ids = _lookup(conn, media_t.c.sha256, media_t.c.id, shas)
        if missing := sorted(shas - media_ids.keys()):
            raise NotFound(f"media {missing[0]} is not in the store ({len(missing)} missing)")
        queue_ids = {
            q: self.queue_id(conn, q, target_minutes) for q in {n.queue for n in fresh.values()}
        }
        # Ids are reserved first so the rows go in by a plain executemany: INSERT ...
        # RETURNING over many rows goes through SQLAlchemy's batched VALUES, which psycopg
        # re-parses page by page (a fifth of the speed at 20k items).
        ids = dict(zip(fresh, self._reserve_item_ids(conn, len(fresh)), strict=True))
        conn.execute(
            insert(items_t).values(received_at=self.now()),
            [
                {
                    "id": ids[n.dedupe_key],
                    "queue_id": queue_ids[n.queue],
                    "media_id": media_ids[n.media_sha256],
                    "dedupe_key": n.dedupe_key,
                    "source": n.source.value,
                    "priority": priority_for(n.source, n.imminent_risk),
                    "imminent_risk": n.imminent_risk,
                    "status": "pending",
                    "report_text": n.report_text,
                    "reported_accounts": list(n.reported_accounts),
                    "upload_ip": n.upload_ip,
                    "upload_time": n.upload_time,
                    "extra": n.extra,
                    "suspected_category": _hint_value(n),
                }
                for n in fresh.values()
            ],
        )
        self.store.audit(conn, *(_ingested(ids[key], n) for key, n in fresh.items()))
        if self.pg and len(fresh) >= ANALYZE_AFTER_ITEMS:
            # Row-level security makes the claim pick's plan depend on fresh statistics
            # (migration 0018): a bulk load refreshes them at once, not a minute later.
            conn.execute(select(func.reviewer_analyze_items()))
        return len(fresh)

    def _reserve_item_ids(self, conn: Connection, n: int) -> list[int]:
        if self.pg:
            seq = func.nextval(func.pg_get_serial_sequence("items", "id"))
            return sorted(
                conn.execute(select(seq).select_from(func.generate_series(1, n))).scalars()
            )
        # SQLite: this transaction holds the write lock, and SQLite itself would take
        # max(id) + 1 (items has no AUTOINCREMENT).
        last = conn.execute(select(func.coalesce(func.max(items_t.c.id), 0))).scalar_one()
        return list(range(last + 1, last + 1 + n))

    # -- reading items ------------------------------------------------------------------

    def view(self, conn: Connection, item_id: int) -> ItemView:
        """The item's view inside the caller's transaction (NotFound if not visible)."""
        return self.views.read(conn, item_id)

    @translate_errors
    def item(self, item_id: int) -> ItemView:
        with self.read() as conn:
            return self.views.read(conn, item_id)

    @translate_errors
    def item_status(self, item_id: int) -> str:
        with self.read() as conn:
            status = conn.execute(select(items_t.c.status).where(items_t.c.id == item_id)).scalar()
            if status is None:
                raise NotFound(f"item {item_id}")
            return str(status)

    @translate_errors
    def decisions(self, item_id: int | None = None) -> list[dict[str, Any]]:
        q = select(decisions_t).order_by(decisions_t.c.id)
        if item_id is not None:
            q = q.where(decisions_t.c.item_id == item_id)
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    @translate_errors
    def exposures(self, item_id: int | None = None) -> list[dict[str, Any]]:
        q = select(exposures_t).order_by(exposures_t.c.id)
        if item_id is not None:
            q = q.where(exposures_t.c.item_id == item_id)
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]
