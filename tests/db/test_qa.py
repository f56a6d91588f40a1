"""QA over a real database: sampling hook, blind re-grade, roles, adjudication, gold,
and agreement figures checked against hand-computed values."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import fields, is_dataclass
from datetime import timedelta
from typing import Any

import pytest
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

from db.models import ItemRow
from db.qa import QaRepo
from db.store import Store
from reviewer.accounts import AccessDenied, Account, Role
from reviewer.clock import FakeClock
from reviewer.errors import LeaseLost
from reviewer.model import Claim, Exposure
from reviewer.permissions import Check, Operation
from reviewer.qa_model import QaSettings
from reviewer.qa_service import QaService, per_user_seed
from reviewer.sampling import GoldenMix, Sampler, SampleReason, SamplingPolicy, golden_mix
from reviewer.untrusted import MAX_NOTE, Untrusted
from reviewer.vocabulary import (
    AgeBand,
    AgeConfidence,
    ProductionContext,
    Severity,
    SkipReason,
    Source,
)

EVERYTHING = QaSettings(SamplingPolicy(1.0, True, 1.0, 0), gold_rate=0.0)
NOTHING_RANDOM = QaSettings(SamplingPolicy(0.0, True, 0.0, 0), gold_rate=0.0)


@pytest.fixture
def qa(store: Store) -> QaRepo:
    return store.qa


@pytest.fixture
def people(store: Store) -> dict[str, Any]:
    return {
        "mod": account(store, "Mo Derator", Role.MODERATOR),
        "mod2": account(store, "Ada Second", Role.MODERATOR),
        "qa": account(store, "Quinn QA", Role.QA),
        "lead": account(store, "Lee Lead", Role.LEAD),
        "admin": account(store, "Ad Min", Role.ADMIN),
    }


def configure(qa: QaRepo, people: dict[str, Any], clock: FakeClock, s: QaSettings) -> None:
    QaService(qa, people["admin"], clock, SEED).set_settings(s)


def _strings(obj: Any) -> list[str]:
    """Every string reachable from an immutable result (dataclasses, containers)."""
    if isinstance(obj, str):
        return [obj]
    if is_dataclass(obj):
        return [s for f in fields(obj) for s in _strings(getattr(obj, f.name))]
    if isinstance(obj, dict):
        return [s for kv in obj.items() for x in kv for s in _strings(x)]
    if isinstance(obj, list | tuple | set | frozenset):
        return [s for x in obj for s in _strings(x)]
    return [str(obj)]


# -- sampling --------------------------------------------------------------------------


def test_settings_are_admin_only_and_audited(qa, people, clock, store) -> None:
    with pytest.raises(AccessDenied):
        QaService(qa, people["lead"], clock, SEED).set_settings(EVERYTHING)
    assert qa.settings() == QaSettings()  # defaults: 5 % base rate, 2 % gold
    configure(qa, people, clock, EVERYTHING)
    assert qa.settings() == EVERYTHING
    [event] = store.audit_events(kind="qa_settings_changed")
    assert event.user_id == people["admin"].id
    assert event.detail["after"]["base_rate"] == 1.0


def test_uncertain_age_is_always_sampled(qa, people, clock, store) -> None:
    configure(qa, people, clock, NOTHING_RANDOM)
    add_items(store, 2)
    session = moderator_session(store, qa, people["mod"])
    _, sure = decide_next(session, graded(Severity.C, confidence=AgeConfidence.CERTAIN))
    _, unsure = decide_next(session, graded(Severity.C, confidence=AgeConfidence.UNCERTAIN))
    assert qa.sample_decision(sure, Sampler(NOTHING_RANDOM.policy, SEED)) is None
    assert qa.sample_decision(unsure, Sampler(NOTHING_RANDOM.policy, SEED)) is (
        SampleReason.UNCERTAIN_AGE
    )
    [event] = store.audit_events(kind="qa_sampled")
    assert event.detail["decision_id"] == unsure


def test_hook_samples_exactly_what_the_pure_sampler_says(qa, people, clock, store) -> None:
    settings = QaSettings(SamplingPolicy(0.3, False, 0.8, 5), gold_rate=0.0)
    configure(qa, people, clock, settings)
    add_items(store, 30)
    session = moderator_session(store, qa, people["mod"])
    decided = [decide_next(session, graded(Severity.NOT_ILLEGAL))[1] for _ in range(30)]
    sampler = Sampler(settings.policy, SEED)
    expected = {d: sampler.should_sample(d, i, None) for i, d in enumerate(decided)}
    got = {
        e.detail["decision_id"]: e.detail["reason"] for e in store.audit_events(kind="qa_sampled")
    }
    assert got == {d: r.value for d, r in expected.items() if r is not None}
    assert 0 < len(got) < 30  # both outcomes occur, so the comparison means something


def test_on_demand_is_a_lead_action(qa, people, clock, store) -> None:
    configure(qa, people, clock, NOTHING_RANDOM)
    add_items(store, 1)
    _, did = decide_next(moderator_session(store, qa, people["mod"]), graded(Severity.B))
    with pytest.raises(AccessDenied):
        QaService(qa, people["mod"], clock, SEED).request_sample(did)
    lead = QaService(qa, people["lead"], clock, SEED)
    assert lead.request_sample(did) is SampleReason.ON_DEMAND
    assert lead.request_sample(did) is SampleReason.ON_DEMAND  # idempotent
    [event] = store.audit_events(kind="qa_sampled")
    assert event.user_id == people["lead"].id


# -- blind re-grade and roles ---------------------------------------------------------


def test_qa_never_sees_the_first_grade_while_regrading(qa, people, clock, store) -> None:
    configure(qa, people, clock, EVERYTHING)
    add_items(store, 1)
    marker = "FIRST-GRADE-NOTE-7f3a"
    first = graded(Severity.A, AgeBand.B3_6, ProductionContext.COERCED, note=marker)
    decide_next(moderator_session(store, qa, people["mod"]), first)

    session = qa_session(qa, people["qa"], clock)
    [queue] = session.queues()
    assert queue.pending == 1
    claim = session.claim_next()
    assert claim is not None
    seen = _strings(claim) + _strings(session.queues())
    # Nothing the QA session hands over carries any part of the first grade.
    for value in (marker, Severity.A.value, AgeBand.B3_6.value, ProductionContext.COERCED.value):
        assert value not in seen
    receipt = session.submit(claim, graded(Severity.B), Exposure(3.0, 1, 1.0), "t-1")
    assert not any(s in ("agreed", "disputed") for s in _strings(receipt))
    # And a QA reviewer cannot ask the other services for it either.
    as_qa = QaService(qa, people["qa"], clock, SEED)
    for call in (as_qa.disputes, lambda: as_qa.qa_grade(1), lambda: as_qa.request_sample(1)):
        with pytest.raises(AccessDenied):
            call()


def test_qa_regrade_is_one_transaction_with_its_exposure(qa, people, clock, store) -> None:
    configure(qa, people, clock, EVERYTHING)
    [item] = add_items(store, 1)
    decide_next(moderator_session(store, qa, people["mod"]), graded(Severity.C))
    session = qa_session(qa, people["qa"], clock)
    claim = session.claim_next()
    assert claim is not None
    session.submit(claim, graded(Severity.C), Exposure(4.5, 2, 0.5), "tok")
    session.submit(claim, graded(Severity.C), Exposure(4.5, 2, 0.5), "tok")  # retry
    mine = [e for e in store.items.exposures(item) if e["user_id"] == people["qa"].id]
    assert [e["seconds_revealed"] for e in mine] == [4.5]
    assert len(store.audit_events(kind="qa_grade")) == 1
    assert session.claim_next() is None  # agreed, nothing left


def test_a_qa_reviewer_unmuting_a_sample_is_audited_and_only_on_their_own_claim(
    qa, people, clock, store
) -> None:
    """The review screen records M (sound on/off) on QA samples as on review items; a
    session without it failed the call. Someone else's claim is refused by the gate."""
    configure(qa, people, clock, EVERYTHING)
    [item] = add_items(store, 1)
    decide_next(moderator_session(store, qa, people["mod"]), graded(Severity.C))
    session = qa_session(qa, people["qa"], clock)
    claim = session.claim_next()
    assert claim is not None
    session.record_audio(claim, True)
    session.record_audio(claim, False)
    kinds = [e.kind for e in store.audit_events(item) if e.kind.startswith("audio")]
    assert kinds == ["audio_unmuted", "audio_muted"]
    other = qa_session(qa, account(store, "Quentin QA", Role.QA), clock)
    with pytest.raises((AccessDenied, LeaseLost)):
        other.record_audio(claim, True)
    assert len(store.audit_events(item, kind="audio_unmuted")) == 1


