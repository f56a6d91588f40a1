"""Referral packages for reported decisions: build, store, list, export to a folder.

The pure builders are in reviewer/referral_model.py; this service feeds them from the store
(the item and its context, the decision with the "report" action, the exposure
ledger) and the media store (MD5 and PDQ are computed from the bytes in memory; the
bytes never go into a package), and hands the result to the repository, which stores
it with its audit event in one transaction.

Whether the company viewed a file comes from the exposure ledger only: viewed when
any person revealed it (in any claim, of any item with the same bytes); the time is
that of the first ledger entry with a reveal. The ledger records reveals per claim,
so that time is when the claim in which the file was first revealed ended (at most a
lease after the reveal itself). A file never revealed is reported as not viewed.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from io import BytesIO
from pathlib import Path
from typing import Protocol

from PIL import ExifTags, Image, UnidentifiedImageError

from reviewer.accounts import Account
from reviewer.destinations import (
    AlreadyReported,
    Destination,
    DestinationRules,
    DueState,
    Priority,
    PriorityTooLow,
    PriorReport,
    check_priority,
    due_at,
    due_state,
    refuse_duplicate,
    suggested_priority,
)
from reviewer.errors import MediaMissing, NotFound
from reviewer.grading import Grading
from reviewer.model import ItemView
from reviewer.permissions import Check, Operation
from reviewer.referral_context import chat_from, subject_from
from reviewer.referral_model import (
    IncidentType,
    ReferralCase,
    ReferralIncomplete,
    ReferralItem,
    Reporter,
    build_cybertip_xml,
    build_uk_referral,
    missing_fields,
)
from reviewer.vocabulary import Action, ProductionContext, Severity

__all__ = [
    "AlreadyReported",
    "AwaitingReferral",
    "DecisionFacts",
    "Destination",
    "IncidentType",
    "NewReferral",
    "NotReportable",
    "Priority",
    "PriorityTooLow",
    "Referral",
    "ReferralDeadlines",
    "ReferralIncomplete",
    "ReferralKind",
    "ReferralService",
    "ReferralSource",
    "ReferralsOverview",
    "ReportingSettings",
]


class ReferralKind(StrEnum):
    UK = "uk"  # UK police: JSON + readable summary, no images
    CYBERTIP = "cybertip"  # NCMEC CyberTipline-style XML

    @property
    def label(self) -> str:
        return "UK police" if self is ReferralKind.UK else "CyberTipline-style"

    @property
    def destination(self) -> Destination:
        return Destination.NCA if self is ReferralKind.UK else Destination.NCMEC


class NotReportable(ValueError):
    """The item has no decision with the "report" action (or no longer has its data)."""


@dataclass(frozen=True)
class ReportingSettings:
    """Who reports, and how long reported / non-illegal material is kept."""

    organisation: str = ""
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str | None = None
    report_hold_days: int = 90
    non_illegal_dispose_days: int = 30
    destinations: DestinationRules = field(default_factory=DestinationRules)

    @property
    def reporter(self) -> Reporter:
        return Reporter(
            self.organisation, self.contact_name, self.contact_email, self.contact_phone
        )


@dataclass(frozen=True)
class DecisionFacts:
    decision_id: int
    user_id: int
    decided_at: datetime
    grading: Grading


@dataclass(frozen=True)
class ReferralSource:
    """Everything the store holds that one item's referral is built from."""

    item: ItemView
    decision: DecisionFacts | None  # the latest decision with the "report" action
    viewed_by_company: bool  # from the exposure ledger, never assumed
    viewed_at: datetime | None
    personal_data_disposed: bool
    reporting: ReportingSettings
    prior: tuple[PriorReport, ...] = ()  # referrals already built for this item
    exif: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class NewReferral:
    reference: str
    kind: ReferralKind
    item_ids: tuple[int, ...]
    decision_id: int | None
    created_at: datetime
    complete: bool
    missing: tuple[str, ...]
    urgent: bool
    package: str  # JSON (uk) or XML (cybertip)
    summary: str | None  # the readable text (uk only)
    destination: Destination
    priority: Priority
    due_at: datetime | None
    incident_type: IncidentType


