"""Every setting an admin can change reaches the place it is used, on SQLite and
PostgreSQL.

Each test changes one setting the way an admin does it (signed in through the
workstation the composition root builds; the QA settings through the admin's own
QaService, the reporting and retention settings through the `reviewer` commands with
the admin's password, the welfare settings through `reviewer welfare settings` (no
screen edits them)) and then watches the setting's consumer behave by the
new value where the default would behave otherwise: the welfare policy of the next
sign-in, the lead's dashboard, the QA sampler, gold serves, the hash export, the
referral packages, the awaiting list, the retention plan and the claim queue.

The list of settings is read from the code (the settings dataclasses, and the database
tables named `*_settings`): a setting added without a test here makes
`test_every_admin_setting_has_a_reach_test` fail.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path

import pytest
from hash_helpers import give_hashes
from qa_helpers import SEED, add_items, graded
from referral_fixtures import (
    FULL_CHAT,
    FULL_SUBJECT,
    NOT_ILLEGAL,
    REPORT_B,
    REVEALED,
    add_item,
)

from db.media_store import MediaStore
from db.models import Base
from db.store import Store
from reviewer.accounts import Account, QueueInfo, Role, SecuritySettings, VettingStatus
from reviewer.cli import main
from reviewer.clock import FakeClock
from reviewer.composition import build_workstation
from reviewer.destinations import (
    AlreadyReported,
    Destination,
    DestinationRule,
    Priority,
    reference_keep_until,
)
from reviewer.grading import Grading
from reviewer.matching import export_confirmed
from reviewer.model import Claim, Exposure
from reviewer.qa_model import QaSettings
from reviewer.referral_service import ReferralService, ReportingSettings
from reviewer.retention_model import Disposal, Kept
from reviewer.retention_service import RetentionService
from reviewer.review_service import ReviewService, Workstation
from reviewer.sampling import SamplingPolicy
from reviewer.vocabulary import AgeConfidence, Severity
from wellbeing.policy import BreakNotOver, Limit, Mode, PauseNotSkippable, ReviewLocked
from wellbeing.settings import WelfareSettings

ADMIN, ADMIN_PW = "Ada Admin", "admin password 1"
PW = "a person's password 1"
DAY = 86400.0
NCA, NCMEC = Destination.NCA, Destination.NCMEC
UI_TESTS = Path(__file__).parents[1] / "ui" / "test_settings_reach_ui.py"


# --------------------------------------------------------------------------- the registry
def admin_settings() -> set[str]:
    """Every setting an admin can change, as the code declares them."""
    out = {f"welfare.{f.name}" for f in fields(WelfareSettings)}
    out |= {f"security.{f.name}" for f in fields(SecuritySettings)}
    out |= {f"qa.{k}" for k in QaSettings().to_dict()}
    out |= {f"reporting.{f.name}" for f in fields(ReportingSettings) if f.name != "destinations"}
    out |= {f"destinations.{f.name}" for f in fields(DestinationRule)}
    out.add("destinations.default_destination")
    # Per queue, on the Users screen (who may claim from it is per account).
    out |= {f"queue.{f.name}" for f in fields(QueueInfo) if f.name not in ("id", "name")}
    return out


# Where each kind of setting is stored; a new `*_settings` table must be added here (and
# its settings to admin_settings) before the registry test passes.
SETTINGS_TABLES = {
    "welfare_settings": "welfare",
    "security_settings": "security",
    "qa_settings": "qa",
    "reporting_settings": "reporting",
}

# setting -> the tests that change it as an admin does and watch its consumer.
COVERED: dict[str, tuple[str, ...]] = {
    "welfare.break_after_active_minutes": ("test_break_after_active_minutes",),
    "welfare.break_minutes": ("test_break_minutes",),
    "welfare.daily_active_cap_hours": ("test_daily_active_cap_hours",),
    "welfare.daily_ab_revealed_cap_hours": (
        "test_daily_ab_revealed_cap_hours_closes_review",
        "test_daily_ab_revealed_cap_hours_on_the_dashboard",
    ),
    "welfare.cap_warning_minutes": (
        "test_cap_warning_minutes_warns_the_moderator",
        "test_cap_warning_minutes_on_the_dashboard",
    ),
    "welfare.shift_length_hours": ("test_shift_length_hours",),
    "welfare.pause_after_a_seconds": ("test_pause_after_a_seconds",),
    "welfare.pause_skippable_after_seconds": ("test_pause_skippable_after_seconds",),
    "welfare.max_consecutive_a": ("test_max_consecutive_a",),
    "welfare.reprotect_after_seconds": (
        "test_reprotect_after_seconds_reaches_the_session",
        "ui:test_the_admins_reprotect_delay_reaches_the_image_view",
    ),
    "welfare.idle_pause_seconds": ("test_idle_pause_seconds",),
    "welfare.blur_step_default": (
        "test_starting_blur_steps",
        "ui:test_the_admins_starting_blur_reaches_the_image_view",
    ),
    "welfare.blur_step_suspected_a": (
        "test_starting_blur_steps",
        "ui:test_the_admins_starting_blur_reaches_the_image_view",
    ),
    "welfare.blur_step_suspected_b": (
        "test_starting_blur_steps",
        "ui:test_the_admins_starting_blur_reaches_the_image_view",
    ),
    "welfare.blur_step_suspected_c": (
        "test_starting_blur_steps",
        "ui:test_the_admins_starting_blur_reaches_the_image_view",
    ),
    "security.idle_lock_minutes": (
        "test_security_settings_reach_the_next_sign_in",
        "ui:test_the_admins_idle_lock_minutes_lock_the_window",
    ),
    "security.release_after_minutes": (
        "test_security_settings_reach_the_next_sign_in",
        "ui:test_the_admins_release_after_minutes_hand_items_back",
    ),
    "qa.base_rate": ("test_qa_base_rate",),
    "qa.always_uncertain_age": ("test_qa_always_uncertain_age",),
    "qa.new_moderator_rate": ("test_qa_new_moderator_rate",),
    "qa.new_moderator_first_n": ("test_qa_new_moderator_first_n",),
    "qa.gold_rate": ("test_qa_gold_rate",),
    "qa.export_grades_needed": ("test_qa_export_grades_needed",),
    "reporting.organisation": ("test_reporter_details_reach_the_package",),
    "reporting.contact_name": ("test_reporter_details_reach_the_package",),
    "reporting.contact_email": ("test_reporter_details_reach_the_package",),
    "reporting.contact_phone": ("test_reporter_details_reach_the_package",),
    "reporting.report_hold_days": ("test_general_report_hold_days",),
    "reporting.non_illegal_dispose_days": ("test_non_illegal_dispose_days",),
    "destinations.time_frames_hours": ("test_destination_time_frames_hours",),
    "destinations.report_hold_days": ("test_destination_report_hold_days",),
    "destinations.reference_keep_days": ("test_destination_reference_keep_days",),
    "destinations.exempt_if_reported_to": ("test_destination_exempt_if_reported_to",),
    "destinations.default_destination": ("test_default_destination",),
    "queue.restricted": ("test_queue_restricted",),
}


def test_every_admin_setting_has_a_reach_test() -> None:
    assert set(COVERED) == admin_settings(), "a setting without a reach test (or a stale entry)"
    tables = {t for t in Base.metadata.tables if t.endswith("_settings")}
    assert tables == set(SETTINGS_TABLES), "a settings table this file does not know"
    ui_source = UI_TESTS.read_text(encoding="utf-8")
    for setting, tests in COVERED.items():
        assert tests, setting
        for name in tests:
            if name.startswith("ui:"):
                assert f"def {name[3:]}(" in ui_source, f"{setting}: {name} is not in {UI_TESTS}"
            else:
                assert callable(globals().get(name)), f"{setting}: no test named {name}"


# --------------------------------------------------------------------------- the desk
@dataclass
class Desk:
    """The workstation as the GUI builds it, with its first admin signed in."""

    store: Store
    media: MediaStore
    clock: FakeClock
    ws: Workstation
    admin: ReviewService
    db_url: str

    def person(self, name: str, *roles: Role) -> Account:
        """An account the admin creates and vets on the Users screen's service."""
        users = self.admin.admin()
        acc = users.create_user(name, PW, roles)
        users.set_vetting(acc.id, VettingStatus.VETTED, self.clock.now().date())
        return acc

    def sign_in(self, name: str) -> ReviewService:
        return self.ws.log_in(name, PW)

    def moderator(self, name: str = "Mo Derator") -> ReviewService:
        self.person(name, Role.MODERATOR)
        return self.sign_in(name)

    def set_welfare(self, **changes: object) -> None:
        """`reviewer welfare settings --set NAME=VALUE ...` as the admin (the others kept)."""
        self.command("welfare", "settings", "--set", *(f"{k}={v}" for k, v in changes.items()))

    def set_qa(self, policy: SamplingPolicy, **changes: object) -> None:
        """The admin's QA settings, through the QaService the admin's sign-in got."""
        team = self.admin.team
        assert team is not None and team.gold is not None
        team.gold.set_settings(QaSettings(policy, **changes))  # type: ignore[arg-type]

    def command(
        self, *argv: str, user: str = ADMIN, password: str = ADMIN_PW, expect: int = 0
    ) -> None:
        """A `reviewer` command run by `user` (the admin), signed in with their password;
        it must exit with `expect`."""
        mp = pytest.MonkeyPatch()
        mp.setattr("sys.stdin", io.StringIO(password + "\n"))
        try:
            code = main([*argv, "--db", self.db_url, "--user", user, "--password-stdin"])
        finally:
            mp.undo()
        assert code == expect, argv


