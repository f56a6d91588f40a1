"""Agreement figures against examples computed by hand (working in the comments)."""

from __future__ import annotations

import pytest

from reviewer.agreement import (
    NO_ITEMS,
    SINGLE_CATEGORY,
    Figure,
    GradePair,
    adjacent_agreement,
    agreement,
    agreement_by_moderator,
    cohen_kappa,
    observed_agreement,
    weighted_kappa,
)
from reviewer.grading import Grading
from reviewer.vocabulary import AgeBand, AgeConfidence, ProductionContext, Severity

A, B, C = Severity.A, Severity.B, Severity.C
NI = Severity.NOT_ILLEGAL


def table(cells: dict[tuple[object, object], int]) -> list[tuple[object, object]]:
    """Expand a contingency table {(first, qa): count} into a list of pairs."""
    return [pair for pair, count in cells.items() for _ in range(count)]


# ------------------------------------------------------------------------ Cohen's kappa
def test_perfect_agreement_is_one() -> None:
    pairs = [(A, A), (B, B), (C, C), (NI, NI), (B, B)]
    assert cohen_kappa(pairs) == Figure(1.0, 5)
    assert observed_agreement(pairs) == Figure(1.0, 5)


def test_chance_agreement_is_zero() -> None:
    # first: A A B B, QA: A B A B. p_o = 2/4 = 0.5.
    # Marginals 2/4 each for both raters: p_e = 0.5*0.5 + 0.5*0.5 = 0.5.
    # kappa = (0.5 - 0.5) / (1 - 0.5) = 0.
    fig = cohen_kappa([(A, A), (A, B), (B, A), (B, B)])
    assert fig.value == pytest.approx(0.0, abs=1e-12)
    assert fig.n == 4


def test_textbook_two_by_two() -> None:
    # The classic 50-proposal example (Wikipedia, "Cohen's kappa"):
    #              QA yes  QA no
    #   first yes    20      5      (25)
    #   first no     10     15      (25)
    #               (30)   (20)
    # p_o = (20 + 15) / 50 = 0.70
    # p_e = (25/50)(30/50) + (25/50)(20/50) = 0.30 + 0.20 = 0.50
    # kappa = (0.70 - 0.50) / (1 - 0.50) = 0.40
    pairs = table({("y", "y"): 20, ("y", "n"): 5, ("n", "y"): 10, ("n", "n"): 15})
    fig = cohen_kappa(pairs)
    assert fig.value == pytest.approx(0.40)
    assert fig.n == 50
    # With two categories, weighted kappa (any weights) equals the plain kappa.
    assert weighted_kappa(pairs, ["y", "n"]).value == pytest.approx(0.40)
    assert weighted_kappa(pairs, ["y", "n"], "quadratic").value == pytest.approx(0.40)


def test_three_category_severity_table() -> None:
    #              QA A   QA B   QA C
    #   first A     10      2      0     (12)
    #   first B      3     12      5     (20)
    #   first C      0      3     15     (18)
    #              (13)   (17)   (20)    n = 50
    # p_o = (10 + 12 + 15) / 50 = 37/50 = 0.74
    # p_e = (12*13 + 20*17 + 18*20) / 50^2 = (156 + 340 + 360) / 2500 = 856/2500 = 0.3424
    # kappa = (0.74 - 0.3424) / (1 - 0.3424) = 0.3976 / 0.6576 = 0.604622...
    pairs = table(
        {
            (A, A): 10, (A, B): 2,
            (B, A): 3, (B, B): 12, (B, C): 5,
            (C, B): 3, (C, C): 15,
        }
    )  # fmt: skip
    assert cohen_kappa(pairs).value == pytest.approx(0.3976 / 0.6576)
    assert observed_agreement(pairs).value == pytest.approx(0.74)


def test_degenerate_single_identical_category_is_undefined() -> None:
    # Every item Not illegal on both sides: p_o = p_e = 1, kappa = 0/0.
    pairs = [(NI, NI)] * 20
    fig = cohen_kappa(pairs)
    assert fig.value is None and fig.n == 20 and fig.note == SINGLE_CATEGORY
    # Raw agreement is still reported as perfect.
    assert observed_agreement(pairs) == Figure(1.0, 20)
    assert weighted_kappa(pairs, [NI, A]) == Figure(None, 20, SINGLE_CATEGORY)


def test_single_but_different_categories_is_zero_not_undefined() -> None:
    # first always A, QA always B: p_o = 0, p_e = 1*0 + 0*1 = 0, kappa = 0.
    assert cohen_kappa([(A, B)] * 6) == Figure(0.0, 6)


def test_no_items() -> None:
    for fig in (
        cohen_kappa([]),
        observed_agreement([]),
        adjacent_agreement([]),
        weighted_kappa([], ["x", "y"]),
    ):
        assert fig == Figure(None, 0, NO_ITEMS)