@dataclass(frozen=True)
class Referral:
    """A stored package. `package` and `summary` are None once personal data is disposed."""

    id: int
    reference: str
    kind: ReferralKind
    item_ids: tuple[int, ...]
    created_by: int | None
    created_by_name: str | None
    created_at: datetime
    complete: bool
    missing: tuple[str, ...]
    urgent: bool
    package: str | None
    summary: str | None
    exported_at: datetime | None
    disposed_at: datetime | None
    destination: Destination
    priority: Priority
    due_at: datetime | None
    incident_type: IncidentType | None

    @property
    def sent_at(self) -> datetime | None:
        """Exporting the package for the destination's route is sending it."""
        return self.exported_at

    @property
    def file_names(self) -> tuple[str, ...]:
        if self.kind is ReferralKind.UK:
            return (f"{self.reference}.json", f"{self.reference}.txt")
        return (f"{self.reference}.xml",)


@dataclass(frozen=True)
class AwaitingReferral:
    """An item graded "Report to authority" with no referral yet, and when one is due
    (for the default destination at the suggested priority)."""

    item_id: int
    decision_id: int
    decided_at: datetime
    decided_by: str | None
    severity: Severity
    urgent: bool
    destination: Destination
    priority: Priority
    due_at: datetime
    incident_type: IncidentType


@dataclass(frozen=True)
class ReferralsOverview:
    """What the Referrals window shows, read at one time `now` (the store's clock)."""

    now: datetime
    awaiting: tuple[AwaitingReferral, ...]
    referrals: tuple[Referral, ...]
    rules: DestinationRules = field(default_factory=DestinationRules)


@dataclass(frozen=True)
class ReferralDeadlines:
    """Counts for the lead dashboard: referrals waiting to be built or sent."""

    awaiting: int  # graded "Report to authority", no referral yet
    unsent: int  # built, not yet exported (sent)
    due_soon: int  # of both, due within reviewer.destinations.DUE_SOON
    overdue: int  # of both, past their due time

    @classmethod
    def of(cls, view: ReferralsOverview) -> ReferralDeadlines:
        states = [due_state(a.due_at, None, view.now) for a in view.awaiting]
        unsent = [r for r in view.referrals if r.sent_at is None]
        states += [due_state(r.due_at, None, view.now) for r in unsent]
        return cls(
            awaiting=len(view.awaiting),
            unsent=len(unsent),
            due_soon=states.count(DueState.DUE_SOON),
            overdue=states.count(DueState.OVERDUE),
        )


def incident_type_for(grading: Grading) -> IncidentType:
    """The incident type a grade suggests (the builder may choose another)."""
    ctx = grading.production_context
    if ctx is ProductionContext.TRAFFICKED:
        return IncidentType.CHILD_SEX_TRAFFICKING
    if ctx in (ProductionContext.GROOMED, ProductionContext.COERCED):
        return IncidentType.ONLINE_ENTICEMENT
    return IncidentType.CSAM


def priority_for(grading: Grading, urgent: bool) -> Priority:
    contact = grading.production_context in (
        ProductionContext.GROOMED,
        ProductionContext.COERCED,
        ProductionContext.TRAFFICKED,
    )
    return suggested_priority(urgent, grading.severity is Severity.A, contact)


def is_urgent(item_urgent: bool, grading: Grading) -> bool:
    return item_urgent or Action.ESCALATE_URGENT in grading.actions


class ReferralRepository(Protocol):
    """db.referrals.ReferralRepo; `check` is the gate's question, asked in the call's
    transaction."""

    def source(self, item_id: int, check: Check) -> ReferralSource: ...
    def awaiting(self, check: Check) -> list[AwaitingReferral]: ...
    def settings(self) -> ReportingSettings: ...
    def current_time(self) -> datetime: ...
    def save(self, new: NewReferral, check: Check) -> Referral: ...
    def get(self, referral_id: int, check: Check) -> Referral: ...
    def referrals(self, check: Check) -> list[Referral]: ...
    def mark_exported(
        self, referral_id: int, check: Check, folder: str, files: Sequence[str]
    ) -> Referral: ...


class MediaReader(Protocol):
    def get(self, sha256: str) -> bytes: ...


class _At:
    """A clock stopped at the time the store gave, so the package and its row agree."""

    def __init__(self, t: datetime) -> None:
        self._t = t

    def now(self) -> datetime:
        return self._t

    def monotonic(self) -> float:
        return 0.0


