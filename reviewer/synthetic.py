"""Synthetic media for demos, tests and benchmarks: shapes, gradients, noise and labels.

No real imagery, ever. Images are sized and encoded like real uploads (camera-sized
JPEGs with realistic entropy, screenshots as PNG) so that timings stay honest.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from typing import Final, Protocol

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

# Sizes of common camera and phone outputs, in pixels (width, height).
SIZES_MP = {
    0.3: (640, 480),
    1: (1224, 816),
    2: (1600, 1200),
    5: (2592, 1944),
    8: (3264, 2448),
    12: (4032, 3024),
    24: (6000, 4000),
}


def make_image(width: int, height: int, seed: int, label: str = "") -> Image.Image:
    """A colourful RGB picture with gradients, shapes, fine texture and a text label.

    Built at a small size and scaled up, then given per-pixel noise, so that it has
    both large colour regions (for the saturation test) and high-frequency detail
    (for the blur test) like a photograph, at a cost of well under a second at 24 MP.
    """
    rng = random.Random(seed)
    small_w, small_h = max(8, width // 8), max(8, height // 8)
    base = Image.linear_gradient("L").resize((small_w, small_h))
    r = base
    g = base.rotate(90 + rng.randrange(180)).resize((small_w, small_h))
    b = Image.radial_gradient("L").resize((small_w, small_h))
    img = Image.merge("RGB", (r, g, b))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rng.randrange(small_w), rng.randrange(small_h)
        x1 = min(small_w, x0 + rng.randrange(4, max(5, small_w // 2)))
        y1 = min(small_h, y0 + rng.randrange(4, max(5, small_h // 2)))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    img = img.resize((width, height), Image.Resampling.BILINEAR)
    # Fine detail: a checker of thin lines plus noise, so blur has something to remove.
    detail = _noise(width, height, seed).filter(ImageFilter.SHARPEN)
    img = Image.blend(img, Image.merge("RGB", (detail, detail, detail)), 0.25)
    draw = ImageDraw.Draw(img)
    step = max(6, width // 160)
    for x in range(0, width, step * 4):
        draw.line((x, 0, x, height), fill=(255, 255, 255), width=1)
    text = label or f"SYNTHETIC #{seed}"
    font = ImageFont.load_default(size=max(10, height // 14))
    draw.text((width // 20, height // 20), text, fill=(255, 255, 0), font=font)
    return img


def _noise(width: int, height: int, seed: int) -> Image.Image:
    """Grey Gaussian noise (sigma 64 around mid-grey) drawn from `seed`. Not Pillow's
    effect_noise: that draws from the C library's rand(), so a picture would depend on
    how many were made before it in the process, not on its seed."""
    values = np.random.default_rng(seed).standard_normal((height, width), dtype=np.float32)
    values *= 64
    values += 128
    np.clip(values, 0, 255, out=values)
    return Image.fromarray(values.astype(np.uint8))


def encode(img: Image.Image, fmt: str, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    if fmt.upper() in ("JPEG", "JPG"):
        img.save(buf, "JPEG", quality=quality)
    elif fmt.upper() == "PNG":
        img.save(buf, "PNG", compress_level=1)
    else:
        img.save(buf, fmt.upper())
    return buf.getvalue()


def make_jpeg(megapixels: float, seed: int = 0, quality: int = 90) -> bytes:
    w, h = size_for(megapixels)
    return encode(make_image(w, h, seed), "JPEG", quality)


def make_png(megapixels: float, seed: int = 0) -> bytes:
    w, h = size_for(megapixels)
    return encode(make_image(w, h, seed), "PNG")


def size_for(megapixels: float) -> tuple[int, int]:
    if megapixels in SIZES_MP:
        return SIZES_MP[megapixels]
    w = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    return w, int(w * 3 / 4)


# --- Deliberately broken files, each a kind of bad media the workstation must survive.


def truncated_jpeg(seed: int = 0) -> bytes:
    data = make_jpeg(0.3, seed)
    return data[: len(data) // 3]


def zero_byte(seed: int = 0) -> bytes:
    return b""


def unknown_format(seed: int = 0) -> bytes:
    return b"NOTANIMAGE" + random.Random(seed).randbytes(2048)


def png_with_header(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` but whose pixel data is tiny: a
    decompression bomb or absurd dimensions, depending on the numbers."""
    sig = b"\x89PNG\r\n\x1a\n"

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return sig + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def decompression_bomb(seed: int = 0) -> bytes:
    # 40,000 x 40,000 greyscale = 1.6 gigapixels claimed in a few hundred bytes.
    return png_with_header(40_000, 40_000)


def make_strip(width: int, height: int, seed: int = 0, fmt: str = "PNG") -> bytes:
    """A legitimate long strip (a panorama, a scrolling screenshot): built as a normal
    picture and stretched, so it has structure along its whole length."""
    long_side, short_side = max(width, height), min(width, height)
    tile = make_image(max(64, long_side // 8), max(8, short_side), seed, "STRIP")
    img = tile.resize((long_side, short_side))
    if height > width:
        img = img.transpose(Image.Transpose.ROTATE_90)
    return encode(img, fmt)


class BrokenMaker(Protocol):
    """Makes one kind of broken file; the seed varies it where the kind has anything
    to vary (the same signature for every kind, so tests can loop over them)."""

    def __call__(self, seed: int = 0) -> bytes: ...


BROKEN_KINDS: Final[dict[str, BrokenMaker]] = {
    "truncated": truncated_jpeg,
    "zero_byte": zero_byte,
    "unknown_format": unknown_format,
    "decompression_bomb": decompression_bomb,
}
