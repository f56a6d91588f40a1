"""The permission matrix, attacked through the services as an insider would.

Generated from reviewer.permissions.MATRIX: for every operation, a session is built for
an account that may do it (as at sign-in); then the account's state changes behind the
session's back (disabled, role removed, vetting lapsed, the queue restricted without
access, the claim someone else's, the decision the actor's own) and the operation is
tried through the service. Each such attempt must be refused (AccessDenied), change
nothing it was about, and leave an `access_denied` audit event naming the operation.
The unchanged account must still succeed. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import wiring
from qa_helpers import SEED, add_items, graded
from referral_fixtures import REPORT_B
from sign_in import stored_account

from db.accounts import AccountsRepo
from db.qa import QaRepo
from db.store import Store
from reviewer.accounts import (
    AccessDenied,
    Account,
    Role,
    SecuritySettings,
    VettingStatus,
)
from reviewer.admin_service import AdminService
from reviewer.clock import FakeClock
from reviewer.dashboard_service import DashboardService
from reviewer.model import Claim, Exposure
from reviewer.permissions import ALL_ROLES, MATRIX, Check, Operation
from reviewer.qa_model import QaSettings
from reviewer.qa_service import QaReviewSession, QaService
from reviewer.referral_service import ReferralKind, ReferralService
from reviewer.retention_service import RetentionService
from reviewer.review_service import ReviewService
from reviewer.sampling import Sampler, SamplingPolicy, golden_mix
from reviewer.vocabulary import Severity, SkipReason
from wellbeing.settings import WelfareSettings

EVERYTHING = QaSettings(SamplingPolicy(1.0, True, 1.0, 0), gold_rate=0.0)


class Media:
    def get(self, sha256: str) -> bytes:
        return b"synthetic bytes"


@dataclass
class World:
    store: Store
    clock: FakeClock
    repo: AccountsRepo
    qa: QaRepo
    admin: Account
    general: int = 0
    other_queue: int = 0
    notes: dict[str, object] = field(default_factory=dict)

    def account(self, name: str, *roles: Role) -> Account:
        return stored_account(self.store, name, *roles)

    def review(self, acc: Account) -> ReviewService:
        return wiring.session(self.store, Media(), acc, accounts=self.repo, clock=self.clock)

    def qa_session(self, acc: Account) -> QaReviewSession:
        return wiring.qa_review(self.qa, Media(), acc, self.clock)

    def qa_service(self, acc: Account) -> QaService:
        return QaService(self.qa, acc, self.clock, SEED)

    def referrals(self, acc: Account) -> ReferralService:
        return ReferralService(self.store.referrals, wiring.NoMedia(), acc)

    def dashboard(self, acc: Account) -> DashboardService:
        return DashboardService(
            self.store.dashboard,
            self.qa_service(acc),
            acc,
            self.clock,
            self.store.welfare.settings,
            referral_deadlines=self.referrals(acc).deadlines,
        )

    def decide_as(self, acc: Account) -> int:
        """A decision by `acc` on a fresh item, sampled for QA; returns its id."""
        claim = self.store.claims.claim_next(acc.id, self.general)
        assert claim is not None
        receipt = self.store.claims.submit_decision(
            claim, graded(Severity.C), Exposure(), str(uuid.uuid4())
        )
        self.qa.sample_decision(receipt.decision_id, Sampler(EVERYTHING.policy, SEED))
        return receipt.decision_id

    def sample_of(self, decision_id: int) -> int:
        disputes = self.qa_service(self.admin_lead()).disputes()
        [d] = [d for d in disputes if d.decision_id == decision_id]
        return d.sample_id

    def admin_lead(self) -> Account:
        if "lead" not in self.notes:
            self.notes["lead"] = self.account("Helper Lead", Role.LEAD)
        return self.notes["lead"]  # type: ignore[return-value]

    def dispute(self, moderator: Account) -> int:
        """A QA sample of `moderator`'s decision re-graded differently; its sample id."""
        did = self.decide_as(moderator)
        grader = self.account(f"Grader {uuid.uuid4().hex[:6]}", Role.QA)
        session = self.qa_session(grader)
        claim = session.claim_next()
        assert claim is not None
        session.submit(claim, graded(Severity.A), Exposure(), str(uuid.uuid4()))
        return self.sample_of(did)


