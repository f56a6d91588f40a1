"""Hashes of one upload: exact digests (SHA-256, MD5) and the PDQ perceptual hash.

Exact digests find byte-identical copies; PDQ (Meta's 256-bit perceptual hash, the
format of industry PDQ hash lists) finds the same picture after resizing, re-encoding,
greyscale conversion and very slight cropping, within a Hamming distance of 31.

PDQ bytes are the hash as a 256-bit big-endian number, so `pdq_hex` gives the same
64-character lowercase hex string as Meta's reference tools and shared hash lists.
Pixels are hashed as stored, without EXIF rotation, as Meta's tools do, so that our
hashes agree with the lists'.

The picture is first shrunk to fit 512 x 512 (Pillow's bicubic `thumbnail`), as
Meta's reference hashers do before PDQ's own 64 x 64 reduction: on Meta's published
reference images (tests/data/pdq-reference) this lands within 2 bits of the nearest
published hash, where hashing the full-size decode was up to 8 bits away and the
earlier half-scale decode up to 12 (38 on small photographs).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import pdqhash
from PIL import Image

from reviewer.media import is_jpeg, load_image, open_image, unreadable_from
from reviewer.media_types import MediaUnreadable

PDQ_BYTES: Final = 32
PDQ_HEX_CHARS: Final = 2 * PDQ_BYTES
# The usual match threshold for PDQ (Meta's recommendation for PDQ lists).
PDQ_MATCH_DISTANCE: Final = 31
# Below this quality (flat or nearly featureless pictures) PDQ bits are mostly noise or
# zeros; Meta advises not matching on such hashes. Callers decide; we only report it.
PDQ_MIN_QUALITY: Final = 50
# Meta's hashers shrink a picture to fit this square before hashing it.
PDQ_INPUT_SIDE: Final = 512
# JPEGs may be decoded at a reduced scale (libjpeg's DCT scaling) only while the
# decoded picture keeps at least this many pixels on its long side: twice the
# 512-pixel target, 16 times PDQ's 64 x 64 working size, as Pillow's own `thumbnail`
# does (reducing_gap=2.0). tests/unit/test_pdq_reference.py holds the result to
# Meta's published hashes.
_DRAFT_MIN_LONG_SIDE: Final = 2 * PDQ_INPUT_SIDE
_HEX: Final = re.compile(r"[0-9a-fA-F]+")


@dataclass(frozen=True, slots=True)
class MediaHashes:
    """Digests of the exact bytes, plus PDQ if the bytes decode as a picture."""

    sha256: str  # 64 lowercase hex characters
    md5: str  # 32 lowercase hex characters
    pdq: bytes | None  # 32 bytes, or None when the media cannot be decoded
    pdq_quality: int | None  # 0..100, None with pdq

    @property
    def pdq_hex(self) -> str | None:
        return None if self.pdq is None else pdq_hex(self.pdq)


@dataclass(frozen=True, slots=True)
class Picture:
    """What the decode that gave a PDQ saw: the picture's format and full size."""

    format: str  # Pillow's name; an MPO (a camera's multi-picture JPEG) is "JPEG"
    width: int
    height: int


def compute_hashes(data: bytes) -> MediaHashes:
    """SHA-256 and MD5 of `data`, and its PDQ hash when it decodes as an image.

    Never raises for hostile or broken bytes: media that reviewer.media refuses (or
    that fails to decode) simply gets no PDQ.
    """
    return inspect(data, lambda: hashlib.sha256(data).hexdigest())[0]


def inspect(data: bytes, sha256: Callable[[], str]) -> tuple[MediaHashes, Picture | None]:
    """compute_hashes, and the format and size the same decode saw (None when there is
    no PDQ). `sha256()` is asked for the SHA-256 of `data` last, so that a caller may
    have it taken meanwhile by whatever must hash the bytes anyway (ingest: the media
    store, which files the blob under it): each digest in one pass, one decode."""
    # MD5 only identifies files for hash lists; it protects nothing.
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    try:
        pdq, quality, picture = _pdq_of(data)
    except MediaUnreadable:
        return MediaHashes(sha256=sha256(), md5=md5, pdq=None, pdq_quality=None), None
    return MediaHashes(sha256=sha256(), md5=md5, pdq=pdq, pdq_quality=quality), picture


def _pdq_of(data: bytes) -> tuple[bytes, int, Picture]:
    img = open_image(data)  # enforces the pixel, side and aspect limits first
    with img:
        try:
            width, height = img.size  # before draft(), which shrinks it
            picture = Picture("JPEG" if img.format == "MPO" else str(img.format), width, height)
            if is_jpeg(img):
                scale = min(1.0, _DRAFT_MIN_LONG_SIDE / max(width, height))
                # draft() picks the smallest DCT scale still at least this size.
                img.draft("RGB", (max(1, round(width * scale)), max(1, round(height * scale))))
            load_image(img)
            # RGB first: palette, bilevel and 16-bit modes would resample differently.
            pdq, quality = pdq_of_rgb(img.convert("RGB"))
            return pdq, quality, picture
        except MediaUnreadable:
            raise
        except Exception as exc:  # any decoder or conversion failure means "no PDQ"
            raise unreadable_from(exc) from exc


def pdq_of_rgb(rgb: Image.Image) -> tuple[bytes, int]:
    """PDQ (32 bytes) and quality of a decoded RGB picture, taken as Meta's hashers
    take it: fitted into PDQ_INPUT_SIDE x PDQ_INPUT_SIDE (Pillow's bicubic `thumbnail`,
    which shrinks `rgb` in place), then hashed. Still pictures and video keyframes
    both come here, so a keyframe hashes as the same frame saved as a picture does."""
    rgb.thumbnail((PDQ_INPUT_SIDE, PDQ_INPUT_SIDE))
    bits, quality = pdqhash.compute(np.ascontiguousarray(np.asarray(rgb)))
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes(), int(quality)


def pdq_hex(pdq: bytes) -> str:
    """The 64-character lowercase hex form used by PDQ hash lists."""
    if len(pdq) != PDQ_BYTES:
        raise ValueError(f"a PDQ hash is {PDQ_BYTES} bytes, not {len(pdq)}")
    return pdq.hex()


def pdq_from_hex(text: str) -> bytes:
    """Parse a 64-character hex PDQ hash (either case, surrounding spaces allowed)."""
    text = text.strip()
    if len(text) != PDQ_HEX_CHARS:
        raise ValueError(f"a PDQ hash is {PDQ_HEX_CHARS} hex characters, not {len(text)}")
    # bytes.fromhex alone would accept inner spaces and return a short hash.
    if not _HEX.fullmatch(text):
        raise ValueError("a PDQ hash must contain only hex digits")
    return bytes.fromhex(text)


def hamming(a: bytes, b: bytes) -> int:
    """Number of differing bits between two equal-length hashes."""
    if len(a) != len(b):
        raise ValueError(f"hashes differ in length: {len(a)} and {len(b)} bytes")
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()
