"""The suite's user journeys on a team server, with every person signed in as their own
PostgreSQL login role: moderator, QA, lead and admin each sit at a workstation built
by the composition root on a Store that connects as them (tests/team_server.py's
`TeamDb.sign_in`, which is what reviewer.cli's GUI does in team mode), bound by the
grants and row-level security of migration 0018. No step goes through the owner or a
superuser; the owner's Store is only read at the end, to see what happened.

Each journey checks first that the person's connection really is their own role, then
walks the flow and asserts its outcome; where the services refuse (a demoted or
disabled person, a lead ruling on their own decision, a stale claim), the journey
checks that the refusal happens (and, with the person's own credentials in raw SQL,
that the server refuses too where the rule is the server's).

The journeys of review, QA, leads and admins are here; referrals, retention, hash
lists, the audit log, video and welfare settings are in test_team_journeys_tools.py.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from pgserver import PgServer
from qa_helpers import SEED, add_items, graded
from team_server import Person, Seat, TeamDb

from db.media_store import MediaStore
from db.pg_logins import login_role_name
from db.team import team_sign_in
from reviewer.accounts import AccessDenied, LoginFailed, Role, VettingStatus
from reviewer.clock import FakeClock
from reviewer.errors import LeaseLost
from reviewer.model import Exposure
from reviewer.qa_model import QaSettings
from reviewer.sampling import SamplingPolicy
from reviewer.vocabulary import AgeBand, ProductionContext, Severity, SkipReason, Source

pytestmark = pytest.mark.postgres_only

EVERYTHING = QaSettings(SamplingPolicy(1.0, True, 1.0, 0), gold_rate=0.0)
QA_SEED = SEED.encode()


@pytest.fixture
def team(pg_server: PgServer, pg_team_template: str) -> Iterator[TeamDb]:
    t = TeamDb(pg_server, clock=FakeClock(), template=pg_team_template)
    try:
        yield t
    finally:
        t.close()


@pytest.fixture
def media(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "media", os.urandom(32))


def seat(team: TeamDb, media: MediaStore, name: str, *roles: Role) -> Seat:
    """A new person (made and vetted by the admin) signed in at their workstation."""
    s = team.sign_in(team.person(name, *roles), media, QA_SEED)
    s.assert_own_login_role()
    return s


def admin_seat(team: TeamDb, media: MediaStore) -> Seat:
    s = team.sign_in(team.admin, media, QA_SEED)
    s.assert_own_login_role()
    return s


def clock_of(team: TeamDb) -> FakeClock:
    assert isinstance(team.clock, FakeClock)
    return team.clock


def qa_settings(admin: Seat, settings: QaSettings) -> None:
    """The admin's QA settings, through the QaService the admin's sign-in got."""
    assert admin.svc.team is not None and admin.svc.team.gold is not None
    admin.svc.team.gold.set_settings(settings)


def decide(
    s: Seat,
    severity: Severity,
    band: AgeBand | None = None,
    context: ProductionContext | None = None,
) -> int:
    claim = s.svc.claim_next()
    assert claim is not None, "the queue ran dry"
    s.svc.open_item(claim)
    s.svc.submit(claim, graded(severity, band, context), Exposure(), str(uuid.uuid4()))
    return claim.item.id


# --------------------------------------------------------------------------- review
def test_moderator_claims_reveals_and_decides_with_exposure_skips_and_releases(
    team: TeamDb, media: MediaStore
) -> None:
    admin = admin_seat(team, media)
    items = add_items(admin.store, 3)  # ingest, as the admin's own role
    mo = seat(team, media, "Mo", Role.MODERATOR)

    claim = mo.svc.claim_next()
    assert claim is not None and claim.item.id == items[0]
    mo.svc.open_item(claim)
    mo.svc.record_reveal(claim, True, 0.5)
    mo.svc.record_reveal(claim, False)
    exposure = Exposure(seconds_revealed=2.5, reveal_count=1, max_area_fraction=0.5)
    receipt = mo.svc.submit(claim, graded(Severity.B, AgeBand.B7_10), exposure, "t-1")

    skipped = mo.svc.claim_next()
    assert skipped is not None and skipped.item.id == items[1]
    mo.svc.skip(skipped, SkipReason.NEEDS_SPECIALIST, "a specialist's", Exposure())
    held = mo.svc.claim_next()
    assert held is not None and held.item.id == items[2]
    mo.svc.release(held, Exposure(seconds_revealed=1.0, reveal_count=1, max_area_fraction=1.0))

    owner = team.owner
    assert owner.items.item_status(items[0]) == "decided"
    (decision,) = owner.items.decisions(items[0])
    assert decision["id"] == receipt.decision_id and decision["severity"] == "B"
    assert decision["user_id"] == mo.person.id
    ledger = owner.items.exposures(items[0])
    assert [(e["seconds_revealed"], e["reveal_count"]) for e in ledger] == [(2.5, 1)]
    assert owner.items.item_status(items[2]) == "pending"
    assert [e["seconds_revealed"] for e in owner.items.exposures(items[2])] == [1.0]
    kinds = [e.kind for e in owner.audit_events(items[0])]
    for kind in ("claim", "item_opened", "reveal_on", "reveal_off", "decision"):
        assert kind in kinds, kinds
    assert [e.user_id for e in owner.audit_events(items[1], kind="skip")] == [mo.person.id]
    # The moderator reads back what they decided, and nothing of the others' work.
    assert [h.item_id for h in mo.svc.my_history()] == [items[0]]
    with team.raw(mo.person) as conn:
        assert conn.execute("SELECT item_id FROM decisions").fetchall() == [(items[0],)]


def test_a_lease_renews_and_an_expired_one_goes_to_the_next_moderator(
    team: TeamDb, media: MediaStore
) -> None:
    clock = clock_of(team)
    admin = admin_seat(team, media)
    (item,) = add_items(admin.store, 1)
    mo = seat(team, media, "Mo", Role.MODERATOR)
    max_ = seat(team, media, "Max", Role.MODERATOR)

    claim = mo.svc.claim_next()
    assert claim is not None
    clock.advance(mo.svc.lease_seconds / 2)
    renewed = mo.svc.renew_lease(claim)
    assert renewed.lease_expires_at > claim.lease_expires_at
    assert max_.svc.claim_next() is None  # still held
    clock.advance(mo.svc.lease_seconds + 1)
    taken = max_.svc.claim_next()
    assert taken is not None and taken.item.id == item
    # The first moderator's lease is gone: their late decision is refused...
    with pytest.raises(LeaseLost):
        mo.svc.submit(renewed, graded(Severity.C), Exposure(), "late")
    # ...and the second one's stands.
    max_.svc.submit(taken, graded(Severity.NOT_ILLEGAL), Exposure(), "on time")
    assert [d["user_id"] for d in team.owner.items.decisions(item)] == [max_.person.id]
    # Mo may not decide on Max's claim either, through the service or in raw SQL.
    with pytest.raises((AccessDenied, LeaseLost)):
        mo.svc.submit(taken, graded(Severity.C), Exposure(), "not mine")
    with team.raw(mo.person) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "INSERT INTO decisions (client_token, item_id, user_id, claim_id, decided_at,"
            " severity) VALUES ('raw', %s, %s, %s, now(), 'C')",
            (item, mo.person.id, taken.claim_id),
        )
    assert [d["user_id"] for d in team.owner.items.decisions(item)] == [max_.person.id]


def test_a_workstations_connection_runs_without_jit(team: TeamDb, media: MediaStore) -> None:
    """Under a login role's row-level security the planner's estimates pass
    jit_above_cost, and compiling one sign-in's welfare query took seconds: the
    workstation's engine turns JIT off."""
    mo = seat(team, media, "Mo", Role.MODERATOR)
    assert mo.setting("jit") == "off"