# Every field differs from its default, so a dropped one shows.
SEEN = Exposure(
    seconds_revealed=4.5,
    reveal_count=3,
    max_area_fraction=0.25,
    full_unprotected=True,
    area_seconds=0.8,
    min_blur_step=2,
    colour_shown=True,
    least_mode="hold",
)


@pytest.mark.parametrize("how", ["regrade", "skip", "release", "lease_lost"])
def test_every_qa_path_records_the_whole_exposure(how, qa, people, clock, store) -> None:
    """Re-grading is exposure too: all eight fields reach the ledger and the audit
    event, whether the sample is re-graded, skipped, released or its hold ran out."""
    configure(qa, people, clock, EVERYTHING)
    [item] = add_items(store, 1)
    decide_next(moderator_session(store, qa, people["mod"]), graded(Severity.C))
    session = qa_session(qa, people["qa"], clock)
    claim = session.claim_next()
    assert claim is not None
    if how == "regrade":
        session.submit(claim, graded(Severity.C), SEEN, "tok")
    elif how == "skip":
        session.skip(claim, SkipReason.CONFLICT_OF_INTEREST, "", SEEN)
    elif how == "release":
        session.release(claim, SEEN)
    else:
        clock.advance(601)
        other = account(store, "Other QA", Role.QA)
        assert qa_session(qa, other, clock).claim_next() is not None
        with pytest.raises(LeaseLost):
            session.submit(claim, graded(Severity.C), SEEN, "late")
    [row] = [e for e in store.items.exposures(item) if e["user_id"] == people["qa"].id]
    expected = dataclasses.asdict(SEEN)
    assert {k: row[k] for k in expected} == expected
    if how != "lease_lost":
        [event] = store.audit_events(kind=f"qa_{'grade' if how == 'regrade' else how}")
        assert event.detail["exposure"] == expected


