"""Every admin setting reaches the place it is used: the welfare caps the lead
dashboard compares people against (it used the defaults). SQLite and PostgreSQL."""

from __future__ import annotations

import wiring
from qa_helpers import SEED, account, add_items, decide_next, graded, moderator_session
from sign_in import admin_check

from db.dashboard import DashboardRepo
from db.qa import QaRepo
from db.referrals import ReferralRepo
from db.store import Store
from db.welfare import WelfareRepo
from reviewer.accounts import Role
from reviewer.clock import FakeClock
from reviewer.dashboard import DashboardService
from reviewer.permissions import Operation
from reviewer.qa_service import QaService
from reviewer.referral_service import ReferralService
from reviewer.vocabulary import Severity
from wellbeing.settings import WelfareSettings


def test_the_dashboard_compares_people_against_the_admins_caps(
    store: Store, clock: FakeClock
) -> None:
    qa = QaRepo(store)
    welfare = WelfareRepo(store)
    add_items(store, 2)
    mod = account(store, "Mo", Role.MODERATOR)
    # 40 minutes of Category A revealed today: under the default 4-hour cap.
    decide_next(moderator_session(store, qa, mod), graded(Severity.A), seconds=40 * 60)
    lead = account(store, "Lee", Role.LEAD)
    dash = DashboardService(
        DashboardRepo(store),
        QaService(qa, lead, clock, SEED),
        lead,
        clock,
        welfare.settings,
        referral_deadlines=ReferralService(ReferralRepo(store), wiring.NoMedia(), lead).deadlines,
    )
    before = dash.snapshot()
    assert before.caps.daily_ab_s == WelfareSettings().daily_ab_revealed_cap_seconds
    assert before.over_daily_cap() == []

    # The admin lowers the cap to half an hour: the next refresh shows Mo over it.
    lowered = WelfareSettings(daily_ab_revealed_cap_hours=0.5, cap_warning_minutes=5)
    welfare.save_settings(lowered, admin_check(store, Operation.WELFARE_SETTINGS))
    after = dash.snapshot()
    assert after.caps.daily_ab_s == 1800 and after.caps.weekly_ab_s == 1800 * 5
    assert [p.name for p in after.over_daily_cap()] == ["Mo"]
