"""Safe decoding of untrusted picture bytes: open, load and probe with Pillow.

Every upload is hostile until proven otherwise: it may be empty, truncated, a
decompression bomb or simply not an image. `probe` decodes the picture once, cheaply,
so that a file that cannot be shown to a moderator is refused at ingest with a short
machine reason instead of failing later on screen; `open_image` and `load_image` are
the same guarded decoding for the protection pipeline (wellbeing.render, whose first
step they are) and the hashers.

Kernel-level media code: it imports Pillow and reviewer.media_types, nothing else of
ours, so the welfare rules can decode without depending on any service. Decoding
happens in memory only; nothing decoded is ever written to disk.
"""

from __future__ import annotations

import io
from typing import Final

from PIL import Image, ImageFile, UnidentifiedImageError

from reviewer.media_types import MediaProbe, MediaUnreadable, check_dimensions

# Only these Pillow plugins are ever tried, which also keeps rarely audited decoders
# (TIFF, PSD, ICO...) away from hostile bytes.
ALLOWED_FORMATS: Final = ("JPEG", "PNG", "WEBP", "GIF", "BMP")

# Pillow's JPEG opener returns MPO for multi-picture phone JPEGs; the first picture is
# a plain JPEG, so it is treated as one.
_JPEG_FORMATS: Final = frozenset({"JPEG", "MPO"})


def unreadable_from(exc: BaseException) -> MediaUnreadable:
    """Map whatever a Pillow plugin raised onto a MediaUnreadable reason."""
    if isinstance(exc, MediaUnreadable):
        return exc
    text = str(exc)
    if isinstance(exc, Image.DecompressionBombError | MemoryError):
        return MediaUnreadable("decompression_bomb")
    if isinstance(exc, UnidentifiedImageError):
        return MediaUnreadable("unknown_format")
    # Pillow says "image file is truncated" / "Truncated File Read"; EOF means the same.
    if isinstance(exc, EOFError) or "truncated" in text.lower():
        return MediaUnreadable("truncated")
    # PNG text chunks that inflate past Pillow's cap are bombs of their own.
    if isinstance(exc, ValueError) and "too large" in text:
        return MediaUnreadable("decompression_bomb", "a metadata chunk inflates too far")
    detail = f"image data is damaged ({type(exc).__name__}: {text[:160]})"
    return MediaUnreadable("corrupt", detail)


def open_image(data: bytes) -> ImageFile.ImageFile:
    """Open (parse headers, decode nothing) after the size limits have passed.

    The caller owns the returned image and should close it. Loading it may still
    raise Pillow errors; pass them through `unreadable_from` or use `load_image`.
    """
    if not data:
        raise MediaUnreadable("empty")
    try:
        img = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except Exception as exc:  # any plugin failure on hostile bytes is "unreadable"
        raise unreadable_from(exc) from exc
    try:
        check_dimensions(*img.size)
    except MediaUnreadable:
        img.close()
        raise
    return img


def load_image(img: ImageFile.ImageFile) -> None:
    """Decode pixels, turning every failure into MediaUnreadable."""
    # Truncation is only detectable if Pillow is not told to pad short files.
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise MediaUnreadable("corrupt", "Pillow's LOAD_TRUNCATED_IMAGES is on; refusing")
    try:
        img.load()
    except Exception as exc:
        raise unreadable_from(exc) from exc


def is_jpeg(img: Image.Image) -> bool:
    return img.format in _JPEG_FORMATS


def probe(data: bytes) -> MediaProbe:
    """Decode `data` once, cheaply, and say what it is, or raise MediaUnreadable.

    JPEGs decode greyscale at 1/8 scale: libjpeg still walks the whole entropy-coded
    stream, so truncation is caught at a fraction of the full cost. Other formats have
    no scaled decode and are loaded in full (bounded by MAX_PIXELS). GIF and WebP
    animations are checked on their first frame only.
    """
    img = open_image(data)
    with img:
        fmt = "JPEG" if is_jpeg(img) else str(img.format)
        width, height = img.size
        try:
            if is_jpeg(img):
                img.draft("L", (max(1, width // 8), max(1, height // 8)))
        except Exception as exc:
            raise unreadable_from(exc) from exc
        load_image(img)
    return MediaProbe(format=fmt, width=width, height=height)
