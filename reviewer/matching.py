"""Show less: known-hash matching and near-duplicate groups (no Qt, no SQL).

- At ingest every item's media is hashed (SHA-256, MD5, PDQ) and matched against the
  active versions of all imported hash lists: exact digests by lookup, PDQ within
  `radius` bits (only for PDQ quality >= PDQ_MIN_QUALITY, as Meta advises).
- Items with no graded known match and a usable PDQ are placed in near-duplicate
  groups: an item joins the group of the nearest representative within `radius`; if
  the nearest undecided item is not yet grouped, the two start a group with the older
  one as representative. Only representatives and ungrouped items are searched, so a
  member is always within `radius` of its representative (no chaining).
- A match whose entry carries a complete grade goes to the "confirm known match" flow;
  a grade given to one item of a group is offered to the group's other pending members.
- Each also sets the item's severity hint (reviewer/hints.py): a matched entry's
  category, the grade of a decided item within `radius` (searched at ingest), and a
  group member's grade for the members still undecided (`ShowLess.group_after`).

The repository behind `HashPort` (db/hashes.py) does every write in one transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, TextIO

import numpy as np

from reviewer.consensus import Consensus
from reviewer.errors import MediaMissing
from reviewer.grading import GradeBasis, Grading
from reviewer.hash_index import DigestIndex, PdqIndex
from reviewer.hashing import PDQ_MATCH_DISTANCE, PDQ_MIN_QUALITY, MediaHashes, compute_hashes
from reviewer.hashlists import (
    MAX_SOURCE,
    ConfirmedItem,
    HashListEntry,
    HashType,
    ListRefused,
    ParseError,
    export_rows,
    parse_hash_list,
)
from reviewer.hints import combined
from reviewer.model import Claim, DecisionReceipt, Exposure, User
from reviewer.permissions import Check, Operation
from reviewer.untrusted import MAX_LIST_NAME, MAX_NOTE, text
from reviewer.vics import CAID_UK, CategoryTable, export_vics, is_vics, parse_vics
from reviewer.video_types import FramePdq
from reviewer.vocabulary import (
    Action,
    AgeBand,
    AgeConfidence,
    ProductionContext,
    Severity,
)

MatchKind = Literal["exact", "pdq"]
ListFormat = Literal["csv", "jsonl", "vics"]


def complete_grade(category: Severity | None, age_band: AgeBand | None) -> bool:
    """A list entry's grade is complete enough to confirm without a fresh assessment:
    a category, and for Category A/B/C a child's age band."""
    if category is None or category is Severity.NOT_ASSESSABLE:
        return False
    if category.is_category:
        return age_band is not None and age_band is not AgeBand.ADULT
    return True


# -- immutable data handed to services and the UI ------------------------------------


@dataclass(frozen=True)
class HashListInfo:
    """One imported version of a list: its provenance."""

    id: int
    name: str
    source_org: str
    version: int
    active: bool
    imported_at: datetime
    imported_by: int | None
    file_name: str
    file_sha256: str
    entry_count: int
    rejected_count: int


@dataclass(frozen=True)
class KnownMatch:
    """An item's match against one list entry, with the list's grade and provenance."""

    item_id: int
    entry_id: int
    kind: MatchKind
    hash_type: HashType
    distance: int
    category: Severity | None
    age_band: AgeBand | None
    entry_source: str
    line: int
    hash_list: HashListInfo

    @property
    def exact(self) -> bool:
        return self.kind == "exact"

    @property
    def graded(self) -> bool:
        return complete_grade(self.category, self.age_band)

    def describe(self) -> str:
        """'SHA-256 exact match' / 'PDQ perceptual match, 12 of 256 bits differ'."""
        if self.exact:
            return f"{self.hash_type.value.upper().replace('SHA256', 'SHA-256')} exact match"
        return f"PDQ perceptual match, {self.distance} of 256 bits differ"

    def provenance(self) -> str:
        lst = self.hash_list
        return f"{lst.name} v{lst.version} ({lst.source_org}), line {self.line}"


@dataclass(frozen=True)
class GroupMember:
    item_id: int
    distance: int
    status: str
    media_sha256: str
    representative: bool = False


@dataclass(frozen=True)
class DupGroup:
    id: int
    representative_item_id: int
    max_distance: int
    members: tuple[GroupMember, ...]

    def pending_except(self, item_id: int) -> tuple[GroupMember, ...]:
        return tuple(m for m in self.members if m.item_id != item_id and m.status == "pending")


