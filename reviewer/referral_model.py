"""Referral packages for law enforcement: the UK police form and a CyberTipline-style XML.

Inputs are plain frozen dataclasses filled by the caller (the store, from the item,
its account data and the exposure ledger); outputs are a `UkReferral` (structured JSON
plus a readable summary) and XML bytes valid against `schemas/cybertip_report.xsd`.

What a referral must carry comes from Section 5 / Appendix 6 of the UK Interim Code of
Practice (DOMAIN.md, "After the decision"): account email and phone, linked accounts,
upload IPs with times and ports, at least three recent login IPs with times and ports,
device IDs, and for chats the start/end times and the IP of each line; plus the
production context (peer/consensual vs grooming/coercion), which changes the
safeguarding response.

No image bytes, ever: no field here can hold bytes (checked at construction, because
Python does not enforce type hints), and base64-embedded images in free text such as
chat lines are replaced with a marker before anything is serialised. UK referrals to
the police never include images; a CyberTipline upload sends files separately.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import ipaddress
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from reviewer.clock import Clock
from reviewer.destinations import Destination, Priority
from reviewer.grading import Grading
from reviewer.vocabulary import Action, ProductionContext

CYBERTIP_NAMESPACE = "urn:x-reviewer:cybertip-style:1"
CYBERTIP_SCHEMA_VERSION = "1"
UK_FORMAT = "uk-csea-referral"
UK_FORMAT_VERSION = 2  # 2: destination, priority level, due time, SI 2026/268 fields
MIN_LOGIN_IPS = 3
EMBEDDED_IMAGE_MARKER = "[embedded image removed]"
# SI 2026/268 Schedule 1: a declaration that all the information reasonably available
# has been included (docs/REPORTING_RULES.md).
DECLARATION = (
    "The reporting organisation declares that all the information reasonably available "
    "to it that this report should contain has been included."
)


def cybertip_schema_path() -> Path:
    """The XSD the CyberTipline-style XML is built to (for validation by the caller)."""
    return Path(str(resources.files("reviewer.schemas") / "cybertip_report.xsd"))


class ReferralIncomplete(ValueError):
    """A package lacks required data; `missing` says exactly what."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("referral incomplete: " + "; ".join(missing))
        self.missing = missing


class IncidentType(StrEnum):
    """Incident types; derived from the production context unless chosen when building.

    Child sex trafficking (18 U.S.C. 1591, involving a minor) and enticement of a minor
    (18 U.S.C. 2422(b)) became reportable facts under 18 U.S.C. 2258A(a)(2)(A) with the
    REPORT Act (Pub. L. 118-59); docs/REPORTING_RULES.md.
    """

    CSAM = "apparent_csam"
    ONLINE_ENTICEMENT = "online_enticement"
    CHILD_SEX_TRAFFICKING = "child_sex_trafficking"

    @property
    def label(self) -> str:
        return _INCIDENT_LABELS[self]


_INCIDENT_LABELS = {
    IncidentType.CSAM: "Apparent child sexual abuse material",
    IncidentType.ONLINE_ENTICEMENT: "Enticement of a minor (18 U.S.C. 2422(b))",
    IncidentType.CHILD_SEX_TRAFFICKING: "Child sex trafficking (18 U.S.C. 1591)",
}


# --------------------------------------------------------------------------- guards
def _reject_bytes(obj: object) -> None:
    """Raise if any field of a referral dataclass holds bytes (image data never goes in)."""
    if not dataclasses.is_dataclass(obj):
        raise TypeError(f"not a referral dataclass: {type(obj).__name__}")
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        values = value if isinstance(value, tuple | list | frozenset | set) else (value,)
        for v in values:
            if isinstance(v, bytes | bytearray | memoryview):
                raise TypeError(
                    f"{type(obj).__name__}.{f.name} holds bytes; a referral never carries "
                    "media, only hashes and metadata"
                )