def test_a_workstations_prepared_statements_are_planned_generically_from_the_first_run(
    team: TeamDb, media: MediaStore
) -> None:
    """Planning a statement under the policies' sub-selects is most of a login role's
    server time for a claim; PostgreSQL's default plans a prepared statement afresh on
    each of its first five runs. The workstation's connections take the generic plan
    from the first: every statement its claim and decision prepared has no custom plan."""
    admin = admin_seat(team, media)
    add_items(admin.store, 2)
    mo = seat(team, media, "Mo", Role.MODERATOR)
    assert mo.setting("plan_cache_mode") == "force_generic_plan"
    # The connection the workstation's writes run on (kept between them).
    with mo.store.write() as conn:
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    for token in ("t-1", "t-2"):
        claim = mo.svc.claim_next()
        assert claim is not None
        mo.svc.submit(claim, graded(Severity.NOT_ILLEGAL), Exposure(), token)
    with mo.store.write() as conn:
        assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar() == pid
        plans = conn.execute(
            sa.text("SELECT generic_plans, custom_plans FROM pg_prepared_statements")
        ).all()
    assert plans, "the claim and decision prepared no statement on the server"
    assert sum(custom for _generic, custom in plans) == 0
    assert sum(generic for generic, _custom in plans) > 0


