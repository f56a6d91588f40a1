"""reviewer.segments: per-segment grades roll up to the item's grade (most severe
first, in the documented order), and only well-formed segments are accepted."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewer.segments import (
    DURATION_SLACK_S,
    SEVERITY_ORDER,
    Segment,
    SegmentError,
    gaps,
    most_severe,
    rollup,
    severity_rank,
    validate_segments,
)
from reviewer.vocabulary import Severity

A, B, C = Severity.A, Severity.B, Severity.C
NI, NA, ADULT = Severity.NOT_ILLEGAL, Severity.NOT_ASSESSABLE, Severity.ADULT


def seg(start: float, end: float, severity: Severity) -> Segment:
    return Segment(start, end, severity)


def test_order_covers_every_severity_once() -> None:
    assert sorted(SEVERITY_ORDER) == sorted(Severity)
    assert SEVERITY_ORDER == (A, B, C, NA, NI, ADULT)
    ranks = [severity_rank(s) for s in SEVERITY_ORDER]
    assert ranks == sorted(ranks, reverse=True)


@pytest.mark.parametrize(
    ("severities", "expected"),
    [
        ([C, A, B], A),
        ([NI, C, NI], C),
        ([NI, NA], NA),  # an unassessed part cannot be cleared
        ([ADULT, NI], NI),  # a child visible outranks adults only
        ([ADULT, NA, B], B),  # any category outranks every other outcome
        ([ADULT], ADULT),
        ([], None),
    ],
)
def test_rollup_is_the_most_severe_segment(severities: list[Severity], expected: Severity) -> None:
    segments = [seg(i, i + 1, s) for i, s in enumerate(severities)]
    assert rollup(segments) == expected
    assert most_severe(severities) == expected


def test_overlapping_segments_are_allowed() -> None:
    segments = [seg(0, 60, C), seg(10, 20, A), seg(15, 30, B)]
    validate_segments(segments, 60)
    assert rollup(segments) == A


@pytest.mark.parametrize(
    "args",
    [(5, 5, C), (6, 5, C), (-1, 5, C), (math.nan, 5, C), (0, math.inf, C), (0, 5, "A")],
)
def test_malformed_segments_are_refused(args: tuple) -> None:
    with pytest.raises(SegmentError):
        Segment(*args)


def test_segments_must_lie_inside_the_video() -> None:
    validate_segments([seg(0, 10 + DURATION_SLACK_S, A)], 10)  # a frame's slack
    with pytest.raises(SegmentError, match="segment 2 ends at 12"):
        validate_segments([seg(0, 5, A), seg(5, 12, B)], 10)
    with pytest.raises(SegmentError):
        validate_segments([seg(0, 5, A)], 0)
    with pytest.raises(SegmentError):
        validate_segments([(0, 5, A)], 10)  # type: ignore[list-item]


def test_segment_error_is_a_value_error() -> None:
    assert issubclass(SegmentError, ValueError)


def test_gaps_are_what_is_still_ungraded() -> None:
    assert gaps([], 10) == [(0.0, 10)]
    assert gaps([seg(0, 10, C)], 10) == []
    assert gaps([seg(2, 4, C), seg(3, 5, A), seg(7, 12, NI)], 10) == [(0.0, 2), (5, 7)]


segments_st = st.lists(
    st.tuples(
        st.floats(0, 100, allow_nan=False),
        st.floats(0.01, 50, allow_nan=False),
        st.sampled_from(list(Severity)),
    ).map(lambda t: Segment(t[0], t[0] + t[1], t[2])),
    max_size=12,
)


@settings(database=None, max_examples=200)
@given(segments=segments_st, extra=segments_st)
def test_rollup_properties(segments: list[Segment], extra: list[Segment]) -> None:
    grade = rollup(segments)
    # Order does not matter, and the grade is one of the segments' own.
    assert rollup(list(reversed(segments))) == grade
    assert grade is None or grade in {s.severity for s in segments}
    # More segments can only make the item more severe, never less.
    more = rollup(segments + extra)
    if grade is not None:
        assert more is not None and severity_rank(more) >= severity_rank(grade)