@dataclass(frozen=True)
class GroupFlag:
    id: int
    group_id: int
    item_id: int
    decision_id: int
    flagged_at: datetime
    reason: str


@dataclass(frozen=True)
class Propagated:
    decided: tuple[int, ...]
    # Members no longer pending (claimed by someone, or already decided): left alone.
    skipped: tuple[int, ...]


@dataclass(frozen=True)
class ImportReport:
    hash_list: HashListInfo
    errors: tuple[ParseError, ...]
    replaced_version: int | None
    rematched_items: int
    matches: int


@dataclass(frozen=True)
class HeldItem:
    """A Category A/B/C item kept out of the export, and the verdict that kept it."""

    item_id: int
    verdict: Consensus


@dataclass(frozen=True)
class ConfirmedExport:
    """What the repository hands the export: the items that may leave, the bar they
    met (the admin setting, read in the same transaction) and the items held back."""

    items: list[ConfirmedItem]
    grades_needed: int
    held: tuple[HeldItem, ...]
    without_hashes: int


@dataclass(frozen=True)
class ExportReport:
    items: int
    rows: int
    grades_needed: int
    held: tuple[HeldItem, ...]


@dataclass(frozen=True)
class RehashReport:
    checked: int  # still images whose bytes were read and hashed again
    changed: int  # of those, how many had a different PDQ (or quality) stored
    missing: tuple[str, ...]  # SHA-256 of media unreadable from the store (kept as stored)
    # SHA-256 of media the hasher now gets no PDQ from: their stored PDQ is kept rather
    # than dropped, so that a list entry still finds them.
    unhashable: tuple[str, ...]
    rematched_items: int
    matches: int


@dataclass(frozen=True)
class Hit:
    """One match found in memory, before it is stored."""

    entry_id: int
    kind: MatchKind
    distance: int


@dataclass(frozen=True)
class Placement:
    """Where a new item goes: joins `group_id`, or starts a group with `partner`."""

    distance: int
    group_id: int | None = None
    partner_item_id: int | None = None


@dataclass(frozen=True)
class StoredEntry:
    id: int
    hash_type: HashType
    value: str
    graded: bool


@dataclass(frozen=True)
class GradedPdq:
    """A decided item's usable PDQ and its latest grade: a near-duplicate's hint."""

    item_id: int
    pdq: bytes
    severity: Severity


@dataclass(frozen=True)
class Candidate:
    """An undecided item near-duplicates may attach to (a representative or a single)."""

    item_id: int
    pdq: bytes
    group_id: int | None


class HashPort(Protocol):
    """What db/hashes.HashRepo offers the services."""

    def active_entries(self) -> list[StoredEntry]: ...
    def group_candidates(self) -> list[Candidate]: ...
    def graded_pdqs(self) -> list[GradedPdq]: ...
    def record_item_hashes(
        self,
        item_id: int,
        hashes: MediaHashes,
        hits: Sequence[Hit],
        placement: Placement | None,
        hint: Severity | None = ...,
    ) -> int | None: ...
    def import_list(
        self,
        name: str,
        source_org: str,
        file_name: str,
        file_sha256: str,
        entries: Sequence[HashListEntry],
        rejected: int,
        user_id: int | None,
    ) -> tuple[HashListInfo, int | None]: ...
    def pending_item_hashes(self) -> list[tuple[int, MediaHashes]]: ...
    def stored_images(self, after_media_id: int, limit: int) -> list[tuple[int, MediaHashes]]: ...
    def update_pdqs(
        self,
        user_id: int | None,
        changed: Sequence[tuple[int, MediaHashes]],
        detail: dict[str, object],
    ) -> None: ...
    def replace_pending_matches(self, hits: dict[int, list[Hit]], user_id: int | None) -> int: ...
    def lists(self, name: str | None = None) -> list[HashListInfo]: ...
    def known_matches(self, item_id: int) -> list[KnownMatch]: ...
    def group_of(self, item_id: int) -> DupGroup | None: ...
    def hint_group_members(self, item_id: int) -> int: ...
    def settle_group(
        self,
        check: Check,
        group_id: int,
        from_item_id: int,
        item_ids: Sequence[int],
        detached: Sequence[int] = ...,
    ) -> Propagated: ...
    def flag_disagreements(self) -> int: ...
    def group_flags(self, unresolved_only: bool = True) -> list[GroupFlag]: ...
    def confirmed_items(self) -> ConfirmedExport: ...
    def record_export(self, user_id: int | None, detail: dict[str, object]) -> None: ...