@pytest.fixture
def world(store: Store, clock: FakeClock) -> World:
    # With a password (a login role on PostgreSQL), so that some admin who can sign in
    # remains whatever the test does.
    admin = stored_account(store, "Ada Admin", Role.ADMIN, password="admin password 1")
    w = World(store, clock, store.accounts, store.qa, admin)
    add_items(store, 6, queue="General", tag="g")
    add_items(store, 2, queue="Other", tag="o")
    queues = {q.name: q.id for q in w.repo.queues()}
    w.general, w.other_queue = queues["General"], queues["Other"]
    QaService(w.qa, admin, clock, SEED).set_settings(EVERYTHING)
    return w


# -- one scenario per operation ------------------------------------------------------------
# prepare(world, actor, foreign) runs while the actor may still act (as at sign-in) and
# returns the attempt. `foreign` asks for the data to be someone else's (their claim, or
# for adjudication a decision NOT the actor's own: the actor's own is the attack there).

Attempt = Callable[[], object]


def _own_or_foreign_claim(w: World, actor: Account, foreign: bool) -> tuple[ReviewService, Claim]:
    svc = w.review(actor)
    holder = w.review(w.account("Other Mod", Role.MODERATOR)) if foreign else svc
    claim = holder.claim_next(w.general)
    assert claim is not None
    return svc, claim


def _qa_claim(w: World, actor: Account, foreign: bool) -> tuple[QaReviewSession, Claim]:
    w.decide_as(w.account("Sampled Mod", Role.MODERATOR))
    session = w.qa_session(actor)
    holder = w.qa_session(w.account("Other QA", Role.QA)) if foreign else session
    claim = holder.claim_next()
    assert claim is not None
    return session, claim


def _review(act: Callable[[ReviewService, Claim], object]) -> Callable[..., Attempt]:
    def prepare(w: World, actor: Account, foreign: bool) -> Attempt:
        svc, claim = _own_or_foreign_claim(w, actor, foreign)
        return lambda: act(svc, claim)

    return prepare


def _qa(act: Callable[[QaReviewSession, Claim], object]) -> Callable[..., Attempt]:
    def prepare(w: World, actor: Account, foreign: bool) -> Attempt:
        session, claim = _qa_claim(w, actor, foreign)
        return lambda: act(session, claim)

    return prepare


def _claim(w: World, actor: Account, foreign: bool) -> Attempt:
    svc = w.review(actor)
    return lambda: svc.claim_next(w.general)


def _qa_claim_op(w: World, actor: Account, foreign: bool) -> Attempt:
    w.decide_as(w.account("Sampled Mod", Role.MODERATOR))
    session = w.qa_session(actor)
    return session.claim_next


def _team_history(w: World, actor: Account, foreign: bool) -> Attempt:
    other = w.account("Other Mod", Role.MODERATOR)
    svc = w.review(actor)
    return lambda: svc.history_of(other.id)


def _adjudicate(w: World, actor: Account, foreign: bool) -> Attempt:
    # The attack is the actor settling a dispute about their own decision.
    moderator = w.account("Other Mod", Role.MODERATOR) if foreign else actor
    sample_id = w.dispute(moderator)
    svc = w.qa_service(actor)
    return lambda: svc.adjudicate(sample_id, graded(Severity.B), "settled")


def _qa_grades(w: World, actor: Account, foreign: bool) -> Attempt:
    sample_id = w.dispute(w.account("Other Mod", Role.MODERATOR))
    svc = w.qa_service(actor)
    return lambda: svc.qa_grade(sample_id)


def _request_sample(w: World, actor: Account, foreign: bool) -> Attempt:
    did = w.decide_as(w.account("Other Mod", Role.MODERATOR))
    svc = w.qa_service(actor)
    return lambda: svc.request_sample(did)


def _lead_on(act: Callable[[DashboardService, World, Account], object]) -> Callable[..., Attempt]:
    def prepare(w: World, actor: Account, foreign: bool) -> Attempt:
        other = w.account("Other Mod", Role.MODERATOR)
        w.review(other).claim_next(w.general)
        dash = w.dashboard(actor)
        return lambda: act(dash, w, other)

    return prepare


