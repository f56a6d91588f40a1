"""Per-segment grading of a video: time ranges with a severity, rolled up to the item.

DOMAIN.md: "Grade by the most severe activity visible." A video may show different
things at different times, so a moderator can grade ranges of it; the item's grade
is the most severe of them. Ranges may overlap (two moderators' marks, or a short
range inside a longer one) and need not cover the video; `gaps` says what is left.

Severity order, most severe first:

    A > B > C > not_assessable > not_illegal > adult

- A, B and C are the Sentencing Council categories, in their own order.
- Any category outranks every non-category outcome: one illegal segment makes the
  item illegal, whatever the rest shows.
- `not_assessable` outranks `not_illegal` and `adult`: a part that could not be
  assessed cannot be cleared, so an item with such a part is not "not illegal".
- `not_illegal` outranks `adult`: it means a child is visible (and may carry the
  CSEA-related flag), which matters more for safeguarding than adults only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from reviewer.vocabulary import Severity

SEVERITY_ORDER: Final[tuple[Severity, ...]] = (
    Severity.A,
    Severity.B,
    Severity.C,
    Severity.NOT_ASSESSABLE,
    Severity.NOT_ILLEGAL,
    Severity.ADULT,
)
_RANK: Final = {severity: len(SEVERITY_ORDER) - i for i, severity in enumerate(SEVERITY_ORDER)}
# A segment may end this far past the probed duration: durations come from headers
# or keyframe times and can be short by a frame or an audio packet.
DURATION_SLACK_S: Final = 0.5


class SegmentError(ValueError):
    """A segment that cannot be stored: says which one and why."""


@dataclass(frozen=True, order=True)
class Segment:
    """[start_s, end_s) of a video, graded `severity`. Seconds from the first frame."""

    start_s: float
    end_s: float
    severity: Severity

    def __post_init__(self) -> None:
        if not isinstance(self.severity, Severity):
            raise SegmentError(f"severity must be a Severity, not {self.severity!r}")
        if not (math.isfinite(self.start_s) and math.isfinite(self.end_s)):
            raise SegmentError(f"segment times must be finite: {self.start_s}..{self.end_s}")
        if self.start_s < 0:
            raise SegmentError(f"segment starts before the video: {self.start_s} s")
        if self.start_s >= self.end_s:
            raise SegmentError(f"segment must start before it ends: {self.start_s}..{self.end_s}")

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def severity_rank(severity: Severity) -> int:
    """Higher is more severe (see the module docstring for the order)."""
    return _RANK[Severity(severity)]


def most_severe(severities: Iterable[Severity]) -> Severity | None:
    """The most severe of `severities`, or None if there are none."""
    return max(severities, key=severity_rank, default=None)


def rollup(segments: Iterable[Segment]) -> Severity | None:
    """The item's grade: its most severe segment's, or None if nothing is graded."""
    return most_severe(s.severity for s in segments)


def validate_segments(segments: Sequence[Segment], duration_s: float) -> None:
    """Raise SegmentError unless every segment lies inside a `duration_s` video.

    Overlaps are allowed. The end may pass the duration by DURATION_SLACK_S.
    """
    if not math.isfinite(duration_s) or duration_s <= 0:
        raise SegmentError(f"the video's duration is not usable: {duration_s!r}")
    for i, segment in enumerate(segments):
        if not isinstance(segment, Segment):
            raise SegmentError(f"segment {i + 1} is not a Segment: {segment!r}")
        if segment.end_s > duration_s + DURATION_SLACK_S:
            raise SegmentError(
                f"segment {i + 1} ends at {segment.end_s:g} s, after the video ({duration_s:g} s)"
            )


def gaps(segments: Iterable[Segment], duration_s: float) -> list[tuple[float, float]]:
    """Ranges of [0, duration_s) no segment covers, in order: what is still ungraded."""
    out: list[tuple[float, float]] = []
    covered_to = 0.0
    for segment in sorted(segments):
        if segment.start_s > covered_to:
            out.append((covered_to, min(segment.start_s, duration_s)))
        covered_to = max(covered_to, segment.end_s)
        if covered_to >= duration_s:
            break
    if covered_to < duration_s:
        out.append((covered_to, duration_s))
    return [(a, b) for a, b in out if b > a]