@pytest.fixture
def desk(store: Store, media: MediaStore, clock: FakeClock, db_url: str) -> Desk:
    ws = build_workstation(store, media, SEED.encode(), None, clock)
    return Desk(store, media, clock, ws, ws.enrol_first_admin(ADMIN, ADMIN_PW), db_url)


def work(svc: ReviewService, clock: FakeClock, seconds: float) -> None:
    """Time at the desk: an interaction every 15 s."""
    assert svc.welfare is not None
    for _ in range(round(seconds / 15)):
        clock.advance(15)
        svc.welfare.activity()


def mode(svc: ReviewService) -> Mode:
    assert svc.welfare is not None
    return svc.welfare.state().mode


def decide(svc: ReviewService, grading: Grading, seconds: float = 0.0) -> Claim:
    claim = svc.claim_next()
    assert claim is not None, "the queue ran dry"
    svc.open_item(claim)
    exposure = Exposure(
        seconds_revealed=seconds,
        reveal_count=1 if seconds else 0,
        max_area_fraction=1.0 if seconds else 0.0,
    )
    svc.submit(claim, grading, exposure, str(uuid.uuid4()))
    return claim


# --------------------------------------------------------------------------- welfare
def test_the_welfare_settings_command_refuses_bad_values_and_non_admins(
    desk: Desk, capsys: pytest.CaptureFixture[str]
) -> None:
    desk.set_welfare(break_minutes=15)
    desk.person("Lee Lead", Role.LEAD)
    capsys.readouterr()
    # Loosened past the evidence, a typo, not a number: refused by name, nothing saved.
    for bad, says in (
        ("break_after_active_minutes=90", "break_after_active_minutes must be 1..60"),
        ("brake_minutes=5", "unknown setting 'brake_minutes'"),
        ("break_minutes=ten", "break_minutes must be a whole number"),
    ):
        desk.command("welfare", "settings", "--set", bad, "cap_warning_minutes=5", expect=2)
        assert says in capsys.readouterr().err
    # Only an admin may change them (the gate refuses a lead, and audits it).
    desk.command(
        "welfare", "settings", "--set", "break_minutes=5", user="Lee Lead", password=PW, expect=1
    )
    assert "access_denied" in {e.kind for e in desk.store.audit_events(None)}
    assert desk.store.welfare.settings() == WelfareSettings(break_minutes=15)
    (changed,) = desk.store.audit_events(None, kind="welfare_settings_changed")
    assert changed.user_id == desk.admin.account.id and changed.detail["break_minutes"] == 15


