"""The retention executor against a real store, with a fake clock.

The audit chain: every event of these tests is chained by the Store's unit of work
with the test's key, and `db.audit.verify` must pass after disposals, which proves a
disposal never edits or deletes an audit row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from referral_fixtures import (
    FULL_CHAT,
    FULL_SUBJECT,
    NOT_ILLEGAL,
    REPORT_B,
    add_item,
    decide,
    reporting_lead,
    retention_check,
    settings_check,
)
from sign_in import stored_account
from sqlalchemy import text

from db import audit
from db.media_store import MediaStore
from db.retention import MAX_REASON, RetentionRepo
from db.store import Store
from reviewer.accounts import Role
from reviewer.clock import FakeClock
from reviewer.referral_service import ReferralKind, ReferralService
from reviewer.retention_service import RetentionService
from reviewer.untrusted import Untrusted

DAY = 86_400.0


@pytest.fixture
def chained_audit() -> bytes:
    """The audit key the Store chains with (from the test's in-memory keyring)."""
    return audit.load_key()


@pytest.fixture
def world(chained_audit: bytes, store: Store, media: MediaStore, tmp_path: Path) -> dict[str, Any]:
    referrals = store.referrals
    referrals.update_settings(
        settings_check(store),
        organisation="Example Ltd",
        contact_name="Lead",
        contact_email="l@example.test",
    )
    retention = store.retention
    return {
        "referrals": ReferralService(referrals, media, reporting_lead(store)),
        "repo": retention,
        "service": RetentionService(retention, media, stored_account(store, "Ada", Role.ADMIN)),
        "out": tmp_path,
        "key": chained_audit,
    }


def _report_and_export(world: dict[str, Any], store: Store, item: int) -> None:
    svc: ReferralService = world["referrals"]
    ref = svc.build(item, ReferralKind.UK)
    out = world["out"] / ref.reference
    out.mkdir()
    svc.export(ref.id, out)


def _state(store: Store, media: MediaStore, item: int) -> tuple[bool, bool]:
    """(media blob present, personal data present) as the store and disk say."""
    view = store.items.item(item)
    return media.has(view.media.sha256), bool(view.extra or view.upload_ip)


def _audit_rows(store: Store) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text("SELECT id, seq, at, kind, item_id, hash, mac FROM audit_events ORDER BY id")
            )
        ]


def test_holds_and_report_periods_are_never_cut_short(
    world: dict[str, Any], store: Store, media: MediaStore, clock: FakeClock
) -> None:
    service: RetentionService = world["service"]
    repo: RetentionRepo = world["repo"]
    reported = add_item(store, media, seed=1, subject=FULL_SUBJECT, chat=FULL_CHAT)
    decide(store, reported, REPORT_B)
    _report_and_export(world, store, reported)
    held = add_item(store, media, seed=2, subject=FULL_SUBJECT)
    decide(store, held, NOT_ILLEGAL)
    repo.place_hold(held, retention_check(store), "Preservation order PO-1 (synthetic)")
    clean = add_item(store, media, seed=3, subject=FULL_SUBJECT)
    decide(store, clean, NOT_ILLEGAL)
    undecided = add_item(store, media, seed=4)
    start = clock.now()

    disposed_on: dict[int, float] = {}
    for day in range(0, 370):
        run = service.run()
        assert not run.errors
        for d in run.done:
            disposed_on[d.item_id] = (clock.now() - start).total_seconds() / DAY
        # Invariants on every day: a hold and the report period always win.
        assert _state(store, media, held) == (True, True)
        assert _state(store, media, undecided) == (True, True)
        if day < 365:  # sent to the NCA: its hold (365 days by default) wins over 90
            assert _state(store, media, reported) == (True, True), f"day {day}"
        if day < 30:
            assert _state(store, media, clean) == (True, True), f"day {day}"
        clock.advance(DAY)

    # Everything past its period went, on the first run after the period ended.
    assert disposed_on == {clean: 30, reported: 365}
    assert _state(store, media, reported) == (False, False)
    assert _state(store, media, clean) == (False, False)

    # Lifting the hold lets the next run dispose of the long-expired non-illegal item.
    repo.lift_hold(held, retention_check(store), "Order expired")
    assert [d.item_id for d in service.run().done] == [held]
    assert _state(store, media, held) == (False, False)

    # The audit chain still verifies: disposal never touched an audit row.
    result = audit.verify(store.engine, world["key"])
    assert result.ok, result.message
    kinds = [e.kind for e in store.audit_events(reported)]
    assert "retention_disposed" in kinds and "decision" in kinds and "item_ingested" in kinds


