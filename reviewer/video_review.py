"""Video in the review flow: what ingest stores, and the grading rule that ties
per-segment grades to the item's grade. No Qt, no SQL.

DOMAIN.md: "Grade by the most severe activity visible." When a moderator marks
segments, the item's severity must be their roll-up (reviewer.segments.rollup); the
form and the service both refuse anything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from reviewer.grading import Grading
from reviewer.model import Claim
from reviewer.segments import Segment, SegmentError, rollup, validate_segments
from reviewer.video import inspect_video
from reviewer.video_types import FramePdq, VideoProbe

# Ingest hashes up to this many keyframes, spread evenly (first and last included):
# enough for per-frame matching of a long capture, bounded for a hostile one.
INGEST_MAX_KEYFRAMES: Final = 120
# Frames come back from the worker this small: ingest keeps only their PDQ (taken in the
# worker from a half-scale frame, so it does not depend on this size).
_INGEST_FRAME_SIDE: Final = 32
# Ingest is a batch job, so it can wait longer than a screen; still bounded.
INGEST_TIME_LIMIT_S: Final = 30.0


@dataclass(frozen=True)
class VideoMeta:
    """What ingest stored about a readable video."""

    container: str
    codec: str
    width: int | None
    height: int | None
    duration_s: float
    fps: float | None
    has_audio: bool
    keyframe_times: tuple[float, ...]
    keyframe_pdqs: tuple[FramePdq, ...] = ()


class VideoSink(Protocol):
    """Where ingest puts a video's details (db.video.VideoRepo)."""

    def add_video(
        self, sha256: str, probe: VideoProbe | None, frames: Sequence[FramePdq]
    ) -> None: ...


class VideoPort(Protocol):
    """What the review service needs for videos (db.video.VideoRepo)."""

    def video_meta(self, sha256: str) -> VideoMeta | None: ...
    def stage_segments(
        self, claim: Claim, client_token: str, segments: Sequence[Segment]
    ) -> None: ...
    def livestream_waiting(self) -> dict[int, int]: ...


def inspect_for_ingest(
    data: bytes, time_limit_s: float = INGEST_TIME_LIMIT_S
) -> tuple[VideoProbe, tuple[FramePdq, ...]]:
    """Probe a video and hash its keyframes, in the isolated worker with a time limit.
    Raises MediaUnreadable (corrupt, truncated, absurd, unknown codec, no frames,
    timeout)."""
    probe, frames = inspect_video(
        data,
        INGEST_MAX_KEYFRAMES,
        max_side=_INGEST_FRAME_SIDE,
        pdq=True,
        time_limit_s=time_limit_s,
    )
    pdqs = tuple(FramePdq(f.time_s, f.pdq, f.pdq_quality or 0) for f in frames if f.pdq is not None)
    return probe, pdqs


def segment_problems(
    grading: Grading, segments: Sequence[Segment], duration_s: float | None = None
) -> list[str]:
    """What is wrong with `segments` as the basis of `grading` ([] when fine)."""
    if not segments:
        return []
    out: list[str] = []
    if duration_s is not None:
        try:
            validate_segments(segments, duration_s)
        except SegmentError as exc:
            out.append(f"Segments: {exc}.")
    top = rollup(segments)
    if top is not None and grading.severity is not top:
        out.append(
            f"The item's severity must be its most severe segment's: {top.label} "
            "(remove or change segments to grade otherwise)."
        )
    return out