def test_break_after_active_minutes(desk: Desk, enqueue: Callable[..., list[int]]) -> None:
    enqueue(desk.store, 2)
    desk.set_welfare(break_after_active_minutes=20)
    mo = desk.moderator()
    work(mo, desk.clock, 20 * 60 - 15)
    assert mode(mo) is Mode.REVIEWING
    work(mo, desk.clock, 15)
    assert mode(mo) is Mode.BREAK_DUE  # the default (50) would still be reviewing
    with pytest.raises(ReviewLocked):
        mo.claim_next()


def test_break_minutes(desk: Desk) -> None:
    desk.set_welfare(break_minutes=3)
    mo = desk.moderator()
    assert mo.welfare is not None
    mo.welfare.start_break()
    desk.clock.advance(3 * 60 - 1)
    with pytest.raises(BreakNotOver):
        mo.welfare.end_break()
    desk.clock.advance(1)
    mo.welfare.end_break()  # the default (10 minutes) would still refuse
    assert mode(mo) is Mode.REVIEWING


def test_daily_active_cap_hours(desk: Desk, enqueue: Callable[..., list[int]]) -> None:
    enqueue(desk.store, 2)
    desk.set_welfare(daily_active_cap_hours=0.25, cap_warning_minutes=5)
    mo = desk.moderator()
    work(mo, desk.clock, 15 * 60 - 15)
    assert mode(mo) is Mode.REVIEWING
    work(mo, desk.clock, 15)
    assert mo.welfare is not None and mo.welfare.state().cap is Limit.DAILY_ACTIVE
    with pytest.raises(ReviewLocked):
        mo.claim_next()