def _reported(w: World) -> int:
    """An item decided with the "report" action; its id."""
    mod = w.account(f"Reporting Mod {uuid.uuid4().hex[:6]}", Role.MODERATOR)
    claim = w.store.claims.claim_next(mod.id, w.general)
    assert claim is not None
    w.store.claims.submit_decision(claim, REPORT_B, Exposure(), str(uuid.uuid4()))
    return claim.item.id


def _referral_build(w: World, actor: Account, foreign: bool) -> Attempt:
    item = _reported(w)
    svc = w.referrals(actor)
    return lambda: svc.build(item, ReferralKind.UK, allow_incomplete=True)


def _referral_export(w: World, actor: Account, foreign: bool) -> Attempt:
    built = w.referrals(w.admin_lead()).build(_reported(w), ReferralKind.UK, allow_incomplete=True)
    svc = w.referrals(actor)
    folder = Path(tempfile.mkdtemp())
    return lambda: svc.export(built.id, folder)


def _simple(build: Callable[[World, Account], Attempt]) -> Callable[..., Attempt]:
    return lambda w, actor, foreign: build(w, actor)


SCENARIOS: dict[Operation, Callable[[World, Account, bool], Attempt]] = {
    Operation.CLAIM: _claim,
    Operation.OPEN: _review(lambda s, c: s.open_item(c)),
    Operation.VIEW_MEDIA: _review(lambda s, c: s.media_bytes(c)),
    Operation.REVEAL: _review(lambda s, c: s.record_reveal(c, True)),
    Operation.RENEW: _review(lambda s, c: s.renew_lease(c)),
    Operation.SUBMIT: _review(
        lambda s, c: s.submit(c, graded(Severity.C), Exposure(), str(uuid.uuid4()))
    ),
    Operation.SKIP: _review(
        lambda s, c: s.skip(c, SkipReason.CONFLICT_OF_INTEREST, "", Exposure())
    ),
    Operation.RELEASE: _review(lambda s, c: s.release(c, Exposure())),
    Operation.OWN_HISTORY: _simple(lambda w, a: w.review(a).my_history),
    Operation.TEAM_HISTORY: _team_history,
    Operation.CALIBRATION: _simple(lambda w, a: w.qa_service(a).my_calibration),
    Operation.QA_QUEUE: _simple(lambda w, a: w.qa_session(a).queues),
    Operation.QA_CLAIM: _qa_claim_op,
    Operation.QA_OPEN: _qa(lambda s, c: s.open_item(c)),
    Operation.QA_VIEW_MEDIA: _qa(lambda s, c: s.media_bytes(c)),
    Operation.QA_REVEAL: _qa(lambda s, c: s.record_reveal(c, True)),
    Operation.QA_RENEW: _qa(lambda s, c: s.renew_lease(c)),
    Operation.QA_SUBMIT: _qa(
        lambda s, c: s.submit(c, graded(Severity.C), Exposure(), str(uuid.uuid4()))
    ),
    Operation.QA_SKIP: _qa(lambda s, c: s.skip(c, SkipReason.CONFLICT_OF_INTEREST, "", Exposure())),
    Operation.QA_RELEASE: _qa(lambda s, c: s.release(c, Exposure())),
    Operation.QA_GRADES: _qa_grades,
    Operation.DISPUTES: _simple(lambda w, a: w.qa_service(a).disputes),
    Operation.ADJUDICATE: _adjudicate,
    Operation.REQUEST_SAMPLE: _request_sample,
    Operation.AGREEMENT: _simple(
        lambda w, a: (
            lambda: w.qa_service(a).agreement(
                datetime(2020, 1, 1).astimezone(), w.clock.now() + timedelta(days=1)
            )
        )
    ),
    Operation.DASHBOARD: _simple(lambda w, a: w.dashboard(a).snapshot),
    Operation.RELEASE_HELD: _lead_on(lambda d, w, o: d.release_claims(o.id, "left the desk")),
    Operation.REASSIGN: _lead_on(lambda d, w, o: d.reassign(o.id, w.other_queue, "specialist")),
    Operation.END_BREAK: _lead_on(lambda d, w, o: d.end_break_early(o.id, "back early")),
    Operation.MANAGE_USERS: _simple(lambda w, a: AdminService(w.repo, a).snapshot),
    Operation.SECURITY_SETTINGS: _simple(
        lambda w, a: (
            lambda: AdminService(w.repo, a).set_security_settings(
                SecuritySettings(idle_lock_minutes=7)
            )
        )
    ),
    Operation.QA_SETTINGS: _simple(lambda w, a: lambda: w.qa_service(a).set_settings(EVERYTHING)),
    Operation.GOLD: _simple(lambda w, a: w.qa_service(a).gold_items),
    Operation.REFERRAL_BUILD: _referral_build,
    Operation.REFERRAL_READ: _simple(lambda w, a: w.referrals(a).referrals),
    Operation.REFERRAL_EXPORT: _referral_export,
    Operation.RETENTION: _simple(
        lambda w, a: (
            lambda: RetentionService(w.store.retention, wiring.NoMedia(), a).run(dry_run=True)
        )
    ),
    Operation.WELFARE_SETTINGS: _simple(
        lambda w, a: (
            lambda: w.store.welfare.save_settings(
                WelfareSettings(reprotect_after_seconds=5),
                Check(a.id, a.name, Operation.WELFARE_SETTINGS),
            )
        )
    ),
    Operation.REPORTING_SETTINGS: _simple(
        lambda w, a: (
            lambda: w.store.referrals.update_settings(
                Check(a.id, a.name, Operation.REPORTING_SETTINGS), organisation="Changed Ltd"
            )
        )
    ),
}
# Attacked in a file of their own, since they need a near-duplicate group of pictures.
COVERED_ELSEWHERE = {Operation.PROPAGATE_GROUP: "tests/db/test_group_settle_gate.py"}


