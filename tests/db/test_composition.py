"""The composition root builds the workstation as the GUI runs it: every collaborator
wired, and the admin's settings reaching what a sign-in gets. SQLite and PostgreSQL."""

from __future__ import annotations

from sign_in import admin_check

from db.media_store import MediaStore
from db.store import Store
from reviewer.accounts import Role, VettingStatus
from reviewer.clock import FakeClock
from reviewer.composition import build_workstation
from reviewer.permissions import Operation
from reviewer.review_service import CalibratedReviewService
from wellbeing.settings import WelfareSettings

ADMIN_PW = "admin password 1"
LEAD_PW = "lead password 12"


def test_a_sign_in_gets_every_collaborator_and_the_admins_settings(
    store: Store, media: MediaStore, clock: FakeClock
) -> None:
    ws = build_workstation(store, media, b"team seed", None, clock)
    admin = ws.enrol_first_admin("Ada", ADMIN_PW)
    assert isinstance(admin, CalibratedReviewService)
    assert admin.welfare is not None and admin.show_less is not None and admin.team is not None
    assert admin.team.gold is not None and admin.team.dashboard is None

    store.welfare.save_settings(
        WelfareSettings(reprotect_after_seconds=4), admin_check(store, Operation.WELFARE_SETTINGS)
    )
    repo = store.accounts
    lead = repo.create_user(admin.account, "Lee", LEAD_PW, {Role.LEAD})
    repo.set_vetting(admin.account, lead.id, VettingStatus.VETTED, clock.now().date())
    signed_in = ws.log_in("Lee", LEAD_PW)
    assert signed_in.reprotect_after_s == 4
    assert signed_in.team is not None and signed_in.team.dashboard is not None
    assert signed_in.team.referrals is not None and signed_in.team.gold is None