def test_daily_ab_revealed_cap_hours_closes_review(
    desk: Desk, enqueue: Callable[..., list[int]]
) -> None:
    enqueue(desk.store, 3)
    desk.set_welfare(daily_ab_revealed_cap_hours=0.5, cap_warning_minutes=5)
    mo = desk.moderator()
    decide(mo, graded(Severity.B), seconds=29 * 60)
    assert mode(mo) is Mode.REVIEWING
    decide(mo, graded(Severity.B), seconds=60)
    assert mo.welfare is not None and mo.welfare.state().cap is Limit.DAILY_AB_REVEALED
    with pytest.raises(ReviewLocked):
        mo.claim_next()


def test_daily_ab_revealed_cap_hours_on_the_dashboard(
    desk: Desk, enqueue: Callable[..., list[int]]
) -> None:
    enqueue(desk.store, 2)
    decide(desk.moderator("Mo"), graded(Severity.B), seconds=40 * 60)
    desk.person("Lee Lead", Role.LEAD)
    lead = desk.sign_in("Lee Lead")
    assert lead.team is not None and lead.team.dashboard is not None
    assert lead.team.dashboard.snapshot().over_daily_cap() == []
    # The lead's dashboard, already open, follows the admin's change at its next refresh.
    desk.set_welfare(daily_ab_revealed_cap_hours=0.5, cap_warning_minutes=5)
    assert [p.name for p in lead.team.dashboard.snapshot().over_daily_cap()] == ["Mo"]


def test_cap_warning_minutes_warns_the_moderator(desk: Desk) -> None:
    desk.set_welfare(daily_active_cap_hours=1.0, cap_warning_minutes=40)
    mo = desk.moderator()
    work(mo, desk.clock, 19 * 60)
    assert mo.welfare is not None and mo.welfare.state().warnings == ()
    work(mo, desk.clock, 60)
    # 40 minutes before the 1-hour cap (the default 15 would say nothing yet).
    assert mo.welfare.state().warnings == ("40 minutes of review left today",)


def test_cap_warning_minutes_on_the_dashboard(
    desk: Desk, enqueue: Callable[..., list[int]]
) -> None:
    enqueue(desk.store, 2)
    decide(desk.moderator("Mo"), graded(Severity.B), seconds=40 * 60)
    desk.set_welfare(daily_ab_revealed_cap_hours=1.0, cap_warning_minutes=15)
    desk.person("Lee Lead", Role.LEAD)
    lead = desk.sign_in("Lee Lead")
    assert lead.team is not None and lead.team.dashboard is not None
    assert lead.team.dashboard.snapshot().near_daily_cap() == []
    desk.set_welfare(daily_ab_revealed_cap_hours=1.0, cap_warning_minutes=30)
    assert [p.name for p in lead.team.dashboard.snapshot().near_daily_cap()] == ["Mo"]