class SubmitPort(Protocol):
    def submit_decision(
        self,
        claim: Claim,
        grading: Grading,
        exposure: Exposure,
        client_token: str,
        *,
        check: Check | None = ...,
    ) -> DecisionReceipt: ...


class DecisionPort(Protocol):
    """The unit of work as ShowLess uses it (db.store.Store): audit events, and the
    claim lifecycle's decision (a known match confirmed is a decision like any)."""

    @property
    def claims(self) -> SubmitPort: ...
    def record_event(
        self,
        user_id: int | None,
        kind: str,
        item_id: int | None = ...,
        detail: dict[str, object] | None = ...,
        *,
        check: Check | None = ...,
    ) -> None: ...


# -- matching in memory ---------------------------------------------------------------


class Matcher:
    """The active list entries, indexed: exact digests by lookup, PDQ by radius."""

    def __init__(self, entries: Iterable[StoredEntry], radius: int = PDQ_MATCH_DISTANCE) -> None:
        self.radius = radius
        self._exact = {HashType.MD5: DigestIndex(), HashType.SHA256: DigestIndex()}
        self._pdq = PdqIndex()
        pdq_hashes: list[bytes] = []
        pdq_ids: list[int] = []
        for e in entries:
            if e.hash_type is HashType.PDQ:
                pdq_hashes.append(bytes.fromhex(e.value))
                pdq_ids.append(e.id)
            else:
                self._exact[e.hash_type].add(bytes.fromhex(e.value), e.id)
        if pdq_ids:
            self._pdq.add(pdq_hashes, np.asarray(pdq_ids, np.int64))
            self._pdq.build()

    def match(self, hashes: MediaHashes) -> list[Hit]:
        hits = [
            Hit(i, "exact", 0)
            for i in self._exact[HashType.SHA256].lookup(bytes.fromhex(hashes.sha256))
        ]
        hits += [
            Hit(i, "exact", 0) for i in self._exact[HashType.MD5].lookup(bytes.fromhex(hashes.md5))
        ]
        if usable_pdq(hashes) and len(self._pdq):
            assert hashes.pdq is not None
            hits += [Hit(i, "pdq", d) for i, d in self._pdq.search(hashes.pdq, self.radius)]
        return hits


def usable_pdq(hashes: MediaHashes) -> bool:
    """Low-quality PDQ (flat, featureless pictures) matches unrelated pictures."""
    return hashes.pdq is not None and (hashes.pdq_quality or 0) >= PDQ_MIN_QUALITY


class Grouper:
    """Undecided representatives and ungrouped items, for placing new near-duplicates.

    Exact nearest search over the candidates: the index answers every candidate within
    `radius`, and the nearest wins (ties: the older item)."""

    def __init__(self, candidates: Iterable[Candidate], radius: int = PDQ_MATCH_DISTANCE) -> None:
        self.radius = radius
        self._index = PdqIndex()
        self._group: dict[int, int | None] = {}
        for c in candidates:
            self.add(c.item_id, c.pdq, c.group_id)

    def add(self, item_id: int, pdq: bytes, group_id: int | None) -> None:
        self._index.add([pdq], np.asarray([item_id], np.int64))
        self._group[item_id] = group_id

    def place(self, item_id: int, pdq: bytes) -> Placement | None:
        found = [(d, i) for i, d in self._index.search(pdq, self.radius) if i != item_id]
        if not found:
            return None
        distance, nearest = min(found)
        group_id = self._group[nearest]
        if group_id is not None:
            return Placement(distance, group_id=group_id)
        return Placement(distance, partner_item_id=nearest)

    def placed(
        self, item_id: int, pdq: bytes, placement: Placement | None, group_id: int | None
    ) -> None:
        """Record the outcome: a single stays searchable; a new group's partner becomes
        its representative; joining members are not searched (no chaining)."""
        if placement is None:
            self.add(item_id, pdq, None)
        elif placement.partner_item_id is not None:
            self._group[placement.partner_item_id] = group_id


