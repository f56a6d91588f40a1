"""Accounts, roles, sign-in, per-queue access and what each role may not do.

Every refusal is enforced by the repository or the service (AccessDenied), not by a
screen hiding a button, and is audited. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass
from datetime import date, timedelta

import pytest
import wiring
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from db.accounts import MAX_NAME_LENGTH, AccountsRepo
from db.media_store import MediaStore
from db.store import Store
from reviewer.accounts import (
    LOGIN_FAILED_MESSAGE,
    VETTING_VALID_DAYS,
    AccessDenied,
    Account,
    LoginFailed,
    Role,
    SecuritySettings,
    VettingStatus,
)
from reviewer.admin_service import AdminService
from reviewer.clock import FakeClock
from reviewer.grading import Grading
from reviewer.model import Exposure
from reviewer.review_service import ReviewService, Workstation
from reviewer.untrusted import MAX_COURSE, Untrusted
from reviewer.vocabulary import AgeBand, AgeConfidence, ProductionContext, Severity

ADMIN_PW = "admin password 1"
MOD_PW = "moderator password 1"
LEAD_PW = "lead password 123"
CAT_C = Grading(
    severity=Severity.C,
    age_band=AgeBand.B14_15,
    age_confidence=AgeConfidence.PROBABLE,
    production_context=ProductionContext.PEER,
)


@dataclass
class World:
    store: Store
    repo: AccountsRepo
    ws: Workstation
    clock: FakeClock
    admin: Account

    def user(
        self,
        name: str,
        password: str,
        roles: set[Role],
        vetted: bool = True,
    ) -> Account:
        made = self.repo.create_user(self.admin, name, password, roles)
        if vetted:
            self.repo.set_vetting(self.admin, made.id, VettingStatus.VETTED, self.today)
        return self.repo.account(made.id)

    @property
    def today(self) -> date:
        return self.clock.now().date()

    def events(self, kind: str | None = None) -> list:
        return self.store.audit_events(kind=kind)


@pytest.fixture
def world(store: Store, media: MediaStore, clock: FakeClock) -> World:
    repo = store.accounts
    ws = wiring.workstation(store, media, accounts=repo, clock=clock)
    admin = ws.enrol_first_admin("Ada Admin", ADMIN_PW).account
    return World(store, repo, ws, clock, admin)


# -- first run and sign-in -----------------------------------------------------------------


def test_first_run_enrols_a_vetted_admin_moderator_once(
    store: Store, media: MediaStore, clock: FakeClock
) -> None:
    repo = store.accounts
    ws = wiring.workstation(store, media, accounts=repo, clock=clock)
    store.accounts.ensure_user("demo profile")  # password-less profiles do not count
    assert ws.needs_first_account()
    service = ws.enrol_first_admin("  Ada   Admin ", ADMIN_PW)
    account = service.account
    assert account.name == "Ada Admin"
    assert account.roles == {Role.ADMIN, Role.MODERATOR}
    assert account.vetting is VettingStatus.VETTED and account.vetted_on == clock.now().date()
    assert not ws.needs_first_account()
    [event] = store.audit_events(kind="first_run_enrolment")
    assert event.user_id == account.id
    assert event.detail["vetted_by"] == "first-run self-enrolment"
    assert ADMIN_PW not in json.dumps(event.detail)
    # Enrolment is closed for good once an account can sign in.
    with pytest.raises(AccessDenied):
        ws.enrol_first_admin("Mallory", "mallory password")
    assert ws.log_in("Ada Admin", ADMIN_PW).account.id == account.id


def test_first_run_refuses_a_weak_password(store: Store, media: MediaStore) -> None:
    ws = wiring.workstation(store, media, accounts=store.accounts)
    with pytest.raises(ValueError, match="12 characters"):
        ws.enrol_first_admin("Ada", "short")
    assert ws.needs_first_account()


def test_login_failures_look_alike_and_are_audited_without_the_password(world: World) -> None:
    mod = world.user("Mo", MOD_PW, {Role.MODERATOR})
    world.store.accounts.ensure_user("Old profile")  # from before accounts: no password
    disabled = world.user("Dee", "disabled password", {Role.MODERATOR})
    world.repo.disable(world.admin, disabled.id)
    messages = set()
    for name, password in [
        ("Mo", "wrong password!!"),
        ("Nobody", MOD_PW),
        ("Old profile", "any password here"),
        ("Dee", "disabled password"),  # the right password, but disabled
    ]:
        with pytest.raises(LoginFailed) as exc:
            world.ws.log_in(name, password)
        messages.add(str(exc.value))
    assert messages == {LOGIN_FAILED_MESSAGE}

    failed = world.events("login_failed")
    assert [(e.detail["name"], e.detail["reason"]) for e in failed] == [
        ("Mo", "wrong_password"),
        ("Nobody", "unknown_name"),
        ("Old profile", "no_password"),
        ("Dee", "disabled"),
    ]
    assert world.ws.log_in("Mo", MOD_PW).account.id == mod.id
    assert [e.detail["name"] for e in world.events("login_ok")] == ["Mo"]
    everything = json.dumps([e.detail for e in world.events()])
    for secret in (ADMIN_PW, MOD_PW, "wrong password!!", "disabled password", "$argon2id$"):
        assert secret not in everything
    with world.store.engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users WHERE name = 'Mo'")).scalar()
        if world.store.backend == "postgresql":
            # The server keeps the password, as a SCRAM verifier of Mo's login role.
            assert stored is None
            stored = conn.execute(
                text("SELECT rolpassword FROM pg_authid WHERE rolname = 'mo'")
            ).scalar()
            assert stored.startswith("SCRAM-SHA-256$") and MOD_PW not in stored
            return
    assert stored.startswith("$argon2id$") and MOD_PW not in stored


def test_a_profile_without_password_signs_in_once_an_admin_sets_one(world: World) -> None:
    old = world.store.accounts.ensure_user("Pat", role="moderator")
    with pytest.raises(LoginFailed):
        world.ws.log_in("Pat", "pats new password")
    world.repo.set_password(world.admin, old.id, "pats new password")
    account = world.ws.log_in("Pat", "pats new password").account
    assert account.roles == {Role.MODERATOR} and account.vetting is VettingStatus.PENDING
    [event] = world.events("password_set")
    assert event.user_id == world.admin.id and event.detail["name"] == "Pat"


# -- what each role must not do ------------------------------------------------------------


def test_a_disabled_user_cannot_log_in(world: World) -> None:
    mod = world.user("Mo", MOD_PW, {Role.MODERATOR})
    world.repo.disable(world.admin, mod.id)
    with pytest.raises(LoginFailed):
        world.ws.log_in("Mo", MOD_PW)
    world.repo.enable(world.admin, mod.id)
    assert world.ws.log_in("Mo", MOD_PW).account.id == mod.id
    assert [e.kind for e in world.events() if e.kind.startswith("user_")][-2:] == [
        "user_disabled",
        "user_enabled",
    ]


def test_a_moderator_cannot_read_another_moderators_history(world: World, enqueue) -> None:
    a = world.user("Mo A", MOD_PW, {Role.MODERATOR})
    world.user("Mo B", "moderator b password", {Role.MODERATOR})
    lead = world.user("Lee Lead", LEAD_PW, {Role.LEAD})
    enqueue(world.store, 2)
    mo_b = world.ws.log_in("Mo B", "moderator b password")
    claim = mo_b.claim_next()
    assert claim is not None
    mo_b.submit(claim, CAT_C, Exposure(), str(uuid.uuid4()))

    mo_a = world.ws.log_in("Mo A", MOD_PW)
    assert mo_a.my_history() == []
    with pytest.raises(AccessDenied):
        mo_a.history_of(mo_b.account.id)
    [denied] = world.events("access_denied")
    assert denied.user_id == a.id and denied.detail["operation"] == "team_history"

    # A lead may; the moderator sees their own.
    seen = world.ws.log_in("Lee Lead", LEAD_PW).history_of(mo_b.account.id)
    assert [(h.item_id, h.severity, h.queue_name) for h in seen] == [
        (claim.item.id, "C", "General")
    ]
    assert [h.item_id for h in mo_b.my_history()] == [claim.item.id]
    assert lead.id != a.id


def test_a_lead_cannot_edit_an_audit_event(world: World, enqueue) -> None:
    world.user("Lee Lead", LEAD_PW, {Role.LEAD})
    lead = world.ws.log_in("Lee Lead", LEAD_PW)
    # No door to edit or delete audit events: not on the lead's session, nor on the
    # admin door, nor on the store the session talks to.
    for obj in (lead, lead.admin(), world.store, world.repo):
        mutators = [
            name
            for name in dir(obj)
            if not name.startswith("_")
            and "audit" in name
            and any(w in name for w in ("edit", "update", "delete", "set", "remove", "amend"))
        ]
        assert mutators == [], type(obj).__name__
    # What the store hands out is immutable.
    event = world.store.audit_events(kind="login_ok")[-1]
    with pytest.raises(FrozenInstanceError):
        event.detail = {}  # type: ignore[misc]


def test_a_lead_session_cannot_change_audit_rows_unnoticed(world: World) -> None:
    world.user("Lee Lead", LEAD_PW, {Role.LEAD})
    lead = world.ws.log_in("Lee Lead", LEAD_PW)
    assert lead.account.roles == {Role.LEAD}
    event = world.store.audit_events(kind="login_ok")[-1]
    update = 'UPDATE audit_events SET detail = \'{"name": "someone else"}\' WHERE id = :id'
    if world.store.backend == "postgresql":
        # Directly through the store's own connection, as code acting for the lead
        # would: the database refuses both.
        for statement in (update, "DELETE FROM audit_events WHERE id = :id"):
            with pytest.raises(DBAPIError, match="append-only"), world.store.engine.begin() as c:
                c.execute(text(statement), {"id": event.id})
        assert world.store.audit_events(kind="login_ok")[-1] == event
        assert world.store.verify_audit().ok
    else:
        # SQLite cannot refuse whoever can write the file; the chain shows the edit.
        with world.store.engine.begin() as conn:
            conn.execute(text(update), {"id": event.id})
        result = world.store.verify_audit()
        assert not result.ok and result.first_bad_id == event.id


def test_claiming_from_a_restricted_queue_needs_access(world: World, enqueue) -> None:
    mod = world.user("Mo", MOD_PW, {Role.MODERATOR})
    secret = enqueue(world.store, 1, queue="Restricted", tag="s")
    general = enqueue(world.store, 1, queue="General", tag="g")
    qid = {q.name: q.id for q in world.repo.queues()}["Restricted"]
    world.repo.set_queue_restricted(world.admin, qid, True)

    service = world.ws.log_in("Mo", MOD_PW)
    assert [q.name for q in service.queues()] == ["General"]
    with pytest.raises(AccessDenied, match="restricted"):
        service.claim_next(qid)
    denied = world.events("access_denied")[-1].detail
    assert (denied["operation"], denied["queue_id"]) == ("claim", qid)
    # "All queues" passes the restricted queue by.
    claim = service.claim_next()
    assert claim is not None and claim.item.id == general[0]
    assert service.claim_next() is None

    world.repo.grant_queue(world.admin, mod.id, qid)
    assert service.claim_next(qid).item.id == secret[0]  # type: ignore[union-attr]
    assert "Restricted" in [q.name for q in service.queues()]
    world.repo.revoke_queue(world.admin, mod.id, qid)
    assert [e.kind for e in world.events() if e.kind.startswith("queue_")] == [
        "queue_restricted_set",
        "queue_access_granted",
        "queue_access_revoked",
    ]


def test_claiming_needs_review_permission_and_current_vetting(world: World, enqueue) -> None:
    enqueue(world.store, 3)
    world.user("Pending", MOD_PW, {Role.MODERATOR}, vetted=False)
    world.user("Quinn QA", "qa password 1234", {Role.QA})
    with pytest.raises(AccessDenied, match="vetting"):
        world.ws.log_in("Pending", MOD_PW).claim_next()
    with pytest.raises(AccessDenied, match="may not review"):
        world.ws.log_in("Quinn QA", "qa password 1234").claim_next()

    mod = world.user("Mo", "another password", {Role.MODERATOR})
    service = world.ws.log_in("Mo", "another password")
    assert service.claim_next() is not None
    # Vetting lapses: the next claim is refused, without signing out.
    world.clock.advance(timedelta(days=VETTING_VALID_DAYS + 1).total_seconds())
    with pytest.raises(AccessDenied, match="vetting"):
        service.claim_next()
    # Revoked mid-session: counts from the next claim too.
    world.repo.set_vetting(world.admin, mod.id, VettingStatus.VETTED, world.today)
    assert service.claim_next() is not None
    world.repo.set_vetting(world.admin, mod.id, VettingStatus.REVOKED, None)
    with pytest.raises(AccessDenied):
        service.claim_next()


def test_a_moderator_without_see_qa_grades_is_denied_qa_grades(world: World) -> None:
    world.user("Mo", MOD_PW, {Role.MODERATOR})
    world.user("Quinn QA", "qa password 1234", {Role.QA})
    world.user("Lee Lead", LEAD_PW, {Role.LEAD})
    with pytest.raises(AccessDenied):
        world.ws.log_in("Mo", MOD_PW).qa_grades()
    # QA re-grade blind: they may not see each other's grades before adjudication.
    with pytest.raises(AccessDenied):
        world.ws.log_in("Quinn QA", "qa password 1234").qa_grades()
    assert world.ws.log_in("Lee Lead", LEAD_PW).qa_grades() == []
    assert [e.detail["operation"] for e in world.events("access_denied")] == [
        "qa_grades",
        "qa_grades",
    ]


ADMIN_ACTIONS: dict[str, Callable[[AdminService, int, int], object]] = {
    "list": lambda a, uid, qid: a.snapshot(),
    "create_user": lambda a, uid, qid: a.create_user("Eve", "eve password 12", {Role.ADMIN}),
    "reset_password": lambda a, uid, qid: a.reset_password(uid, "new password 123"),
    "disable": lambda a, uid, qid: a.set_disabled(uid, True),
    "set_roles": lambda a, uid, qid: a.set_roles(uid, {Role.ADMIN}),
    "set_vetting": lambda a, uid, qid: a.set_vetting(uid, VettingStatus.REVOKED, None),
    "add_training": lambda a, uid, qid: a.add_training(uid, "Fake course", date(2026, 1, 1)),
    "queue_access": lambda a, uid, qid: a.set_queue_access(uid, {qid}, {qid}),
    "settings": lambda a, uid, qid: a.set_security_settings(SecuritySettings(idle_lock_minutes=60)),
}


@pytest.mark.parametrize("action", sorted(ADMIN_ACTIONS))
def test_only_an_admin_may_administer(world: World, enqueue, action: str) -> None:
    enqueue(world.store, 1)
    qid = world.repo.queues()[0].id
    victim = world.user("Victim", "victim password", {Role.MODERATOR})
    for role in (Role.MODERATOR, Role.LEAD, Role.QA):
        world.user(f"Someone {role}", MOD_PW, {role})
        service = world.ws.log_in(f"Someone {role}", MOD_PW)
        before = world.repo.accounts(world.admin)
        with pytest.raises(AccessDenied):
            ADMIN_ACTIONS[action](service.admin(), victim.id, qid)
        assert world.repo.accounts(world.admin) == before
        assert world.repo.queues()[0].restricted is False
        assert world.repo.security_settings() == SecuritySettings()
        assert world.events("access_denied")[-1].user_id == service.account.id
    assert len(world.events("access_denied")) == 3


def test_an_admin_who_lost_the_role_is_refused_at_once(world: World) -> None:
    other = world.user("Second Admin", "second admin pw", {Role.ADMIN})
    stale = world.ws.log_in("Second Admin", "second admin pw")
    world.repo.set_roles(world.admin, other.id, {Role.MODERATOR})
    # The session's Account still says admin; the repository reads the stored one.
    assert Role.ADMIN in stale.account.roles
    with pytest.raises(AccessDenied):
        stale.admin().create_user("Eve", "eve password 12", {Role.ADMIN})


def test_the_last_admin_cannot_be_removed(world: World) -> None:
    with pytest.raises(ValueError, match="no enabled admin"):
        world.repo.disable(world.admin, world.admin.id)
    with pytest.raises(ValueError, match="no enabled admin"):
        world.repo.set_roles(world.admin, world.admin.id, {Role.MODERATOR})
    assert world.repo.account(world.admin.id).roles == {Role.ADMIN, Role.MODERATOR}
    world.user("Second Admin", "second admin pw", {Role.ADMIN})
    world.repo.set_roles(world.admin, world.admin.id, {Role.MODERATOR})  # now fine


def test_admin_edits_round_trip_and_are_audited(world: World, enqueue) -> None:
    enqueue(world.store, 1, queue="Video")
    qid = world.repo.queues()[0].id
    admin = world.ws.log_in("Ada Admin", ADMIN_PW).admin()
    made = admin.create_user("Mo", MOD_PW, {Role.MODERATOR, Role.QA})
    assert made.role == "qa" and made.vetting is VettingStatus.PENDING
    admin.set_vetting(made.id, VettingStatus.VETTED, date(2025, 12, 1))
    admin.add_training(made.id, "Wellbeing induction", date(2025, 11, 3))
    admin.add_training(made.id, "UK grading scale", date(2025, 11, 4))
    admin.set_roles(made.id, {Role.MODERATOR, Role.LEAD})
    admin.set_queue_access(made.id, {qid}, {qid})
    snap = admin.snapshot()
    mo = next(a for a in snap.accounts if a.id == made.id)
    assert mo.roles == {Role.MODERATOR, Role.LEAD} and mo.role == "lead"
    assert (mo.vetting, mo.vetted_on) == (VettingStatus.VETTED, date(2025, 12, 1))
    assert [t.course for t in mo.training] == ["Wellbeing induction", "UK grading scale"]
    assert mo.queue_ids == {qid} and snap.queues[0].restricted
    with pytest.raises(ValueError, match="already an account"):
        admin.create_user("Mo", MOD_PW, {Role.MODERATOR})
    with pytest.raises(ValueError, match="future"):
        admin.set_vetting(made.id, VettingStatus.VETTED, world.today + timedelta(days=1))
    with pytest.raises(ValueError, match="12 characters"):
        admin.reset_password(made.id, "short")
    with world.store.engine.connect() as conn:
        role = conn.execute(text("SELECT role FROM users WHERE id = :i"), {"i": made.id}).scalar()
    assert role == "lead"  # the primary role column follows
    kinds = [e.kind for e in world.events() if e.user_id == world.admin.id]
    for kind in ("user_created", "vetting_set", "training_added", "roles_set"):
        assert kind in kinds
    assert all(e.user_id == world.admin.id for e in world.events("training_added"))


def test_security_settings_need_manage_settings_and_valid_values(world: World) -> None:
    assert world.repo.security_settings() == SecuritySettings(5, 10)
    world.repo.set_security_settings(world.admin, SecuritySettings(2, 3))
    assert world.repo.security_settings() == SecuritySettings(2, 3)
    [event] = world.events("security_settings_set")
    assert event.detail == {
        "from": {"idle_lock_minutes": 5, "release_after_minutes": 10},
        "to": {"idle_lock_minutes": 2, "release_after_minutes": 3},
    }
    for bad in (0, 61, 2.5, True):
        with pytest.raises(ValueError):
            SecuritySettings(idle_lock_minutes=bad)  # type: ignore[arg-type]


def test_unlock_checks_the_sessions_own_password(world: World) -> None:
    world.user("Mo", MOD_PW, {Role.MODERATOR})
    service: ReviewService = world.ws.log_in("Mo", MOD_PW)
    service.record_lock(300)
    assert not service.unlock(ADMIN_PW)  # someone else's password does not unlock
    assert service.unlock(MOD_PW)
    world.repo.disable(world.admin, service.account.id)
    assert not service.unlock(MOD_PW)
    assert [e.kind for e in world.events() if e.kind.startswith(("screen_", "unlock_"))] == [
        "screen_locked",
        "unlock_failed",
        "unlock_ok",
        "unlock_failed",
    ]


def test_migration_keeps_existing_users_roles_and_leaves_them_without_a_password(
    db_url: str, media: MediaStore
) -> None:
    from db.engine import make_engine
    from db.migrate import upgrade

    engine = make_engine(db_url)
    upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (name, role, created_at) VALUES"
                " ('Old Lead', 'lead', CURRENT_TIMESTAMP),"
                " ('Old Mod', 'moderator', CURRENT_TIMESTAMP)"
            )
        )
    upgrade(engine)
    engine.dispose()
    store = Store.open(db_url)
    try:
        repo = store.accounts
        by_name = {a.name: a for a in (repo.account(u.id) for u in store.accounts.users())}
        assert by_name["Old Lead"].roles == {Role.LEAD}
        assert by_name["Old Mod"].roles == {Role.MODERATOR}
        assert not any(a.disabled for a in by_name.values())
        assert {a.vetting for a in by_name.values()} == {VettingStatus.PENDING}
        assert not repo.login_accounts_exist()  # first run still asks for an account
        with pytest.raises(LoginFailed):
            repo.authenticate("Old Lead", "")
        assert repo.security_settings() == SecuritySettings()
    finally:
        store.close()


def test_an_over_long_or_unstorable_user_name_is_refused_and_nothing_is_stored(
    world: World,
) -> None:
    before = [a.name for a in world.repo.accounts(world.admin)]
    events = len(world.events())
    with pytest.raises(Untrusted, match=f"'name' is longer than {MAX_NAME_LENGTH} characters"):
        world.user("n" * (MAX_NAME_LENGTH + 1), MOD_PW, {Role.MODERATOR})
    with pytest.raises(Untrusted, match="NUL"):
        world.user("Mo\0Derator", MOD_PW, {Role.MODERATOR})
    assert [a.name for a in world.repo.accounts(world.admin)] == before
    assert len(world.events()) == events
    made = world.user("n" * MAX_NAME_LENGTH, MOD_PW, {Role.MODERATOR})
    assert made.name == "n" * MAX_NAME_LENGTH
    with pytest.raises(Untrusted, match=f"'course' is longer than {MAX_COURSE} characters"):
        world.repo.add_training(world.admin, made.id, "c" * (MAX_COURSE + 1), date(2026, 1, 1))
    assert world.repo.account(made.id).training == ()
    assert world.events("training_added") == []