def _reject_naive(obj: object, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError(f"{type(obj).__name__}.{name} is naive; use UTC-aware times")


_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")
# Base64 may be wrapped at line ends (MIME style); continuation lines of 16+ characters
# go with the run, but a space or a short line ends it, so the words after an embedded
# image survive (a short final line left behind is under 12 bytes of nothing).
_B64_BODY = r"(?:\r?\n[A-Za-z0-9+/]{16,}={0,2})*"
_DATA_URI = re.compile(r"data:[\w.+/-]*;base64,[A-Za-z0-9+/]*={0,2}" + _B64_BODY, re.IGNORECASE)
_B64_RUN = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}" + _B64_BODY)
# Not allowed in XML 1.0 (and lone surrogates cannot be encoded as UTF-8).
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _looks_like_image(run: str) -> bool:
    head = run[:24]
    try:
        raw = base64.b64decode(head + "=" * (-len(head) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    if raw[4:8] == b"ftyp" or (raw[:4] == b"RIFF" and raw[8:12] == b"WEBP"):
        return True
    return raw.startswith(_IMAGE_MAGIC)


def clean_text(text: str) -> str:
    """Free text as it may leave the building: embedded images out, XML-safe."""
    text = _DATA_URI.sub(EMBEDDED_IMAGE_MARKER, text)
    text = _B64_RUN.sub(lambda m: EMBEDDED_IMAGE_MARKER if _looks_like_image(m[0]) else m[0], text)
    return _XML_BAD.sub("", text)


# ---------------------------------------------------------------------- input objects
@dataclass(frozen=True)
class Reporter:
    """The reporting organisation and the person law enforcement should call back."""

    organisation: str
    contact_name: str
    contact_email: str
    contact_phone: str | None = None

    def __post_init__(self) -> None:
        _reject_bytes(self)


@dataclass(frozen=True)
class IpEvent:
    """An IP address seen at a time on a port (an upload or a login)."""

    ip: str
    at: datetime | None
    port: int | None

    def __post_init__(self) -> None:
        _reject_bytes(self)
        _reject_naive(self, "at")


@dataclass(frozen=True)
class ReferralSubject:
    """The reported account. `login_ips` should be the most recent logins, newest first."""

    account_id: str
    email: str | None
    phone: str | None
    linked_accounts: tuple[str, ...] = ()
    upload_ips: tuple[IpEvent, ...] = ()
    login_ips: tuple[IpEvent, ...] = ()
    device_ids: tuple[str, ...] = ()
    # Descriptions of identity documents the provider holds for the user (SI 2026/268
    # Schedule 1: where the provider has any); never the documents themselves.
    identity_documents: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _reject_bytes(self)


@dataclass(frozen=True)
class ChatLine:
    """One line of the chat around an item."""

    at: datetime | None
    sender: str
    ip: str | None
    text: str

    def __post_init__(self) -> None:
        _reject_bytes(self)
        _reject_naive(self, "at")


@dataclass(frozen=True)
class ReferralItem:
    """One reported item: its grade, file facts and hashes, never its bytes.

    `viewed_by_company` / `viewed_at` must come from the exposure ledger (a real reveal
    by a person); there is deliberately no default. A known-hash match confirmed without
    viewing is False. The moderator's internal note in `grading` is not sent; text meant
    for the recipient goes in `comment`.
    """

    item_id: int
    grading: Grading
    sha256: str | None
    md5: str | None
    pdq: str | None
    file_name: str | None
    file_size: int | None
    file_format: str | None
    viewed_by_company: bool
    viewed_at: datetime | None
    publicly_available: bool | None = None
    chat: tuple[ChatLine, ...] = ()
    comment: str = ""
    # SI 2026/268 Schedule 1 content details, where available: the URL the content was
    # found at and its EXIF data (name, value) read from the file's metadata.
    url: str | None = None
    exif: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        _reject_bytes(self)
        _reject_naive(self, "viewed_at")
        if not isinstance(self.viewed_by_company, bool):
            raise TypeError("viewed_by_company must be True or False, from the exposure ledger")
        if not self.viewed_by_company and self.viewed_at is not None:
            raise ValueError("viewed_at given but viewed_by_company is False")


@dataclass(frozen=True)
class ReferralCase:
    """Everything one referral is built from."""

    reference: str
    reporter: Reporter
    subject: ReferralSubject
    items: tuple[ReferralItem, ...]
    urgent: bool = False  # child at immediate risk
    incident_type: IncidentType | None = None  # derived from the items when None
    narrative: str = ""
    destination: Destination | None = None
    priority: Priority | None = None
    due_at: datetime | None = None

    def __post_init__(self) -> None:
        _reject_bytes(self)
        _reject_naive(self, "due_at")

    @property
    def is_urgent(self) -> bool:
        """Urgent if the case says so or any item was escalated as a child at risk."""
        return self.urgent or any(Action.ESCALATE_URGENT in i.grading.actions for i in self.items)

    @property
    def effective_incident_type(self) -> IncidentType:
        if self.incident_type is not None:
            return self.incident_type
        contexts = {i.grading.production_context for i in self.items}
        if ProductionContext.TRAFFICKED in contexts:
            return IncidentType.CHILD_SEX_TRAFFICKING
        if contexts & {ProductionContext.GROOMED, ProductionContext.COERCED}:
            return IncidentType.ONLINE_ENTICEMENT
        return IncidentType.CSAM

    @property
    def incident_time(self) -> datetime | None:
        """The earliest upload (or, failing that, chat) time known."""
        times = [e.at for e in self.subject.upload_ips if e.at is not None]
        if not times:
            times = [c.at for i in self.items for c in i.chat if c.at is not None]
        return min(times) if times else None


# ------------------------------------------------------------------ normalised values
_HEX = re.compile(r"[0-9a-fA-F]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _hex(value: str | None, length: int) -> str | None:
    if value is None:
        return None
    v = value.strip()
    return v.lower() if len(v) == length and _HEX.fullmatch(v) else None


def _ip(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        addr = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    # A link-local zone ("%eth0") names the reporter's interface, not the subject's.
    return str(addr).split("%", 1)[0]


def _port(value: int | None) -> int | None:
    return value if isinstance(value, int) and 1 <= value <= 65535 else None


def _text(value: str | None) -> str | None:
    """Stripped, cleaned text, or None when blank (every string leaves through here)."""
    v = clean_text(value or "").strip()
    return v or None


def _email(value: str | None) -> str | None:
    v = _text(value)
    return v if v and _EMAIL.fullmatch(v) else None


def _iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


# ----------------------------------------------------------------------- completeness
def _missing_value(label: str, raw: str | None, normalised: str | None) -> list[str]:
    if not _text(raw):
        return [label]
    if normalised is None:
        return [f"valid {label} (got {raw!r})"]
    return []


def _missing_ip_events(kind: str, events: Sequence[IpEvent]) -> list[str]:
    out: list[str] = []
    for e in events:
        ip = _ip(e.ip)
        if ip is None:
            out.append(f"valid {kind} IP address (got {e.ip!r})")
            continue
        if e.at is None:
            out.append(f"{kind} IP time ({ip})")
        if _port(e.port) is None:
            out.append(
                f"{kind} IP port ({ip})" if e.port is None else f"valid {kind} IP port ({ip})"
            )
    return out


def _missing_for_item(item: ReferralItem) -> list[str]:
    g = item.grading
    out: list[str] = []
    if g.severity is None:
        out.append("severity")
    else:
        if not (g.severity.is_category or g.csea_related):
            out.append("a reportable grade (Category A/B/C or CSEA-related)")
        if g.severity.is_category:
            if g.age_band is None:
                out.append("age band")
            if g.age_confidence is None:
                out.append("age confidence")
    if g.production_context is None:
        out.append("production context")
    out += _missing_value("sha256", item.sha256, _hex(item.sha256, 64))
    out += _missing_value("md5", item.md5, _hex(item.md5, 32))
    if item.pdq is not None and _hex(item.pdq, 64) is None:
        out.append(f"valid pdq (got {item.pdq!r})")
    if not _text(item.file_name):
        out.append("file name")
    if item.file_size is None or item.file_size < 0:
        out.append("file size")
    if not _text(item.file_format):
        out.append("file format")
    if item.viewed_by_company and item.viewed_at is None:
        out.append("viewed-at time (the ledger says it was viewed)")
    for n, line in enumerate(item.chat, 1):
        if line.at is None:
            out.append(f"chat line {n} time")
        out += _missing_value(f"chat line {n} IP", line.ip, _ip(line.ip))
    return [f"item {item.item_id}: {m}" for m in out]


def missing_fields(case: ReferralCase) -> list[str]:
    """Exactly what the package lacks, in the order of the form; empty when complete.

    Required: reporter organisation, contact name and email; account ID, email and
    phone; at least one upload IP, each with time and port; at least three login IPs,
    each with time and port; at least one device ID; at least one item, each with a
    reportable grade (A/B/C, or Not illegal + CSEA-related), age band and confidence
    for A/B/C, production context, sha256, md5, file name, size and format, a viewed-at
    time when viewed, and a time and IP for every chat line. Linked accounts, PDQ, the
    contact phone and "publicly available" are included when known, never required.
    """
    r, s = case.reporter, case.subject
    out: list[str] = []
    if not _text(case.reference):
        out.append("case reference")
    if not _text(r.organisation):
        out.append("reporter organisation")
    if not _text(r.contact_name):
        out.append("reporter contact name")
    out += _missing_value("reporter contact email", r.contact_email, _email(r.contact_email))
    if not _text(s.account_id):
        out.append("account ID")
    out += _missing_value("account email", s.email, _email(s.email))
    if not _text(s.phone):
        out.append("account phone")
    if not s.upload_ips:
        out.append("upload IP")
    out += _missing_ip_events("upload", s.upload_ips)
    if len(s.login_ips) < MIN_LOGIN_IPS:
        out.append(f"at least {MIN_LOGIN_IPS} login IPs (have {len(s.login_ips)})")
    out += _missing_ip_events("login", s.login_ips)
    if not any(_text(d) for d in s.device_ids):
        out.append("device ID")
    if not case.items:
        out.append("at least one item")
    for item in case.items:
        out += _missing_for_item(item)
    return out


def _checked(case: ReferralCase, allow_incomplete: bool) -> list[str]:
    missing = missing_fields(case)
    if missing and not allow_incomplete:
        raise ReferralIncomplete(missing)
    return missing


# ------------------------------------------------------------------------ UK referral
def _ip_event_record(e: IpEvent) -> dict[str, Any] | None:
    ip = _ip(e.ip)
    return None if ip is None else {"ip": ip, "at": _iso(e.at), "port": _port(e.port)}


def _chat_record(lines: Sequence[ChatLine]) -> dict[str, Any] | None:
    if not lines:
        return None
    times = [c.at for c in lines if c.at is not None]
    return {
        "start": _iso(min(times)) if times else None,
        "end": _iso(max(times)) if times else None,
        "lines": [
            {
                "at": _iso(c.at),
                "sender": clean_text(c.sender),
                "ip": _ip(c.ip),
                "text": clean_text(c.text),
            }
            for c in lines
        ],
    }


def _item_record(item: ReferralItem) -> dict[str, Any]:
    g = item.grading
    return {
        "item_id": item.item_id,
        "severity": g.severity.value if g.severity else None,
        "severity_label": g.severity.label if g.severity else None,
        "csea_related": g.csea_related,
        "age_band": g.age_band.value if g.age_band else None,
        "age_confidence": g.age_confidence.value if g.age_confidence else None,
        "production_context": g.production_context.value if g.production_context else None,
        "production_context_label": g.production_context.label if g.production_context else None,
        "actions": sorted(a.value for a in g.actions),
        "file": {
            "name": _text(item.file_name),
            "size_bytes": (
                item.file_size if item.file_size is not None and item.file_size >= 0 else None
            ),
            "format": _text(item.file_format),
            "sha256": _hex(item.sha256, 64),
            "md5": _hex(item.md5, 32),
            "pdq": _hex(item.pdq, 64),
            "publicly_available": item.publicly_available,
        },
        "viewed_by_company": item.viewed_by_company,
        "viewed_at": _iso(item.viewed_at),
        "chat": _chat_record(item.chat),
        "comment": clean_text(item.comment),
        "url": _text(item.url),
        "exif": {clean_text(k): clean_text(v) for k, v in item.exif},
    }


@dataclass(frozen=True)
class UkReferral:
    """A referral to UK police. It contains no images: hashes and metadata only."""

    reference: str
    created_at: datetime
    complete: bool
    missing: tuple[str, ...]
    urgent: bool
    incident_type: IncidentType
    incident_time: datetime | None
    # Raw inputs (uncleaned free text) stay out of repr, so a logged referral cannot
    # carry an embedded image; to_dict() is the cleaned form.
    reporter: Reporter = field(repr=False)
    subject: ReferralSubject = field(repr=False)
    items: tuple[ReferralItem, ...] = field(repr=False)
    narrative: str = field(default="", repr=False)
    destination: Destination | None = None
    priority: Priority | None = None
    due_at: datetime | None = None

    @property
    def not_held(self) -> tuple[str, ...]:
        """What SI 2026/268 Schedule 1 asks for "where available" that we do not hold:
        named, so the reader knows it was looked for, without making the package
        incomplete."""
        out = []
        if not self.subject.identity_documents:
            out.append("identity documents held for the user (none held)")
        for i in self.items:
            if not _text(i.url):
                out.append(f"item {i.item_id}: URL of the content (not held)")
            if not i.exif:
                out.append(f"item {i.item_id}: EXIF data (none in the file)")
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        r, s = self.reporter, self.subject
        return {
            "format": UK_FORMAT,
            "format_version": UK_FORMAT_VERSION,
            "reference": _text(self.reference) or "",
            "created_at": _iso(self.created_at),
            "destination": self.destination.value if self.destination else None,
            "destination_label": self.destination.label if self.destination else None,
            "route": self.destination.route if self.destination else None,
            "priority_level": int(self.priority) if self.priority else None,
            "priority_label": self.priority.label if self.priority else None,
            "due_at": _iso(self.due_at),
            "complete": self.complete,
            "missing": list(self.missing),
            "not_held": list(self.not_held),
            "declaration": DECLARATION,
            "urgent": self.urgent,
            "incident_type": self.incident_type.value,
            "incident_type_label": self.incident_type.label,
            "incident_time": _iso(self.incident_time),
            "images_included": False,
            # SI 2026/268 Schedule 1 para 1: the authorised person submitting the report.
            "reporter": {
                "organisation": _text(r.organisation) or "",
                "contact_name": _text(r.contact_name) or "",
                "contact_email": _text(r.contact_email) or "",
                "contact_phone": _text(r.contact_phone),
            },
            "subject": {
                "account_id": _text(s.account_id),
                "email": _email(s.email),
                "phone": _text(s.phone),
                "linked_accounts": [x for a in s.linked_accounts if (x := _text(a))],
                "upload_ips": [ip for e in s.upload_ips if (ip := _ip_event_record(e))],
                "login_ips": [ip for e in s.login_ips if (ip := _ip_event_record(e))],
                "device_ids": [x for d in s.device_ids if (x := _text(d))],
                "identity_documents": [x for d in s.identity_documents if (x := _text(d))],
            },
            "items": [_item_record(i) for i in self.items],
            "narrative": clean_text(self.narrative),
        }

    def json(self) -> str:
        """Stable JSON: field names and order are part of the format (UK_FORMAT_VERSION)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def summary(self) -> str:
        """The same content as readable text, for the officer reading it first."""
        d = self.to_dict()
        s, r = d["subject"], d["reporter"]
        out = [f"UK CSEA REFERRAL {d['reference']}"]
        if self.urgent:
            out.append("URGENT: a child may be at immediate risk.")
        if d["destination_label"]:
            out.append(f"To: {d['destination_label']}, via {d['route']}")
        if d["priority_label"]:
            out.append(f"Priority {d['priority_label']}; due {d['due_at'] or 'no due time'}")
        out.append(f"Prepared {d['created_at']} by {r['organisation']}")
        contact = ", ".join(
            x for x in (r["contact_name"], r["contact_email"], r["contact_phone"]) if x
        )
        out.append(f"Contact: {contact}")
        if self.complete:
            out.append("Status: complete.")
        else:
            out.append("Status: INCOMPLETE. Missing:")
            out += [f"  - {m}" for m in self.missing]
        out.append(
            f"Incident: {self.incident_type.label}; first seen {d['incident_time'] or 'unknown'}"
        )
        out.append("No images are included in this referral (hashes and metadata only).")
        if d["not_held"]:
            out.append("Not held (asked for where available):")
            out += [f"  - {m}" for m in d["not_held"]]
        out.append(f"Declaration: {DECLARATION}")
        out.append("")
        out.append("Reported account")
        out.append(f"  Account ID: {s['account_id'] or 'not held'}")
        out.append(f"  Email: {s['email'] or 'not held'}")
        out.append(f"  Phone: {s['phone'] or 'not held'}")
        linked = ", ".join(s["linked_accounts"]) or "none known"
        out.append(f"  Connections with other accounts: {linked}")
        out.append(f"  Device IDs: {', '.join(s['device_ids']) or 'none known'}")
        docs = ", ".join(s["identity_documents"]) or "none held"
        out.append(f"  Identity documents held: {docs}")
        for title, key in (("Upload IPs", "upload_ips"), ("Recent login IPs", "login_ips")):
            out.append(f"  {title}:")
            out += [f"    {_event_text(e)}" for e in s[key]] or ["    none known"]
        for item in d["items"]:
            out.append("")
            out += _item_text(item)
        if d["narrative"]:
            out += ["", "Notes from the reporting organisation", f"  {d['narrative']}"]
        return "\n".join(out) + "\n"


def _event_text(e: dict[str, Any]) -> str:
    port = f" port {e['port']}" if e["port"] is not None else " port unknown"
    return f"{e['ip']}{port} at {e['at'] or 'unknown time'}"


def _item_text(i: dict[str, Any]) -> list[str]:
    sev = i["severity_label"] or "not graded"
    if i["csea_related"]:
        sev += " (CSEA-related)"
    out = [f"Item {i['item_id']}: {sev}"]
    if i["age_band"] or i["age_confidence"]:
        band = i["age_band"] or "not recorded"
        conf = i["age_confidence"] or "confidence not recorded"
        out.append(f"  Youngest person: age band {band} ({conf})")
    out.append(f"  Production context: {i['production_context_label'] or 'not recorded'}")
    actions = ", ".join(Action(a).label for a in i["actions"])
    out.append(f"  Actions taken: {actions or 'none'}")
    f = i["file"]
    out.append(f"  File: {f['name'] or 'unnamed'}, {f['format'] or 'unknown format'}, "
               f"{f['size_bytes'] if f['size_bytes'] is not None else '?'} bytes")  # fmt: skip
    out.append(f"  SHA-256 {f['sha256'] or 'missing'}; MD5 {f['md5'] or 'missing'}")
    if f["pdq"]:
        out.append(f"  PDQ {f['pdq']}")
    if f["publicly_available"] is not None:
        out.append(f"  Publicly available: {'yes' if f['publicly_available'] else 'no'}")
    viewed = f"yes, at {i['viewed_at'] or 'unknown time'}" if i["viewed_by_company"] else "no"
    out.append(f"  Viewed by a person at the company: {viewed}")
    if i["chat"]:
        c = i["chat"]
        out.append(f"  Chat from {c['start'] or '?'} to {c['end'] or '?'}:")
        out += [
            f"    [{ln['at'] or '?'}] {ln['sender']} ({ln['ip'] or 'IP unknown'}): {ln['text']}"
            for ln in c["lines"]
        ]
    if i["url"]:
        out.append(f"  URL: {i['url']}")
    if i["exif"]:
        out.append("  EXIF: " + "; ".join(f"{k}={v}" for k, v in i["exif"].items()))
    if i["comment"]:
        out.append(f"  Comment: {i['comment']}")
    return out


def build_uk_referral(
    case: ReferralCase, clock: Clock, *, allow_incomplete: bool = False
) -> UkReferral:
    """The UK police referral; raises ReferralIncomplete unless allow_incomplete."""
    missing = _checked(case, allow_incomplete)
    now = clock.now()
    _reject_naive_value("clock.now()", now)
    return UkReferral(
        reference=case.reference,
        created_at=now,
        complete=not missing,
        missing=tuple(missing),
        urgent=case.is_urgent,
        incident_type=case.effective_incident_type,
        incident_time=case.incident_time,
        reporter=case.reporter,
        subject=case.subject,
        items=case.items,
        narrative=case.narrative,
        destination=case.destination,
        priority=case.priority,
        due_at=case.due_at,
    )


def _reject_naive_value(name: str, t: datetime) -> None:
    if t.tzinfo is None:
        raise ValueError(f"{name} is naive; use UTC-aware times")


# ---------------------------------------------------------------- CyberTipline-style
def _el(parent: ET.Element, tag: str, text: object = None) -> ET.Element:
    # Plain tags under a root that declares the default namespace: ElementTree's own
    # default_namespace option refuses the unqualified schemaVersion attribute.
    e = ET.SubElement(parent, tag)
    if text is not None:
        e.text = ("true" if text else "false") if isinstance(text, bool) else str(text)
    return e


def _opt(parent: ET.Element, tag: str, text: object) -> None:
    if text is not None:
        _el(parent, tag, text)


def _additional_info(i: dict[str, Any]) -> str:
    parts = [f"Production context: {i['production_context_label'] or 'not recorded'}."]
    if i["age_band"]:
        parts.append(
            f"Youngest person: age band {i['age_band']}, confidence {i['age_confidence']}."
        )
    else:
        conf = f" (confidence {i['age_confidence']})" if i["age_confidence"] else ""
        parts.append(f"Age band: not recorded{conf}.")
    if i["comment"]:
        parts.append(i["comment"])
    return " ".join(parts)


def build_cybertip_xml(
    case: ReferralCase, clock: Clock, *, allow_incomplete: bool = False
) -> bytes:
    """A CyberTipline-STYLE report (our schema, not NCMEC's) as UTF-8 XML bytes.

    Valid against `cybertip_schema_path()`; raises ReferralIncomplete unless
    allow_incomplete, in which case `complete` is false and `missing` lists the gaps.
    """
    # One source of truth for values: the UK record, normalised the same way.
    d = build_uk_referral(case, clock, allow_incomplete=allow_incomplete).to_dict()
    root = ET.Element(
        "report", {"xmlns": CYBERTIP_NAMESPACE, "schemaVersion": CYBERTIP_SCHEMA_VERSION}
    )
    _el(root, "reportId", d["reference"])
    _el(root, "generatedAt", d["created_at"])
    _el(root, "complete", d["complete"])
    if d["missing"]:
        missing = _el(root, "missing")
        for m in d["missing"]:
            _el(missing, "field", m)

    rep = _el(root, "reporter")
    _el(rep, "organisation", d["reporter"]["organisation"])
    _el(rep, "contactName", d["reporter"]["contact_name"])
    _el(rep, "contactEmail", d["reporter"]["contact_email"])
    _opt(rep, "contactPhone", d["reporter"]["contact_phone"])

    inc = _el(root, "incidentSummary")
    _el(inc, "incidentType", d["incident_type"])
    _opt(inc, "incidentDateTime", d["incident_time"])
    _el(inc, "childAtImmediateRisk", d["urgent"])
    _opt(inc, "priorityLevel", d["priority_level"])
    _opt(inc, "dueDateTime", d["due_at"])

    s = d["subject"]
    person = _el(root, "personOrUserReported")
    _opt(person, "accountId", s["account_id"])
    _opt(person, "email", s["email"])
    _opt(person, "phone", s["phone"])
    for a in s["linked_accounts"]:
        _el(person, "linkedAccount", a)
    for dev in s["device_ids"]:
        _el(person, "deviceId", dev)
    for name, key in (("Upload", "upload_ips"), ("Login", "login_ips")):
        for e in s[key]:
            ev = _el(person, "ipCaptureEvent")
            _el(ev, "ipAddress", e["ip"])
            _el(ev, "eventName", name)
            _opt(ev, "dateTime", e["at"])
            _opt(ev, "port", e["port"])

    files = _el(root, "uploadedFiles")
    for i in d["items"]:
        f = i["file"]
        fe = _el(files, "file")
        _el(fe, "itemId", i["item_id"])
        _opt(fe, "fileName", f["name"])
        _opt(fe, "fileSize", f["size_bytes"])
        _opt(fe, "fileFormat", f["format"])
        hashes = _el(fe, "hashes")
        _opt(hashes, "sha256", f["sha256"])
        _opt(hashes, "md5", f["md5"])
        _opt(hashes, "pdq", f["pdq"])
        _el(fe, "fileViewedByCompany", i["viewed_by_company"])
        _opt(fe, "viewedAt", i["viewed_at"])
        _opt(fe, "publiclyAvailable", f["publicly_available"])
        cl = _el(fe, "classification")
        _opt(cl, "severity", i["severity"])
        _el(cl, "cseaRelated", i["csea_related"])
        _opt(cl, "ageBand", i["age_band"])
        _opt(cl, "ageConfidence", i["age_confidence"])
        _opt(cl, "productionContext", i["production_context"])
        for a in i["actions"]:
            _el(cl, "action", a)
        if i["chat"]:
            chat = _el(fe, "chat")
            _opt(chat, "startDateTime", i["chat"]["start"])
            _opt(chat, "endDateTime", i["chat"]["end"])
            for ln in i["chat"]["lines"]:
                le = _el(chat, "line")
                _opt(le, "dateTime", ln["at"])
                _el(le, "sender", ln["sender"])
                _opt(le, "ipAddress", ln["ip"])
                _el(le, "text", ln["text"])
        _el(fe, "additionalInfo", _additional_info(i))
    if d["narrative"]:
        _el(root, "additionalInfo", d["narrative"])
    ET.indent(root)
    # Any encoding but "unicode" gives bytes; the stubs cannot tell which was asked for.
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml
