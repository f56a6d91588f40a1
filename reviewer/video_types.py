"""What a video is: plain types and limits, shared by decoding, welfare rules and storage.

Part of the kernel: no decoder and nothing of ours beyond reviewer.media_types, so
wellbeing (which protects keyframes) and db (which stores probes and frame hashes) can
name these without pulling in FFmpeg. Decoding is reviewer.video (the API),
reviewer.video_decode (FFmpeg) and reviewer.video_worker (the isolating process).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
from PIL import Image

from reviewer.media_types import MAX_ASPECT, MediaUnreadable

# No camera, screen recorder or livestream makes frames wider or taller than 8K DCI.
MAX_VIDEO_SIDE: Final = 8192
MAX_VIDEO_PIXELS: Final = 8192 * 4320
# Longest plausible capture; a header claiming more is lying.
MAX_DURATION_S: Final = 24 * 3600.0

DEFAULT_TIME_LIMIT_S: Final = 10.0
# A sheet of 48 cells still shows each frame at about 200 px in a 1600 x 1000 box.
DEFAULT_MAX_FRAMES: Final = 48
# Keyframes come back with this longer side at most: enough for a sheet cell even at
# step 0, small enough that 48 of them (19 MB) cross the pipe in tens of milliseconds.
DEFAULT_MAX_SIDE: Final = 480
# Single-frame reveal: full HD is more than any review box shows.
REVEAL_MAX_SIDE: Final = 1920


@dataclass(frozen=True)
class VideoProbe:
    """What a readable video is. Width and height are as stored, before rotation."""

    container: str  # "mp4", "mov", "mkv", "webm", "ts", "flv" or "avi"
    codec: str  # "h264", "hevc", "vp9", ...
    width: int
    height: int
    rotation: int  # degrees counter-clockwise that make it upright: 0, 90, 180 or 270
    duration_s: float
    fps: float | None
    # Exact where frames are counted (MP4/MOV index, MPEG-TS/FLV demux); Matroska's
    # cues list only keyframes, so there it is duration × fps.
    frame_count_estimate: int
    has_audio: bool  # never decoded here; unmuting is a metered UI act
    # Times of every keyframe from the first frame, to within a frame or two where the
    # index gives decode times (MP4 with B-frames).
    keyframe_times: tuple[float, ...]

    @property
    def display_size(self) -> tuple[int, int]:
        return (
            (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)
        )


@dataclass(frozen=True)
class KeyFrame:
    """One decoded keyframe, upright, as packed RGB rows at a reduced size."""

    time_s: float
    width: int
    height: int
    source_width: int  # the frame as displayed (after rotation), before reduction
    source_height: int
    rgb: bytes = field(repr=False)
    pdq: bytes | None = None  # 32 bytes, big-endian as in reviewer/hashing.py
    pdq_quality: int | None = None

    def image(self) -> Image.Image:
        return Image.frombytes("RGB", (self.width, self.height), self.rgb)

    def array(self) -> np.ndarray:
        """A read-only (height, width, 3) view of the pixels."""
        return np.frombuffer(self.rgb, np.uint8).reshape(self.height, self.width, 3)


@dataclass(frozen=True)
class FramePdq:
    time_s: float
    pdq: bytes  # 32 bytes
    quality: int  # 0..100; under about 50 the hash says little (flat frames)

    @property
    def hex(self) -> str:
        return self.pdq.hex()


@dataclass(frozen=True)
class VideoHashes:
    sha256: str
    md5: str
    frames: tuple[FramePdq, ...]  # one per keyframe hashed, in time order


def check_video_dimensions(width: int, height: int) -> None:
    """Refuse frame sizes no honest video has, before any pixel is decoded."""
    if width <= 0 or height <= 0:
        raise MediaUnreadable("absurd_dimensions", f"{width} × {height} pixel frames")
    long_side, short_side = max(width, height), min(width, height)
    if long_side > MAX_VIDEO_SIDE or width * height > MAX_VIDEO_PIXELS:
        raise MediaUnreadable(
            "absurd_dimensions",
            f"{width} × {height} pixel frames are over the {MAX_VIDEO_SIDE} px / "
            f"{MAX_VIDEO_PIXELS:,} pixel limit",
        )
    if long_side > MAX_ASPECT * short_side:
        raise MediaUnreadable(
            "absurd_dimensions", f"{width} × {height} pixel frames are not a plausible shape"
        )
