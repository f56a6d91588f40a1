"""Referral packages: every field present, gaps listed exactly, no image bytes, valid XML."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import typing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewer.clock import FakeClock
from reviewer.grading import Grading
from reviewer.referral_model import (
    CYBERTIP_NAMESPACE,
    EMBEDDED_IMAGE_MARKER,
    ChatLine,
    IncidentType,
    IpEvent,
    ReferralCase,
    ReferralIncomplete,
    ReferralItem,
    ReferralSubject,
    Reporter,
    build_cybertip_xml,
    build_uk_referral,
    clean_text,
    cybertip_schema_path,
    missing_fields,
)
from reviewer.synthetic import encode, make_image
from reviewer.vocabulary import (
    Action,
    AgeBand,
    AgeConfidence,
    ProductionContext,
    Severity,
)

T = datetime(2026, 2, 3, 14, 0, tzinfo=UTC)
NOW = datetime(2026, 2, 4, 9, 30, tzinfo=UTC)
NS = {"c": CYBERTIP_NAMESPACE}

# A synthetic picture (shapes and noise, never real imagery) standing in for the item.
JPEG = encode(make_image(96, 64, seed=11, label="SYNTHETIC"), "JPEG")
PNG = encode(make_image(48, 32, seed=12), "PNG")
JPEG_SHA256 = hashlib.sha256(JPEG).hexdigest()
JPEG_MD5 = hashlib.md5(JPEG).hexdigest()
PNG_SHA256 = hashlib.sha256(PNG).hexdigest()
PNG_MD5 = hashlib.md5(PNG).hexdigest()
PDQ = "f" * 16 + "0" * 16 + "a5" * 16

REPORTER = Reporter("Example Platform Ltd", "Duty T&S lead", "tns@example.com", "+44 20 7946 0000")
SUBJECT = ReferralSubject(
    account_id="user-8841",
    email="subject@example.net",
    phone="+44 7700 900123",
    linked_accounts=("user-9912", "alt-handle-3"),
    upload_ips=(IpEvent("203.0.113.7", T, 51234),),
    login_ips=(
        IpEvent("198.51.100.21", T - timedelta(hours=1), 40001),
        IpEvent("198.51.100.22", T - timedelta(days=1), 40002),
        IpEvent("2001:db8::5", T - timedelta(days=2), 40003),
    ),
    device_ids=("android-7f3a09c1", "ios-2b9e11d4"),
)
GROOMED_B = ReferralItem(
    item_id=101,
    grading=Grading(
        severity=Severity.B,
        age_band=AgeBand.B11_13,
        age_confidence=AgeConfidence.PROBABLE,
        production_context=ProductionContext.GROOMED,
        actions=frozenset({Action.REMOVE, Action.REPORT, Action.ADD_HASH}),
        note="internal: similar to case 77",
    ),
    sha256=JPEG_SHA256,
    md5=JPEG_MD5,
    pdq=PDQ,
    file_name="IMG_0001.jpg",
    file_size=len(JPEG),
    file_format="JPEG",
    viewed_by_company=True,
    viewed_at=T + timedelta(hours=20),
    publicly_available=False,
    chat=(
        ChatLine(T - timedelta(minutes=30), "user-8841", "203.0.113.7", "send one more"),
        ChatLine(T - timedelta(minutes=5), "victim-acct", "192.0.2.44", "please stop"),
    ),
    comment="Sent in a private message after weeks of contact.",
)
PEER_CSEA = ReferralItem(
    item_id=102,
    grading=Grading(
        severity=Severity.NOT_ILLEGAL,
        csea_related=True,
        production_context=ProductionContext.PEER,
        actions=frozenset({Action.REPORT}),
    ),
    sha256=PNG_SHA256,
    md5=PNG_MD5,
    pdq=None,
    file_name="screenshot.png",
    file_size=len(PNG),
    file_format="PNG",
    viewed_by_company=False,  # confirmed as a known hash without viewing
    viewed_at=None,
)
FULL = ReferralCase(
    reference="REF-2026-0042",
    reporter=REPORTER,
    subject=SUBJECT,
    items=(GROOMED_B, PEER_CSEA),
    narrative="Account closed on 2026-02-04.",
)


def clock() -> FakeClock:
    return FakeClock(NOW)


def xml_root(data: bytes) -> ET.Element:
    return ET.fromstring(data)


def text(root: ET.Element, path: str) -> str | None:
    el = root.find(path, NS)
    return None if el is None else el.text


def validate(data: bytes) -> None:
    xmlschema = pytest.importorskip("xmlschema")
    xmlschema.XMLSchema(cybertip_schema_path()).validate(data)


# ------------------------------------------------------------------ complete package
def test_full_case_is_complete() -> None:
    assert missing_fields(FULL) == []


def test_uk_json_has_every_field() -> None:
    ref = build_uk_referral(FULL, clock())
    d = json.loads(ref.json())
    assert list(d) == [
        "format", "format_version", "reference", "created_at", "destination",
        "destination_label", "route", "priority_level", "priority_label", "due_at",
        "complete", "missing", "not_held", "declaration",
        "urgent", "incident_type", "incident_type_label", "incident_time",
        "images_included", "reporter", "subject", "items", "narrative",
    ]  # fmt: skip
    assert d["format"] == "uk-csea-referral" and d["format_version"] == 2
    assert d["declaration"].startswith("The reporting organisation declares")
    assert d["reference"] == "REF-2026-0042"
    assert d["created_at"] == "2026-02-04T09:30:00Z"
    assert d["complete"] is True and d["missing"] == []
    assert d["urgent"] is False
    assert d["incident_type"] == "online_enticement"  # a groomed item
    assert d["incident_time"] == "2026-02-03T14:00:00Z"
    assert d["images_included"] is False
    assert d["reporter"] == {
        "organisation": "Example Platform Ltd",
        "contact_name": "Duty T&S lead",
        "contact_email": "tns@example.com",
        "contact_phone": "+44 20 7946 0000",
    }
    assert d["subject"] == {
        "account_id": "user-8841",
        "email": "subject@example.net",
        "phone": "+44 7700 900123",
        "linked_accounts": ["user-9912", "alt-handle-3"],
        "upload_ips": [{"ip": "203.0.113.7", "at": "2026-02-03T14:00:00Z", "port": 51234}],
        "login_ips": [
            {"ip": "198.51.100.21", "at": "2026-02-03T13:00:00Z", "port": 40001},
            {"ip": "198.51.100.22", "at": "2026-02-02T14:00:00Z", "port": 40002},
            {"ip": "2001:db8::5", "at": "2026-02-01T14:00:00Z", "port": 40003},
        ],
        "device_ids": ["android-7f3a09c1", "ios-2b9e11d4"],
        "identity_documents": [],
    }
    one, two = d["items"]
    assert one == {
        "item_id": 101,
        "severity": "B",
        "severity_label": "Category B",
        "csea_related": False,
        "age_band": "11-13",
        "age_confidence": "probable",
        "production_context": "fp_groomed",
        "production_context_label": "First-person: groomed",
        "actions": ["add_hash", "remove", "report"],
        "file": {
            "name": "IMG_0001.jpg",
            "size_bytes": len(JPEG),
            "format": "JPEG",
            "sha256": JPEG_SHA256,
            "md5": JPEG_MD5,
            "pdq": PDQ,
            "publicly_available": False,
        },
        "viewed_by_company": True,
        "viewed_at": "2026-02-04T10:00:00Z",
        "chat": {
            "start": "2026-02-03T13:30:00Z",
            "end": "2026-02-03T13:55:00Z",
            "lines": [
                {
                    "at": "2026-02-03T13:30:00Z",
                    "sender": "user-8841",
                    "ip": "203.0.113.7",
                    "text": "send one more",
                },
                {
                    "at": "2026-02-03T13:55:00Z",
                    "sender": "victim-acct",
                    "ip": "192.0.2.44",
                    "text": "please stop",
                },
            ],
        },
        "comment": "Sent in a private message after weeks of contact.",
        "url": None,
        "exif": {},
    }
    assert two["severity"] == "not_illegal" and two["csea_related"] is True
    assert two["production_context"] == "fp_peer"
    assert two["age_band"] is None and two["chat"] is None
    assert two["file"]["pdq"] is None and two["file"]["publicly_available"] is None
    assert two["viewed_by_company"] is False and two["viewed_at"] is None
    assert d["narrative"] == "Account closed on 2026-02-04."
    # The moderator's internal note never leaves.
    assert "internal: similar" not in ref.json() + ref.summary()


def test_uk_summary_is_readable_and_complete() -> None:
    s = build_uk_referral(FULL, clock()).summary()
    for expected in (
        "UK CSEA REFERRAL REF-2026-0042",
        "Status: complete.",
        "No images are included",
        "Email: subject@example.net",
        "Phone: +44 7700 900123",
        "Connections with other accounts: user-9912, alt-handle-3",
        "Device IDs: android-7f3a09c1, ios-2b9e11d4",
        "203.0.113.7 port 51234 at 2026-02-03T14:00:00Z",
        "2001:db8::5 port 40003 at 2026-02-01T14:00:00Z",
        "Item 101: Category B",
        "age band 11-13 (probable)",
        "Production context: First-person: groomed",
        "Item 102: Not illegal (CSEA-related)",
        "Production context: First-person: shared voluntarily with a peer",
        f"SHA-256 {JPEG_SHA256}; MD5 {JPEG_MD5}",
        "Viewed by a person at the company: yes, at 2026-02-04T10:00:00Z",
        "Viewed by a person at the company: no",
        "Chat from 2026-02-03T13:30:00Z to 2026-02-03T13:55:00Z",
        "victim-acct (192.0.2.44): please stop",
        "Actions taken: Add hash to our list, Remove, Report to authority",
    ):
        assert expected in s, expected
    assert "URGENT" not in s


def test_cybertip_xml_has_every_field() -> None:
    data = build_cybertip_xml(FULL, clock())
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = xml_root(data)
    assert root.tag == f"{{{CYBERTIP_NAMESPACE}}}report"
    assert root.get("schemaVersion") == "1"
    assert text(root, "c:reportId") == "REF-2026-0042"
    assert text(root, "c:generatedAt") == "2026-02-04T09:30:00Z"
    assert text(root, "c:complete") == "true"
    assert root.find("c:missing", NS) is None
    assert text(root, "c:reporter/c:organisation") == "Example Platform Ltd"
    assert text(root, "c:reporter/c:contactName") == "Duty T&S lead"
    assert text(root, "c:reporter/c:contactEmail") == "tns@example.com"
    assert text(root, "c:reporter/c:contactPhone") == "+44 20 7946 0000"
    assert text(root, "c:incidentSummary/c:incidentType") == "online_enticement"
    assert text(root, "c:incidentSummary/c:incidentDateTime") == "2026-02-03T14:00:00Z"
    assert text(root, "c:incidentSummary/c:childAtImmediateRisk") == "false"

    p = root.find("c:personOrUserReported", NS)
    assert p is not None
    assert text(p, "c:accountId") == "user-8841"
    assert text(p, "c:email") == "subject@example.net"
    assert text(p, "c:phone") == "+44 7700 900123"
    assert [e.text for e in p.findall("c:linkedAccount", NS)] == ["user-9912", "alt-handle-3"]
    assert [e.text for e in p.findall("c:deviceId", NS)] == ["android-7f3a09c1", "ios-2b9e11d4"]
    events = [
        (text(e, "c:ipAddress"), text(e, "c:eventName"), text(e, "c:dateTime"), text(e, "c:port"))
        for e in p.findall("c:ipCaptureEvent", NS)
    ]
    assert events == [
        ("203.0.113.7", "Upload", "2026-02-03T14:00:00Z", "51234"),
        ("198.51.100.21", "Login", "2026-02-03T13:00:00Z", "40001"),
        ("198.51.100.22", "Login", "2026-02-02T14:00:00Z", "40002"),
        ("2001:db8::5", "Login", "2026-02-01T14:00:00Z", "40003"),
    ]

    f1, f2 = root.findall("c:uploadedFiles/c:file", NS)
    assert text(f1, "c:itemId") == "101"
    assert text(f1, "c:fileName") == "IMG_0001.jpg"
    assert text(f1, "c:fileSize") == str(len(JPEG))
    assert text(f1, "c:fileFormat") == "JPEG"
    assert text(f1, "c:hashes/c:sha256") == JPEG_SHA256
    assert text(f1, "c:hashes/c:md5") == JPEG_MD5
    assert text(f1, "c:hashes/c:pdq") == PDQ
    assert text(f1, "c:fileViewedByCompany") == "true"
    assert text(f1, "c:viewedAt") == "2026-02-04T10:00:00Z"
    assert text(f1, "c:publiclyAvailable") == "false"
    assert text(f1, "c:classification/c:severity") == "B"
    assert text(f1, "c:classification/c:cseaRelated") == "false"
    assert text(f1, "c:classification/c:ageBand") == "11-13"
    assert text(f1, "c:classification/c:ageConfidence") == "probable"
    assert text(f1, "c:classification/c:productionContext") == "fp_groomed"
    assert [a.text for a in f1.findall("c:classification/c:action", NS)] == [
        "add_hash",
        "remove",
        "report",
    ]
    assert text(f1, "c:chat/c:startDateTime") == "2026-02-03T13:30:00Z"
    assert text(f1, "c:chat/c:endDateTime") == "2026-02-03T13:55:00Z"
    lines = [
        (text(x, "c:dateTime"), text(x, "c:sender"), text(x, "c:ipAddress"), text(x, "c:text"))
        for x in f1.findall("c:chat/c:line", NS)
    ]
    assert lines == [
        ("2026-02-03T13:30:00Z", "user-8841", "203.0.113.7", "send one more"),
        ("2026-02-03T13:55:00Z", "victim-acct", "192.0.2.44", "please stop"),
    ]
    info = text(f1, "c:additionalInfo") or ""
    assert "Production context: First-person: groomed." in info
    assert "age band 11-13, confidence probable" in info
    assert "weeks of contact" in info

    assert text(f2, "c:itemId") == "102"
    assert text(f2, "c:hashes/c:pdq") is None
    assert text(f2, "c:fileViewedByCompany") == "false"
    assert f2.find("c:viewedAt", NS) is None
    assert f2.find("c:publiclyAvailable", NS) is None
    assert text(f2, "c:classification/c:cseaRelated") == "true"
    assert text(f2, "c:classification/c:productionContext") == "fp_peer"
    assert "First-person: shared voluntarily with a peer" in (text(f2, "c:additionalInfo") or "")
    assert text(root, "c:additionalInfo") == "Account closed on 2026-02-04."


def test_xml_is_schema_valid() -> None:
    validate(build_cybertip_xml(FULL, clock()))


def test_schema_has_teeth() -> None:
    """A tampered document fails: the validation in these tests means something."""
    xmlschema = pytest.importorskip("xmlschema")
    schema = xmlschema.XMLSchema(cybertip_schema_path())
    good = build_cybertip_xml(FULL, clock())
    assert schema.is_valid(good)
    for bad in (
        good.replace(b">true</c:fileViewedByCompany>", b">maybe</c:fileViewedByCompany>"),
        good.replace(b"<fileViewedByCompany>true<", b"<fileViewedByCompany>maybe<"),
        good.replace(JPEG_SHA256.encode(), b"not-a-hash"),
        good.replace(b"<port>51234</port>", b"<port>70000</port>"),
        good.replace(b"<productionContext>fp_groomed<", b"<productionContext>consensual<"),
    ):
        if bad != good:
            assert not schema.is_valid(bad)


def test_schema_enumerations_match_vocabulary() -> None:
    xs = "{http://www.w3.org/2001/XMLSchema}"
    tree = ET.parse(cybertip_schema_path())
    enums = {
        st.get("name"): [e.get("value") for e in st.iter(f"{xs}enumeration")]
        for st in tree.getroot().iter(f"{xs}simpleType")
    }
    assert enums["SeverityCode"] == [s.value for s in Severity]
    assert enums["AgeBandCode"] == [b.value for b in AgeBand]
    assert enums["AgeConfidenceCode"] == [c.value for c in AgeConfidence]
    assert enums["ProductionContextCode"] == [c.value for c in ProductionContext]
    assert enums["ActionCode"] == [a.value for a in Action]
    assert enums["IncidentTypeCode"] == [t.value for t in IncidentType]


# ---------------------------------------------------------------- incomplete package
SPARSE_SUBJECT = ReferralSubject(
    account_id="user-1",
    email=None,
    phone="  ",
    upload_ips=(IpEvent("203.0.113.9", None, 443),),
    login_ips=(IpEvent("198.51.100.1", T, None),),
)
SPARSE_ITEM = ReferralItem(
    item_id=7,
    grading=Grading(severity=Severity.A, age_confidence=AgeConfidence.UNCERTAIN),
    sha256=JPEG_SHA256.upper(),  # upper-case hex is accepted and normalised
    md5=None,
    pdq=None,
    file_name="x.jpg",
    file_size=len(JPEG),
    file_format="JPEG",
    viewed_by_company=True,
    viewed_at=None,
    chat=(ChatLine(T, "someone", None, "hi"),),
)
SPARSE = ReferralCase("REF-7", REPORTER, SPARSE_SUBJECT, (SPARSE_ITEM,))
SPARSE_MISSING = [
    "account email",
    "account phone",
    "upload IP time (203.0.113.9)",
    "at least 3 login IPs (have 1)",
    "login IP port (198.51.100.1)",
    "device ID",
    "item 7: age band",
    "item 7: production context",
    "item 7: md5",
    "item 7: viewed-at time (the ledger says it was viewed)",
    "item 7: chat line 1 IP",
]


def test_incomplete_lists_exactly_what_is_missing() -> None:
    assert missing_fields(SPARSE) == SPARSE_MISSING


def test_incomplete_raises_unless_allowed() -> None:
    with pytest.raises(ReferralIncomplete) as err:
        build_uk_referral(SPARSE, clock())
    assert err.value.missing == SPARSE_MISSING
    with pytest.raises(ReferralIncomplete):
        build_cybertip_xml(SPARSE, clock())

    ref = build_uk_referral(SPARSE, clock(), allow_incomplete=True)
    d = json.loads(ref.json())
    assert d["complete"] is False and d["missing"] == SPARSE_MISSING
    assert d["items"][0]["file"]["sha256"] == JPEG_SHA256
    assert "Status: INCOMPLETE" in ref.summary()
    assert "  - at least 3 login IPs (have 1)" in ref.summary()

    data = build_cybertip_xml(SPARSE, clock(), allow_incomplete=True)
    root = xml_root(data)
    assert text(root, "c:complete") == "false"
    assert [f.text for f in root.findall("c:missing/c:field", NS)] == SPARSE_MISSING
    validate(data)


def test_empty_case_lists_everything() -> None:
    empty = ReferralCase("", Reporter("", "", ""), ReferralSubject("", None, None), items=())
    assert missing_fields(empty) == [
        "case reference",
        "reporter organisation",
        "reporter contact name",
        "reporter contact email",
        "account ID",
        "account email",
        "account phone",
        "upload IP",
        "at least 3 login IPs (have 0)",
        "device ID",
        "at least one item",
    ]
    validate(build_cybertip_xml(empty, clock(), allow_incomplete=True))


def test_invalid_values_are_named_and_left_out() -> None:
    subject = replace(
        SUBJECT,
        email="not-an-email",
        upload_ips=(IpEvent("999.1.1.1", T, 80), IpEvent("203.0.113.8", T, 0)),
    )
    item = replace(GROOMED_B, md5="xyz", pdq="12")
    case = replace(FULL, subject=subject, items=(item,))
    assert missing_fields(case) == [
        "valid account email (got 'not-an-email')",
        "valid upload IP address (got '999.1.1.1')",
        "valid upload IP port (203.0.113.8)",
        "item 101: valid md5 (got 'xyz')",
        "item 101: valid pdq (got '12')",
    ]
    d = build_uk_referral(case, clock(), allow_incomplete=True).to_dict()
    assert d["subject"]["email"] is None
    assert d["subject"]["upload_ips"] == [
        {"ip": "203.0.113.8", "at": "2026-02-03T14:00:00Z", "port": None}
    ]
    assert d["items"][0]["file"]["md5"] is None
    validate(build_cybertip_xml(case, clock(), allow_incomplete=True))


def test_not_reportable_grade_is_named() -> None:
    item = replace(PEER_CSEA, grading=Grading(severity=Severity.ADULT))
    case = replace(FULL, items=(item,))
    assert missing_fields(case) == [
        "item 102: a reportable grade (Category A/B/C or CSEA-related)",
        "item 102: production context",
    ]


# ------------------------------------------------------------------- no image bytes
REFERRAL_TYPES = (Reporter, IpEvent, ReferralSubject, ChatLine, ReferralItem, ReferralCase)


@pytest.mark.parametrize("cls", REFERRAL_TYPES)
def test_no_field_can_hold_bytes(cls: type) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        assert "bytes" not in str(hints[f.name]), f"{cls.__name__}.{f.name}"


def test_bytes_smuggled_into_any_field_are_refused() -> None:
    with pytest.raises(TypeError, match="bytes"):
        replace(GROOMED_B, pdq=JPEG)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes"):
        replace(GROOMED_B, comment=bytearray(PNG))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes"):
        replace(SUBJECT, linked_accounts=("ok", JPEG))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes"):
        ChatLine(T, "x", "192.0.2.1", memoryview(JPEG))  # type: ignore[arg-type]


def test_embedded_images_in_text_are_removed_from_every_output() -> None:
    jpeg_b64 = base64.b64encode(JPEG).decode()
    png_b64 = base64.b64encode(PNG).decode()
    chat = (
        ChatLine(T, "user-8841", "203.0.113.7", f"look data:image/jpeg;base64,{jpeg_b64} ok"),
        ChatLine(T, "user-8841", "203.0.113.7", f"raw {png_b64}"),
    )
    item = replace(GROOMED_B, chat=chat, comment=f"attached: {jpeg_b64}")
    case = replace(FULL, items=(item,), narrative=f"see data:image/png;base64,{png_b64}")
    ref = build_uk_referral(case, clock())
    outputs = [ref.json().encode(), ref.summary().encode(), build_cybertip_xml(case, clock())]
    for out in outputs:
        for signature in (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"):
            assert signature not in out
        assert jpeg_b64[:40].encode() not in out
        assert png_b64[:40].encode() not in out
        assert b"data:image" not in out
        assert EMBEDDED_IMAGE_MARKER.encode() in out
    # The words around the images survive.
    assert "look [embedded image removed] ok" in ref.json()


def test_clean_text_leaves_ordinary_text_and_hashes_alone() -> None:
    ordinary = f"hash {JPEG_SHA256} and https://example.com/a/b?c=d and {'A' * 60}"
    assert clean_text(ordinary) == ordinary
    assert clean_text("tab\tok\x00\x07bell") == "tab\tokbell"


# ----------------------------------------------------------------------- viewed flags
@pytest.mark.parametrize("viewed", [True, False])
def test_viewed_flag_follows_the_ledger(viewed: bool) -> None:
    item = replace(GROOMED_B, viewed_by_company=viewed, viewed_at=T if viewed else None)
    case = replace(FULL, items=(item,))
    ref = build_uk_referral(case, clock())
    d = ref.to_dict()["items"][0]
    assert d["viewed_by_company"] is viewed
    assert d["viewed_at"] == ("2026-02-03T14:00:00Z" if viewed else None)
    f = xml_root(build_cybertip_xml(case, clock())).find("c:uploadedFiles/c:file", NS)
    assert f is not None
    assert text(f, "c:fileViewedByCompany") == ("true" if viewed else "false")
    assert (f.find("c:viewedAt", NS) is not None) is viewed
    assert ("company: yes" in ref.summary()) is viewed


def test_viewed_flag_is_never_assumed() -> None:
    with pytest.raises(TypeError, match="exposure ledger"):
        replace(GROOMED_B, viewed_by_company=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="viewed_at"):
        replace(GROOMED_B, viewed_by_company=False, viewed_at=T)
    fields = {f.name: f for f in dataclasses.fields(ReferralItem)}
    assert fields["viewed_by_company"].default is dataclasses.MISSING


# ------------------------------------------------------------ context, urgency, times
@pytest.mark.parametrize("ctx", list(ProductionContext))
def test_production_context_in_both_forms(ctx: ProductionContext) -> None:
    item = replace(GROOMED_B, grading=replace(GROOMED_B.grading, production_context=ctx))
    case = replace(FULL, items=(item,))
    ref = build_uk_referral(case, clock())
    assert ref.to_dict()["items"][0]["production_context"] == ctx.value
    assert f"Production context: {ctx.label}" in ref.summary()
    f = xml_root(build_cybertip_xml(case, clock())).find("c:uploadedFiles/c:file", NS)
    assert f is not None
    assert text(f, "c:classification/c:productionContext") == ctx.value
    assert f"Production context: {ctx.label}." in (text(f, "c:additionalInfo") or "")


@pytest.mark.parametrize(
    ("contexts", "expected"),
    [
        ((ProductionContext.PEER,), IncidentType.CSAM),
        (
            (ProductionContext.NOT_FIRST_PERSON, ProductionContext.COERCED),
            IncidentType.ONLINE_ENTICEMENT,
        ),
        (
            (ProductionContext.GROOMED, ProductionContext.TRAFFICKED),
            IncidentType.CHILD_SEX_TRAFFICKING,
        ),
    ],
)
def test_incident_type_follows_context(
    contexts: tuple[ProductionContext, ...], expected: IncidentType
) -> None:
    items = tuple(
        replace(GROOMED_B, item_id=n, grading=replace(GROOMED_B.grading, production_context=c))
        for n, c in enumerate(contexts)
    )
    assert replace(FULL, items=items).effective_incident_type is expected
    overridden = replace(FULL, items=items, incident_type=IncidentType.CSAM)
    assert overridden.effective_incident_type is IncidentType.CSAM


def test_urgent_from_case_or_escalation_action() -> None:
    escalated = replace(
        GROOMED_B,
        grading=replace(
            GROOMED_B.grading, actions=GROOMED_B.grading.actions | {Action.ESCALATE_URGENT}
        ),
    )
    for case in (replace(FULL, urgent=True), replace(FULL, items=(escalated,))):
        ref = build_uk_referral(case, clock())
        assert ref.urgent and ref.summary().splitlines()[1].startswith("URGENT")
        root = xml_root(build_cybertip_xml(case, clock()))
        assert text(root, "c:incidentSummary/c:childAtImmediateRisk") == "true"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        IpEvent("192.0.2.1", datetime(2026, 1, 1), 80)
    with pytest.raises(ValueError, match="naive"):
        ChatLine(datetime(2026, 1, 1), "a", None, "b")
    with pytest.raises(ValueError, match="naive"):
        build_uk_referral(FULL, FakeClock(datetime(2026, 1, 1)))


def test_other_timezones_are_written_in_utc() -> None:
    plus2 = datetime(2026, 2, 3, 16, 0, tzinfo=UTC).astimezone(
        __import__("datetime").timezone(timedelta(hours=2))
    )
    subject = replace(SUBJECT, upload_ips=(IpEvent("203.0.113.7", plus2, 51234),))
    d = build_uk_referral(replace(FULL, subject=subject), clock()).to_dict()
    assert d["subject"]["upload_ips"][0]["at"] == "2026-02-03T16:00:00Z"


def test_output_is_deterministic() -> None:
    assert build_uk_referral(FULL, clock()).json() == build_uk_referral(FULL, clock()).json()
    assert build_cybertip_xml(FULL, clock()) == build_cybertip_xml(FULL, clock())


def test_wrapped_base64_image_is_removed_whole() -> None:
    """MIME-style base64 (76-character lines) goes entirely, not just its first line."""
    wrapped = base64.encodebytes(JPEG).decode()  # newline every 76 characters
    lines = wrapped.splitlines()
    assert len(lines) > 3
    cleaned = clean_text(f"before\n{wrapped}after")
    assert cleaned.startswith("before\n" + EMBEDDED_IMAGE_MARKER)
    assert cleaned.endswith("after")
    assert not any(line in cleaned for line in lines[1:-1])


def test_referral_repr_carries_no_raw_text() -> None:
    png_b64 = base64.b64encode(PNG).decode()
    item = replace(GROOMED_B, comment=png_b64)
    ref = build_uk_referral(replace(FULL, items=(item,)), clock())
    assert png_b64[:40] not in repr(ref)


# Any text a user or a database could hand us, control characters included.
_any_text = st.text(st.characters(codec="utf-8", exclude_categories=()), max_size=40)


@settings(max_examples=60, deadline=None)
@given(
    account=_any_text,
    linked=st.lists(_any_text, max_size=3),
    file_name=_any_text,
    sender=_any_text,
    line=_any_text,
    comment=_any_text,
    phone=_any_text,
)
def test_any_text_gives_well_formed_valid_xml(
    account: str,
    linked: list[str],
    file_name: str,
    sender: str,
    line: str,
    comment: str,
    phone: str,
) -> None:
    subject = replace(SUBJECT, account_id=account, linked_accounts=tuple(linked), phone=phone)
    item = replace(
        GROOMED_B,
        file_name=file_name,
        chat=(ChatLine(T, sender, "192.0.2.1", line),),
        comment=comment,
    )
    case = replace(FULL, subject=subject, items=(item,))
    data = build_cybertip_xml(case, clock(), allow_incomplete=True)
    ET.fromstring(data)  # well-formed
    validate(data)
    json.loads(build_uk_referral(case, clock(), allow_incomplete=True).json())


def test_exif_is_read_from_the_file_header_and_never_carries_bytes() -> None:
    from io import BytesIO

    from PIL import Image

    from reviewer.referral_service import exif_of

    exif = Image.Exif()
    exif[0x010F] = "SyntheticCam"  # Make
    exif[0x0132] = "2026:01:04 10:00:00"  # DateTime
    exif[0x927C] = b"\x00\x01binary maker note"  # MakerNote: bytes, left out
    buf = BytesIO()
    Image.new("RGB", (16, 16), "grey").save(buf, "JPEG", exif=exif)
    tags = dict(exif_of(buf.getvalue()))
    assert tags["Make"] == "SyntheticCam" and tags["DateTime"] == "2026:01:04 10:00:00"
    assert "MakerNote" not in tags
    assert exif_of(b"not an image") == ()