class GradedNear:
    """Decided items' PDQs: a new item within `radius` of one is most likely the same
    picture, so the most severe such grade is its hint (decided items are not grouped:
    groups hold undecided items, to be graded together)."""

    def __init__(self, graded: Iterable[GradedPdq], radius: int = PDQ_MATCH_DISTANCE) -> None:
        self.radius = radius
        self._index = PdqIndex()
        self._severity: dict[int, Severity] = {}
        rows = list(graded)
        if rows:
            self._index.add([g.pdq for g in rows], np.asarray([g.item_id for g in rows], np.int64))
            self._index.build()
            self._severity = {g.item_id: g.severity for g in rows}

    def hint(self, pdq: bytes) -> Severity | None:
        if not self._severity:
            return None
        return combined(self._severity[i] for i, _d in self._index.search(pdq, self.radius))


# -- services -------------------------------------------------------------------------


class HashIngest:
    """The ingest hook: hash one new item, match it, place it in a group.

    Call as `hook(item_id, hashes)` from reviewer.ingest (the CLI or the database
    worker, never the GUI thread) with the hashes ingest computed (hashing.compute_hashes,
    possibly in a worker process). Lists and candidates are loaded once per ingest run."""

    def __init__(
        self,
        repo: HashPort,
        radius: int = PDQ_MATCH_DISTANCE,
        frame_pdqs: Callable[[str], Sequence[FramePdq]] | None = None,
    ) -> None:
        self._repo = repo
        self._radius = radius
        # A video's keyframe PDQs by its SHA-256 (stored by ingest just before this
        # hook runs); each keyframe is matched against the lists like a picture.
        self._frame_pdqs = frame_pdqs
        self._matcher: Matcher | None = None
        self._grouper: Grouper | None = None
        self._near: GradedNear | None = None
        self._graded: set[int] = set()

    def __call__(self, item_id: int, hashes: MediaHashes) -> None:
        if self._matcher is None or self._grouper is None or self._near is None:
            entries = self._repo.active_entries()
            self._graded = {e.id for e in entries if e.graded}
            self._matcher = Matcher(entries, self._radius)
            self._grouper = Grouper(self._repo.group_candidates(), self._radius)
            self._near = GradedNear(self._repo.graded_pdqs(), self._radius)
        hits = self._matcher.match(hashes)
        if hashes.pdq is None and self._frame_pdqs is not None:
            hits = _nearest_per_entry(hits + self._frame_hits(hashes.sha256))
        placement = None
        groupable = usable_pdq(hashes) and not any(h.entry_id in self._graded for h in hits)
        if groupable:
            assert hashes.pdq is not None
            placement = self._grouper.place(item_id, hashes.pdq)
        near = None
        if usable_pdq(hashes):
            assert hashes.pdq is not None
            near = self._near.hint(hashes.pdq)
        group_id = self._repo.record_item_hashes(item_id, hashes, hits, placement, near)
        if groupable:
            assert hashes.pdq is not None
            self._grouper.placed(item_id, hashes.pdq, placement, group_id)

    def _frame_hits(self, sha256: str) -> list[Hit]:
        assert self._matcher is not None and self._frame_pdqs is not None
        hits: list[Hit] = []
        for frame in self._frame_pdqs(sha256):
            as_picture = MediaHashes(sha256, "0" * 32, frame.pdq, frame.quality)
            hits += [h for h in self._matcher.match(as_picture) if h.kind == "pdq"]
        return hits


def _nearest_per_entry(hits: list[Hit]) -> list[Hit]:
    """One hit per list entry: exact before perceptual, then the nearest frame."""
    best: dict[int, Hit] = {}
    for h in hits:
        old = best.get(h.entry_id)
        if old is None or (h.kind == "exact", -h.distance) > (old.kind == "exact", -old.distance):
            best[h.entry_id] = h
    return list(best.values())


def import_hash_list(
    repo: HashPort,
    data: bytes,
    name: str,
    source_org: str,
    file_name: str,
    user_id: int | None = None,
    radius: int = PDQ_MATCH_DISTANCE,
    fmt: ListFormat | None = None,
    categories: CategoryTable = CAID_UK,
) -> ImportReport:
    """Import a list as the next version of `name` (replacing the active version
    atomically; old versions stay for provenance), then re-match pending items.

    `fmt` is detected when not given (VICS, JSON Lines, else CSV); `categories` reads
    a VICS list's category numbers. Raises ListRefused, changing nothing, if any row or
    entry is malformed or none is valid: a wrong or damaged file must not replace or
    thin out a working list. Notices (an unknown column, an entry VICS marks as not
    for matching) do not refuse the list."""
    text("name", name, MAX_LIST_NAME)
    text("source", source_org, MAX_SOURCE)
    name, source_org = name.strip(), source_org.strip()
    if not name or not source_org:
        raise ValueError("a hash list needs a name and a source organisation")
    entries, errors = _parse_list(data, fmt, categories, source_org)
    if any(e.skipped for e in errors) or not entries:
        if not any(e.skipped for e in errors):
            errors = [*errors, ParseError(0, "no valid rows")]
        raise ListRefused(file_name, errors)
    info, replaced = repo.import_list(
        name, source_org, file_name, hashlib.sha256(data).hexdigest(), entries, 0, user_id
    )
    rematched, matches = rematch_pending(repo, user_id, radius)
    return ImportReport(info, tuple(errors), replaced, rematched, matches)