def test_disposal_keeps_the_audit_record_and_drops_personal_data(
    world: dict[str, Any], store: Store, media: MediaStore, clock: FakeClock
) -> None:
    item = add_item(store, media, seed=1, subject=FULL_SUBJECT, chat=FULL_CHAT)
    decide(store, item, REPORT_B)
    _report_and_export(world, store, item)
    sha = store.items.item(item).media.sha256
    before = _audit_rows(store)
    clock.advance(366 * DAY)

    run = world["service"].run()
    assert [d.item_id for d in run.done] == [item]
    assert run.blobs_deleted == [sha]

    view = store.items.item(item)
    assert view.media.sha256 == sha  # the hash stays
    assert (view.report_text, view.reported_accounts, view.upload_ip) == ("", (), None)
    assert view.extra == {} and view.upload_time is None
    (decision,) = store.items.decisions(item)  # the grade stays
    assert decision["severity"] == "B"
    (ref,) = world["referrals"].referrals()
    assert ref.package is None and ref.summary is None and ref.disposed_at is not None
    assert ref.reference and ref.created_at  # who/when of the referral stays

    after = _audit_rows(store)
    assert after[: len(before)] == before  # nothing edited or removed
    (ev,) = store.audit_events(item, kind="retention_disposed")
    assert ev.detail["sha256"] == sha and ev.detail["what"] == "both"
    assert ev.detail["referrals_redacted"] == [ref.reference]
    assert audit.verify(store.engine, world["key"]).ok


def test_a_blob_shared_with_a_kept_item_is_not_deleted(
    world: dict[str, Any], store: Store, media: MediaStore, clock: FakeClock
) -> None:
    first = add_item(store, media, seed=1, subject=FULL_SUBJECT)
    data = media.get(store.items.item(first).media.sha256)
    decide(store, first, NOT_ILLEGAL)
    second = add_item(store, media, data=data, subject=FULL_SUBJECT, chat=FULL_CHAT)
    decide(store, second, REPORT_B)
    _report_and_export(world, store, second)
    sha = store.items.item(first).media.sha256

    clock.advance(31 * DAY)
    run = world["service"].run()
    assert [d.item_id for d in run.done] == [first] and run.blobs_deleted == []
    assert media.has(sha)
    assert world["referrals"].get(1).package  # the reported item's data is untouched
    clock.advance(335 * DAY)
    run = world["service"].run()
    assert [d.item_id for d in run.done] == [second] and run.blobs_deleted == [sha]
    assert not media.has(sha)


def test_dry_run_changes_nothing(
    world: dict[str, Any], store: Store, media: MediaStore, clock: FakeClock
) -> None:
    item = add_item(store, media, seed=1, subject=FULL_SUBJECT)
    decide(store, item, NOT_ILLEGAL)
    clock.advance(31 * DAY)
    before = _audit_rows(store)
    run = world["service"].run(dry_run=True)
    assert [d.item_id for d in run.plan.disposals] == [item]
    assert any(line.startswith("would delete both of item") for line in run.lines())
    assert _state(store, media, item) == (True, True)
    assert _audit_rows(store) == before