def test_qa_never_gets_their_own_decision_and_skips_stick(qa, people, clock, store) -> None:
    configure(qa, people, clock, EVERYTHING)
    add_items(store, 1)
    both = account(store, "Dual Role", Role.MODERATOR, Role.QA)
    decide_next(moderator_session(store, qa, both), graded(Severity.C))
    assert qa_session(qa, both, clock).claim_next() is None
    session = qa_session(qa, people["qa"], clock)
    claim = session.claim_next()
    assert claim is not None
    session.skip(claim, SkipReason.CONFLICT_OF_INTEREST, "", Exposure())
    assert session.claim_next() is None  # passed by for the one who skipped
    other = account(store, "Other QA", Role.QA)
    assert qa_session(qa, other, clock).claim_next() is not None


def test_an_expired_qa_hold_returns_the_sample(qa, people, clock, store) -> None:
    configure(qa, people, clock, EVERYTHING)
    add_items(store, 1)
    decide_next(moderator_session(store, qa, people["mod"]), graded(Severity.C))
    session = qa_session(qa, people["qa"], clock)
    claim = session.claim_next()
    assert claim is not None
    clock.advance(601)
    other = qa_session(qa, account(store, "Other QA", Role.QA), clock)
    assert other.claim_next() is not None
    with pytest.raises(LeaseLost):
        session.submit(claim, graded(Severity.C), Exposure(2.0, 1, 1.0), "late")
    # What the first reviewer saw still went into the ledger.
    assert any(e["seconds_revealed"] == 2.0 for e in store.items.exposures(claim.item.id))


def test_moderator_sees_outcome_only_after_adjudication(qa, people, clock, store) -> None:
    configure(qa, people, clock, EVERYTHING)
    add_items(store, 1)
    decide_next(moderator_session(store, qa, people["mod"]), graded(Severity.B, AgeBand.B7_10))
    regrade_next(qa_session(qa, people["qa"], clock), graded(Severity.A, AgeBand.B7_10))

    as_mod = QaService(qa, people["mod"], clock, SEED)
    with pytest.raises(AccessDenied):
        as_mod.qa_grade(1)
    with pytest.raises(AccessDenied):
        as_mod.disputes()
    assert as_mod.my_calibration() == []  # disputed, not yet adjudicated: nothing shown

    lead = QaService(qa, people["lead"], clock, SEED)
    [dispute] = lead.disputes()
    assert dispute.fields == ["severity"]
    assert lead.qa_grade(dispute.sample_id).severity is Severity.A
    with pytest.raises(ValueError):
        lead.adjudicate(dispute.sample_id, graded(Severity.A, AgeBand.B7_10), "  ")
    reason = "Penetration is visible in the lower third: Category A."
    lead.adjudicate(dispute.sample_id, graded(Severity.A, AgeBand.B7_10), reason)
    assert lead.disputes() == []

    [note] = as_mod.my_calibration()
    assert (note.yours.severity, note.final.severity, note.reason) == (
        Severity.B,
        Severity.A,
        reason,
    )
    assert not note.seen and not note.confirmed
    assert "Quinn QA" not in _strings(note)  # calibration, not blame: no re-grader named
    assert as_mod.acknowledge([note.sample_id]) == 1
    assert as_mod.my_calibration()[0].seen
    # Someone else's outcome is not theirs to see or acknowledge.
    assert QaService(qa, people["mod2"], clock, SEED).my_calibration() == []
    assert QaService(qa, people["mod2"], clock, SEED).acknowledge([note.sample_id]) == 0


# -- agreement over the database ------------------------------------------------------


def test_agreement_figures_match_hand_computed_values(qa, people, clock, store) -> None:
    configure(qa, people, clock, EVERYTHING)
    add_items(store, 4)
    P = ProductionContext
    firsts = [
        graded(Severity.A, AgeBand.B11_13, P.PEER),
        graded(Severity.A, AgeBand.B14_15, P.GROOMED),
        graded(Severity.B, AgeBand.B16_17, P.UNKNOWN),
        graded(Severity.C, AgeBand.B7_10, P.NOT_FIRST_PERSON),
    ]
    seconds = [
        graded(Severity.A, AgeBand.B11_13, P.PEER),
        graded(Severity.B, AgeBand.B16_17, P.COERCED),
        graded(Severity.B, AgeBand.B16_17, P.UNKNOWN),
        graded(Severity.C, AgeBand.B14_15, P.NOT_FIRST_PERSON),
    ]
    session = moderator_session(store, qa, people["mod"])
    for g in firsts:
        decide_next(session, g)
    qa_s = qa_session(qa, people["qa"], clock)
    for g in seconds:  # samples come oldest first, in decision order
        regrade_next(qa_s, g)

    now = clock.now()
    summary = QaService(qa, people["lead"], clock, SEED).agreement(
        now - timedelta(hours=1), now + timedelta(hours=1)
    )
    report = summary.qa[people["mod"].id]
    # Severity: p_o = 3/4; first A2 B1 C1, QA A1 B2 C1 -> p_e = (2+2+1)/16 = 5/16;
    # kappa = (3/4 - 5/16) / (1 - 5/16) = 7/11.
    assert report.severity_kappa.value == pytest.approx(7 / 11)
    assert report.severity_kappa.n == 4
    # Age band: exact 2/4; adjacent (11-13=11-13, 14-15~16-17, 16-17=16-17; 7-10 vs
    # 14-15 is two bands apart) 3/4.
    assert report.age_band_exact.value == pytest.approx(0.5)
    assert report.age_band_adjacent.value == pytest.approx(0.75)
    # First-person context: 3 of 4 agree.
    assert report.production_context_agreement.value == pytest.approx(0.75)
    assert report.production_context_agreement.n == 4
    assert summary.team.pairs == 4
    # Outside the period: no pairs.
    later = QaService(qa, people["lead"], clock, SEED).agreement(
        now + timedelta(hours=1), now + timedelta(hours=2)
    )
    assert later.combined == {}


def test_perfect_and_single_category_agreement_over_db(qa, people, clock, store) -> None:
    configure(qa, people, clock, EVERYTHING)
    add_items(store, 3)
    session = moderator_session(store, qa, people["mod"])
    for _ in range(3):
        decide_next(session, graded(Severity.NOT_ILLEGAL))
    qa_s = qa_session(qa, people["qa"], clock)
    for _ in range(3):
        regrade_next(qa_s, graded(Severity.NOT_ILLEGAL))
    now = clock.now()
    report = (
        QaService(qa, people["lead"], clock, SEED)
        .agreement(now - timedelta(hours=1), now + timedelta(hours=1))
        .qa[people["mod"].id]
    )
    assert report.severity_agreement.value == 1.0
    assert report.severity_kappa.value is None and report.severity_kappa.n == 3
    assert report.age_band_exact.n == 0  # no bands recorded on either side


# -- the golden set -------------------------------------------------------------------


def test_gold_items_are_mixed_in_and_feed_agreement(qa, people, clock, store) -> None:
    rate = 0.5
    configure(qa, people, clock, QaSettings(SamplingPolicy(1.0, True, 1.0, 0), rate))
    [gold_a, gold_b] = add_items(store, 2, tag="gold", source=Source.NGO, synthetic=True)
    add_items(store, 10)
    admin = QaService(qa, people["admin"], clock, SEED)
    with pytest.raises(AccessDenied):
        QaService(qa, people["lead"], clock, SEED).mark_gold(gold_a, graded(Severity.C))
    admin.mark_gold(gold_a, graded(Severity.C, AgeBand.B14_15, ProductionContext.PEER))
    admin.mark_gold(gold_b, graded(Severity.NOT_ILLEGAL))
    assert store.items.item_status(gold_a) == "gold"  # out of the ordinary queue

    mod = people["mod"]
    mix = golden_mix(per_user_seed(SEED, mod.id), rate)
    expect_gold = [n for n, g in zip(range(12), mix, strict=False) if g][:2]
    session = moderator_session(store, qa, mod)
    served = []
    for n in range(max(expect_gold) + 1):
        item_id, _ = decide_next(
            session, graded(Severity.C, AgeBand.B14_15, ProductionContext.PEER)
        )
        served.append((n, item_id, qa.is_gold_item(item_id)))
    assert [n for n, _, is_gold in served if is_gold] == expect_gold
    # A gold serving looks like any other item of its queue.
    gold_view = store.items.item(served[expect_gold[0]][1])
    original = store.items.item(gold_a)
    assert (gold_view.report_text, gold_view.source, gold_view.queue_name) == (
        original.report_text,
        original.source,
        original.queue_name,
    )
    assert gold_view.id != original.id
    # Known answers are not sent to QA; ordinary decisions are (base rate 1.0).
    sampled = {e.item_id for e in store.audit_events(kind="qa_sampled")}
    assert sampled == {i for _, i, g in served if not g}
    now = clock.now()
    summary = QaService(qa, people["lead"], clock, SEED).agreement(
        now - timedelta(hours=1), now + timedelta(hours=1)
    )
    gold_report = summary.gold[mod.id]
    assert gold_report.pairs == 2
    # Graded C/14-15/peer both times: right on gold_a, wrong on gold_b (Not illegal).
    assert gold_report.severity_agreement.value == pytest.approx(0.5)


def test_gold_never_goes_ahead_of_imminent_risk(qa, people, clock, store) -> None:
    [gold_item] = add_items(store, 1, tag="gold", synthetic=True)
    add_items(store, 1, tag="urgent", imminent_risk=True)
    QaService(qa, people["admin"], clock, SEED).mark_gold(gold_item, graded(Severity.C))
    always = golden_mix("x", 1.0)
    assert serve(qa, people["mod"], always) is None
    claim = moderator_session(store, qa, people["mod"]).claim_next()
    assert claim is not None and claim.item.imminent_risk


def test_a_moderator_gets_each_gold_item_once(qa, people, clock, store) -> None:
    [gold_item] = add_items(store, 1, tag="gold", synthetic=True)
    QaService(qa, people["admin"], clock, SEED).mark_gold(gold_item, graded(Severity.C))
    always = golden_mix("x", 1.0)
    claim = serve(qa, people["mod"], always)
    assert claim is not None
    store.claims.submit_decision(claim, graded(Severity.C), Exposure(), str(uuid.uuid4()))
    assert serve(qa, people["mod"], always) is None
    assert serve(qa, people["mod2"], always) is not None


