"""Grading rules: what a moderator must fill in before a decision can be stored."""

from __future__ import annotations

import pytest

from reviewer.grading import Grading, GradingInvalid
from reviewer.vocabulary import (
    Action,
    AgeBand,
    AgeConfidence,
    NotAssessableReason,
    ProductionContext,
    Severity,
)

FULL_B = Grading(
    severity=Severity.B,
    age_band=AgeBand.B7_10,
    age_confidence=AgeConfidence.CERTAIN,
    production_context=ProductionContext.NOT_FIRST_PERSON,
    actions=frozenset({Action.REMOVE, Action.REPORT}),
)


def test_empty_form_asks_for_severity() -> None:
    assert Grading().problems() == ["Choose a severity."]


@pytest.mark.parametrize("sev", [Severity.A, Severity.B, Severity.C])
def test_category_needs_age_band_confidence_and_context(sev: Severity) -> None:
    problems = Grading(severity=sev).problems()
    assert any("age band" in p for p in problems)
    assert any("confident" in p for p in problems)
    assert any("production context" in p for p in problems)


def test_complete_category_grading_is_valid() -> None:
    assert FULL_B.problems() == []
    assert FULL_B.validated() is FULL_B


def test_category_cannot_be_adult_age() -> None:
    g = Grading(
        severity=Severity.C,
        age_band=AgeBand.ADULT,
        age_confidence=AgeConfidence.CERTAIN,
        production_context=ProductionContext.UNKNOWN,
    )
    assert any("18+" in p for p in g.problems())


def test_not_assessable_needs_a_reason_and_other_needs_a_note() -> None:
    assert any("reason" in p for p in Grading(severity=Severity.NOT_ASSESSABLE).problems())
    other = Grading(
        severity=Severity.NOT_ASSESSABLE, not_assessable_reason=NotAssessableReason.OTHER
    )
    assert any("note" in p for p in other.problems())
    assert (
        Grading(
            severity=Severity.NOT_ASSESSABLE,
            not_assessable_reason=NotAssessableReason.OTHER,
            note="only a thumbnail strip",
        ).problems()
        == []
    )


def test_csea_related_only_with_not_illegal() -> None:
    assert Grading(severity=Severity.NOT_ILLEGAL, csea_related=True).problems() == []
    assert any(
        "CSEA-related" in p for p in Grading(severity=Severity.ADULT, csea_related=True).problems()
    )


def test_report_needs_something_reportable() -> None:
    g = Grading(severity=Severity.NOT_ILLEGAL, actions=frozenset({Action.REPORT}))
    assert any("Report" in p for p in g.problems())
    g2 = Grading(
        severity=Severity.NOT_ILLEGAL, csea_related=True, actions=frozenset({Action.REPORT})
    )
    assert g2.problems() == []


def test_uncertain_age_can_be_recorded_for_older_teenagers() -> None:
    g = Grading(
        severity=Severity.C,
        age_band=AgeBand.B16_17,
        age_confidence=AgeConfidence.UNCERTAIN,
        production_context=ProductionContext.UNKNOWN,
    )
    assert g.problems() == []


def test_validated_raises_with_every_problem() -> None:
    with pytest.raises(GradingInvalid) as err:
        Grading(
            severity=Severity.A, not_assessable_reason=NotAssessableReason.TOO_SMALL
        ).validated()
    assert len(err.value.problems) == 4


def test_record_is_json_ready() -> None:
    rec = FULL_B.to_record()
    assert rec["severity"] == "B" and rec["actions"] == ["remove", "report"]
