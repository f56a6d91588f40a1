"""Hash lists, matches and near-duplicate groups: the repository behind
reviewer.matching.HashPort. Every public method is one transaction; audit events are
its last statements (see db/repo.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from db.hash_models import (
    DupGroupFlagRow,
    DupGroupRow,
    DupMemberRow,
    HashListEntryRow,
    HashListRow,
    HashMatchRow,
)
from db.models import (
    AdjudicationRow,
    ClaimRow,
    DecisionRow,
    ExposureRow,
    ItemRow,
    MediaRow,
    QaGradeRow,
    QaSampleRow,
)
from db.qa import settings_in
from db.repo import Repo, translate_errors
from reviewer.consensus import Vote, VoteKind, consensus
from reviewer.errors import NotFound
from reviewer.grading import GradeBasis
from reviewer.hashing import PDQ_MIN_QUALITY, MediaHashes
from reviewer.hashlists import ConfirmedItem, HashListEntry, HashType
from reviewer.hints import combined
from reviewer.matching import (
    Candidate,
    ConfirmedExport,
    DupGroup,
    GradedPdq,
    GroupFlag,
    GroupMember,
    HashListInfo,
    HeldItem,
    Hit,
    KnownMatch,
    Placement,
    Propagated,
    StoredEntry,
    complete_grade,
)
from reviewer.permissions import Check
from reviewer.vocabulary import AgeBand, Severity

lists_t = HashListRow.__table__
entries_t = HashListEntryRow.__table__
matches_t = HashMatchRow.__table__
groups_t = DupGroupRow.__table__
members_t = DupMemberRow.__table__
flags_t = DupGroupFlagRow.__table__
items = ItemRow.__table__
media_t = MediaRow.__table__
claims = ClaimRow.__table__
decisions = DecisionRow.__table__
exposures = ExposureRow.__table__
qa_samples = QaSampleRow.__table__
qa_grades = QaGradeRow.__table__
adjudications = AdjudicationRow.__table__

_CHUNK = 5_000
_CONFIRMED = (Severity.A.value, Severity.B.value, Severity.C.value)
# Copied from the source decision when a grade propagates to a group member.
_GRADE_COLUMNS = (
    "severity",
    "csea_related",
    "not_assessable_reason",
    "age_band",
    "age_confidence",
    "production_context",
    "actions",
)


def _chunks(seq: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def _list_info(r: Any) -> HashListInfo:
    return HashListInfo(
        id=r.id,
        name=r.name,
        source_org=r.source_org,
        version=r.version,
        active=bool(r.active),
        imported_at=r.imported_at,
        imported_by=r.imported_by,
        file_name=r.file_name,
        file_sha256=r.file_sha256,
        entry_count=r.entry_count,
        rejected_count=r.rejected_count,
    )


def _enum(kind: Any, value: str | None) -> Any:
    return None if value is None else kind(value)


class HashRepo(Repo):
    # -- matching at ingest --------------------------------------------------------------

    @translate_errors
    def active_entries(self) -> list[StoredEntry]:
        q = select(
            entries_t.c.id,
            entries_t.c.hash_type,
            entries_t.c.value,
            entries_t.c.category,
            entries_t.c.age_band,
        ).join(lists_t, and_(lists_t.c.id == entries_t.c.list_id, lists_t.c.active))
        with self.read() as conn:
            return [
                StoredEntry(
                    r.id,
                    HashType(r.hash_type),
                    r.value,
                    complete_grade(_enum(Severity, r.category), _enum(AgeBand, r.age_band)),
                )
                for r in conn.execute(q)
            ]

    @translate_errors
    def group_candidates(self) -> list[Candidate]:
        """Undecided items with a usable PDQ that are ungrouped or a representative, and
        have no graded known match (those are confirmed, not grouped)."""
        graded_match = (
            select(matches_t.c.item_id)
            .join(entries_t, entries_t.c.id == matches_t.c.entry_id)
            .where(entries_t.c.category.is_not(None))
        )
        q = (
            select(items.c.id, media_t.c.pdq, members_t.c.group_id)
            .join(media_t, media_t.c.id == items.c.media_id)
            .outerjoin(members_t, members_t.c.item_id == items.c.id)
            .outerjoin(groups_t, groups_t.c.id == members_t.c.group_id)
            .where(
                items.c.status != "decided",
                media_t.c.pdq.is_not(None),
                media_t.c.pdq_quality >= PDQ_MIN_QUALITY,
                or_(
                    members_t.c.item_id.is_(None),
                    groups_t.c.representative_item_id == items.c.id,
                ),
                items.c.id.not_in(graded_match),
            )
            .order_by(items.c.id)
        )
        with self.read() as conn:
            return [Candidate(r.id, bytes.fromhex(r.pdq), r.group_id) for r in conn.execute(q)]

    @translate_errors
    def graded_pdqs(self) -> list[GradedPdq]:
        """Decided items with a usable PDQ, each with its latest decision's severity."""
        latest = select(func.max(decisions.c.id)).group_by(decisions.c.item_id)
        q = (
            select(items.c.id, media_t.c.pdq, decisions.c.severity)
            .join(media_t, media_t.c.id == items.c.media_id)
            .join(decisions, decisions.c.item_id == items.c.id)
            .where(
                decisions.c.id.in_(latest),
                media_t.c.pdq.is_not(None),
                media_t.c.pdq_quality >= PDQ_MIN_QUALITY,
            )
            .order_by(items.c.id)
        )
        with self.read() as conn:
            return [
                GradedPdq(r.id, bytes.fromhex(r.pdq), Severity(r.severity)) for r in conn.execute(q)
            ]

    @translate_errors
    def record_item_hashes(
        self,
        item_id: int,
        hashes: MediaHashes,
        hits: Sequence[Hit],
        placement: Placement | None,
        hint: Severity | None = None,
    ) -> int | None:
        """Store the media's hashes, the item's matches and its group; the group id.
        The item's severity hint is raised to the matched entries' categories and
        `hint` (a decided near-duplicate's grade)."""
        with self.write() as conn:
            media_id = conn.execute(select(items.c.media_id).where(items.c.id == item_id)).scalar()
            if media_id is None:
                raise NotFound(f"item {item_id}")
            conn.execute(
                update(media_t)
                .where(media_t.c.id == media_id)
                .values(md5=hashes.md5, pdq=hashes.pdq_hex, pdq_quality=hashes.pdq_quality)
            )
            self._insert_matches(conn, item_id, hits)
            listed = self._listed_categories(conn, {item_id: hits}).get(item_id)
            self._raise_hints(conn, {item_id: combined([listed, hint])})
            group_id = None
            if placement is not None:
                group_id = self._place(conn, item_id, placement)
            if hits:
                self.audit(conn, None, "hash_matched", item_id, _hits_detail(hits))
            if group_id is not None:
                self.audit(
                    conn,
                    None,
                    "dup_grouped",
                    item_id,
                    {"group_id": group_id, "distance": placement.distance if placement else 0},
                )
            return group_id

    def _insert_matches(self, conn: Connection, item_id: int, hits: Sequence[Hit]) -> None:
        if hits:
            now = self.now_value(conn)
            conn.execute(
                insert(matches_t),
                [
                    {
                        "item_id": item_id,
                        "entry_id": h.entry_id,
                        "kind": h.kind,
                        "distance": h.distance,
                        "matched_at": now,
                    }
                    for h in hits
                ],
            )

    def _listed_categories(
        self, conn: Connection, hits: Mapping[int, Sequence[Hit]]
    ) -> dict[int, Severity]:
        """Per item, the most severe category among the list entries it matched."""
        entry_ids = sorted({h.entry_id for found in hits.values() for h in found})
        category: dict[int, Severity] = {}
        for chunk in _chunks(entry_ids):
            rows = conn.execute(
                select(entries_t.c.id, entries_t.c.category).where(
                    entries_t.c.id.in_(chunk), entries_t.c.category.is_not(None)
                )
            )
            category.update((r.id, Severity(r.category)) for r in rows)
        out: dict[int, Severity] = {}
        for item_id, found in hits.items():
            worst = combined(category.get(h.entry_id) for h in found)
            if worst is not None:
                out[item_id] = worst
        return out

    def _raise_hints(self, conn: Connection, hints: Mapping[int, Severity | None]) -> int:
        """Raise items' severity hints to `hints`; returns how many changed. A hint is
        never lowered (see reviewer/hints.py), and a decided item keeps what it had."""
        wanted = {i: h for i, h in hints.items() if h is not None}
        raised: dict[Severity, list[int]] = {}
        for chunk in _chunks(sorted(wanted)):
            rows = conn.execute(
                select(items.c.id, items.c.suspected_category).where(
                    items.c.id.in_(chunk), items.c.status != "decided"
                )
            )
            for r in rows:
                now = _enum(Severity, r.suspected_category)
                new = combined([now, wanted[r.id]])
                if new is not None and new != now:
                    raised.setdefault(new, []).append(r.id)
        for severity, ids in raised.items():
            for chunk in _chunks(ids):
                conn.execute(
                    update(items)
                    .where(items.c.id.in_(chunk))
                    .values(suspected_category=severity.value)
                )
        return sum(len(ids) for ids in raised.values())

    def _place(self, conn: Connection, item_id: int, placement: Placement) -> int | None:
        already = conn.execute(
            select(members_t.c.group_id).where(members_t.c.item_id == item_id)
        ).scalar()
        if already is not None:
            return int(already)
        group_id = placement.group_id
        if group_id is None and placement.partner_item_id is not None:
            partner = placement.partner_item_id
            # Another ingest may have grouped the partner meanwhile: join that group.
            group_id = conn.execute(
                select(members_t.c.group_id).where(members_t.c.item_id == partner)
            ).scalar()
            if group_id is None:
                group_id = conn.execute(
                    insert(groups_t)
                    .values(
                        representative_item_id=partner,
                        created_at=self.now(),
                        max_distance=placement.distance,
                    )
                    .returning(groups_t.c.id)
                ).scalar_one()
                conn.execute(
                    insert(members_t).values(
                        item_id=partner, group_id=group_id, distance=0, joined_at=self.now()
                    )
                )
        if group_id is None:
            return None
        conn.execute(
            insert(members_t).values(
                item_id=item_id,
                group_id=group_id,
                distance=placement.distance,
                joined_at=self.now(),
            )
        )
        conn.execute(
            update(groups_t)
            .where(groups_t.c.id == group_id, groups_t.c.max_distance < placement.distance)
            .values(max_distance=placement.distance)
        )
        return int(group_id)

    # -- lists ----------------------------------------------------------------------------

    @translate_errors
    def import_list(
        self,
        name: str,
        source_org: str,
        file_name: str,
        file_sha256: str,
        entries: Sequence[HashListEntry],
        rejected: int,
        user_id: int | None,
    ) -> tuple[HashListInfo, int | None]:
        """The next version of `name`, made active in the same transaction that retires
        the previous one (kept, with its entries and the matches that cite them)."""
        with self.write() as conn:
            previous = conn.execute(
                select(lists_t.c.id, lists_t.c.version)
                .where(lists_t.c.name == name)
                .order_by(lists_t.c.version.desc())
                .limit(1)
            ).first()
            replaced = conn.execute(
                update(lists_t)
                .where(lists_t.c.name == name, lists_t.c.active)
                .values(active=False)
                .returning(lists_t.c.version)
            ).scalar()
            version = 1 if previous is None else previous.version + 1
            list_id = conn.execute(
                insert(lists_t)
                .values(
                    name=name,
                    source_org=source_org,
                    version=version,
                    active=True,
                    imported_at=self.now(),
                    imported_by=user_id,
                    file_name=file_name[:255],
                    file_sha256=file_sha256,
                    entry_count=len(entries),
                    rejected_count=rejected,
                )
                .returning(lists_t.c.id)
            ).scalar_one()
            for chunk in _chunks(list(entries)):
                conn.execute(
                    insert(entries_t),
                    [
                        {
                            "list_id": list_id,
                            "hash_type": e.hash_type.value,
                            "value": e.value,
                            "source": e.source,
                            "category": None if e.category is None else e.category.value,
                            "age_band": None if e.age_band is None else e.age_band.value,
                            "quality": e.quality,
                            "line": e.line,
                        }
                        for e in chunk
                    ],
                )
            info = _list_info(conn.execute(select(lists_t).where(lists_t.c.id == list_id)).one())
            self.audit(
                conn,
                user_id,
                "hashlist_imported",
                None,
                {
                    "list_id": list_id,
                    "name": name,
                    "source_org": source_org,
                    "version": version,
                    "replaced_version": replaced,
                    "file_name": file_name,
                    "file_sha256": file_sha256,
                    "entries": len(entries),
                    "rejected": rejected,
                },
            )
            return info, replaced

    @translate_errors
    def lists(self, name: str | None = None) -> list[HashListInfo]:
        q = select(lists_t).order_by(lists_t.c.name, lists_t.c.version)
        if name is not None:
            q = q.where(lists_t.c.name == name)
        with self.read() as conn:
            return [_list_info(r) for r in conn.execute(q)]

    @translate_errors
    def pending_item_hashes(self) -> list[tuple[int, MediaHashes]]:
        q = (
            select(
                items.c.id, media_t.c.sha256, media_t.c.md5, media_t.c.pdq, media_t.c.pdq_quality
            )
            .join(media_t, media_t.c.id == items.c.media_id)
            .where(items.c.status == "pending", media_t.c.md5.is_not(None))
            .order_by(items.c.id)
        )
        with self.read() as conn:
            return [(r.id, _media_hashes(r)) for r in conn.execute(q)]

    @translate_errors
    def stored_images(self, after_media_id: int, limit: int) -> list[tuple[int, MediaHashes]]:
        """Still images that were hashed at ingest, by media id after `after_media_id`:
        the re-hash walks them in pages so that no transaction holds the whole store."""
        q = (
            select(
                media_t.c.id,
                media_t.c.sha256,
                media_t.c.md5,
                media_t.c.pdq,
                media_t.c.pdq_quality,
            )
            .where(
                media_t.c.id > after_media_id,
                media_t.c.kind == "image",
                media_t.c.md5.is_not(None),
            )
            .order_by(media_t.c.id)
            .limit(limit)
        )
        with self.read() as conn:
            return [(r.id, _media_hashes(r)) for r in conn.execute(q)]

    @translate_errors
    def update_pdqs(
        self,
        user_id: int | None,
        changed: Sequence[tuple[int, MediaHashes]],
        detail: dict[str, Any],
    ) -> None:
        """Store re-computed PDQ hashes (one page of a re-hash) and audit the page."""
        with self.write() as conn:
            for media_id, hashes in changed:
                conn.execute(
                    update(media_t)
                    .where(media_t.c.id == media_id, media_t.c.sha256 == hashes.sha256)
                    .values(pdq=hashes.pdq_hex, pdq_quality=hashes.pdq_quality)
                )
            self.audit(conn, user_id, "media_rehashed", None, dict(detail))

    @translate_errors
    def replace_pending_matches(self, hits: dict[int, list[Hit]], user_id: int | None) -> int:
        """Replace the matches of items still pending (the others keep theirs, which
        cite the list versions they were decided under)."""
        with self.write() as conn:
            still: set[int] = set()
            for chunk in _chunks(list(hits)):
                still.update(
                    conn.execute(
                        select(items.c.id).where(items.c.id.in_(chunk), items.c.status == "pending")
                    ).scalars()
                )
            ids = sorted(still)
            for chunk in _chunks(ids):
                conn.execute(delete(matches_t).where(matches_t.c.item_id.in_(chunk)))
            stored = 0
            for item_id in ids:
                self._insert_matches(conn, item_id, hits[item_id])
                stored += len(hits[item_id])
            self._raise_hints(conn, self._listed_categories(conn, {i: hits[i] for i in ids}))
            matched = sum(1 for i in ids if hits[i])
            self.audit(
                conn,
                user_id,
                "hashlist_rematched",
                None,
                {"pending_items": len(ids), "items_matched": matched, "matches": stored},
            )
            return stored

    @translate_errors
    def known_matches(self, item_id: int) -> list[KnownMatch]:
        q = (
            select(
                matches_t.c.entry_id,
                matches_t.c.kind,
                matches_t.c.distance,
                entries_t.c.hash_type,
                entries_t.c.category,
                entries_t.c.age_band,
                entries_t.c.source.label("entry_source"),
                entries_t.c.line,
                lists_t,
            )
            .join(entries_t, entries_t.c.id == matches_t.c.entry_id)
            .join(lists_t, lists_t.c.id == entries_t.c.list_id)
            .where(matches_t.c.item_id == item_id)
            .order_by(matches_t.c.distance, matches_t.c.id)
        )
        with self.read() as conn:
            return [
                KnownMatch(
                    item_id=item_id,
                    entry_id=r.entry_id,
                    kind=r.kind,
                    hash_type=HashType(r.hash_type),
                    distance=r.distance,
                    category=_enum(Severity, r.category),
                    age_band=_enum(AgeBand, r.age_band),
                    entry_source=r.entry_source,
                    line=r.line,
                    hash_list=_list_info(r),
                )
                for r in conn.execute(q)
            ]

    # -- groups ---------------------------------------------------------------------------

    def _group(self, conn: Connection, group_id: int) -> DupGroup:
        g = conn.execute(select(groups_t).where(groups_t.c.id == group_id)).one()
        rows = conn.execute(
            select(members_t.c.item_id, members_t.c.distance, items.c.status, media_t.c.sha256)
            .join(items, items.c.id == members_t.c.item_id)
            .join(media_t, media_t.c.id == items.c.media_id)
            .where(members_t.c.group_id == group_id)
            .order_by(members_t.c.distance, members_t.c.item_id)
        )
        members = tuple(
            GroupMember(
                r.item_id, r.distance, r.status, r.sha256, r.item_id == g.representative_item_id
            )
            for r in rows
        )
        return DupGroup(g.id, g.representative_item_id, g.max_distance, members)

    @translate_errors
    def group_of(self, item_id: int) -> DupGroup | None:
        with self.read() as conn:
            gid = conn.execute(
                select(members_t.c.group_id).where(members_t.c.item_id == item_id)
            ).scalar()
            return None if gid is None else self._group(conn, int(gid))

    @translate_errors
    def hint_group_members(self, item_id: int) -> int:
        """After a decision on `item_id`: raise the severity hint of its group's members
        not yet decided to that grade; returns how many hints changed."""
        with self.write() as conn:
            severity = conn.execute(
                select(decisions.c.severity)
                .where(decisions.c.item_id == item_id)
                .order_by(decisions.c.id.desc())
                .limit(1)
            ).scalar()
            group_id = conn.execute(
                select(members_t.c.group_id).where(members_t.c.item_id == item_id)
            ).scalar()
            if severity is None or group_id is None:
                return 0
            others = conn.execute(
                select(members_t.c.item_id).where(
                    members_t.c.group_id == group_id, members_t.c.item_id != item_id
                )
            ).scalars()
            return self._raise_hints(conn, dict.fromkeys(others, Severity(severity)))

    @translate_errors
    def settle_group(
        self,
        check: Check,
        group_id: int,
        from_item_id: int,
        item_ids: Sequence[int],
        detached: Sequence[int] = (),
    ) -> Propagated:
        """What the moderator chose in the group grid, in ONE transaction: the members
        in `detached` leave the group (to be graded alone), and each pending member of
        `item_ids` gets `from_item_id`'s latest grade: per member a claim opened and
        closed at once, a decision, a zero exposure record (nothing of it was shown
        unprotected) and its own audit event. Members no longer pending (someone holds
        or decided them) and members of a restricted queue the moderator has no access
        to are skipped, never overwritten.

        The gate (`check`, PROPAGATE_GROUP on `from_item_id`) decides in the same
        transaction: the moderator's role and vetting, access to the item's queue, and
        that the grade handed on is the moderator's own decision."""
        with self.write() as conn:
            granted = self.store.gate.enforce(conn, check)
            user_id = granted.account.id
            gone = self._detach(conn, group_id, detached)
            blocked = granted.blocked_queues
            member_of = dict(
                conn.execute(
                    select(members_t.c.item_id, members_t.c.group_id).where(
                        members_t.c.item_id.in_([from_item_id, *item_ids])
                    )
                ).all()
            )
            if member_of.get(from_item_id) != group_id:
                raise ValueError(f"item {from_item_id} is not in group {group_id}")
            source = conn.execute(
                select(decisions)
                .where(decisions.c.item_id == from_item_id)
                .order_by(decisions.c.id.desc())
                .limit(1)
            ).first()
            if source is None:
                raise ValueError(f"item {from_item_id} has no decision to propagate")
            grade = {c: getattr(source, c) for c in _GRADE_COLUMNS}
            decided: list[int] = []
            skipped: list[int] = []
            events: list[tuple[int, dict[str, Any]]] = []
            for item_id in dict.fromkeys(item_ids):
                if item_id == from_item_id or member_of.get(item_id) != group_id:
                    skipped.append(item_id)
                    continue
                pending = and_(items.c.id == item_id, items.c.status == "pending")
                if blocked:
                    pending = and_(pending, items.c.queue_id.not_in(sorted(blocked)))
                # The claim lifecycle, whole, in this transaction: claim the member,
                # decide on that claim, close it. Same statements on both backends; on a
                # team server each passes the policies the review path passes (a
                # moderator may take a pending item, decide on its own claim, and sees
                # the decided item through that claim).
                now = self.now_value(conn)
                took = conn.execute(
                    update(items)
                    .where(pending)
                    .values(status="claimed", claimed_by=user_id, lease_expires_at=now)
                ).rowcount
                if not took:
                    skipped.append(item_id)
                    continue
                claim_id = conn.execute(
                    insert(claims)
                    .values(item_id=item_id, user_id=user_id, claimed_at=now, expires_at=now)
                    .returning(claims.c.id)
                ).scalar_one()
                conn.execute(
                    insert(exposures).values(
                        item_id=item_id,
                        user_id=user_id,
                        claim_id=claim_id,
                        recorded_at=now,
                        seconds_revealed=0.0,
                        reveal_count=0,
                        max_area_fraction=0.0,
                        full_unprotected=False,
                    )
                )
                note = (
                    f"Grade confirmed from the protected group grid: near-duplicate of item "
                    f"#{from_item_id} (group {group_id})."
                )
                did = conn.execute(
                    insert(decisions)
                    .values(
                        client_token=str(uuid.uuid4()),
                        item_id=item_id,
                        user_id=user_id,
                        claim_id=claim_id,
                        decided_at=now,
                        note=note,
                        basis=GradeBasis.PROPAGATED.value,
                        **grade,
                    )
                    .returning(decisions.c.id)
                ).scalar_one()
                conn.execute(
                    update(items)
                    .where(items.c.id == item_id)
                    .values(status="decided", claimed_by=None, lease_expires_at=None, claim_id=None)
                )
                conn.execute(
                    update(claims)
                    .where(claims.c.id == claim_id)
                    .values(closed_at=now, outcome="decided")
                )
                decided.append(item_id)
                events.append(
                    (
                        item_id,
                        {
                            "decision_id": did,
                            "claim_id": claim_id,
                            "group_id": group_id,
                            "from_item_id": from_item_id,
                            "from_decision_id": source.id,
                            "grading": {
                                **grade,
                                "note": note,
                                "basis": GradeBasis.PROPAGATED.value,
                            },
                            "exposure": {
                                "seconds_revealed": 0.0,
                                "reveal_count": 0,
                                "max_area_fraction": 0.0,
                                "full_unprotected": False,
                            },
                        },
                    )
                )
            for item_id in gone:
                self.audit(conn, user_id, "group_member_detached", item_id, {"group_id": group_id})
            for item_id, detail in events:
                self.audit(conn, user_id, "group_decision", item_id, detail)
            return Propagated(tuple(decided), tuple(skipped))

    def _detach(self, conn: Connection, group_id: int, item_ids: Sequence[int]) -> list[int]:
        """Take `item_ids` out of the group (never its representative); those taken out,
        for the caller to audit last."""
        if not item_ids:
            return []
        rep = conn.execute(
            select(groups_t.c.representative_item_id).where(groups_t.c.id == group_id)
        ).scalar()
        if rep is None:
            raise NotFound(f"group {group_id}")
        gone = conn.execute(
            delete(members_t)
            .where(
                members_t.c.group_id == group_id,
                members_t.c.item_id.in_(list(item_ids)),
                members_t.c.item_id != rep,
            )
            .returning(members_t.c.item_id)
        ).scalars()
        return list(gone)

    @translate_errors
    def flag_disagreements(self) -> int:
        """Flag every decision on a group member whose grade (severity, age band)
        differs from the group's first decision; returns flags added."""
        with self.write() as conn:
            rows = conn.execute(
                select(
                    members_t.c.group_id,
                    decisions.c.id,
                    decisions.c.item_id,
                    decisions.c.severity,
                    decisions.c.age_band,
                )
                .join(decisions, decisions.c.item_id == members_t.c.item_id)
                .order_by(members_t.c.group_id, decisions.c.id)
            ).all()
            done = set(conn.execute(select(flags_t.c.decision_id)).scalars())
            first: dict[int, Any] = {}
            new: list[dict[str, Any]] = []
            for r in rows:
                base = first.setdefault(r.group_id, r)
                if r is base or r.id in done:
                    continue
                if (r.severity, r.age_band) != (base.severity, base.age_band):
                    new.append(
                        {
                            "group_id": r.group_id,
                            "item_id": r.item_id,
                            "decision_id": r.id,
                            "reason": (
                                f"item #{r.item_id} graded {r.severity}/{r.age_band or '-'}; "
                                f"the group was graded {base.severity}/{base.age_band or '-'} "
                                f"(item #{base.item_id}, decision {base.id})"
                            ),
                        }
                    )
            for flag in new:
                conn.execute(insert(flags_t).values(flagged_at=self.now(), **flag))
            for flag in new:
                self.audit(conn, None, "dup_group_flagged", flag["item_id"], flag)
            return len(new)

    @translate_errors
    def group_flags(self, unresolved_only: bool = True) -> list[GroupFlag]:
        q = select(flags_t).order_by(flags_t.c.id)
        if unresolved_only:
            q = q.where(flags_t.c.resolved_at.is_(None))
        with self.read() as conn:
            return [
                GroupFlag(r.id, r.group_id, r.item_id, r.decision_id, r.flagged_at, r.reason)
                for r in conn.execute(q)
            ]

    # -- export ---------------------------------------------------------------------------

    @translate_errors
    def confirmed_items(self) -> ConfirmedExport:
        """What may leave: media of items whose category (reviewer/consensus.py) is
        A/B/C and enough independent grades agree, once per media; the setting as read
        in the same transaction, the Category A/B/C items held back and why, and how
        many exportable items lack hashes (ingested before hashes were recorded)."""
        with self.read() as conn:
            needed = settings_in(conn).export_grades_needed
            # Items with any Category A/B/C grade (decision, re-grade or adjudication):
            # only those can end up exportable.
            candidates = (
                select(decisions.c.item_id)
                .where(decisions.c.severity.in_(_CONFIRMED))
                .union(
                    select(qa_samples.c.item_id)
                    .join(qa_grades, qa_grades.c.sample_id == qa_samples.c.id)
                    .where(qa_grades.c.severity.in_(_CONFIRMED)),
                    select(qa_samples.c.item_id)
                    .join(adjudications, adjudications.c.sample_id == qa_samples.c.id)
                    .where(adjudications.c.severity.in_(_CONFIRMED)),
                )
                .subquery()
            )
            ids = select(candidates.c.item_id)
            rows = conn.execute(
                select(
                    decisions.c.item_id,
                    decisions.c.user_id,
                    decisions.c.severity,
                    decisions.c.age_band,
                    decisions.c.basis,
                    decisions.c.decided_at,
                )
                .where(decisions.c.item_id.in_(ids))
                .order_by(decisions.c.id)
            ).all()
            qa_rows = conn.execute(
                select(
                    qa_samples.c.item_id,
                    qa_samples.c.status,
                    qa_grades.c.qa_user_id,
                    qa_grades.c.severity,
                    qa_grades.c.graded_at,
                )
                .outerjoin(qa_grades, qa_grades.c.sample_id == qa_samples.c.id)
                .where(qa_samples.c.item_id.in_(ids))
            ).all()
            adj_rows = conn.execute(
                select(
                    qa_samples.c.item_id,
                    adjudications.c.lead_id,
                    adjudications.c.severity,
                    adjudications.c.age_band,
                    adjudications.c.decided_at,
                )
                .join(adjudications, adjudications.c.sample_id == qa_samples.c.id)
                .where(qa_samples.c.item_id.in_(ids))
                .order_by(adjudications.c.decided_at, adjudications.c.id)
            ).all()
            media_of = {
                r.id: r
                for chunk in _chunks(sorted({r.item_id for r in rows}))
                for r in conn.execute(
                    select(
                        items.c.id,
                        media_t.c.sha256,
                        media_t.c.md5,
                        media_t.c.pdq,
                        media_t.c.pdq_quality,
                    )
                    .join(media_t, media_t.c.id == items.c.media_id)
                    .where(items.c.id.in_(chunk))
                )
            }
        votes: dict[int, list[Vote]] = {}
        latest: dict[int, Any] = {}
        for r in rows:
            latest[r.item_id] = r  # ordered by id: the last one is the latest
            if r.basis == GradeBasis.ASSESSED.value:
                votes.setdefault(r.item_id, []).append(
                    Vote(r.user_id, Severity(r.severity), r.decided_at, VoteKind.DECISION)
                )
        disputed: set[int] = set()
        for g in qa_rows:
            if g.status == "disputed":
                disputed.add(g.item_id)
            if g.qa_user_id is not None:
                votes.setdefault(g.item_id, []).append(
                    Vote(g.qa_user_id, Severity(g.severity), g.graded_at, VoteKind.QA_GRADE)
                )
        ruling: dict[int, Any] = {}
        for a in adj_rows:
            ruling[a.item_id] = a  # ordered by time: the last one is the latest
            votes.setdefault(a.item_id, []).append(
                Vote(a.lead_id, Severity(a.severity), a.decided_at, VoteKind.ADJUDICATION)
            )
        out: dict[str, ConfirmedItem] = {}
        held: list[HeldItem] = []
        missing = 0
        for item_id, decision in latest.items():
            adj = ruling.get(item_id)
            verdict = consensus(
                Severity(decision.severity),
                None if adj is None else Severity(adj.severity),
                votes.get(item_id, ()),
                needed,
                item_id in disputed,
            )
            if not verdict.category.is_category:
                continue
            if not verdict.exportable:
                held.append(HeldItem(item_id, verdict))
                continue
            m = media_of[item_id]
            if m.md5 is None:
                missing += 1
                continue
            band = (adj if adj is not None else decision).age_band
            item = ConfirmedItem(
                _media_hashes(m), verdict.category, _enum(AgeBand, band), verdict.agreed
            )
            # One row set per media: the item with the most agreement speaks for it.
            prior = out.get(m.sha256)
            if prior is None or verdict.agreed > (prior.agreed or 0):
                out[m.sha256] = item
        return ConfirmedExport(list(out.values()), needed, tuple(held), missing)

    @translate_errors
    def record_export(self, user_id: int | None, detail: dict[str, object]) -> None:
        with self.write() as conn:
            self.audit(conn, user_id, "hashlist_exported", None, dict(detail))


def _media_hashes(r: Any) -> MediaHashes:
    return MediaHashes(
        sha256=r.sha256,
        md5=r.md5,
        pdq=None if r.pdq is None else bytes.fromhex(r.pdq),
        pdq_quality=r.pdq_quality,
    )


def _hits_detail(hits: Sequence[Hit]) -> dict[str, Any]:
    return {
        "matches": [
            {"entry_id": h.entry_id, "kind": h.kind, "distance": h.distance} for h in hits[:20]
        ],
        "count": len(hits),
    }
