"""Reporting rules by destination, in the store, on both backends: destination,
priority and due time recorded; the awaiting list; no duplicate report across
exempted destinations (a stale service, another account, a concurrent build, an old
referral exported late); retention held per destination, longest hold and legal holds."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import xmlschema
from referral_fixtures import (
    FULL_CHAT,
    FULL_SUBJECT,
    REPORT_B,
    REVEALED,
    add_item,
    decide,
    reporting_lead,
    retention_check,
    settings_check,
)
from sign_in import stored_account
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from db.media_store import MediaStore
from db.models import ReferralRow
from db.referrals import ReferralRepo
from db.store import Store
from reviewer.accounts import Role
from reviewer.clock import FakeClock
from reviewer.destinations import AlreadyReported, Destination, Priority, PriorityTooLow
from reviewer.errors import NotFound
from reviewer.grading import Grading
from reviewer.permissions import Check, Operation
from reviewer.referral_model import IncidentType, cybertip_schema_path
from reviewer.referral_service import NewReferral, ReferralKind, ReferralService
from reviewer.retention_service import RetentionService
from reviewer.vocabulary import Action, Severity

NCA, NCMEC = Destination.NCA, Destination.NCMEC
DAY = 86400.0


@pytest.fixture
def repo(store: Store) -> ReferralRepo:
    r = store.referrals
    r.update_settings(
        settings_check(store),
        organisation="Example Ltd",
        contact_name="Lead",
        contact_email="l@example.test",
    )
    return r


@pytest.fixture
def service(repo: ReferralRepo, media: MediaStore) -> ReferralService:
    return ReferralService(repo, media, reporting_lead(repo.store))


def _reported(store: Store, media: MediaStore, seed: int = 1, **kw: object) -> int:
    item = add_item(store, media, seed=seed, subject=FULL_SUBJECT, chat=FULL_CHAT, **kw)
    decide(store, item, REPORT_B, REVEALED)
    return item


def test_a_referral_records_destination_priority_due_time_and_incident_type(
    store: Store, media: MediaStore, service: ReferralService, clock: FakeClock
) -> None:
    item = _reported(store, media)
    decided_at = store.items.decisions(item)[0]["decided_at"]
    clock.advance(600)
    ref = service.build(
        item, NCMEC, priority=Priority.LEVEL_3, incident_type=IncidentType.ONLINE_ENTICEMENT
    )
    again = service.get(ref.id)
    assert (again.destination, again.priority) == (NCMEC, Priority.LEVEL_3)
    assert again.incident_type is IncidentType.ONLINE_ENTICEMENT
    # Due from the decision that reported it, not from when the package was built.
    assert again.due_at == decided_at + timedelta(hours=24)
    assert again.sent_at is None
    (ev,) = store.audit_events(item, kind="referral_created")
    assert ev.detail["destination"] == "ncmec" and ev.detail["priority"] == 3
    # The CyberTipline-style XML says the level and due time, and still validates.
    xmlschema.XMLSchema(str(cybertip_schema_path())).validate(ref.package or "")
    assert "<priorityLevel>3</priorityLevel>" in (ref.package or "")
    assert "<incidentType>online_enticement</incidentType>" in (ref.package or "")

    # The UK package names its route, level, due time and the declaration.
    other = _reported(store, media, seed=2)
    uk = service.build(other, NCA)
    d = json.loads(uk.package or "")
    assert d["destination"] == "nca" and "portal or API" in d["route"]
    assert d["priority_level"] == 2 and d["due_at"]
    assert d["declaration"].startswith("The reporting organisation declares")
    assert any("URL" in m for m in d["not_held"])
    assert "Priority Level 2" in (uk.summary or "")


def test_an_urgent_item_is_level_1_and_a_lower_level_is_refused(
    store: Store, media: MediaStore, service: ReferralService
) -> None:
    item = _reported(store, media, imminent_risk=True)
    with pytest.raises(PriorityTooLow):
        service.build(item, NCA, priority=Priority.LEVEL_2)
    assert service.referrals() == []
    ref = service.build(item, NCA)
    assert ref.priority is Priority.LEVEL_1 and ref.urgent
    decided_at = store.items.decisions(item)[0]["decided_at"]
    assert ref.due_at == decided_at + timedelta(hours=1)


def test_awaiting_lists_reported_items_until_a_referral_is_built(
    store: Store, media: MediaStore, service: ReferralService, clock: FakeClock
) -> None:
    slow = _reported(store, media, seed=1)
    urgent = _reported(store, media, seed=2, imminent_risk=True)
    plain = add_item(store, media, seed=3)
    decide(store, plain, Grading(severity=Severity.NOT_ILLEGAL, actions=frozenset({Action.REMOVE})))
    rows = service.awaiting()
    assert [a.item_id for a in rows] == [urgent, slow]  # earliest due first
    assert rows[0].priority is Priority.LEVEL_1 and rows[0].destination is NCA
    assert rows[1].due_at == rows[1].decided_at + timedelta(hours=24)
    assert rows[1].incident_type is IncidentType.ONLINE_ENTICEMENT  # a groomed item
    service.build(urgent, NCA)
    assert [a.item_id for a in service.awaiting()] == [slow]


def test_no_report_to_the_nca_after_one_to_ncmec_even_by_another_account(
    store: Store, media: MediaStore, service: ReferralService, repo: ReferralRepo
) -> None:
    item = _reported(store, media)
    first = service.build(item, NCMEC)
    other_lead = ReferralService(repo, media, stored_account(store, "lead-b", Role.LEAD))
    with pytest.raises(AlreadyReported, match=first.reference):
        other_lead.build(item, NCA)
    with pytest.raises(AlreadyReported, match="not built again"):
        other_lead.build(item, ReferralKind.CYBERTIP)
    assert [r.reference for r in service.referrals()] == [first.reference]


def test_a_stale_build_is_refused_inside_the_saving_transaction(
    store: Store, media: MediaStore, service: ReferralService, repo: ReferralRepo
) -> None:
    """A service that checked before the other report existed still cannot store its
    package: the store checks again in the transaction that saves it."""
    item = _reported(store, media)
    ncmec = service.build(item, NCMEC)
    stale = NewReferral(
        reference="NCA-STALE-1",
        kind=ReferralKind.UK,
        item_ids=(item,),
        decision_id=None,
        created_at=ncmec.created_at,
        complete=True,
        missing=(),
        urgent=False,
        package="{}",
        summary="",
        destination=NCA,
        priority=Priority.LEVEL_2,
        due_at=None,
        incident_type=IncidentType.CSAM,
    )
    with pytest.raises(AlreadyReported):
        repo.save(stale, Check(service.account.id, service.account.name, Operation.REFERRAL_BUILD))
    assert len(service.referrals()) == 1
    assert store.audit_events(item, kind="referral_created")[-1].detail["reference"] == (
        ncmec.reference
    )


def test_two_people_building_the_same_report_at_once_store_one(
    store: Store, media: MediaStore, service: ReferralService
) -> None:
    item = _reported(store, media)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def build() -> None:
        barrier.wait()
        try:
            outcomes.append(service.build(item, NCA).reference)
        except AlreadyReported as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outcomes) == 2
    assert sum(isinstance(o, AlreadyReported) for o in outcomes) == 1
    assert len(service.referrals()) == 1


def test_an_old_nca_referral_is_not_sent_after_the_content_went_to_ncmec(
    store: Store, media: MediaStore, service: ReferralService, tmp_path: Path
) -> None:
    """A package built before the CyberTipline report (here: written with raw SQL, as
    an old row would be) is refused at export, and the files it wrote are removed."""
    item = _reported(store, media)
    nca = service.build(item, NCA)
    with store.engine.begin() as conn:
        conn.execute(
            insert(ReferralRow.__table__).values(
                reference="NCMEC-OLD-1",
                kind="cybertip",
                item_ids=[item],
                created_at=nca.created_at,
                complete=True,
                missing=[],
                urgent=False,
                package="<report/>",
                exported_at=nca.created_at,
                destination="ncmec",
                priority=2,
            )
        )
    out = tmp_path / "chosen"
    out.mkdir()
    with pytest.raises(AlreadyReported, match="NCMEC-OLD-1"):
        service.export(nca.id, out)
    assert list(out.iterdir()) == []
    assert service.get(nca.id).sent_at is None
    assert store.audit_events(item, kind="referral_exported") == []


def test_raw_sql_cannot_store_an_unknown_destination_or_priority(
    store: Store, repo: ReferralRepo
) -> None:
    for n, bad in enumerate(
        ({"destination": "interpol", "priority": 1}, {"destination": "nca", "priority": 0})
    ):
        with pytest.raises(IntegrityError), store.engine.begin() as conn:
            conn.execute(
                insert(ReferralRow.__table__).values(
                    reference=f"BAD-{n}",
                    kind="uk",
                    item_ids=[1],
                    created_at=repo.current_time(),
                    complete=True,
                    urgent=False,
                    **bad,
                )
            )


# ------------------------------------------------------------------- retention in the store
def test_retention_follows_the_destination_and_a_legal_hold_outlasts_it(
    store: Store,
    media: MediaStore,
    service: ReferralService,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    retention_repo = store.retention
    retention = RetentionService(retention_repo, media, stored_account(store, "Ada", Role.ADMIN))
    to_us = _reported(store, media, seed=1)
    held = _reported(store, media, seed=2)
    for item, folder in ((to_us, "a"), (held, "b")):
        (tmp_path / folder).mkdir()
        service.export(service.build(item, NCMEC).id, tmp_path / folder)
    retention_repo.place_hold(held, retention_check(store), "Preservation order PO-9 (synthetic)")

    clock.advance(364 * DAY)
    run = retention.run()
    assert run.done == [] and not run.errors  # 90 days would have gone long ago
    kept = {k.item_id: k for k in run.plan.kept}
    assert "NCMEC CyberTipline" in kept[to_us].detail and "365 days" in kept[to_us].detail
    clock.advance(DAY)
    assert [d.item_id for d in retention.run().done] == [to_us]
    clock.advance(3000 * DAY)
    assert retention.run().done == []  # the legal hold still wins
    assert store.items.item(held).extra  # personal data still there


def test_an_admin_lengthens_the_nca_hold_and_the_store_follows(
    store: Store,
    media: MediaStore,
    service: ReferralService,
    repo: ReferralRepo,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    repo.update_destination_rules(
        settings_check(store), NCA, report_hold_days=730, reference_keep_days=1825
    )
    item = _reported(store, media)
    service.export(service.build(item, NCA).id, tmp_path)
    retention = RetentionService(store.retention, media, stored_account(store, "Ada", Role.ADMIN))
    clock.advance(729 * DAY)
    assert retention.run().done == []
    clock.advance(DAY)
    assert [d.item_id for d in retention.run().done] == [item]
    (ev,) = store.audit_events(None, kind="reporting_rules_changed")
    assert ev.detail["to"]["destinations"]["nca"]["report_hold_days"] == 730
    with pytest.raises(ValueError, match="at least 90"):
        repo.update_destination_rules(settings_check(store), NCMEC, report_hold_days=30)
    with pytest.raises(NotFound):
        service.get(999)
