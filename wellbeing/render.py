"""Protective rendering: greyscale, blurred rasters a moderator can grade from.

Pure Pillow/numpy so that it can run in any worker and be tested without a display.
One pipeline for every protected picture: validate (reviewer.media's guarded decode)
-> reduce -> greyscale -> blur (`protect_image`, the ladder) -> enlarge (`enlarge`, to
the exact size it is shown at). Pictures and thumbnails here, keyframes and sheets in
wellbeing.keyframes; the step and box checks live here once. With `screen=True` the
result is finished for a screen (`screen_bytes`): packed as 32-bit pixels at display
size, so the UI only wraps the bytes and paints them unscaled.

The protected raster is deliberately tiny and lightly blurred, then enlarged in smooth
doublings, which reads as a steppable blur. How much detail a step keeps depends on the
picture alone (see REFERENCE_PIXELS), never on the window. Building the tiny raster is
also what makes it cheap: JPEGs are decoded by libjpeg at 1/2, 1/4 or 1/8 scale in
greyscale, so the full-size picture never exists in memory at all.

Every raster keeps the source's aspect ratio to within a pixel or two. EXIF orientation
is applied to the decoded raster, not the file's pixels, so it costs next to nothing.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import ExifTags, Image, ImageFilter

from reviewer.media import is_jpeg, load_image, open_image, unreadable_from
from wellbeing.settings import MAX_BLUR_STEP

BLUR_STEPS: Final = MAX_BLUR_STEP
DEFAULT_BLUR_STEP: Final = 2

# The protection ladder is measured against the picture itself, never the window: a
# picture is first brought down to at most REFERENCE_PIXELS (never enlarged), and step
# 1 keeps a quarter of that size across; every further step halves it again (box
# reduction, which cannot alias) and blurs once more. So step k+1 is computed from step
# k and can only hold less detail, and the same item at the same step is the same raster
# however it arrived (rendered ahead for a default box or after a restart).
REFERENCE_PIXELS: Final = 1280 * 960
_FIRST_STEP_FACTOR: Final = 4
# Gaussian radius in raster pixels at every step: rounds off the blocks the reduction
# leaves, so no edge survives smooth upscaling.
BLUR_RADIUS: Final = 1.0
# Transparent areas are shown on neutral grey, as a viewer would show them, rather
# than revealing whatever colour hides under alpha 0.
_BACKDROP: Final = 128
# The reduced-detail (stylised) view: this many flat tones of grey over the step's
# shapes, so positions and outlines read while texture and shading do not.
STYLISED_TONES: Final = 4

# A picture whose aspect ratio is this many times the box's is shown as a strip.
STRIP_RATIO: Final = 4.0
STRIP_MAX_LONG: Final = 16_384
# The packing a screen paints without converting: 32-bit 0xffRRGGBB in the machine's
# own byte order (Qt's Format_RGB32, Cairo's RGB24).
SCREEN_MODE: Final = "RGB32"
_SCREEN_RAW: Final = "BGRA" if sys.byteorder == "little" else "ARGB"

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
    mode: str  # "L", "RGB", or SCREEN_MODE once finished for a screen (screen_bytes)
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


def strip_box(source: tuple[int, int], box: tuple[int, int]) -> tuple[int, int] | None:
    """The box to show a long strip in, or None if `source` is not one.

    A picture far longer than the box in one direction (a panorama, a scrolling
    screenshot, a 20000 x 50 strip) would be a few pixels thick if fitted whole. It is
    shown instead with its short side fitted to the box (never enlarged) and its long
    side running past the box, to be scrolled along; the long side is capped so that a
    raster stays a sensible size whatever the strip."""
    sw, sh = source
    bw, bh = box
    if sw * bh > STRIP_RATIO * sh * bw:  # wide: fit the height, scroll sideways
        scale = min(bh / sh, STRIP_MAX_LONG / sw, 1.0)
        return max(bw, round(sw * scale)), max(1, round(sh * scale))
    if sh * bw > STRIP_RATIO * sw * bh:  # tall: fit the width, scroll down
        scale = min(bw / sw, STRIP_MAX_LONG / sh, 1.0)
        return max(1, round(sw * scale)), max(bh, round(sh * scale))
    return None


def display_size(source: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """Size a picture is shown at in a view of `box` pixels (zoom 1): fitted whole, or
    for a long strip, its short side fitted (see strip_box). Never enlarged."""
    return fit(source, strip_box(source, box) or box)


def reference_size(source: tuple[int, int]) -> tuple[int, int]:
    """`source` brought down to at most REFERENCE_PIXELS, aspect kept, never enlarged.

    By area, not by a box: a long strip (20000 x 50) keeps its length, where fitting it
    into a window-shaped box would leave a line one pixel high."""
    sw, sh = source
    scale = min(1.0, math.sqrt(REFERENCE_PIXELS / (sw * sh)))
    return max(1, round(sw * scale)), max(1, round(sh * scale))


def raster_size(
    source: tuple[int, int], blur_step: int = DEFAULT_BLUR_STEP, cap: tuple[int, int] | None = None
) -> tuple[int, int]:
    """Size of the protected raster of a `source` picture at `blur_step` (1..BLUR_STEPS).

    `cap` is the size the raster will be shown at when that is small (a thumbnail, a
    keyframe cell): the ladder then starts from it instead, so a thumbnail is as
    protected as the full view. The main view passes no cap: its raster depends on the
    picture alone."""
    check_protected_step(blur_step)
    base = reference_size(source)
    if cap is not None:
        base = fit(source, (min(base[0], cap[0]), min(base[1], cap[1])))
    w = max(1, base[0] // _FIRST_STEP_FACTOR)
    h = max(1, base[1] // _FIRST_STEP_FACTOR)
    for _ in range(blur_step - 1):
        w, h = -(-w // 2), -(-h // 2)  # Image.reduce(2) rounds up
    return w, h


def protect_image(
    img: Image.Image,
    source: tuple[int, int],
    blur_step: int = DEFAULT_BLUR_STEP,
    cap: tuple[int, int] | None = None,
) -> Image.Image:
    """The protection ladder on a decoded, upright picture (L or RGB, any size at least
    the step-1 raster): shrink to step 1 and blur, then for each further step halve and
    blur again. Pictures, keyframes, sheets and thumbnails all come through here."""
    first = raster_size(source, 1, cap)
    img = _shrink(img, first, sharp=False).filter(ImageFilter.GaussianBlur(BLUR_RADIUS))
    for _ in range(check_step(blur_step) - 1):
        img = img.reduce(2).filter(ImageFilter.GaussianBlur(BLUR_RADIUS))
    return img


def stylise(img: Image.Image) -> Image.Image:
    """The reduced-detail view of a protected raster (already enlarged to display size):
    greyscale in STYLISED_TONES flat tones, split at the picture's own tone quantiles so
    that every tone is used. Outlines of shapes stay where they are; shading, texture and
    skin tone do not."""
    grey = np.asarray(img.convert("L"), dtype=np.uint8)
    cuts = np.quantile(grey, np.linspace(0, 1, STYLISED_TONES + 1)[1:-1])
    levels = np.digitize(grey, cuts)
    tones = np.linspace(40, 215, STYLISED_TONES).astype(np.uint8)
    return Image.fromarray(tones[levels], "L")


def enlarge(img: Image.Image, size: tuple[int, int], exact: bool = False) -> Image.Image:
    """A tiny protected raster scaled up towards `size` in bilinear doublings: one big
    stretch would leave a visible grid of tiles, while doubling reads as an even blur.
    Stops at the last doubling that fits (the screen scales the rest) unless `exact`."""
    while img.width * 2 <= size[0] and img.height * 2 <= size[1]:
        img = img.resize((img.width * 2, img.height * 2), Image.Resampling.BILINEAR)
    if exact and img.size != size:
        img = img.resize(size, Image.Resampling.BILINEAR)
    return img


def render_protected(
    data: bytes,
    box: tuple[int, int],
    blur_step: int = DEFAULT_BLUR_STEP,
    colour: bool = False,
    stylised: bool = False,
    thumbnail: bool = False,
    *,
    screen: bool = False,
) -> Rendered:
    """The protected picture for display in `box`: greyscale (unless `colour`), reduced
    and blurred at `blur_step` (1..BLUR_STEPS), then enlarged to its display size
    (display_size: fitted, or a long strip's short side fitted; a `thumbnail` is fitted
    whole). `stylised` flattens it further into a few tones of grey (colour does not
    apply). `screen` finishes it for a screen (packed as SCREEN_MODE).

    What it holds depends on the picture and the step only; `box` sets how large it is
    painted, except for a `thumbnail`, whose small box also caps the ladder (see
    raster_size). Raises MediaUnreadable on bad bytes and ValueError on a bad box or step.
    """
    check_box(box)
    if check_step(blur_step) == 0:
        # Unblurred is full detail: a reveal, whatever called it.
        return render_revealed(data, box, colour, screen=screen)
    mode = "RGB" if colour and not stylised else "L"
    cap = box if thumbnail else None
    img, oriented = _render(data, lambda src: raster_size(src, 1, cap), mode)
    shown = fit(oriented, box) if thumbnail else display_size(oriented, box)
    img = enlarge(protect_image(img, oriented, blur_step, cap), shown, exact=True)
    if stylised:
        img = stylise(img)
    return pack(img, oriented, protected=True, blur_step=blur_step, screen=screen)


def render_revealed(
    data: bytes, box: tuple[int, int], colour: bool = True, *, screen: bool = False
) -> Rendered:
    """Unblurred raster at display size (display_size: never enlarged). A reveal."""
    check_box(box)
    mode = "RGB" if colour else "L"
    img, oriented = _render(data, lambda src: display_size(src, box), mode, sharp=True)
    return pack(img, oriented, protected=False, blur_step=0, screen=screen)


def check_box(box: tuple[int, int]) -> None:
    """A display box is two positive sizes; anything else is a programming error."""
    if len(box) != 2 or box[0] < 1 or box[1] < 1:
        raise ValueError(f"display box must be two positive sizes, not {box!r}")


def check_step(blur_step: int) -> int:
    """A blur step is an int in 0..BLUR_STEPS (0: unblurred, a reveal); returns it."""
    if isinstance(blur_step, bool) or blur_step not in range(BLUR_STEPS + 1):
        raise ValueError(f"blur_step must be 0..{BLUR_STEPS}, not {blur_step!r}")
    return blur_step


def check_protected_step(blur_step: int) -> int:
    """A step that blurs (1..BLUR_STEPS): what a resting or starting protection may be.
    Step 0 shows full detail, so it is a reveal, never a protection."""
    if check_step(blur_step) == 0:
        raise ValueError("step 0 is unblurred: it is a reveal, not a protection")
    return blur_step


def reduce_sharp(img: Image.Image, target: tuple[int, int]) -> Image.Image:
    """Unblurred (a reveal): a proper filter, integer box reduction first. Resamples
    up as well where the target is larger (a small decoded frame shown larger)."""
    if img.size == target:
        return img
    return img.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)


def pack(
    img: Image.Image,
    source: tuple[int, int],
    protected: bool,
    blur_step: int,
    *,
    screen: bool = False,
) -> Rendered:
    """`img` as a Rendered raster of a `source`-sized picture (finished for a screen
    if `screen`: packed once, straight into the screen's format)."""
    return Rendered(
        width=img.width,
        height=img.height,
        mode=SCREEN_MODE if screen else img.mode,
        data=screen_bytes(img) if screen else img.tobytes(),
        source_width=source[0],
        source_height=source[1],
        protected=protected,
        blur_step=blur_step,
    )


def screen_bytes(img: Image.Image) -> bytes:
    """An L or RGB raster's pixels as SCREEN_MODE: 0xffRRGGBB words in the machine's
    byte order. Grey stays grey (r = g = b), so nothing can bring colour back."""
    return img.convert("RGBA").tobytes("raw", _SCREEN_RAW)


# --- Internals


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
        return reduce_sharp(img, target)
    # Protected view: quality is moot under the blur; reduce() does the bulk cheaply.
    return img.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _flatten(img: Image.Image, mode: str) -> Image.Image:
    """Composite any alpha onto grey and convert to `mode` ("L" or "RGB")."""
    if img.mode in ("LA", "RGBA"):
        backdrop = Image.new(img.mode[:-1], img.size, (_BACKDROP,) * (len(img.mode) - 1))
        backdrop.paste(img, mask=img.getchannel("A"))
        img = backdrop
    return img if img.mode == mode else img.convert(mode)