def test_shift_length_hours(desk: Desk, enqueue: Callable[..., list[int]]) -> None:
    enqueue(desk.store, 2)
    desk.set_welfare(shift_length_hours=0.5, break_after_active_minutes=60)
    mo = desk.moderator()
    work(mo, desk.clock, 30 * 60 - 15)
    assert mode(mo) is Mode.REVIEWING
    work(mo, desk.clock, 15)
    assert mode(mo) is Mode.SHIFT_OVER
    with pytest.raises(ReviewLocked):
        mo.claim_next()


def test_pause_after_a_seconds(desk: Desk, enqueue: Callable[..., list[int]]) -> None:
    enqueue(desk.store, 3)
    desk.set_welfare(pause_after_a_seconds=45, pause_skippable_after_seconds=10)
    mo = desk.moderator()
    decide(mo, graded(Severity.A))
    assert mo.welfare is not None and mo.welfare.state().pause_seconds_left == 45
    desk.clock.advance(44)
    with pytest.raises(ReviewLocked):
        mo.claim_next()
    desk.clock.advance(1)
    assert mo.claim_next() is not None  # the default 30 s would have ended long ago


def test_pause_skippable_after_seconds(desk: Desk, enqueue: Callable[..., list[int]]) -> None:
    enqueue(desk.store, 2)
    desk.set_welfare(pause_after_a_seconds=60, pause_skippable_after_seconds=25)
    mo = desk.moderator()
    decide(mo, graded(Severity.A))
    assert mo.welfare is not None
    desk.clock.advance(24)
    with pytest.raises(PauseNotSkippable):
        mo.welfare.skip_pause()  # the default (10 s) would allow it
    desk.clock.advance(1)
    mo.welfare.skip_pause()
    assert mode(mo) is Mode.REVIEWING


def test_max_consecutive_a(desk: Desk, enqueue: Callable[..., list[int]]) -> None:
    suspected_a = enqueue(desk.store, 3, suspected=Severity.A, tag="a")
    other = enqueue(desk.store, 1, tag="other")
    desk.set_welfare(max_consecutive_a=1, pause_after_a_seconds=0, pause_skippable_after_seconds=0)
    mo = desk.moderator()
    first = decide(mo, graded(Severity.A))
    # The queue's own order serves suspected A items first...
    assert first.item.id in suspected_a
    # After one Category A decision the next claim passes by suspected A items (the
    # default, 3 in a row, would serve the next A item).
    nxt = mo.claim_next()
    assert nxt is not None and nxt.item.id == other[0]


def test_reprotect_after_seconds_reaches_the_session(desk: Desk) -> None:
    desk.set_welfare(reprotect_after_seconds=7)
    mo = desk.moderator()
    # What the review screen hands the image view (ui/review_screen.py).
    assert mo.reprotect_after_s == 7
    desk.person("Quinn QA", Role.QA)
    qa = desk.sign_in("Quinn QA")
    assert qa.team is not None and qa.team.qa_session is not None
    assert qa.team.qa_session.reprotect_after_s == 7


def test_idle_pause_seconds(desk: Desk) -> None:
    desk.set_welfare(idle_pause_seconds=30)
    mo = desk.moderator()
    assert mo.welfare is not None
    before = mo.welfare.state().active_seconds_today
    desk.clock.advance(300)
    mo.welfare.activity()
    # Five minutes without input count as 30 s of active time (the default: 120 s).
    assert mo.welfare.state().active_seconds_today - before == pytest.approx(30)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # hint -> starting blur step; the default table is 2 / A 3 / B 2 / C 2
        (
            {"blur_step_default": 3, "blur_step_suspected_b": 3, "blur_step_suspected_c": 3},
            {None: 3, Severity.A: 3, Severity.B: 3, Severity.C: 3},
        ),
        ({"blur_step_suspected_a": 4}, {None: 2, Severity.A: 4, Severity.B: 2, Severity.C: 2}),
        ({"blur_step_suspected_b": 4}, {None: 2, Severity.A: 3, Severity.B: 4, Severity.C: 2}),
        ({"blur_step_suspected_c": 3}, {None: 2, Severity.A: 3, Severity.B: 2, Severity.C: 3}),
    ],
    ids=["default", "suspected_a", "suspected_b", "suspected_c"],
)
def test_starting_blur_steps(
    desk: Desk,
    enqueue: Callable[..., list[int]],
    changes: dict[str, int],
    expected: dict[Severity | None, int],
) -> None:
    for hint in expected:
        enqueue(desk.store, 1, suspected=hint, tag=f"hint-{hint}")
    desk.set_welfare(**changes)
    mo = desk.moderator()
    assert mo.welfare is not None
    seen: dict[Severity | None, int] = {}
    for _ in expected:
        claim = mo.claim_next()
        assert claim is not None
        # What the review presenter opens the picture at (ui/review_presenter.py).
        seen[claim.item.suspected_category] = mo.welfare.starting_blur_step(claim)
    assert seen == expected