def test_an_admin_may_hold_reports_for_a_year(
    world: dict[str, Any], store: Store, media: MediaStore, clock: FakeClock
) -> None:
    store.referrals.update_settings(settings_check(store), report_hold_days=365)
    with pytest.raises(ValueError, match="at least 90"):
        store.referrals.update_settings(settings_check(store), report_hold_days=30)
    item = add_item(store, media, seed=1, subject=FULL_SUBJECT, chat=FULL_CHAT)
    decide(store, item, REPORT_B)
    _report_and_export(world, store, item)
    clock.advance(364 * DAY)
    assert world["service"].run().done == []
    clock.advance(DAY)
    assert [d.item_id for d in world["service"].run().done] == [item]


def test_erasure_is_honoured_except_under_a_report_hold(
    world: dict[str, Any], store: Store, media: MediaStore, clock: FakeClock
) -> None:
    repo: RetentionRepo = world["repo"]
    clean = add_item(store, media, seed=1, subject=FULL_SUBJECT)
    decide(store, clean, NOT_ILLEGAL)
    reported = add_item(store, media, seed=2, subject=FULL_SUBJECT, chat=FULL_CHAT)
    decide(store, reported, REPORT_B)
    _report_and_export(world, store, reported)
    repo.request_erasure(clean, retention_check(store))
    repo.request_erasure(reported, retention_check(store))
    run = world["service"].run()
    assert [d.item_id for d in run.done] == [clean]  # at once, not after 30 days
    assert _state(store, media, reported) == (True, True)
    assert any("erasure request deferred" in line for line in run.lines())
    assert "erasure_requested" in [e.kind for e in store.audit_events(clean)]


def test_a_hold_placed_after_planning_wins(
    world: dict[str, Any], store: Store, media: MediaStore, clock: FakeClock
) -> None:
    repo: RetentionRepo = world["repo"]
    item = add_item(store, media, seed=1, subject=FULL_SUBJECT)
    decide(store, item, NOT_ILLEGAL)
    clock.advance(31 * DAY)
    plan = world["service"].plan()
    assert [d.item_id for d in plan.plan.disposals] == [item]
    repo.place_hold(item, retention_check(store), "Order arrived mid-run")
    assert repo.dispose(item, plan.policy, retention_check(store)) is None
    assert _state(store, media, item) == (True, True)


def test_holds_need_a_reason_and_an_item(world: dict[str, Any], store: Store) -> None:
    repo: RetentionRepo = world["repo"]
    with pytest.raises(ValueError, match="reason"):
        repo.place_hold(1, retention_check(store), "  ")
    with pytest.raises(Exception, match="item 999"):
        repo.place_hold(999, retention_check(store), "x")


def test_over_long_hold_reasons_and_erasure_notes_are_refused_and_nothing_is_stored(
    world: dict[str, Any], store: Store, media: MediaStore
) -> None:
    repo: RetentionRepo = world["repo"]
    item = add_item(store, media, seed=1, subject=FULL_SUBJECT)
    decide(store, item, NOT_ILLEGAL)
    long = "x" * (MAX_REASON + 1)
    with pytest.raises(ValueError, match=f"longer than {MAX_REASON} characters"):
        repo.place_hold(item, retention_check(store), long)
    with pytest.raises(Untrusted, match=f"'note' is longer than {MAX_REASON:,} characters"):
        repo.request_erasure(item, retention_check(store), long)
    with pytest.raises(Untrusted, match="NUL"):
        repo.request_erasure(item, retention_check(store), "a\0b")
    assert repo.holds(item) == []
    kinds = [e.kind for e in store.audit_events(item)]
    assert "legal_hold_placed" not in kinds and "erasure_requested" not in kinds
    assert world["service"].run().done == []  # no erasure was recorded to honour
    repo.place_hold(item, retention_check(store), "x" * MAX_REASON)
    with pytest.raises(ValueError, match=f"longer than {MAX_REASON} characters"):
        repo.lift_hold(item, retention_check(store), long)
    assert len(repo.holds(item)) == 1
    repo.request_erasure(item, retention_check(store), "x" * MAX_REASON)
    assert "erasure_requested" in [e.kind for e in store.audit_events(item)]
