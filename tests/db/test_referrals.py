"""Referral packages built from stored items, decisions and the exposure ledger."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import xmlschema
from referral_fixtures import (
    FULL_CHAT,
    FULL_SUBJECT,
    NOT_ILLEGAL,
    REPORT_B,
    REVEALED,
    UNSEEN,
    add_item,
    decide,
    reporting_lead,
    settings_check,
)

from db.media_store import MediaStore
from db.referrals import ReferralRepo
from db.store import Store
from reviewer.clock import FakeClock
from reviewer.hashing import compute_hashes
from reviewer.referral_model import CYBERTIP_NAMESPACE, build_cybertip_xml, cybertip_schema_path
from reviewer.referral_service import (
    NotReportable,
    ReferralIncomplete,
    ReferralKind,
    ReferralService,
)
from reviewer.synthetic import encode, make_image
from reviewer.vocabulary import ProductionContext

NS = {"c": CYBERTIP_NAMESPACE}


@pytest.fixture
def repo(store: Store) -> ReferralRepo:
    r = store.referrals
    r.update_settings(
        settings_check(store),
        organisation="Example Platform Ltd",
        contact_name="Duty lead",
        contact_email="tns@example.test",
        contact_phone="+44 20 7946 0000",
    )
    return r


@pytest.fixture
def service(repo: ReferralRepo, media: MediaStore) -> ReferralService:
    return ReferralService(repo, media, reporting_lead(repo.store))


def _full_item(store: Store, media: MediaStore, seed: int = 1, **kw: object) -> int:
    return add_item(store, media, seed=seed, subject=FULL_SUBJECT, chat=FULL_CHAT, **kw)


def test_full_item_gives_a_complete_package_with_every_field(
    store: Store, media: MediaStore, service: ReferralService
) -> None:
    data = encode(make_image(64, 48, seed=3, label="SYNTHETIC"), "JPEG")
    item = _full_item(store, media, data=data)
    decide(store, item, REPORT_B, REVEALED)

    ref = service.build(item, ReferralKind.UK)
    assert ref.complete and ref.missing == ()
    d = json.loads(ref.package or "")
    hashes = compute_hashes(data)

    assert d["complete"] is True and d["missing"] == [] and d["images_included"] is False
    assert d["reporter"] == {
        "organisation": "Example Platform Ltd",
        "contact_name": "Duty lead",
        "contact_email": "tns@example.test",
        "contact_phone": "+44 20 7946 0000",
    }
    s = d["subject"]
    assert s["account_id"] == "user-8841"
    assert s["email"] == "subject@example.test"
    assert s["phone"] == "+44 7700 900123"
    assert s["linked_accounts"] == ["user-9912"]
    assert s["device_ids"] == ["android-7f3a09c1"]
    assert s["upload_ips"] == [{"ip": "203.0.113.7", "at": "2026-01-04T10:00:00Z", "port": 51234}]
    assert [e["ip"] for e in s["login_ips"]] == ["198.51.100.21", "198.51.100.22", "192.0.2.5"]
    assert all(e["at"] and e["port"] for e in s["login_ips"])
    (i,) = d["items"]
    assert i["item_id"] == item
    assert (i["severity"], i["age_band"], i["age_confidence"]) == ("B", "11-13", "probable")
    assert i["production_context"] == ProductionContext.GROOMED.value
    assert "report" in i["actions"]
    f = i["file"]
    assert f["sha256"] == hashes.sha256 and f["md5"] == hashes.md5
    assert f["pdq"] == hashes.pdq_hex and f["pdq"] is not None
    assert f["size_bytes"] == len(data) and f["format"] == "JPEG" and f["name"]
    assert i["viewed_by_company"] is True and i["viewed_at"]
    assert i["chat"]["start"] == "2026-01-04T09:58:00Z"
    assert i["chat"]["end"] == "2026-01-04T09:59:00Z"
    assert [ln["ip"] for ln in i["chat"]["lines"]] == ["203.0.113.7", "192.0.2.77"]
    assert "URGENT" not in (ref.summary or "")

    # Stored and audited in the same transaction.
    assert service.get(ref.id).package == ref.package
    (ev,) = store.audit_events(item, kind="referral_created")
    assert ev.detail["reference"] == ref.reference and ev.user_id == service.account.id


def test_incomplete_item_lists_exactly_what_is_missing(
    store: Store, media: MediaStore, service: ReferralService
) -> None:
    item = add_item(store, media)  # no subject, no chat: only the item's own columns
    decide(store, item)
    expected = [
        "account email",
        "account phone",
        "upload IP port (192.0.2.10)",
        "at least 3 login IPs (have 0)",
        "device ID",
    ]
    for kind in ReferralKind:
        with pytest.raises(ReferralIncomplete) as err:
            service.build(item, kind)
        assert err.value.missing == expected
    assert service.referrals() == []  # nothing stored without --allow-incomplete
    assert service.missing(item) == expected

    ref = service.build(item, ReferralKind.UK, allow_incomplete=True)
    assert not ref.complete and list(ref.missing) == expected
    assert "INCOMPLETE" in (ref.summary or "")


def test_missing_reporter_details_are_listed(store: Store, media: MediaStore) -> None:
    service = ReferralService(
        store.referrals, media, reporting_lead(store)
    )  # settings never filled in
    item = _full_item(store, media)
    decide(store, item)
    with pytest.raises(ReferralIncomplete) as err:
        service.build(item, ReferralKind.UK)
    assert err.value.missing == [
        "reporter organisation",
        "reporter contact name",
        "reporter contact email",
    ]


def test_uk_package_contains_no_image_bytes(
    store: Store, media: MediaStore, service: ReferralService
) -> None:
    data = encode(make_image(80, 60, seed=9, label="SYNTHETIC"), "PNG")
    item = _full_item(store, media, data=data)
    decide(store, item, REPORT_B, REVEALED)
    ref = service.build(item, ReferralKind.UK)
    text = (ref.package or "") + (ref.summary or "")
    b64 = base64.b64encode(data).decode()
    for chunk in (b64[i : i + 24] for i in range(0, len(b64) - 24, 97)):
        assert chunk not in text
    assert data[:16].decode("latin-1") not in text
    assert data.hex()[:48] not in text
    assert "No images are included" in (ref.summary or "")
    assert len(text) < len(data) or len(data) < 2000


def test_viewed_flags_follow_the_exposure_ledger(
    store: Store, media: MediaStore, service: ReferralService, clock: FakeClock
) -> None:
    seen = _full_item(store, media, seed=1)
    decide(store, seen, REPORT_B, REVEALED)
    revealed_at = store.items.exposures(seen)[0]["recorded_at"]
    clock.advance(60)
    unseen = _full_item(store, media, seed=2)
    decide(store, unseen, REPORT_B, UNSEEN)

    def file_el(item: int) -> ET.Element:
        # The package as it would be built now (a second stored referral to the same
        # destination is refused, so the builder is called directly).
        root = ET.fromstring(build_cybertip_xml(service.case_for(item, "check"), clock))
        return root.find("c:uploadedFiles/c:file", NS)  # type: ignore[return-value]

    f = file_el(seen)
    assert f.findtext("c:fileViewedByCompany", namespaces=NS) == "true"
    viewed_at = f.findtext("c:viewedAt", namespaces=NS)
    assert viewed_at == revealed_at.isoformat().replace("+00:00", "Z")
    f = file_el(unseen)
    assert f.findtext("c:fileViewedByCompany", namespaces=NS) == "false"
    assert f.find("c:viewedAt", NS) is None

    # Same bytes revealed under another item: the company has viewed that file.
    data = media.get(store.items.item(unseen).media.sha256)
    clock.advance(60)
    other = _full_item(store, media, data=data)
    decide(store, other, REPORT_B, REVEALED)
    assert file_el(unseen).findtext("c:fileViewedByCompany", namespaces=NS) == "true"


def test_cybertip_xml_is_well_formed_and_valid_against_the_repo_schema(
    store: Store, media: MediaStore, service: ReferralService
) -> None:
    schema = xmlschema.XMLSchema(str(cybertip_schema_path()))
    item = _full_item(store, media, imminent_risk=True)
    decide(store, item, REPORT_B, REVEALED)
    ref = service.build(item, ReferralKind.CYBERTIP)
    ET.fromstring((ref.package or "").encode())  # well-formed
    schema.validate(ref.package or "")
    assert ref.urgent
    # An incomplete package is valid too (complete=false plus the missing list).
    gap = add_item(store, media, seed=5)
    decide(store, gap)
    inc = service.build(gap, ReferralKind.CYBERTIP, allow_incomplete=True)
    schema.validate(inc.package or "")
    assert "<complete>false</complete>" in (inc.package or "")


def test_only_reported_decisions_can_be_referred(
    store: Store, media: MediaStore, service: ReferralService
) -> None:
    item = _full_item(store, media)
    with pytest.raises(NotReportable, match="no decision"):
        service.build(item, ReferralKind.UK)
    decide(store, item, NOT_ILLEGAL)
    with pytest.raises(NotReportable, match="report"):
        service.build(item, ReferralKind.UK)


def test_export_writes_only_into_the_chosen_folder_and_starts_the_hold(
    store: Store, media: MediaStore, service: ReferralService, tmp_path: Path
) -> None:
    item = _full_item(store, media)
    decide(store, item, REPORT_B, REVEALED)
    ref = service.build(item, ReferralKind.UK)
    out = tmp_path / "chosen"
    out.mkdir()
    before = set(tmp_path.rglob("*"))
    paths = service.export(ref.id, out)
    assert sorted(p.name for p in paths) == sorted(ref.file_names)
    assert set(tmp_path.rglob("*")) - before == set(paths)
    assert json.loads(paths[0].read_text())["reference"] == ref.reference
    assert service.get(ref.id).exported_at is not None
    (ev,) = store.audit_events(item, kind="referral_exported")
    assert ev.detail["folder"] == str(out)

    with pytest.raises(FileExistsError):  # never overwrites
        service.export(ref.id, out)
    assert len(store.audit_events(item, kind="referral_exported")) == 1
    with pytest.raises(Exception, match="no such folder"):
        service.export(ref.id, tmp_path / "absent")


def test_urgent_escalations_are_listed_first(
    store: Store, media: MediaStore, service: ReferralService, clock: FakeClock
) -> None:
    urgent = _full_item(store, media, seed=1, imminent_risk=True)
    decide(store, urgent)
    clock.advance(60)
    later = _full_item(store, media, seed=2)
    decide(store, later)
    r_urgent = service.build(urgent, ReferralKind.UK)
    clock.advance(60)
    r_later = service.build(later, ReferralKind.UK)
    assert [r.id for r in service.referrals()] == [r_urgent.id, r_later.id]
    assert "URGENT" in (r_urgent.summary or "")


@pytest.mark.parametrize(
    ("field", "limit"),
    [("organisation", 200), ("contact_name", 200), ("contact_email", 200), ("contact_phone", 60)],
)
def test_over_long_reporter_details_are_refused_and_nothing_changes(
    repo: ReferralRepo, store: Store, field: str, limit: int
) -> None:
    before = repo.settings()
    events = len(store.audit_events())
    with pytest.raises(ValueError, match=f"{field} must be text of at most {limit} characters"):
        repo.update_settings(settings_check(store), **{field: "9" * (limit + 1)})
    assert repo.settings() == before
    assert len(store.audit_events()) == events
    stored = repo.update_settings(settings_check(store), **{field: "9" * limit})
    assert getattr(stored, field) == "9" * limit