# --------------------------------------------------------------------------- security
def test_security_settings_reach_the_next_sign_in(desk: Desk) -> None:
    users = desk.admin.admin()
    users.set_security_settings(SecuritySettings(idle_lock_minutes=2, release_after_minutes=7))
    mo = desk.moderator()
    # What the application builds the window's lock timings from (ui/app.py).
    assert mo.security_settings() == SecuritySettings(2, 7)
    (ev,) = desk.store.audit_events(None, kind="security_settings_set")
    assert ev.user_id == desk.admin.account.id


# --------------------------------------------------------------------------- queues
def test_queue_restricted(desk: Desk) -> None:
    add_items(desk.store, 2, queue="Restricted")
    mo = desk.moderator()
    users = desk.admin.admin()
    (queue,) = [q for q in users.snapshot().queues if q.name == "Restricted"]
    # Marked restricted on the Users screen, Mo not among those allowed: not served.
    users.set_queue_access(mo.account.id, allowed=[], restricted=[queue.id])
    assert mo.claim_next() is None
    users.set_queue_access(mo.account.id, allowed=[queue.id], restricted=[queue.id])
    claim = mo.claim_next()
    assert claim is not None and claim.item.queue_name == "Restricted"


# --------------------------------------------------------------------------- QA
def samples_waiting(desk: Desk) -> int:
    """What a QA reviewer's queue shows pending."""
    qa = desk.sign_in("Quinn QA")
    assert qa.team is not None and qa.team.qa_session is not None
    (queue,) = qa.team.qa_session.queues()
    return queue.pending


def decide_many(mo: ReviewService, n: int, grading: Grading | None = None) -> None:
    for _ in range(n):
        decide(mo, grading or graded(Severity.C))


@pytest.fixture
def qa_desk(desk: Desk) -> Desk:
    add_items(desk.store, 12)
    desk.person("Quinn QA", Role.QA)
    desk.set_welfare(pause_after_a_seconds=0, pause_skippable_after_seconds=0)
    return desk


def test_qa_base_rate(qa_desk: Desk) -> None:
    d = qa_desk
    d.set_qa(SamplingPolicy(0.0, False, 0.0, 0))
    mo = d.moderator()
    decide_many(mo, 3)
    assert samples_waiting(d) == 0
    d.set_qa(SamplingPolicy(1.0, False, 0.0, 0))
    decide_many(mo, 3)
    assert samples_waiting(d) == 3


def test_qa_always_uncertain_age(qa_desk: Desk) -> None:
    d = qa_desk
    uncertain = graded(Severity.C, confidence=AgeConfidence.UNCERTAIN)
    d.set_qa(SamplingPolicy(0.0, False, 0.0, 0))
    mo = d.moderator()
    decide_many(mo, 2, uncertain)
    assert samples_waiting(d) == 0
    d.set_qa(SamplingPolicy(0.0, True, 0.0, 0))
    decide_many(mo, 2, uncertain)
    decide_many(mo, 1)  # a certain one stays unsampled
    assert samples_waiting(d) == 2


def test_qa_new_moderator_rate(qa_desk: Desk) -> None:
    d = qa_desk
    d.set_qa(SamplingPolicy(0.0, False, 0.0, 100))
    mo = d.moderator()
    decide_many(mo, 2)
    assert samples_waiting(d) == 0
    d.set_qa(SamplingPolicy(0.0, False, 1.0, 100))
    decide_many(mo, 2)
    assert samples_waiting(d) == 2