def _parse_list(
    data: bytes, fmt: ListFormat | None, categories: CategoryTable, source_org: str
) -> tuple[list[HashListEntry], list[ParseError]]:
    if fmt == "vics" or (fmt is None and is_vics(data[:8192].decode("utf-8", "replace"))):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            return [], [ParseError(line, "not valid UTF-8 text")]
        return parse_vics(text, categories, source_org)
    return parse_hash_list(data, fmt)


def rematch_pending(
    repo: HashPort, user_id: int | None = None, radius: int = PDQ_MATCH_DISTANCE
) -> tuple[int, int]:
    """Match every pending item against the active lists again; (items, matches)."""
    matcher = Matcher(repo.active_entries(), radius)
    hits = {item_id: matcher.match(h) for item_id, h in repo.pending_item_hashes()}
    stored = repo.replace_pending_matches(hits, user_id)
    return len(hits), stored


def rehash_stored(
    repo: HashPort,
    read_media: Callable[[str], bytes],
    user_id: int | None = None,
    page: int = 200,
    radius: int = PDQ_MATCH_DISTANCE,
) -> RehashReport:
    """Compute every stored still image's PDQ again from its bytes, store the ones that
    differ, then match pending items again: after an upgrade of the hasher, old and new
    uploads of one picture carry the same hash. Idempotent; each page is one audited
    transaction, so an interrupted run resumes by running again.

    `read_media` returns a media's original bytes by SHA-256 and raises MediaMissing
    (also for a blob that fails its integrity check); such media keep their hash."""
    checked = changed = 0
    missing: list[str] = []
    unhashable: list[str] = []
    after = 0
    while rows := repo.stored_images(after, page):
        after = rows[-1][0]
        updates: list[tuple[int, MediaHashes]] = []
        for media_id, stored in rows:
            try:
                data = read_media(stored.sha256)
            except MediaMissing:
                missing.append(stored.sha256)
                continue
            fresh = compute_hashes(data)
            checked += 1
            if fresh.sha256 != stored.sha256:  # the store returned another file's bytes
                missing.append(stored.sha256)
                continue
            if fresh.pdq is None and stored.pdq is not None:
                unhashable.append(stored.sha256)
            elif (fresh.pdq, fresh.pdq_quality) != (stored.pdq, stored.pdq_quality):
                updates.append((media_id, fresh))
        changed += len(updates)
        repo.update_pdqs(
            user_id,
            updates,
            {"checked": len(rows), "changed": len(updates), "through_media_id": after},
        )
    rematched, matches = rematch_pending(repo, user_id, radius)
    return RehashReport(checked, changed, tuple(missing), tuple(unhashable), rematched, matches)


def export_confirmed(
    repo: HashPort,
    out: TextIO,
    fmt: ListFormat,
    source: str,
    user_id: int | None = None,
    categories: CategoryTable = CAID_UK,
) -> ExportReport:
    """Write the hashes of confirmed (Category A/B/C) items on which enough independent
    grades agree (reviewer/consensus.py); each row says how many agreed. Audited.
    `categories` numbers the categories of a VICS export."""
    confirmed = repo.confirmed_items()
    if fmt == "vics":
        rows = export_vics(confirmed.items, out, categories, source)
    else:
        rows = export_rows(confirmed.items, out, fmt, source)
    repo.record_export(
        user_id,
        {
            "format": fmt,
            "items": len(confirmed.items),
            "rows": rows,
            "source": source,
            "grades_needed": confirmed.grades_needed,
            "held_for_consensus": len(confirmed.held),
            "skipped_without_hashes": confirmed.without_hashes,
            **({"categories": categories.name} if fmt == "vics" else {}),
        },
    )
    return ExportReport(len(confirmed.items), rows, confirmed.grades_needed, confirmed.held)


