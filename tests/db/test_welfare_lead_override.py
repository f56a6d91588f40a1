"""Ending a break early needs a real team lead: their password, their role, not the
moderator on the break; every override is audited with the lead's name and reason."""

from __future__ import annotations

from datetime import date

import pytest

from db.store import Store
from reviewer.accounts import AccessDenied, LoginFailed, Role
from reviewer.clock import FakeClock
from reviewer.model import User
from reviewer.untrusted import MAX_NOTE, Untrusted
from reviewer.welfare_service import WelfareSession

PASSWORD = "a long enough passphrase"


def test_only_an_authenticated_lead_ends_a_break_early(store: Store, clock: FakeClock) -> None:
    accounts = store.accounts
    admin = accounts.enrol_first_admin("Admin", PASSWORD)
    people = {}
    for name, role in (("Mo", Role.MODERATOR), ("Lee", Role.LEAD)):
        person = accounts.create_user(admin, name, PASSWORD, {role})
        accounts.set_vetting(admin, person.id, "vetted", date(2026, 1, 1))
        people[name] = person
    mo = people["Mo"]
    session = WelfareSession(
        store.welfare, User(mo.id, mo.name, mo.role), clock, accounts.authenticate
    )
    session.start_shift()
    session.start_break()
    clock.advance(60)
    with pytest.raises(AccessDenied):  # the moderator on the break, whatever their password
        session.lead_end_break("Mo", "I feel fine", PASSWORD)
    with pytest.raises(LoginFailed):
        session.lead_end_break("Lee", "urgent escalation", "not the password")
    with pytest.raises(AccessDenied):  # an admin is not a lead
        session.lead_end_break("Admin", "urgent escalation", PASSWORD)
    with pytest.raises(Untrusted, match="'reason' is longer than 1,000 characters"):
        session.lead_end_break("Lee", "r" * (MAX_NOTE + 1), PASSWORD)
    assert session.state().mode.value == "on_break"
    assert store.audit_events(kind="break_overridden") == []
    session.lead_end_break("Lee", "urgent escalation needs a second reviewer", PASSWORD)
    assert session.state().can_claim
    [event] = store.audit_events(kind="break_overridden")
    assert event.detail["lead"] == "Lee"
    assert event.detail["reason"] == "urgent escalation needs a second reviewer"