def test_only_synthetic_items_with_their_media_can_be_gold(qa, people, clock, store) -> None:
    [held] = add_items(store, 1, tag="held", synthetic=True)  # oldest: claimed first
    [real] = add_items(store, 1, tag="real")
    [synth, disposed] = add_items(store, 2, tag="synth", synthetic=True)
    admin = QaService(qa, people["admin"], clock, SEED)
    with pytest.raises(ValueError, match="not synthetic"):
        admin.mark_gold(real, graded(Severity.C))
    items = ItemRow.__table__
    with store.engine.begin() as conn:  # as retention leaves a disposed item
        conn.execute(
            update(items).where(items.c.id == disposed).values(media_disposed_at=clock.now())
        )
    with pytest.raises(ValueError, match="disposed"):
        admin.mark_gold(disposed, graded(Severity.C))
    claim = moderator_session(store, qa, people["mod"]).claim_next()
    assert claim is not None and claim.item.id == held
    with pytest.raises(ValueError, match="being reviewed"):
        admin.mark_gold(held, graded(Severity.C))
    assert {c.item_id for c in admin.gold_candidates()} == {synth}
    [candidate] = admin.gold_candidates()
    assert candidate.synthetic == "test synth0" and candidate.queue_name == "General"

    gid = admin.mark_gold(synth, graded(Severity.C))
    assert admin.gold_candidates() == []  # gold already
    [item] = admin.gold_items()
    assert (item.id, item.item_id, item.active, item.synthetic) == (gid, synth, True, "test synth0")
    assert item.expected.severity is Severity.C and item.queue_name == "General"
    # Unmarked, it can be marked again.
    admin.unmark_gold(gid)
    assert [c.item_id for c in admin.gold_candidates()] == [synth]
    assert [e.kind for e in store.audit_events(item_id=synth)][-2:] == [
        "gold_marked",
        "gold_unmarked",
    ]
    with pytest.raises(AccessDenied):
        QaService(qa, people["lead"], clock, SEED).gold_candidates()


def serve(qa: QaRepo, acc: Account, mix: GoldenMix) -> Claim | None:
    """A gold serve for `acc` from every queue, asked as the claim it is."""
    return qa.serve_gold(acc.id, None, 600, mix, check=Check(acc.id, acc.name, Operation.CLAIM))


# -- size limits on what people type -----------------------------------------------------


def test_an_over_long_qa_skip_note_is_refused_and_the_sample_stays_held(
    qa, people, clock, store
) -> None:
    configure(qa, people, clock, EVERYTHING)
    add_items(store, 1)
    decide_next(moderator_session(store, qa, people["mod"]), graded(Severity.C))
    session = qa_session(qa, people["qa"], clock)
    claim = session.claim_next()
    assert claim is not None
    with pytest.raises(Untrusted, match="'note' is longer than 1,000 characters"):
        session.skip(claim, SkipReason.OTHER, "n" * (MAX_NOTE + 1), Exposure())
    assert store.audit_events(kind="qa_skip") == []
    session.skip(claim, SkipReason.OTHER, "n" * MAX_NOTE, Exposure())  # still held: allowed
    [event] = store.audit_events(kind="qa_skip")
    assert event.user_id == people["qa"].id


def test_an_over_long_adjudication_reason_is_refused_and_nothing_is_settled(
    qa, people, clock, store
) -> None:
    configure(qa, people, clock, EVERYTHING)
    add_items(store, 1)
    decide_next(moderator_session(store, qa, people["mod"]), graded(Severity.B, AgeBand.B7_10))
    regrade_next(qa_session(qa, people["qa"], clock), graded(Severity.A, AgeBand.B7_10))
    lead = QaService(qa, people["lead"], clock, SEED)
    [dispute] = lead.disputes()
    final = graded(Severity.A, AgeBand.B7_10)
    with pytest.raises(Untrusted, match="'reason' is longer than 1,000 characters"):
        lead.adjudicate(dispute.sample_id, final, "r" * (MAX_NOTE + 1))
    with pytest.raises(Untrusted, match="NUL"):
        lead.adjudicate(dispute.sample_id, final, "a\0b")
    assert [d.sample_id for d in lead.disputes()] == [dispute.sample_id]
    assert store.audit_events(kind="qa_adjudicated") == []
    lead.adjudicate(dispute.sample_id, final, "r" * MAX_NOTE)
    assert lead.disputes() == []