class ReferralService:
    """Referral packages for one signed-in person (leads and admins, by the matrix):
    who builds or exports is the account the service was built for, never an id from
    the caller, and the gate decides every call."""

    def __init__(self, repo: ReferralRepository, media: MediaReader, account: Account) -> None:
        self.repo = repo
        self.media = media
        self.account = account

    def _check(self, op: Operation) -> Check:
        return Check(self.account.id, self.account.name, op)

    def awaiting(self) -> list[AwaitingReferral]:
        """Items graded "Report to authority" with no referral yet, most urgent first."""
        return self.repo.awaiting(self._check(Operation.REFERRAL_READ))

    def overview(self) -> ReferralsOverview:
        """Awaiting items, stored referrals and the time their due states are read at."""
        now = self.repo.current_time()
        return ReferralsOverview(
            now,
            tuple(self.repo.awaiting(self._check(Operation.REFERRAL_READ))),
            tuple(self.repo.referrals(self._check(Operation.REFERRAL_READ))),
            self.repo.settings().destinations,
        )

    def deadlines(self) -> ReferralDeadlines:
        return ReferralDeadlines.of(self.overview())

    def settings(self) -> ReportingSettings:
        """The reporter block and the per-destination rules (for the build form)."""
        return self.repo.settings()

    # -- building ----------------------------------------------------------------------

    def case_for(self, item_id: int, reference: str = "") -> ReferralCase:
        """The referral case for one reported item (no checks for completeness)."""
        return self._case(item_id, reference)[0]

    def _case(
        self,
        item_id: int,
        reference: str,
        destination: Destination | None = None,
        priority: Priority | None = None,
        incident_type: IncidentType | None = None,
    ) -> tuple[ReferralCase, DecisionFacts]:
        src = self.repo.source(item_id, self._check(Operation.REFERRAL_BUILD))
        if src.decision is None:
            raise NotReportable(
                f"item {item_id} has no decision with the 'report' action; "
                "grade it and choose 'Report to authority' first"
            )
        if src.personal_data_disposed:
            raise NotReportable(
                f"item {item_id}'s personal data was disposed of under the retention rules; "
                "a referral can no longer be built"
            )
        item = src.item
        md5, pdq, exif = self._hashes(item.media.sha256)
        referral_item = ReferralItem(
            item_id=item.id,
            grading=src.decision.grading,
            sha256=item.media.sha256,
            md5=md5,
            pdq=pdq,
            file_name=_file_name(item),
            file_size=item.media.size_bytes,
            file_format=item.media.format,
            viewed_by_company=src.viewed_by_company,
            viewed_at=src.viewed_at if src.viewed_by_company else None,
            chat=chat_from(item.extra),
            url=_url(item),
            exif=exif,
        )
        narrative = f"Flag source: {item.source.label}."
        if item.report_text.strip():
            narrative += f" Flag text: {item.report_text.strip()}"
        grading = src.decision.grading
        urgent = is_urgent(item.imminent_risk, grading)
        dest = destination or src.reporting.destinations.default_destination
        level = check_priority(priority or priority_for(grading, urgent), urgent)
        case = ReferralCase(
            reference=reference,
            reporter=src.reporting.reporter,
            subject=subject_from(
                item.extra, item.reported_accounts, item.upload_ip, item.upload_time
            ),
            items=(referral_item,),
            urgent=item.imminent_risk,
            incident_type=incident_type or incident_type_for(grading),
            narrative=narrative,
            destination=dest,
            priority=level,
            due_at=due_at(src.reporting.destinations, dest, level, src.decision.decided_at),
        )
        return case, src.decision

    def missing(self, item_id: int) -> list[str]:
        """What a referral for this item would lack (empty: it is complete)."""
        return missing_fields(self.case_for(item_id, "check"))

    def build(
        self,
        item_id: int,
        destination: Destination | ReferralKind,
        *,
        priority: Priority | None = None,
        incident_type: IncidentType | None = None,
        allow_incomplete: bool = False,
    ) -> Referral:
        """Build, store and audit a package for `destination`.

        Raises ReferralIncomplete (with `.missing`) unless allow_incomplete,
        NotReportable without a "report" decision, PriorityTooLow for an urgent item
        below level 1, AlreadyReported when the item is already referred there or to a
        body whose report the destination's exemption accepts (checked again by the
        store inside the transaction that saves it)."""
        if isinstance(destination, ReferralKind):
            destination = destination.destination
        src = self.repo.source(item_id, self._check(Operation.REFERRAL_BUILD))
        refuse_duplicate(src.reporting.destinations, destination, src.prior)
        now = self.repo.current_time()
        kind = ReferralKind(destination.kind)
        reference = f"{destination.value.upper()}-{now:%Y%m%d}-{item_id}-{secrets.token_hex(3)}"
        case, decision = self._case(item_id, reference, destination, priority, incident_type)
        clock = _At(now)
        if kind is ReferralKind.UK:
            uk = build_uk_referral(case, clock, allow_incomplete=allow_incomplete)
            package, summary = uk.json(), uk.summary()
            complete, missing = uk.complete, uk.missing
        else:
            missing = tuple(missing_fields(case))
            if missing and not allow_incomplete:
                raise ReferralIncomplete(list(missing))
            package = build_cybertip_xml(case, clock, allow_incomplete=True).decode("utf-8")
            summary, complete = None, not missing
        assert case.priority is not None
        new = NewReferral(
            reference=reference,
            kind=kind,
            item_ids=(item_id,),
            decision_id=decision.decision_id,
            created_at=now,
            complete=complete,
            missing=tuple(missing),
            urgent=case.is_urgent,
            package=package,
            summary=summary,
            destination=destination,
            priority=case.priority,
            due_at=case.due_at,
            incident_type=case.effective_incident_type,
        )
        return self.repo.save(new, self._check(Operation.REFERRAL_BUILD))

    def _hashes(self, sha256: str) -> tuple[str | None, str | None, tuple[tuple[str, str], ...]]:
        """MD5, PDQ and EXIF of the media, read in memory; empty when it is gone."""
        try:
            data = self.media.get(sha256)
        except MediaMissing:
            return None, None, ()
        from reviewer.hashing import compute_hashes  # numpy/pdqhash only when needed

        h = compute_hashes(data)
        return h.md5, h.pdq_hex, exif_of(data)

    # -- listing and export --------------------------------------------------------------

    def referrals(self) -> list[Referral]:
        """Every stored package, urgent escalations first, then newest first."""
        return self.repo.referrals(self._check(Operation.REFERRAL_READ))

    def get(self, referral_id: int) -> Referral:
        return self.repo.get(referral_id, self._check(Operation.REFERRAL_READ))

    def export(self, referral_id: int, folder: Path) -> list[Path]:
        """Write the package into `folder` (chosen by the user) and nowhere else.

        Existing files are never overwritten; on any failure the files this call wrote
        are removed again. The export is audited and, the first time, marks the items
        as reported (the start of the report hold)."""
        ref = self.repo.get(referral_id, self._check(Operation.REFERRAL_EXPORT))
        if ref.package is None:
            raise NotReportable(
                f"referral {ref.reference}: its personal data was disposed of on "
                f"{ref.disposed_at:%Y-%m-%d}; there is nothing left to export"
            )
        folder = Path(folder)
        if not folder.is_dir():
            raise NotFound(f"no such folder: {folder}")
        contents = [ref.package]
        if ref.kind is ReferralKind.UK:
            contents.append(ref.summary or "")
        written: list[Path] = []
        try:
            for name, text in zip(ref.file_names, contents, strict=True):
                path = folder / name
                with open(path, "x", encoding="utf-8") as f:
                    written.append(path)
                    f.write(text)
        except FileExistsError as exc:
            _remove(written)
            raise FileExistsError(
                f"{exc.filename} already exists; choose another folder or move it away"
            ) from None
        except OSError:
            _remove(written)
            raise
        try:
            self.repo.mark_exported(
                referral_id,
                self._check(Operation.REFERRAL_EXPORT),
                str(folder),
                [p.name for p in written],
            )
        except Exception:
            _remove(written)  # not audited, so not exported: leave no trace on disk
            raise
        return written


