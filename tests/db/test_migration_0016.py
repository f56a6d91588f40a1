"""Migration 0016 (referral destinations) goes both ways, and referrals stored before
it get a destination from their package kind and a level from their urgency."""

from __future__ import annotations

from alembic import command
from referral_fixtures import reporting_lead
from sqlalchemy import inspect, text

from db.migrate import alembic_config, upgrade
from db.models import ReferralRow, ReportingSettingsRow
from db.store import Store
from reviewer.destinations import Destination, Priority
from reviewer.permissions import Check, Operation


def _columns(store: Store, table: str) -> set[str]:
    return {c["name"] for c in inspect(store.engine).get_columns(table)}


def test_0016_round_trip_keeps_old_referrals_and_matches_the_models(store: Store) -> None:
    new = {"destination", "priority", "due_at", "incident_type"}
    assert _columns(store, "referrals") == {c.name for c in ReferralRow.__table__.columns}
    assert _columns(store, "reporting_settings") == {
        c.name for c in ReportingSettingsRow.__table__.columns
    }

    command.downgrade(alembic_config(store.engine), "0016-1")
    assert not new & _columns(store, "referrals")
    now = store.referrals.current_time()
    with store.engine.begin() as conn:
        for ref, kind, urgent in (("OLD-UK", "uk", True), ("OLD-US", "cybertip", False)):
            conn.execute(
                text(
                    "INSERT INTO referrals (reference, kind, item_ids, created_at, complete, "
                    "urgent) VALUES (:r, :k, '[1]', :t, :c, :u)"
                ),
                {"r": ref, "k": kind, "t": now, "c": True, "u": urgent},
            )
    upgrade(store.engine)
    lead = reporting_lead(store)
    read = Check(lead.id, lead.name, Operation.REFERRAL_READ)
    got = {r.reference: r for r in store.referrals.referrals(read)}
    assert (got["OLD-UK"].destination, got["OLD-UK"].priority) == (NCA, Priority.LEVEL_1)
    assert (got["OLD-US"].destination, got["OLD-US"].priority) == (NCMEC, Priority.LEVEL_2)
    assert got["OLD-UK"].due_at is None and got["OLD-UK"].incident_type is None


NCA, NCMEC = Destination.NCA, Destination.NCMEC
