"""Safe inspection of untrusted video bytes: probe, keyframes and hashes.

A moderator grades a video from a blurred sheet of its keyframes first
(../shared/design/DOMAIN.md), so nothing here plays anything: it finds the keyframes,
decodes only those, and returns them small (RGB, longer side `max_side`). Audio is
never decoded; the probe only says whether there is any.

This is the API. Every call runs in a separate worker process (`isolate=True`, the
default; reviewer.video_worker) that is killed when the time limit passes; the
decoding itself, with its limits, is reviewer.video_decode; the types it returns are
reviewer.video_types (kernel). Failures raise MediaUnreadable with a short reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from reviewer.video_types import (
    DEFAULT_MAX_FRAMES,
    DEFAULT_MAX_SIDE,
    DEFAULT_TIME_LIMIT_S,
    REVEAL_MAX_SIDE,
    FramePdq,
    KeyFrame,
    VideoHashes,
    VideoProbe,
)
from reviewer.video_worker import run


def probe_video(
    data: bytes, time_limit_s: float = DEFAULT_TIME_LIMIT_S, *, isolate: bool = True
) -> VideoProbe:
    """Say what `data` is, or raise MediaUnreadable. Decodes the first keyframe only
    (small), so that a file whose frames cannot be decoded is refused at ingest."""
    probe, _ = run(data, time_limit_s, isolate, max_frames=1, max_side=64, pdq=False)
    return probe


def keyframes(
    data: bytes,
    max_frames: int = DEFAULT_MAX_FRAMES,
    *,
    max_side: int = DEFAULT_MAX_SIDE,
    pdq: bool = False,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    isolate: bool = True,
) -> list[KeyFrame]:
    """Up to `max_frames` keyframes spread evenly over the video (first and last
    included), in time order, fitted into `max_side` and never enlarged.

    Keyframes that fail to decode are left out; if none decodes, or the file is
    broken, truncated or absurd, MediaUnreadable is raised. With `pdq`, each frame
    carries its PDQ hash, computed in the worker as a still picture is (hashing.pdq_of_rgb).
    """
    return inspect_video(
        data, max_frames, max_side=max_side, pdq=pdq, time_limit_s=time_limit_s, isolate=isolate
    )[1]


def inspect_video(
    data: bytes,
    max_frames: int = DEFAULT_MAX_FRAMES,
    *,
    max_side: int = DEFAULT_MAX_SIDE,
    pdq: bool = True,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    isolate: bool = True,
) -> tuple[VideoProbe, list[KeyFrame]]:
    """Probe and keyframes (with PDQ by default) in one pass: what ingest needs."""
    if max_frames < 1 or max_side < 1:
        raise ValueError("max_frames and max_side must be positive")
    return run(data, time_limit_s, isolate, max_frames=max_frames, max_side=max_side, pdq=pdq)


def keyframe_at(
    data: bytes,
    time_s: float,
    *,
    max_side: int = REVEAL_MAX_SIDE,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    isolate: bool = True,
) -> KeyFrame:
    """The keyframe at or before `time_s`, larger: for revealing one cell of the sheet."""
    _, frames = run(
        data, time_limit_s, isolate, max_frames=1, max_side=max_side, pdq=False, at=time_s
    )
    return frames[0]


def video_hashes(
    data: bytes,
    frames: Sequence[KeyFrame] | None = None,
    *,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    isolate: bool = True,
) -> VideoHashes:
    """SHA-256 and MD5 of the bytes, and the PDQ of each keyframe.

    Pass the frames of `inspect_video` (or `keyframes(pdq=True)`) to avoid decoding
    again; frames without PDQ make it decode the keyframes once more, with PDQ.
    """
    sha256 = hashlib.sha256(data).hexdigest()
    # MD5 only identifies files for hash lists; it protects nothing.
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if frames is None or any(f.pdq is None for f in frames):
        frames = keyframes(data, pdq=True, time_limit_s=time_limit_s, isolate=isolate)
    pdqs = tuple(FramePdq(f.time_s, f.pdq, f.pdq_quality or 0) for f in frames if f.pdq is not None)
    return VideoHashes(sha256=sha256, md5=md5, frames=pdqs)