MAX_EXIF_TAGS = 64
MAX_EXIF_VALUE = 200


def exif_of(data: bytes) -> tuple[tuple[str, str], ...]:
    """The file's EXIF tags as (name, text), read from its header without decoding the
    picture; bytes values (thumbnails, maker notes) are left out: no image data leaves."""
    try:
        with Image.open(BytesIO(data)) as im:
            exif = im.getexif()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return ()
    out: list[tuple[str, str]] = []
    for tag, value in list(exif.items())[:MAX_EXIF_TAGS]:
        if isinstance(value, bytes | bytearray):
            continue
        name = ExifTags.TAGS.get(tag, f"tag_{tag}")
        out.append((name, str(value)[:MAX_EXIF_VALUE]))
    return tuple(out)


def _url(item: ItemView) -> str | None:
    given = item.extra.get("url")
    return given.strip() if isinstance(given, str) and given.strip() else None


def _remove(paths: list[Path]) -> None:
    for p in paths:
        p.unlink(missing_ok=True)


def _file_name(item: ItemView) -> str:
    """The uploaded file's name if the manifest gave one, else one made from the hash."""
    given = item.extra.get("file_name")
    if isinstance(given, str) and given.strip():
        return given.strip()
    ext = (item.media.format or "bin").lower().replace("jpeg", "jpg")
    return f"{item.media.sha256}.{ext}"


def reportable(grading: Grading) -> bool:
    return Action.REPORT in grading.actions
