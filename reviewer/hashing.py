"""Hashes of one upload: exact digests (SHA-256, MD5) and the PDQ perceptual hash.

Exact digests find byte-identical copies; PDQ (Meta's 256-bit perceptual hash, the
format of industry PDQ hash lists) finds the same picture after resizing, re-encoding,
greyscale conversion and very slight cropping, within a Hamming distance of 31.

PDQ bytes are the hash as a 256-bit big-endian number, so `pdq_hex` gives the same
64-character lowercase hex string as Meta's reference tools and shared hash lists.
Pixels are hashed as stored, without EXIF rotation, as Meta's tools do, so that our
hashes agree with the lists'.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final

import numpy as np
import pdqhash
from PIL import Image

from reviewer.media import MediaUnreadable, is_jpeg, load_image, open_image, unreadable_from

PDQ_BYTES: Final = 32
PDQ_HEX_CHARS: Final = 2 * PDQ_BYTES
# The usual match threshold for PDQ (Meta's recommendation for PDQ lists).
PDQ_MATCH_DISTANCE: Final = 31
# Below this quality (flat or nearly featureless pictures) PDQ bits are mostly noise or
# zeros; Meta advises not matching on such hashes. Callers decide; we only report it.
PDQ_MIN_QUALITY: Final = 50
# Half-scale decoding only when the halved picture keeps at least this many pixels on
# its short side: PDQ works on a 64 x 64 reduction and needs some oversampling for it.
_HALVE_MIN_SIDE: Final = 256
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


def compute_hashes(data: bytes) -> MediaHashes:
    """SHA-256 and MD5 of `data`, and its PDQ hash when it decodes as an image.

    Never raises for hostile or broken bytes: media that reviewer.media refuses (or
    that fails to decode) simply gets no PDQ. Decoding is at full or half scale, never
    smaller: a quarter-scale decode moves the hash by up to ~18 bits on camera-sized
    pictures, which would eat most of the distance-31 match budget.
    """
    sha256 = hashlib.sha256(data).hexdigest()
    # MD5 only identifies files for hash lists; it protects nothing.
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    try:
        pdq, quality = _pdq_of(data)
    except MediaUnreadable:
        return MediaHashes(sha256=sha256, md5=md5, pdq=None, pdq_quality=None)
    return MediaHashes(sha256=sha256, md5=md5, pdq=pdq, pdq_quality=quality)


def _pdq_of(data: bytes) -> tuple[bytes, int]:
    img = open_image(data)  # enforces the pixel, side and aspect limits first
    with img:
        try:
            width, height = img.size
            halve = min(width, height) >= _HALVE_MIN_SIDE
            if halve and is_jpeg(img):
                # libjpeg scales in the DCT domain: half the work, nearly the same hash.
                img.draft("RGB", (max(1, width // 2), max(1, height // 2)))
            load_image(img)
            # RGB first: reduce() refuses palette, bilevel and 16-bit modes.
            rgb: Image.Image = img.convert("RGB")
            if halve and rgb.size == (width, height):
                # Other formats decode in full; halve them too so that a PNG and its
                # JPEG re-encode are hashed at the same scale.
                rgb = rgb.reduce(2)
            bits, quality = pdqhash.compute(np.ascontiguousarray(np.asarray(rgb)))
        except MediaUnreadable:
            raise
        except Exception as exc:  # any decoder or conversion failure means "no PDQ"
            raise unreadable_from(exc) from exc
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