def test_every_operation_has_a_scenario() -> None:
    assert set(SCENARIOS) | set(COVERED_ELSEWHERE) == set(Operation)
    assert not set(SCENARIOS) & set(COVERED_ELSEWHERE)


# -- the account states ---------------------------------------------------------------------


def _actor_roles(op: Operation) -> tuple[Role, ...]:
    rule = MATRIX[op]
    if rule.not_own_decision:
        # A lead who is also a moderator: the one who could settle their own decision.
        return (Role.LEAD, Role.MODERATOR)
    role = next(r for r in (Role.MODERATOR, Role.QA, Role.LEAD, Role.ADMIN) if r in rule.roles)
    return (role,)


def _disable(w: World, actor: Account, op: Operation) -> None:
    w.repo.set_disabled(w.admin, actor.id, True)


def _remove_role(w: World, actor: Account, op: Operation) -> None:
    """Left with a role the operation does not allow."""
    other = next(r for r in Role if r not in MATRIX[op].roles)
    w.repo.set_roles(w.admin, actor.id, {other})


def _lapse_vetting(w: World, actor: Account, op: Operation) -> None:
    w.repo.set_vetting(w.admin, actor.id, VettingStatus.REVOKED, None)


def _restrict_queue(w: World, actor: Account, op: Operation) -> None:
    for qid in (w.general, w.other_queue):
        w.repo.set_queue_restricted(w.admin, qid, True)


STATES: dict[str, Callable[[World, Account, Operation], None]] = {
    "disabled": _disable,
    "role_removed": _remove_role,
    "vetting_lapsed": _lapse_vetting,
    "no_queue_access": _restrict_queue,
}


def _cases() -> list[tuple[Operation, str]]:
    out = []
    for op in SCENARIOS:
        rule = MATRIX[op]
        states = ["allowed", "disabled"]
        if rule.roles != ALL_ROLES:
            states.append("role_removed")
        if rule.vetted:
            states.append("vetting_lapsed")
        if rule.queue:
            states.append("no_queue_access")
        if rule.own_claim:
            states.append("someone_elses_claim")
        if rule.not_own_decision:
            states.append("own_decision")
        out += [(op, s) for s in states]
    return out


