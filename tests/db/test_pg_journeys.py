"""User journeys on a team server where each person signs in as their own PostgreSQL
login role: the services work through the policies of migration 0018 unchanged (one
claim lifecycle), and what the services refuse, the server refuses too."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import wiring
from pgserver import PgServer
from qa_helpers import SEED, add_items, decide_next, graded, moderator_session, regrade_next
from team_server import Person, TeamDb

from db.qa import QaRepo
from reviewer.accounts import AccessDenied, Role
from reviewer.clock import FakeClock
from reviewer.model import Exposure
from reviewer.qa_model import QaSettings
from reviewer.qa_service import QaService
from reviewer.sampling import SamplingPolicy
from reviewer.vocabulary import AgeBand, Severity, SkipReason

pytestmark = pytest.mark.postgres_only

EVERYTHING = QaSettings(SamplingPolicy(1.0, True, 1.0, 0), gold_rate=0.0)


class NoMedia:
    def get(self, sha256: str) -> bytes:
        raise AssertionError("these journeys never decode media")


@pytest.fixture
def team(pg_server: PgServer, pg_team_template: str) -> Iterator[TeamDb]:
    t = TeamDb(pg_server, clock=FakeClock(), template=pg_team_template)
    try:
        yield t
    finally:
        t.close()


def _qa(team: TeamDb, person: Person) -> QaRepo:
    return team.store(person).qa


def test_review_qa_and_adjudication_each_as_their_own_login_role(team: TeamDb) -> None:
    clock = team.clock
    assert isinstance(clock, FakeClock)
    mo = team.person("Mo", Role.MODERATOR)
    quinn = team.person("Quinn", Role.QA)
    lee = team.person("Lee", Role.LEAD)
    admin_qa = _qa(team, team.admin)
    QaService(admin_qa, team.admin.account, clock, SEED).set_settings(EVERYTHING)
    add_items(team.owner, 3)

    # Moderator: claim, skip, claim again and decide (sampled for QA in the same step).
    mo_store = team.store(mo)
    mo_qa = mo_store.qa
    session = moderator_session(mo_store, mo_qa, mo.account)
    skipped = session.claim_next()
    assert skipped is not None
    session.skip(skipped, SkipReason.NEEDS_SPECIALIST, "", Exposure())
    decided_item, _ = decide_next(session, graded(Severity.B, AgeBand.B7_10))
    assert decided_item != skipped.item.id
    held = session.claim_next()
    assert held is not None
    session.release(held, Exposure())

    # QA: the blind re-grade, through QA's own login role.
    quinn_qa = _qa(team, quinn)
    regraded = regrade_next(
        wiring.qa_review(quinn_qa, NoMedia(), quinn.account, clock),
        graded(Severity.A, AgeBand.B7_10),
    )
    assert regraded == decided_item

    # The moderator may not see the QA grade; the lead adjudicates.
    as_mod = QaService(mo_qa, mo.account, clock, SEED)
    with pytest.raises(AccessDenied):
        as_mod.disputes()
    lead = QaService(_qa(team, lee), lee.account, clock, SEED)
    [dispute] = lead.disputes()
    assert lead.qa_grade(dispute.sample_id).severity is Severity.A
    lead.adjudicate(dispute.sample_id, graded(Severity.A, AgeBand.B7_10), "Category A: visible.")
    [note] = as_mod.my_calibration()
    assert note.final.severity is Severity.A
    assert as_mod.acknowledge([note.sample_id]) == 1

    # And what the server holds for each of them, read with their own credentials.
    with team.raw(mo) as conn:
        assert conn.execute("SELECT severity FROM qa_grades").fetchall() == []
        mine = conn.execute("SELECT item_id FROM decisions").fetchall()
        assert mine == [(decided_item,)]
    with team.raw(lee) as conn:
        assert conn.execute("SELECT count(*) FROM qa_grades").fetchone() == (1,)


def test_a_retried_decision_finds_its_receipt_as_the_same_login_role(team: TeamDb) -> None:
    mo = team.person("Mo", Role.MODERATOR)
    add_items(team.owner, 1)
    store = team.store(mo)
    claim = store.claims.claim_next(mo.id)
    assert claim is not None
    token = str(uuid.uuid4())
    first = store.claims.submit_decision(claim, graded(Severity.NOT_ILLEGAL), Exposure(), token)
    again = store.claims.submit_decision(claim, graded(Severity.NOT_ILLEGAL), Exposure(), token)
    assert again.decision_id == first.decision_id
    assert store.items.item_status(claim.item.id) == "decided"