# --------------------------------------------------------------------------- QA and gold
def test_a_sampled_decision_is_regraded_blind_and_a_dispute_adjudicated_by_a_lead(
    team: TeamDb, media: MediaStore
) -> None:
    admin = admin_seat(team, media)
    qa_settings(admin, EVERYTHING)
    (item,) = add_items(admin.store, 1)
    mo = seat(team, media, "Mo", Role.MODERATOR)
    quinn = seat(team, media, "Quinn", Role.QA)
    lee = seat(team, media, "Lee", Role.LEAD)

    assert decide(mo, Severity.B, AgeBand.B7_10) == item
    assert quinn.svc.team is not None and quinn.svc.team.qa_session is not None
    session = quinn.svc.team.qa_session
    claim = session.claim_next()
    assert claim is not None and claim.item.id == item
    # Blind: QA's own connection holds no moderator's decision to peek at.
    with team.raw(quinn.person) as conn:
        assert conn.execute("SELECT count(*) FROM decisions").fetchone() == (0,)
    session.submit(claim, graded(Severity.A, AgeBand.B7_10), Exposure(), "qa-1")

    # The moderator sees neither the dispute nor the QA grade.
    assert mo.svc.team is not None and mo.svc.team.adjudication is None
    calibration = mo.svc.team.calibration
    assert calibration is not None
    with pytest.raises(AccessDenied):
        calibration.disputes()
    with team.raw(mo.person) as conn:
        assert conn.execute("SELECT count(*) FROM qa_grades").fetchone() == (0,)
    assert calibration.my_calibration() == []

    assert lee.svc.team is not None and lee.svc.team.adjudication is not None
    lead = lee.svc.team.adjudication
    (dispute,) = lead.disputes()
    qa_grade = lead.qa_grade(dispute.sample_id)
    assert qa_grade is not None and qa_grade.severity is Severity.A
    lead.adjudicate(dispute.sample_id, graded(Severity.A, AgeBand.B7_10), "Visible: A.")
    assert lead.disputes() == []
    (note,) = calibration.my_calibration()
    assert note.final.severity is Severity.A
    assert calibration.acknowledge([note.sample_id]) == 1
    (ruled,) = team.owner.audit_events(kind="qa_adjudicated")
    assert ruled.user_id == lee.person.id


def test_a_lead_may_not_adjudicate_a_dispute_over_their_own_decision(
    team: TeamDb, media: MediaStore
) -> None:
    admin = admin_seat(team, media)
    qa_settings(admin, EVERYTHING)
    add_items(admin.store, 1)
    dee = seat(team, media, "Dee", Role.MODERATOR, Role.LEAD)
    quinn = seat(team, media, "Quinn", Role.QA)
    lee = seat(team, media, "Lee", Role.LEAD)
    decide(dee, Severity.C, AgeBand.B14_15)
    assert quinn.svc.team is not None and quinn.svc.team.qa_session is not None
    claim = quinn.svc.team.qa_session.claim_next()
    assert claim is not None
    quinn.svc.team.qa_session.submit(claim, graded(Severity.B), Exposure(), "qa-1")

    assert dee.svc.team is not None and dee.svc.team.adjudication is not None
    own = dee.svc.team.adjudication
    (dispute,) = own.disputes()
    with pytest.raises(AccessDenied):
        own.adjudicate(dispute.sample_id, graded(Severity.C, AgeBand.B14_15), "Mine was right.")
    assert team.owner.audit_events(kind="qa_adjudicated") == []
    # Another lead may.
    assert lee.svc.team is not None and lee.svc.team.adjudication is not None
    lee.svc.team.adjudication.adjudicate(dispute.sample_id, graded(Severity.B), "B.")
    assert [e.user_id for e in team.owner.audit_events(kind="qa_adjudicated")] == [lee.person.id]