@pytest.mark.parametrize(("op", "state"), _cases(), ids=[f"{o.value}-{s}" for o, s in _cases()])
def test_the_gate_refuses_and_audits_each_state(world: World, op: Operation, state: str) -> None:
    actor = world.account("Actor", *_actor_roles(op))
    # The session exists before the change: it was signed in as an account that may.
    foreign = state == "someone_elses_claim" or (
        op is Operation.ADJUDICATE and state != "own_decision"
    )
    attempt = SCENARIOS[op](world, actor, foreign)
    if state in STATES:
        STATES[state](world, actor, op)
    denials = len(world.store.audit_events(kind="access_denied"))
    if op in (Operation.QA_CLAIM, Operation.QA_QUEUE) and state == "no_queue_access":
        # No queue is asked for: a sample of a restricted queue is passed by, unseen
        # (neither handed out nor counted), and nothing is refused.
        result = attempt()
        assert result is None or result[0].pending == 0  # type: ignore[index]
        assert len(world.store.audit_events(kind="access_denied")) == denials
        return
    if state == "allowed":
        attempt()
        assert len(world.store.audit_events(kind="access_denied")) == denials
        return
    with pytest.raises(AccessDenied):
        attempt()
    events = world.store.audit_events(kind="access_denied")
    assert len(events) == denials + 1
    assert events[-1].detail["operation"] == op.value
    assert events[-1].user_id == actor.id


# -- every path that hands out an item applies the queue restrictions ---------------------


def _restricted_with(w: World, *allowed: Account) -> int:
    """The "Other" queue, restricted to `allowed`."""
    w.repo.set_queue_restricted(w.admin, w.other_queue, True)
    for acc in allowed:
        w.repo.grant_queue(w.admin, acc.id, w.other_queue)
    return w.other_queue


def test_a_lead_cannot_move_restricted_items_into_an_open_queue(world: World) -> None:
    insider = world.account("Insider", Role.MODERATOR)
    outsider = world.account("Outsider", Role.MODERATOR)
    secret = _restricted_with(world, insider)
    claim = world.review(insider).claim_next(secret)
    assert claim is not None
    lead = world.account("Lee", Role.LEAD)
    assert world.dashboard(lead).reassign(insider.id, world.general, "specialist") == 1
    # Back in its own restricted queue, pending: the outsider is never handed it.
    assert world.store.items.item(claim.item.id).queue_name == "Other"
    [moved] = world.store.audit_events(kind="lead_reassigned")
    assert moved.detail["kept_in_restricted_queue"] == secret
    seen = []
    outsider_svc = world.review(outsider)
    while (c := outsider_svc.claim_next()) is not None:
        seen.append(c.item.id)
    assert claim.item.id not in seen


def test_gold_of_a_restricted_queue_is_served_only_with_access(world: World) -> None:
    insider = world.account("Insider", Role.MODERATOR)
    outsider = world.account("Outsider", Role.MODERATOR)
    [gold_item] = add_items(world.store, 1, queue="Other", tag="gold", synthetic=True)
    world.qa_service(world.admin).mark_gold(gold_item, graded(Severity.C))
    _restricted_with(world, insider)
    always = golden_mix("x", 1.0)
    check = Check(outsider.id, outsider.name, Operation.CLAIM)
    assert world.qa.serve_gold(outsider.id, None, 600, always, check=check) is None
    check = Check(insider.id, insider.name, Operation.CLAIM)
    served = world.qa.serve_gold(insider.id, None, 600, always, check=check)
    assert served is not None and served.item.queue_name == "Other"


def test_qa_samples_of_a_restricted_queue_go_only_to_reviewers_with_access(
    world: World,
) -> None:
    insider = world.account("Insider", Role.MODERATOR)
    secret = _restricted_with(world, insider)
    claim = world.review(insider).claim_next(secret)
    assert claim is not None
    world.review(insider).submit(claim, graded(Severity.C), Exposure(), str(uuid.uuid4()))
    decision = world.store.items.decisions(claim.item.id)[0]["id"]
    world.qa.sample_decision(decision, Sampler(EVERYTHING.policy, SEED))
    outsider_qa = world.account("QA Outsider", Role.QA)
    assert world.qa_session(outsider_qa).claim_next() is None
    assert world.qa_session(outsider_qa).queues()[0].pending == 0
    insider_qa = world.account("QA Insider", Role.QA)
    world.repo.grant_queue(world.admin, insider_qa.id, secret)
    got = world.qa_session(insider_qa).claim_next()
    assert got is not None and got.item.id == claim.item.id