def test_qa_new_moderator_first_n(qa_desk: Desk) -> None:
    d = qa_desk
    d.set_qa(SamplingPolicy(0.0, False, 1.0, 3))
    decide_many(d.moderator(), 5)
    # The first three of a new moderator's decisions, and no more (default: 50).
    assert samples_waiting(d) == 3


def test_qa_gold_rate(desk: Desk) -> None:
    gold_items = add_items(desk.store, 6, tag="gold", synthetic=True)
    add_items(desk.store, 12, tag="work")
    team = desk.admin.team
    assert team is not None and team.gold is not None
    for item in gold_items:
        team.gold.mark_gold(item, graded(Severity.C))
    desk.set_welfare(pause_after_a_seconds=0, pause_skippable_after_seconds=0)
    desk.set_qa(SamplingPolicy(0.0, False, 0.0, 0), gold_rate=0.0)
    mo = desk.moderator()

    gold_media = {desk.store.items.item(i).media.sha256 for i in gold_items}

    def gold_served(n: int) -> int:
        """Gold serves among the next `n` claims (a serve is a fresh copy of a gold
        item, so it is known by its picture)."""
        served = 0
        for _ in range(n):
            claim = decide(mo, graded(Severity.C))
            served += claim.item.media.sha256 in gold_media
        return served

    assert gold_served(5) == 0
    desk.set_qa(SamplingPolicy(0.0, False, 0.0, 0), gold_rate=0.5)
    assert gold_served(10) > 0


def test_qa_export_grades_needed(qa_desk: Desk) -> None:
    d = qa_desk
    d.set_qa(SamplingPolicy(0.0, False, 0.0, 0), export_grades_needed=2)
    claim = decide(d.moderator(), graded(Severity.B))
    repo = d.store.hashes
    md5 = give_hashes(repo, claim.item.id, 1)

    def exported() -> set[str]:
        out = io.StringIO()
        export_confirmed(repo, out, "jsonl", "Our Org")
        return {json.loads(line)["value"] for line in out.getvalue().splitlines()}

    assert md5 not in exported()  # one grade of two needed: held
    d.set_qa(SamplingPolicy(0.0, False, 0.0, 0), export_grades_needed=1)
    assert md5 in exported()


# --------------------------------------------------------------------------- reporting
@pytest.fixture
def reporting(desk: Desk) -> Iterator[Desk]:
    desk.command(
        "referral",
        "reporter",
        "--org",
        "Example Ltd",
        "--contact-name",
        "Duty lead",
        "--contact-email",
        "tns@example.test",
    )
    desk.person("Lee Lead", Role.LEAD)
    desk.person("Mo Derator", Role.MODERATOR)
    yield desk


def reported(d: Desk, seed: int, grading: Grading = REPORT_B) -> int:
    """An item ingested and decided with "Report to authority" by a moderator."""
    item = add_item(d.store, d.media, seed=seed, subject=FULL_SUBJECT, chat=FULL_CHAT)
    mo = d.sign_in("Mo Derator")
    claim = mo.claim_next()
    assert claim is not None and claim.item.id == item
    mo.submit(claim, grading, REVEALED, str(uuid.uuid4()))
    return item


def lead_referrals(d: Desk) -> ReferralService:
    lead = d.sign_in("Lee Lead")
    assert lead.team is not None and lead.team.referrals is not None
    return lead.team.referrals


def retention_plan(d: Desk) -> dict[int, Disposal | Kept]:
    """The plan `reviewer retention run --dry-run` prints, by item."""
    run = RetentionService(d.store.retention, d.media, d.admin.account).plan()
    planned: list[Disposal | Kept] = [*run.plan.disposals, *run.plan.kept]
    return {x.item_id: x for x in planned}


def send(d: Desk, item: int, to: Destination, folder: Path) -> None:
    referrals = lead_referrals(d)
    folder.mkdir()
    referrals.export(referrals.build(item, to).id, folder)