CONFIRM_ACTIONS = frozenset({Action.REMOVE, Action.REPORT})


def grading_for(match: KnownMatch) -> Grading:
    """The decision a confirmed known match stores: the list's grade, the age band the
    list gives (confidence 'probable': the list's owner assessed it, not us), production
    context unknown, and a note naming the list and the match."""
    if not match.graded or match.category is None:
        raise ValueError("this match carries no complete grade to confirm")
    actions = CONFIRM_ACTIONS if match.category.is_category else frozenset({Action.REMOVE})
    category_ok = match.category.is_category
    return Grading(
        severity=match.category,
        age_band=match.age_band,
        age_confidence=AgeConfidence.PROBABLE if match.age_band else None,
        production_context=ProductionContext.UNKNOWN if category_ok else None,
        actions=actions if category_ok else frozenset(),
        note=(
            f"Confirmed known match without a fresh assessment: {match.describe()}; "
            f"list {match.provenance()}."
        ),
        basis=GradeBasis.KNOWN_LIST,
    ).validated()


@dataclass
class ShowLess:
    """What the review screen asks about known matches and groups, for one moderator.

    Every method blocks: call it from the database worker only."""

    repo: HashPort
    store: DecisionPort
    user: User  # the signed-in person this service was built for
    # Reads a member's encoded media by SHA-256, for the group grid's thumbnails.
    media_bytes: Callable[[str], bytes]

    def graded_matches(self, item_id: int) -> list[KnownMatch]:
        """Matches that could decide the item, nearest and exact first."""
        found = [m for m in self.repo.known_matches(item_id) if m.graded and m.hash_list.active]
        return sorted(found, key=lambda m: (not m.exact, m.distance, m.entry_id))

    def confirm(
        self, claim: Claim, match: KnownMatch, exposure: Exposure, client_token: str
    ) -> DecisionReceipt:
        """Store the list's grade as this moderator's decision (one transaction: decision,
        exposure, audit with the match's provenance in the note, lease closed)."""
        if match.item_id != claim.item.id:
            raise ValueError("the match belongs to another item")
        return self.store.claims.submit_decision(
            claim,
            grading_for(match),
            exposure,
            client_token,
            check=self._check(Operation.SUBMIT, claim_id=claim.claim_id),
        )

    def reject(self, claim: Claim, match: KnownMatch, reason: str = "") -> None:
        """The moderator does not accept the list's grade: audited; grade as usual."""
        text("reason", reason, MAX_NOTE)
        self.store.record_event(
            self.user.id,
            "known_match_rejected",
            claim.item.id,
            {
                "claim_id": claim.claim_id,
                "entry_id": match.entry_id,
                "kind": match.kind,
                "distance": match.distance,
                "list_id": match.hash_list.id,
                "reason": reason,
            },
            check=self._check(Operation.OPEN, claim_id=claim.claim_id),
        )

    def _check(self, op: Operation, **on: int | None) -> Check:
        return Check(self.user.id, self.user.name, op, **on)

    def group_after(self, item_id: int) -> DupGroup | None:
        """After a decision on `item_id`: its group if other members are still pending.
        The members not yet decided take the grade as their severity hint first, so
        claims treat them as what they most likely are even if nobody confirms it."""
        self.repo.hint_group_members(item_id)
        group = self.repo.group_of(item_id)
        if group is None or not group.pending_except(item_id):
            return None
        return group

    def settle(
        self,
        group_id: int,
        from_item_id: int,
        confirmed: Sequence[int],
        detached: Sequence[int] = (),
    ) -> Propagated:
        """The group grid's outcome, in one transaction: `confirmed` members take the
        grade of `from_item_id` (the moderator's own decision), `detached` members leave
        the group to be graded alone."""
        return self.repo.settle_group(
            self._check(Operation.PROPAGATE_GROUP, item_id=from_item_id),
            group_id,
            from_item_id,
            confirmed,
            detached,
        )

    def member_bytes(self, member: GroupMember) -> bytes:
        return self.media_bytes(member.media_sha256)

    def flags(self) -> list[GroupFlag]:
        """Groups whose members were graded differently, for a lead (sweeps first, so a
        disagreement is listed however the second decision was made)."""
        self.repo.flag_disagreements()
        return self.repo.group_flags()