def test_an_admin_marks_and_unmarks_gold_items_and_a_lead_may_not(
    team: TeamDb, media: MediaStore
) -> None:
    admin = admin_seat(team, media)
    (gold, other) = add_items(admin.store, 2, tag="gold", source=Source.NGO, synthetic=True)
    assert admin.svc.team is not None and admin.svc.team.gold is not None
    gold_door = admin.svc.team.gold
    expected = graded(Severity.C, AgeBand.B14_15, ProductionContext.PEER)
    gold_id = gold_door.mark_gold(gold, expected)
    other_id = gold_door.mark_gold(other, graded(Severity.NOT_ILLEGAL))
    assert team.owner.items.item_status(gold) == "gold"  # out of the ordinary queue
    gold_door.unmark_gold(other_id)
    assert {(g.id, g.item_id, g.active) for g in gold_door.gold_items()} == {
        (gold_id, gold, True),
        (other_id, other, False),
    }
    lee = seat(team, media, "Lee", Role.LEAD)
    assert lee.svc.team is not None and lee.svc.team.gold is None  # admins only
    assert lee.svc.team.adjudication is not None
    with pytest.raises(AccessDenied):
        lee.svc.team.adjudication.mark_gold(other, graded(Severity.C))
    # Nor in raw SQL with the lead's own credentials (a lead reads the known answers,
    # for agreement, but marks nothing).
    with team.raw(lee.person) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE gold_items SET active = true WHERE id = %s", (other_id,))
    with team.raw(lee.person) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "INSERT INTO gold_items (item_id, marked_by, marked_at, active, severity,"
            " csea_related) VALUES (%s, %s, now(), true, 'A', false)",
            (other, lee.person.id),
        )
    marked = team.owner.audit_events(None, kind="gold_marked")
    assert [e.user_id for e in marked] == [admin.person.id, admin.person.id]
    assert [e.user_id for e in team.owner.audit_events(None, kind="gold_unmarked")] == [
        admin.person.id
    ]


def test_gold_items_are_served_to_a_moderator_and_feed_the_leads_agreement(
    team: TeamDb, media: MediaStore
) -> None:
    clock = clock_of(team)
    admin = admin_seat(team, media)
    qa_settings(admin, QaSettings(SamplingPolicy(0.0, False, 0.0, 0), gold_rate=0.5))
    (gold,) = add_items(admin.store, 1, tag="gold", source=Source.NGO, synthetic=True)
    add_items(admin.store, 12)
    assert admin.svc.team is not None and admin.svc.team.gold is not None
    admin.svc.team.gold.mark_gold(gold, graded(Severity.C, AgeBand.B14_15, ProductionContext.PEER))
    lee = seat(team, media, "Lee", Role.LEAD)
    mo = seat(team, media, "Mo", Role.MODERATOR)

    owner_qa = team.owner.qa
    decided: list[int] = []
    while not any(owner_qa.is_gold_item(i) for i in decided) and len(decided) < 12:
        decided.append(decide(mo, Severity.C, AgeBand.B14_15, ProductionContext.PEER))
    (served,) = [i for i in decided if owner_qa.is_gold_item(i)]
    assert served != gold  # a copy of the gold item, looking like any other
    assert team.owner.items.item(served).report_text == team.owner.items.item(gold).report_text
    assert lee.svc.team is not None and lee.svc.team.adjudication is not None
    now = clock.now()
    # The window's end is exclusive, and the test clock stands still at the decision.
    summary = lee.svc.team.adjudication.agreement(
        now - timedelta(hours=1), now + timedelta(seconds=1)
    )
    assert summary.gold[mo.person.id].pairs == 1
    assert summary.gold[mo.person.id].severity_agreement.value == pytest.approx(1.0)


# --------------------------------------------------------------------------- leads
def test_a_lead_reads_the_dashboard_and_releases_and_reassigns_others_items(
    team: TeamDb, media: MediaStore
) -> None:
    admin = admin_seat(team, media)
    add_items(admin.store, 3)
    (specialist_item,) = add_items(admin.store, 1, queue="Specialist")
    mo = seat(team, media, "Mo", Role.MODERATOR)
    lee = seat(team, media, "Lee", Role.LEAD)
    assert mo.svc.team is not None and mo.svc.team.dashboard is None
    assert lee.svc.team is not None and lee.svc.team.dashboard is not None
    dash = lee.svc.team.dashboard

    first = mo.svc.claim_next()
    assert first is not None
    mo.svc.submit(first, graded(Severity.NOT_ILLEGAL), Exposure(), "t-1")
    held = mo.svc.claim_next()
    assert held is not None
    snap = dash.snapshot()
    (load,) = [p for p in snap.people if p.user_id == mo.person.id]
    assert load.decisions_today == 1
    pending = {q.queue_name: 0 for q in snap.queues}
    for q in snap.queues:
        pending[q.queue_name] += q.pending
    assert pending == {"General": 1, "Specialist": 1}
    assert lee.svc.history_of(mo.person.id)[0].item_id == first.item.id
    with pytest.raises(AccessDenied):
        mo.svc.history_of(lee.person.id)

    # Mo left the desk: the lead hands the held item back; Mo's stale claim is dead.
    assert dash.release_claims(mo.person.id, "left the desk") == 1
    assert team.owner.items.item_status(held.item.id) == "pending"
    with pytest.raises(LeaseLost):
        mo.svc.submit(held, graded(Severity.C), Exposure(), "late")
    # Reassigned to the specialist queue while held.
    again = mo.svc.claim_next()
    assert again is not None
    specialist = dict((name, qid) for qid, name in dash.queues())["Specialist"]
    assert dash.reassign(mo.person.id, specialist, "needs a specialist") == 1
    assert team.owner.items.item(again.item.id).queue_name == "Specialist"
    kinds = [e.kind for e in team.owner.audit_events(None)]
    assert "lead_released" in kinds and "lead_reassigned" in kinds
    # A moderator gets no dashboard door, and the gate refuses one built by hand.
    with pytest.raises(AccessDenied):
        mo.svc.qa_grades()
    assert team.owner.items.item_status(specialist_item) == "pending"