@pytest.mark.parametrize(
    ("option", "key", "value"),
    [
        ("--org", "organisation", "Another Org Ltd"),
        ("--contact-name", "contact_name", "Night duty lead"),
        ("--contact-email", "contact_email", "night@example.test"),
        ("--contact-phone", "contact_phone", "+44 20 7946 0000"),
    ],
)
def test_reporter_details_reach_the_package(
    reporting: Desk, option: str, key: str, value: str
) -> None:
    item = reported(reporting, 1)
    reporting.command("referral", "reporter", option, value)
    package = json.loads(lead_referrals(reporting).build(item, NCA).package or "")
    assert package["reporter"][key] == value


def test_general_report_hold_days(reporting: Desk, tmp_path: Path) -> None:
    d = reporting
    item = reported(d, 1)
    send(d, item, NCMEC, tmp_path / "out")  # NCMEC holds 365 days
    d.command("retention", "settings", "--report-hold-days", "400")
    d.clock.advance(399 * DAY)
    assert isinstance(retention_plan(d)[item], Kept)
    d.clock.advance(DAY)
    assert isinstance(retention_plan(d)[item], Disposal)


def test_non_illegal_dispose_days(reporting: Desk) -> None:
    d = reporting
    item = reported(d, 1, NOT_ILLEGAL)
    d.command("retention", "settings", "--dispose-days", "5")
    d.clock.advance(5 * DAY - 60)
    assert isinstance(retention_plan(d)[item], Kept)  # as it would be for 30 days
    d.clock.advance(60)
    assert isinstance(retention_plan(d)[item], Disposal)


def test_destination_time_frames_hours(reporting: Desk) -> None:
    d = reporting
    item = reported(d, 1)
    decided_at = d.store.items.decisions(item)[0]["decided_at"]
    d.command("referral", "rules", "--destination", "nca", "--level-hours", "1=2", "2=10", "3=50")
    referrals = lead_referrals(d)
    (waiting,) = referrals.awaiting()
    assert waiting.priority is Priority.LEVEL_2
    assert waiting.due_at == decided_at + timedelta(hours=10)  # default: 24 h
    assert referrals.build(item, NCA).due_at == decided_at + timedelta(hours=10)


def test_destination_report_hold_days(reporting: Desk, tmp_path: Path) -> None:
    d = reporting
    item = reported(d, 1)
    d.command("referral", "rules", "--destination", "ncmec", "--hold-days", "500",
              "--reference-days", "600")  # fmt: skip
    send(d, item, NCMEC, tmp_path / "out")
    d.clock.advance(499 * DAY)
    assert isinstance(retention_plan(d)[item], Kept)  # the default 365 days have passed
    d.clock.advance(DAY)
    assert isinstance(retention_plan(d)[item], Disposal)


def test_destination_reference_keep_days(reporting: Desk, tmp_path: Path) -> None:
    d = reporting
    item = reported(d, 1)
    d.command("referral", "rules", "--destination", "nca", "--reference-days", "2000")
    send(d, item, NCA, tmp_path / "out")
    # What the Referrals window says the reference is kept until (ui/referral_screen.py).
    view = lead_referrals(d).overview()
    (ref,) = view.referrals
    assert ref.sent_at is not None
    assert reference_keep_until(view.rules, NCA, ref.sent_at) == ref.sent_at + timedelta(days=2000)


def test_destination_exempt_if_reported_to(reporting: Desk, tmp_path: Path) -> None:
    d = reporting
    item = reported(d, 1)
    send(d, item, NCMEC, tmp_path / "out")
    with pytest.raises(AlreadyReported):  # by default the NCA is not sent NCMEC's reports
        lead_referrals(d).build(item, NCA)
    d.command("referral", "rules", "--destination", "nca", "--exempt-if-reported-to")
    assert lead_referrals(d).build(item, NCA).destination is NCA


def test_default_destination(reporting: Desk) -> None:
    d = reporting
    reported(d, 1)
    (waiting,) = lead_referrals(d).awaiting()
    assert waiting.destination is NCA
    d.command("referral", "rules", "--default-destination", "ncmec")
    (waiting,) = lead_referrals(d).awaiting()
    assert waiting.destination is NCMEC
    assert waiting.due_at == waiting.decided_at + timedelta(hours=24)
