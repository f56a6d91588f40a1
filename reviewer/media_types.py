"""What a piece of media is, and why it cannot be shown: plain types and limits.

Part of the kernel: it imports nothing of ours and no decoder, so the welfare rules
(wellbeing/), the services and the database can all name a MediaUnreadable or a
MediaProbe without pulling in Pillow or FFmpeg. Decoding lives in reviewer.media
(pictures) and reviewer.video (video).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Reason = Literal[
    "empty",
    "unknown_format",
    "truncated",
    "decompression_bomb",
    "absurd_dimensions",
    "corrupt",
    "no_frames",
    "timeout",
]

MAX_PIXELS: Final = 100_000_000
# Video frames only: a picture of any shape is reviewable within MAX_PIXELS (a long
# strip, a scanned scroll, a tall chat screenshot), but no camera or encoder makes a
# video frame this far from square.
MAX_ASPECT: Final = 40

_MESSAGES: Final[dict[str, str]] = {
    "empty": "the file is empty",
    "unknown_format": "not a JPEG, PNG, WebP, GIF or BMP image",
    "truncated": "image data ends early",
    "decompression_bomb": "image would need too much memory to decode",
    "absurd_dimensions": "image shape is not plausible",
    "corrupt": "image data is damaged",
    "no_frames": "the video has no frames that can be shown",
    "timeout": "decoding took too long and was stopped",
}


class MediaUnreadable(Exception):
    """Bytes that cannot safely be shown; `reason` is a short machine code."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason: Reason = reason
        self.detail = detail or _MESSAGES[reason]
        super().__init__(f"{reason}: {self.detail}")

    def __reduce__(self) -> tuple[type[MediaUnreadable], tuple[str, str]]:
        # Two-argument constructor: keep it picklable for worker processes.
        return (type(self), (self.reason, self.detail))


@dataclass(frozen=True)
class MediaProbe:
    """What a readable file is. Width and height are as stored, before EXIF rotation."""

    format: str
    width: int
    height: int


def check_dimensions(width: int, height: int) -> None:
    """Refuse sizes that cannot be decoded safely, before any pixel is decoded.

    Only the decoded size counts: whatever its shape, a picture within MAX_PIXELS is
    reviewable (the protected view scrolls along a long strip)."""
    if width <= 0 or height <= 0:
        raise MediaUnreadable("absurd_dimensions", f"{width} × {height} pixels")
    if width * height > MAX_PIXELS:
        raise MediaUnreadable(
            "decompression_bomb", f"{width} × {height} pixels is over the {MAX_PIXELS:,} limit"
        )
