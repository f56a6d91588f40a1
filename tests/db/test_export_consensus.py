"""Consensus before a hash leaves the organisation, over a real database (both
backends): Category A/B/C items enter the hash export only when the admin's number of
independent grades agree; QA re-grades and adjudications count, known-list
confirmations and propagated grades do not; each row says how many agreed."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pytest
import wiring
from hash_helpers import give_hashes, ingest_one
from qa_helpers import (
    SEED,
    account,
    add_items,
    decide_next,
    graded,
    moderator_session,
    qa_session,
    regrade_next,
)
from sqlalchemy import update

from db.hashes import HashRepo
from db.media_store import MediaStore
from db.models import QaSettingRow
from db.qa import QaRepo
from db.store import Store
from reviewer import synthetic
from reviewer.accounts import AccessDenied, Role
from reviewer.clock import FakeClock
from reviewer.grading import GradeBasis
from reviewer.hashing import compute_hashes
from reviewer.hashlists import MAX_SOURCE
from reviewer.matching import (
    ExportReport,
    HashIngest,
    ShowLess,
    export_confirmed,
    import_hash_list,
)
from reviewer.model import Exposure, User
from reviewer.qa_model import QaSettings
from reviewer.qa_service import QaService
from reviewer.sampling import Sampler, SamplingPolicy
from reviewer.untrusted import Untrusted
from reviewer.vocabulary import AgeBand, Severity

EVERYTHING = SamplingPolicy(1.0, True, 1.0, 0)
NOTHING = SamplingPolicy(0.0, False, 0.0, 0)


@pytest.fixture
def qa(store: Store) -> QaRepo:
    return store.qa


@pytest.fixture
def repo(store: Store) -> HashRepo:
    return store.hashes


@pytest.fixture
def people(store: Store) -> dict[str, Any]:
    return {
        "mod": account(store, "Mo Derator", Role.MODERATOR),
        "mod2": account(store, "Ada Second", Role.MODERATOR),
        "qa": account(store, "Quinn QA", Role.QA),
        "lead": account(store, "Lee Lead", Role.LEAD),
        "admin": account(store, "Ad Min", Role.ADMIN),
    }


def configure(
    qa: QaRepo, people: dict[str, Any], clock: FakeClock, needed: int, policy=EVERYTHING
) -> None:
    QaService(qa, people["admin"], clock, SEED).set_settings(
        QaSettings(policy, gold_rate=0.0, export_grades_needed=needed)
    )


def export(repo: HashRepo) -> tuple[ExportReport, dict[str, dict[str, Any]]]:
    """Export as JSON Lines; the MD5 rows by value."""
    out = io.StringIO()
    report = export_confirmed(repo, out, "jsonl", "Our Org")
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    return report, {r["value"]: r for r in rows if r["hash_type"] == "md5"}


def test_one_grade_is_held_and_an_agreeing_regrade_releases_it(
    store: Store, qa: QaRepo, repo: HashRepo, people: dict[str, Any], clock: FakeClock
) -> None:
    configure(qa, people, clock, 2)
    (item,) = add_items(store, 1)
    md5 = give_hashes(repo, item, 1)
    decide_next(moderator_session(store, qa, people["mod"]), graded(Severity.B))
    report, rows = export(repo)
    assert rows == {} and report.grades_needed == 2
    events = len(store.audit_events())
    with pytest.raises(Untrusted, match=f"'source' is longer than {MAX_SOURCE} characters"):
        export_confirmed(repo, io.StringIO(), "jsonl", "s" * (MAX_SOURCE + 1))
    assert len(store.audit_events()) == events
    (held,) = report.held
    assert held.item_id == item and held.verdict.held_because == "1 of 2 independent grades agree"

    regrade_next(qa_session(qa, people["qa"], clock), graded(Severity.B))
    report, rows = export(repo)
    assert report.held == () and rows[md5]["category"] == "B"
    assert rows[md5]["grades_agreed"] == 2
    detail = store.audit_events(kind="hashlist_exported")[-1].detail
    assert (detail["grades_needed"], detail["held_for_consensus"], detail["items"]) == (2, 0, 1)


@pytest.mark.parametrize(
    ("ruling", "exported", "agreed"),
    [(Severity.A, "A", 2), (Severity.B, "B", 2), (Severity.NOT_ILLEGAL, None, 0)],
)
def test_a_disagreement_waits_for_the_lead_whose_ruling_counts(
    store: Store,
    qa: QaRepo,
    repo: HashRepo,
    people: dict[str, Any],
    clock: FakeClock,
    ruling: Severity,
    exported: str | None,
    agreed: int,
) -> None:
    configure(qa, people, clock, 2)
    (item,) = add_items(store, 1)
    md5 = give_hashes(repo, item, 2)
    decide_next(moderator_session(store, qa, people["mod"]), graded(Severity.B))
    regrade_next(qa_session(qa, people["qa"], clock), graded(Severity.A))
    # Moderator B, QA A: two grades, but not on one category, and a lead is due.
    report, rows = export(repo)
    assert rows == {}
    assert [h.verdict.held_because for h in report.held] == ["a disputed re-grade awaits a lead"]

    lead = QaService(qa, people["lead"], clock, SEED)
    (dispute,) = lead.disputes()
    final = graded(ruling) if ruling.is_category else graded(ruling, confidence=None)
    clock.advance(60)
    lead.adjudicate(dispute.sample_id, final, "Settled against the guidance.")
    report, rows = export(repo)
    assert report.held == ()
    if exported is None:
        assert rows == {}
    else:
        # The lead's grade and the one it sided with: two people agree.
        assert (rows[md5]["category"], rows[md5]["grades_agreed"]) == (exported, agreed)


def test_known_list_confirmations_and_propagated_grades_do_not_count(
    store: Store,
    media: MediaStore,
    qa: QaRepo,
    repo: HashRepo,
    people: dict[str, Any],
    clock: FakeClock,
) -> None:
    configure(qa, people, clock, 1, NOTHING)
    listed = synthetic.encode(synthetic.make_image(640, 480, 61), "JPEG")
    row = {
        "hash_type": "md5",
        "value": compute_hashes(listed).md5,
        "source": "NGO",
        "category": "A",
        "age_band": "7-10",
    }
    import_hash_list(repo, (json.dumps(row) + "\n").encode(), "ngo", "NGO", "l.jsonl")
    hook = HashIngest(repo)
    known = ingest_one(store, media, hook, listed, "known")
    img = synthetic.make_image(640, 480, 62)
    rep_data = synthetic.encode(img, "JPEG")
    rep = ingest_one(store, media, hook, rep_data, "rep")
    copy = ingest_one(store, media, hook, synthetic.encode(img.convert("L"), "JPEG"), "copy")

    mod = people["mod"]
    show = ShowLess(repo, store, User(mod.id, mod.name, mod.role), wiring.NoMedia().get)
    claim = store.claims.claim_next(mod.id)
    assert claim is not None and claim.item.id == known
    (match,) = show.graded_matches(known)
    show.confirm(claim, match, Exposure(), str(uuid.uuid4()))
    claim = store.claims.claim_next(mod.id)
    assert claim is not None and claim.item.id == rep
    store.claims.submit_decision(claim, graded(Severity.C), Exposure(), str(uuid.uuid4()))
    group = show.group_after(rep)
    assert group is not None
    assert show.settle(group.id, rep, [copy]).decided == (copy,)
    bases = {i: store.items.decisions(i)[-1]["basis"] for i in (known, rep, copy)}
    assert bases == {
        known: GradeBasis.KNOWN_LIST,
        rep: GradeBasis.ASSESSED,
        copy: GradeBasis.PROPAGATED,
    }

    # Even with one grade needed, only the item a person graded leaves.
    report, rows = export(repo)
    md5 = {known: compute_hashes(listed).md5, rep: compute_hashes(rep_data).md5}
    assert set(rows) == {md5[rep]}
    assert {h.item_id for h in report.held} == {known, copy}
    assert all(h.verdict.agreed == 0 for h in report.held)

    # A QA re-grade of the confirmed match is an independent grade: it counts, alone.
    lead = people["lead"]
    sampler = Sampler(EVERYTHING, SEED)
    known_decision = store.items.decisions(known)[-1]["id"]
    assert qa.sample_decision(known_decision, sampler, requested_by=lead.id) is not None
    regrade_next(qa_session(qa, people["qa"], clock), graded(Severity.A, AgeBand.B7_10))
    report, rows = export(repo)
    assert rows[md5[known]]["grades_agreed"] == 1
    configure(qa, people, clock, 2, NOTHING)
    report, rows = export(repo)
    assert md5[known] not in rows  # the list's grade did not make a second one


def test_a_dual_role_person_cannot_settle_their_own_regrade(
    store: Store, qa: QaRepo, repo: HashRepo, people: dict[str, Any], clock: FakeClock
) -> None:
    """QA and lead in one account: their ruling on their own re-grade would be a second
    vote by the same person. The gate refuses it; the item stays held. (That one person
    counts once however often they grade is tests/unit/test_consensus.py's.)"""
    dual = account(store, "Dee Dual", Role.QA, Role.LEAD)
    configure(qa, people, clock, 2)
    (item,) = add_items(store, 1)
    give_hashes(repo, item, 3)
    decide_next(moderator_session(store, qa, people["mod"]), graded(Severity.B))
    regrade_next(qa_session(qa, dual, clock), graded(Severity.A))
    (dispute,) = QaService(qa, people["lead"], clock, SEED).disputes()
    with pytest.raises(AccessDenied):
        QaService(qa, dual, clock, SEED).adjudicate(dispute.sample_id, graded(Severity.A), "A.")
    report, rows = export(repo)
    assert rows == {}
    assert [h.verdict.held_because for h in report.held] == ["a disputed re-grade awaits a lead"]


def test_the_setting_is_the_admins_and_reaches_the_export(
    store: Store, qa: QaRepo, repo: HashRepo, people: dict[str, Any], clock: FakeClock
) -> None:
    configure(qa, people, clock, 1)
    (item,) = add_items(store, 1)
    md5 = give_hashes(repo, item, 4)
    decide_next(moderator_session(store, qa, people["mod"]), graded(Severity.A))
    report, rows = export(repo)
    assert report.grades_needed == 1 and rows[md5]["grades_agreed"] == 1
    change = store.audit_events(kind="qa_settings_changed")[-1].detail
    assert change["after"]["export_grades_needed"] == 1

    as_lead = QaService(qa, people["lead"], clock, SEED)
    with pytest.raises(AccessDenied):
        as_lead.set_settings(QaSettings(EVERYTHING, 0.0, export_grades_needed=1))
    for bad in (0, 6, True, "2", 1.5):
        with pytest.raises(ValueError):
            QaSettings(EVERYTHING, 0.0, export_grades_needed=bad)  # type: ignore[arg-type]
    assert QaSettings().export_grades_needed == 2  # the default

    # Written around the service with the database credentials: the export refuses to
    # run on a bar it cannot read, rather than exporting on a default or on zero.
    with store.engine.begin() as conn:
        conn.execute(
            update(QaSettingRow.__table__)
            .where(QaSettingRow.__table__.c.key == "export_grades_needed")
            .values(value=0)
        )
    with pytest.raises(ValueError, match="independent grades needed"):
        export(repo)


def test_a_pending_dispute_holds_the_item_even_when_enough_agree(
    store: Store, qa: QaRepo, repo: HashRepo, people: dict[str, Any], clock: FakeClock
) -> None:
    configure(qa, people, clock, 1)
    (item,) = add_items(store, 1)
    give_hashes(repo, item, 5)
    decide_next(moderator_session(store, qa, people["mod"]), graded(Severity.B))
    regrade_next(qa_session(qa, people["qa"], clock), graded(Severity.C))
    report, rows = export(repo)
    assert rows == {}
    (held,) = report.held
    assert held.verdict.agreed == 1 and held.verdict.awaiting_adjudication
