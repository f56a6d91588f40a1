"""Protective rendering: greyscale, blurred rasters a moderator can grade from.

Pure Pillow/numpy so that it can run in any worker and be tested without a display.
The protected raster is deliberately tiny (the display size divided by 4..32) and
lightly blurred; the UI paints it scaled up with smooth scaling, which reads as a
steppable blur. Building the tiny raster is also what makes it cheap: JPEGs are
decoded by libjpeg at 1/2, 1/4 or 1/8 scale in greyscale, so the full-size picture
never exists in memory at all.

Sizes: the display size is the source (after EXIF rotation) fitted into the box and
never enlarged, so that protection is relative to the picture's own detail however
small it is. Every raster keeps the source's aspect ratio to within one pixel.
EXIF orientation is applied to the finished raster, not the decoded picture, so it
costs next to nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import ExifTags, Image, ImageFilter

from reviewer.media import is_jpeg, load_image, open_image, unreadable_from

BLUR_STEPS: Final = 4
DEFAULT_BLUR_STEP: Final = 2

# Step k shrinks the display size by 2 ** (k + 1): 4, 8, 16, 32. Step 1 still shows
# the layout and large shapes; step 4 leaves little more than blobs of tone.
_STEP_FACTORS: Final[dict[int, int]] = {0: 1, 1: 4, 2: 8, 3: 16, 4: 32}
# Gaussian radius in raster pixels: rounds off the blocks the reduction leaves, so
# no edge survives smooth upscaling.
BLUR_RADIUS: Final = 1.0
# Transparent areas are shown on neutral grey, as a viewer would show them, rather
# than revealing whatever colour hides under alpha 0.
_BACKDROP: Final = 128

# EXIF orientation -> the transpose that undoes it (as ImageOps.exif_transpose does).
_TRANSPOSE: Final[dict[int, Image.Transpose]] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES: Final = frozenset({5, 6, 7, 8})

# Maps the oriented source size to the wanted raster size.
_TargetFn = Callable[[tuple[int, int]], tuple[int, int]]


@dataclass(frozen=True)
class Rendered:
    """A raster ready to paint. Source sizes are as displayed, i.e. after EXIF rotation."""

    width: int
    height: int
    mode: str  # "L" or "RGB"
    data: bytes  # packed rows, no padding
    source_width: int
    source_height: int
    protected: bool  # False whenever unblurred: that shows full detail, so it is a reveal
    blur_step: int


def fit(source: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """`source` scaled to fit inside `box`, never enlarged, aspect kept, at least 1x1."""
    sw, sh = source
    scale = min(box[0] / sw, box[1] / sh, 1.0)
    return max(1, min(box[0], round(sw * scale))), max(1, min(box[1], round(sh * scale)))


def raster_size(
    source: tuple[int, int], box: tuple[int, int], blur_step: int = DEFAULT_BLUR_STEP
) -> tuple[int, int]:
    """Size of the protected raster for a source shown in `box` at `blur_step`."""
    factor = _STEP_FACTORS[_check_step(blur_step)]
    display = fit(source, box)
    if factor == 1:
        return display
    # Fit the source again rather than dividing `display`, so rounding keeps the aspect.
    return fit(source, (max(1, display[0] // factor), max(1, display[1] // factor)))


def render_protected(
    data: bytes,
    box: tuple[int, int],
    blur_step: int = DEFAULT_BLUR_STEP,
    colour: bool = False,
) -> Rendered:
    """Greyscale (unless `colour`) raster at display size / factor(blur_step), blurred.

    Step 0 is the display size without blur and so, greyscale or not, is marked
    unprotected. Raises MediaUnreadable on bad bytes and ValueError on a bad box or step.
    """
    _check_box(box)
    _check_step(blur_step)
    mode = "RGB" if colour else "L"
    img, oriented = _render(data, lambda src: raster_size(src, box, blur_step), mode)
    if blur_step > 0:
        img = img.filter(ImageFilter.GaussianBlur(BLUR_RADIUS))
    return _pack(img, oriented, protected=blur_step > 0, blur_step=blur_step)


def render_revealed(data: bytes, box: tuple[int, int], colour: bool = True) -> Rendered:
    """Unblurred raster at display size (the source fitted into `box`, never enlarged)."""
    _check_box(box)
    mode = "RGB" if colour else "L"
    img, oriented = _render(data, lambda src: fit(src, box), mode, sharp=True)
    return _pack(img, oriented, protected=False, blur_step=0)


# --- Internals


def _check_box(box: tuple[int, int]) -> None:
    if len(box) != 2 or box[0] < 1 or box[1] < 1:
        raise ValueError(f"display box must be two positive sizes, not {box!r}")


def _check_step(blur_step: int) -> int:
    if blur_step not in _STEP_FACTORS:
        raise ValueError(f"blur_step must be 0..{BLUR_STEPS}, not {blur_step!r}")
    return blur_step


def _render(
    data: bytes,
    target_for: _TargetFn,
    mode: str,
    sharp: bool = False,
) -> tuple[Image.Image, tuple[int, int]]:
    """Decode `data` straight to `target_for(oriented source size)` in `mode`.

    Returns the upright raster and the oriented source size.
    """
    src = open_image(data)
    with src:
        stored = src.size
        if is_jpeg(src):
            # APP1 is parsed at open, so orientation is known before choosing a scale.
            orientation = _orientation(src)
            target = _stored_target(target_for, stored, orientation)
            try:
                # libjpeg decodes at the strongest reduction (1/8, 1/4, 1/2) whose
                # output still covers target, in greyscale if asked: the cheap path.
                src.draft("L" if mode == "L" else "RGB", target)
            except Exception as exc:
                raise unreadable_from(exc) from exc
            load_image(src)
        else:
            load_image(src)
            # PNG keeps eXIf wherever it likes, so ask only after loading.
            orientation = _orientation(src)
            target = _stored_target(target_for, stored, orientation)
        try:
            img = _shrink(_normalise(src), target, sharp)
            img = _flatten(img, mode)
        except Exception as exc:  # odd modes or palettes in hostile files
            raise unreadable_from(exc) from exc
        if img is src:
            # Closing the file below frees its pixels too; keep our own (small) copy.
            img = src.copy()
    if orientation in _TRANSPOSE:
        img = img.transpose(_TRANSPOSE[orientation])
    oriented = (stored[1], stored[0]) if orientation in _SWAPS_AXES else stored
    return img, oriented


def _stored_target(
    target_for: _TargetFn, stored: tuple[int, int], orientation: int
) -> tuple[int, int]:
    """The target size in the file's own (unrotated) axes."""
    if orientation in _SWAPS_AXES:
        w, h = target_for((stored[1], stored[0]))
        return h, w
    return target_for(stored)


