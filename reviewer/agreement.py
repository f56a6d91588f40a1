"""Agreement between a moderator's first grade and the blind QA re-grade.

Each figure carries the number of items behind it, because "kappa 0.8" on 4 items and
on 400 items mean very different things to a team lead deciding on calibration.

Degenerate kappa. When both raters put every item in the same single category, the
observed and the chance agreement are both 1 and kappa is 0/0. We return
`Figure(None, n, note=...)` rather than 1.0: kappa measures the ability to tell
categories apart beyond chance, and a sample with one category (say 20 items all Not
illegal) gives no evidence of that, so 1.0 would flatter a moderator whose A/B/C
calls were never tested, and 0.0 would wrongly accuse one who agreed on every item.
The raw (observed) agreement, reported alongside, stays 1.0 in that case.
(If both raters each use a single but different category, chance agreement is 0,
observed agreement is 0 and kappa is a well-defined 0.)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from reviewer.grading import Grading
from reviewer.vocabulary import AgeBand

T = TypeVar("T", bound=Hashable)

NO_ITEMS = "no items to compare"
SINGLE_CATEGORY = (
    "kappa undefined: both raters used one and the same category for every item, "
    "so there is nothing to tell apart beyond chance"
)


@dataclass(frozen=True)
class Figure:
    """One agreement number and the count of items it rests on.

    `value` is None when the figure is undefined; `note` then says why.
    """

    value: float | None
    n: int
    note: str = ""


@dataclass(frozen=True)
class GradePair:
    """A decision's first grade and its QA re-grade, for the moderator who made it."""

    moderator_id: int
    first: Grading
    qa: Grading
    decision_id: int | None = None


def observed_agreement(pairs: Sequence[tuple[T, T]]) -> Figure:
    """Share of pairs on which both raters chose the same category."""
    n = len(pairs)
    if n == 0:
        return Figure(None, 0, NO_ITEMS)
    return Figure(sum(1 for a, b in pairs if a == b) / n, n)


def cohen_kappa(pairs: Sequence[tuple[T, T]]) -> Figure:
    """Cohen's kappa for two raters on nominal categories: (p_o - p_e) / (1 - p_e)."""
    n = len(pairs)
    if n == 0:
        return Figure(None, 0, NO_ITEMS)
    p_o = sum(1 for a, b in pairs if a == b) / n
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    chance = sum(first[c] * second[c] for c in first)
    # p_e == 1 exactly when both raters used one identical category (see module doc);
    # compared in integers so a float just under 1 cannot slip past.
    if chance == n * n:
        return Figure(None, n, SINGLE_CATEGORY)
    p_e = chance / (n * n)
    return Figure((p_o - p_e) / (1.0 - p_e), n)


def weighted_kappa(
    pairs: Sequence[tuple[T, T]],
    categories: Sequence[T],
    weights: Literal["linear", "quadratic"] = "linear",
) -> Figure:
    """Cohen's weighted kappa for ordered categories.

    kappa_w = 1 - sum(w_ij * o_ij) / sum(w_ij * e_ij), with disagreement weight
    w_ij = |i - j| / (k - 1) (linear) or its square (quadratic) over the full
    `categories` scale, so a near miss costs less than a far one.
    """
    index = {c: i for i, c in enumerate(categories)}
    if len(index) != len(categories):
        raise ValueError("categories must be distinct")
    unknown = {x for p in pairs for x in p if x not in index}
    if unknown:
        raise ValueError(f"values not in categories: {sorted(map(str, unknown))}")
    n = len(pairs)
    if n == 0:
        return Figure(None, 0, NO_ITEMS)
    k = len(categories)
    if k < 2:
        return Figure(None, n, SINGLE_CATEGORY)

    def w(i: int, j: int) -> float:
        d = abs(i - j) / (k - 1)
        return d if weights == "linear" else d * d

    first = Counter(index[a] for a, _ in pairs)
    second = Counter(index[b] for _, b in pairs)
    observed = sum(w(index[a], index[b]) for a, b in pairs) / n
    expected = sum(w(i, j) * first[i] * second[j] for i in first for j in second) / (n * n)
    if expected == 0.0:
        # Only when both raters used one identical category: as for cohen_kappa.
        return Figure(None, n, SINGLE_CATEGORY)
    return Figure(1.0 - observed / expected, n)


def adjacent_agreement(pairs: Sequence[tuple[AgeBand, AgeBand]]) -> Figure:
    """Share of pairs whose age bands are equal or next to each other."""
    n = len(pairs)
    if n == 0:
        return Figure(None, 0, NO_ITEMS)
    return Figure(sum(1 for a, b in pairs if abs(a.ordinal - b.ordinal) <= 1) / n, n)


@dataclass(frozen=True)
class AgreementReport:
    """Agreement per field over one set of pairs (one moderator, or everyone).

    Severity is compared on every pair. Age band and production context are compared
    only where both grades recorded one (a band is required exactly for Category
    A/B/C, so a band present on one side only already shows as a severity
    disagreement); each figure's n says how many pairs that was.
    """

    pairs: int
    severity_agreement: Figure
    severity_kappa: Figure
    age_band_exact: Figure
    age_band_adjacent: Figure
    age_band_weighted_kappa: Figure
    production_context_agreement: Figure
    production_context_kappa: Figure


def agreement(pairs: Iterable[GradePair]) -> AgreementReport:
    """Per-field agreement over `pairs`."""
    items = list(pairs)
    severity = [(p.first.severity, p.qa.severity) for p in items]
    age = [
        (a, b)
        for p in items
        if (a := p.first.age_band) is not None and (b := p.qa.age_band) is not None
    ]
    context = [
        (c, d)
        for p in items
        if (c := p.first.production_context) is not None
        and (d := p.qa.production_context) is not None
    ]
    return AgreementReport(
        pairs=len(items),
        severity_agreement=observed_agreement(severity),
        severity_kappa=cohen_kappa(severity),
        age_band_exact=observed_agreement(age),
        age_band_adjacent=adjacent_agreement(age),
        age_band_weighted_kappa=weighted_kappa(age, list(AgeBand)),
        production_context_agreement=observed_agreement(context),
        production_context_kappa=cohen_kappa(context),
    )


def agreement_by_moderator(pairs: Iterable[GradePair]) -> dict[int, AgreementReport]:
    """One report per moderator, keyed by moderator id (sorted)."""
    groups: dict[int, list[GradePair]] = defaultdict(list)
    for p in pairs:
        groups[p.moderator_id].append(p)
    return {m: agreement(groups[m]) for m in sorted(groups)}