# ---------------------------------------------------------------------- weighted kappa
def test_weighted_kappa_by_hand() -> None:
    # Scale lo < mid < hi (k = 3). Pairs (first, QA):
    #   (lo,lo) (lo,mid) (mid,mid) (mid,hi) (hi,hi) (hi,mid)
    # first marginals: lo 2, mid 2, hi 2; QA marginals: lo 1, mid 3, hi 2; n = 6.
    # Linear disagreement weights: 0 same, 1/2 one apart, 1 two apart.
    #   observed = (0 + .5 + 0 + .5 + 0 + .5) / 6 = 0.25
    #   expected = sum_ij w_ij f_i q_j / 36; f_i = 2 so = 2 * sum_j q_j * colsum_j / 36,
    #   colsums of w: lo 1.5, mid 1, hi 1.5 -> 2 * (1*1.5 + 3*1 + 2*1.5) / 36 = 15/36
    #   kappa_w = 1 - 0.25 / (15/36) = 1 - 0.6 = 0.4
    # Quadratic weights: 0, 1/4, 1.
    #   observed = 3 * 0.25 / 6 = 0.125
    #   colsums: lo 1.25, mid 0.5, hi 1.25 -> 2 * (1.25 + 1.5 + 2.5) / 36 = 10.5/36 = 7/24
    #   kappa_w = 1 - 0.125 / (7/24) = 1 - 3/7 = 4/7
    # Unweighted: p_o = 3/6, p_e = (2*1 + 2*3 + 2*2)/36 = 1/3, kappa = (1/2-1/3)/(2/3) = 0.25
    scale = ["lo", "mid", "hi"]
    pairs = [
        ("lo", "lo"),
        ("lo", "mid"),
        ("mid", "mid"),
        ("mid", "hi"),
        ("hi", "hi"),
        ("hi", "mid"),
    ]
    assert weighted_kappa(pairs, scale).value == pytest.approx(0.4)
    assert weighted_kappa(pairs, scale, "quadratic").value == pytest.approx(4 / 7)
    assert cohen_kappa(pairs).value == pytest.approx(0.25)


def test_weighted_kappa_perfect_and_bad_input() -> None:
    bands = list(AgeBand)
    pairs = [(b, b) for b in bands]
    assert weighted_kappa(pairs, bands) == Figure(1.0, len(bands))
    with pytest.raises(ValueError, match="not in categories"):
        weighted_kappa([("x", "q")], ["x", "y"])
    with pytest.raises(ValueError, match="distinct"):
        weighted_kappa([("x", "x")], ["x", "x"])


def test_adjacent_age_band_agreement() -> None:
    pairs = [
        (AgeBand.B7_10, AgeBand.B7_10),  # exact
        (AgeBand.B14_15, AgeBand.B16_17),  # adjacent
        (AgeBand.B16_17, AgeBand.ADULT),  # adjacent (the hard boundary)
        (AgeBand.B3_6, AgeBand.B11_13),  # two bands apart
    ]
    assert observed_agreement(pairs) == Figure(0.25, 4)
    assert adjacent_agreement(pairs) == Figure(0.75, 4)


# ----------------------------------------------------------------- per-moderator report
def g(
    sev: Severity,
    band: AgeBand | None = None,
    ctx: ProductionContext | None = None,
) -> Grading:
    conf = AgeConfidence.PROBABLE if band else None
    return Grading(severity=sev, age_band=band, age_confidence=conf, production_context=ctx)


PEER, GROOMED = ProductionContext.PEER, ProductionContext.GROOMED
NOT_FP = ProductionContext.NOT_FIRST_PERSON


def test_per_moderator_and_per_field() -> None:
    pairs = [
        # Moderator 1: four pairs.
        GradePair(1, g(A, AgeBand.B7_10, NOT_FP), g(A, AgeBand.B7_10, NOT_FP)),
        GradePair(1, g(B, AgeBand.B14_15, PEER), g(B, AgeBand.B16_17, GROOMED)),
        GradePair(1, g(C, AgeBand.B16_17, GROOMED), g(B, AgeBand.B16_17, GROOMED)),
        GradePair(1, g(NI), g(NI)),
        # Moderator 2: two pairs, always Not illegal on both sides.
        GradePair(2, g(NI), g(NI)),
        GradePair(2, g(NI), g(NI)),
    ]
    reports = agreement_by_moderator(pairs)
    assert list(reports) == [1, 2]

    one = reports[1]
    assert one.pairs == 4
    # Severity: agree on 3 of 4. first A,B,C,NI; QA A,B,B,NI.
    # p_e = (1*1 [A] + 1*2 [B] + 1*0 [C] + 1*1 [NI]) / 16 = 4/16 = 0.25
    # kappa = (0.75 - 0.25) / 0.75 = 2/3
    assert one.severity_agreement == Figure(0.75, 4)
    assert one.severity_kappa.value == pytest.approx(2 / 3)
    # Age: 3 pairs with a band on both sides; 2 exact, 3 within one band.
    assert one.age_band_exact.n == 3 and one.age_band_exact.value == pytest.approx(2 / 3)
    assert one.age_band_adjacent == Figure(1.0, 3)
    assert one.age_band_weighted_kappa.n == 3
    # Context: 3 pairs; the peer-vs-groomed miss is the one that matters for a report.
    assert one.production_context_agreement.value == pytest.approx(2 / 3)
    assert one.production_context_agreement.n == 3

    two = reports[2]
    assert two.severity_agreement == Figure(1.0, 2)
    assert two.severity_kappa == Figure(None, 2, SINGLE_CATEGORY)
    assert two.age_band_exact == Figure(None, 0, NO_ITEMS)
    assert two.production_context_kappa == Figure(None, 0, NO_ITEMS)

    overall = agreement(pairs)
    assert overall.pairs == 6
    assert overall.severity_agreement.value == pytest.approx(5 / 6)


def test_empty_report() -> None:
    rep = agreement([])
    assert rep.pairs == 0
    assert rep.severity_kappa == Figure(None, 0, NO_ITEMS)
    assert agreement_by_moderator([]) == {}