# --------------------------------------------------------------------------- admins
def test_admin_creates_vets_grants_demotes_and_disables_and_each_counts_at_once(
    team: TeamDb, media: MediaStore
) -> None:
    admin = admin_seat(team, media)
    (secret_item,) = add_items(admin.store, 1, queue="Restricted")
    (plain_item,) = add_items(admin.store, 1)
    users = admin.svc.admin()
    made = users.create_user(f"Nia {team.tag}", "Nia's own password 1", {Role.MODERATOR})
    password = "Nia's own password 1"

    def nia() -> Seat:
        person = Person(team.accounts.account(made.id), login_role_name(made.name), password)
        s = team.sign_in(person, media, QA_SEED)
        s.assert_own_login_role()
        return s

    # Not vetted yet: signed in, but may not claim.
    s = nia()
    with pytest.raises(AccessDenied):
        s.svc.claim_next()
    users.set_vetting(made.id, VettingStatus.VETTED, clock_of(team).now().date())
    restricted = {q.name: q.id for q in users.snapshot().queues}["Restricted"]
    users.set_queue_access(made.id, allowed=(), restricted={restricted})
    s = nia()
    first = s.svc.claim_next()
    assert first is not None and first.item.id == plain_item  # the restricted one passed by
    s.svc.release(first, Exposure())
    users.set_queue_access(made.id, allowed={restricted}, restricted={restricted})
    got = s.svc.claim_next(restricted)
    assert got is not None and got.item.id == secret_item
    s.svc.release(got, Exposure())

    # Demoted to QA: the next claim is refused by the gate, and in raw SQL by the server.
    users.set_roles(made.id, {Role.QA})
    with pytest.raises(AccessDenied):
        s.svc.claim_next()
    with team.raw(s.person) as conn:
        conn.execute(
            "UPDATE items SET status = 'claimed', claimed_by = %s WHERE id = %s",
            (made.id, plain_item),
        )
    assert team.owner.items.item_status(plain_item) == "pending"

    # Disabled: the open session's next action is refused, and so is signing in again.
    users.set_roles(made.id, {Role.MODERATOR})
    users.set_disabled(made.id, True)
    # Refused; by the server first (the welfare counters the claim saves), which the
    # store reports as AccessDenied like the services' own refusals.
    with pytest.raises(AccessDenied):
        s.svc.claim_next()
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        team.raw(s.person)
    with pytest.raises((LoginFailed, AccessDenied)):
        team_sign_in(team.server.url(team.name), made.name, password)
    # Every step the admin took is audited as the admin, about Nia.
    for kind in (
        "user_created",
        "vetting_set",
        "queue_restricted_set",
        "queue_access_granted",
        "roles_set",
        "user_disabled",
    ):
        events = team.owner.audit_events(None, kind=kind)
        assert events and {e.user_id for e in events} == {team.admin.id}, kind


def test_a_disabled_persons_next_action_is_refused_as_access_denied(
    team: TeamDb, media: MediaStore
) -> None:
    admin = admin_seat(team, media)
    add_items(admin.store, 1)
    mo = seat(team, media, "Mo", Role.MODERATOR)
    admin.svc.admin().set_disabled(mo.person.id, True)
    with pytest.raises(AccessDenied):
        mo.svc.claim_next()