def _orientation(img: Image.Image) -> int:
    # Damaged EXIF must not cost the moderator the picture: treat it as upright.
    try:
        value = img.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _normalise(img: Image.Image) -> Image.Image:
    """Bring any decoded mode to L, LA, RGB or RGBA (the modes resize handles well)."""
    if img.mode in ("L", "LA", "RGB", "RGBA"):
        return img
    if img.mode in ("P", "PA"):
        has_alpha = img.mode == "PA" or "transparency" in img.info
        return img.convert("RGBA" if has_alpha else "RGB")
    if img.mode.startswith("I") or img.mode == "F":
        # 16-bit and float greys: Pillow's convert("L") clips, which turns them white.
        arr = np.asarray(img).astype(np.float32)
        if img.mode.startswith("I;16") or arr.max(initial=0) > 255:
            arr = arr / 257.0
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    if img.mode == "1":
        return img.convert("L")
    return img.convert("RGBA" if "A" in img.mode or "a" in img.mode else "RGB")


def _shrink(img: Image.Image, target: tuple[int, int], sharp: bool) -> Image.Image:
    if img.size == target:
        return img
    if sharp:
        # Revealed view: integer box reduction first, then a proper filter for the rest.
        return img.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    # Protected view: quality is moot under the blur; reduce() does the bulk cheaply.
    return img.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _flatten(img: Image.Image, mode: str) -> Image.Image:
    """Composite any alpha onto grey and convert to `mode` ("L" or "RGB")."""
    if img.mode in ("LA", "RGBA"):
        backdrop = Image.new(img.mode[:-1], img.size, (_BACKDROP,) * (len(img.mode) - 1))
        backdrop.paste(img, mask=img.getchannel("A"))
        img = backdrop
    return img if img.mode == mode else img.convert(mode)


def _pack(img: Image.Image, oriented: tuple[int, int], protected: bool, blur_step: int) -> Rendered:
    return Rendered(
        width=img.width,
        height=img.height,
        mode=img.mode,
        data=img.tobytes(),
        source_width=oriented[0],
        source_height=oriented[1],
        protected=protected,
        blur_step=blur_step,
    )
