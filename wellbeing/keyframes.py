"""Protected keyframe sheets: how a moderator first sees a video.

DOMAIN.md: "Video: muted, no autoplay, graded from a blurred keyframe sheet first".
The sheet is a grid of a video's keyframes (reviewer.video.keyframes), each greyscale
and blurred through wellbeing.render's one pipeline (its ladder capped by the cell, as
a thumbnail's is by its box), then smoothly scaled back up to the cell. It is made at
display size so that each cell can carry a crisp "mm:ss" label. Labels are drawn in
grey on a greyscale ("L") sheet, so nothing on it can bring colour back.

Audio is never touched here; unmuting is a metered UI act.

Single frames (one cell revealed, or stepped through) use `render_frame_protected`
and `render_frame_revealed`, the counterparts of render_protected/render_revealed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from PIL import Image, ImageDraw, ImageFont

from reviewer.video_types import KeyFrame
from wellbeing.render import (
    DEFAULT_BLUR_STEP,
    SCREEN_MODE,
    Rendered,
    check_box,
    check_step,
    display_size,
    enlarge,
    fit,
    pack,
    protect_image,
    reduce_sharp,
    screen_bytes,
)

DEFAULT_SHEET_BOX: Final = (1600, 1000)
_GAP: Final = 8  # px between cells and around the grid
_BACKGROUND: Final = 32  # neutral dark grey behind the cells
_LABEL_FILL: Final = 200  # neutral light grey text
_LABEL_SIZE: Final = 14  # px
_LABEL_STRIP: Final = _LABEL_SIZE + 6  # px below each frame
# A cell shorter than this many label strips gets no label (cells keep their times).
_MIN_FRAME_STRIPS: Final = 2


class SheetCell(NamedTuple):
    """Where one keyframe sits on the sheet: its picture, without the label below."""

    time_s: float
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class SheetRendered(Rendered):
    """A Rendered sheet plus the place of each keyframe on it, in time order."""

    cells: tuple[SheetCell, ...] = ()


def render_keyframe_sheet(
    frames: Sequence[KeyFrame],
    box: tuple[int, int] = DEFAULT_SHEET_BOX,
    columns: int | None = None,
    blur_step: int = DEFAULT_BLUR_STEP,
    *,
    screen: bool = False,
) -> SheetRendered:
    """A greyscale grid of `frames` fitted into `box` (unless the box cannot hold a pixel
    per frame), each blurred at `blur_step`.

    `columns` None picks the grid that makes the frames largest. The sheet is at
    display size (source size = raster size), so the UI paints it unscaled when the
    box is its view. Step 0 is unblurred and so marked unprotected. `screen` finishes
    it for a screen (packed as wellbeing.render.SCREEN_MODE).
    """
    check_box(box)
    check_step(blur_step)
    if not frames:
        raise ValueError("a keyframe sheet needs at least one frame")
    frames = sorted(frames, key=lambda f: f.time_s)
    n = len(frames)
    # Cells never show a frame larger than the largest source: nothing is enlarged.
    largest = max(frames, key=lambda f: f.source_width * f.source_height)
    source = (largest.source_width, largest.source_height)
    for gap in (_GAP, 1):  # in a box too small for the usual gaps, hairlines
        cols = _best_columns(n, source, box, gap) if columns is None else max(1, min(n, columns))
        rows = math.ceil(n / cols)
        frame_w, frame_h, labelled = _cell_picture(source, box, cols, rows, gap)
        strip = _LABEL_STRIP if labelled else 0
        sheet_w = cols * frame_w + (cols + 1) * gap
        sheet_h = rows * (frame_h + strip) + (rows + 1) * gap
        if sheet_w <= box[0] and sheet_h <= box[1]:
            break
    sheet = Image.new("L", (sheet_w, sheet_h), _BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=_LABEL_SIZE)
    cells = []
    for i, frame in enumerate(frames):
        col, row = i % cols, i // cols
        cell_x = gap + col * (frame_w + gap)
        cell_y = gap + row * (frame_h + strip + gap)
        # Frames of another shape are fitted into the cell and centred in it.
        w, h = fit((frame.source_width, frame.source_height), (frame_w, frame_h))
        x, y = cell_x + (frame_w - w) // 2, cell_y + (frame_h - h) // 2
        sheet.paste(_protected_cell(frame, (w, h), blur_step), (x, y))
        cells.append(SheetCell(frame.time_s, x, y, w, h))
        if labelled:
            text = format_time(frame.time_s)
            left, _, right, _ = font.getbbox(text)
            tx = cell_x + (frame_w - (right - left)) // 2
            draw.text((tx, cell_y + frame_h + 3), text, fill=_LABEL_FILL, font=font)
    return SheetRendered(
        width=sheet_w,
        height=sheet_h,
        mode=SCREEN_MODE if screen else "L",
        data=screen_bytes(sheet) if screen else sheet.tobytes(),
        source_width=sheet_w,
        source_height=sheet_h,
        protected=blur_step > 0,
        blur_step=blur_step,
        cells=tuple(cells),
    )


def render_frame_protected(
    frame: KeyFrame,
    box: tuple[int, int],
    blur_step: int = DEFAULT_BLUR_STEP,
    colour: bool = False,
    *,
    screen: bool = False,
) -> Rendered:
    """One keyframe as render_protected shows a picture: greyscale (unless `colour`),
    through the same protection ladder, enlarged to its display size in `box`."""
    check_box(box)
    if check_step(blur_step) == 0:
        return render_frame_revealed(frame, box, colour, screen=screen)  # a reveal
    source = (frame.source_width, frame.source_height)
    img = frame.image()
    img = protect_image(img if colour else img.convert("L"), source, blur_step)
    img = enlarge(img, display_size(source, box), exact=True)
    return pack(img, source, protected=True, blur_step=blur_step, screen=screen)


def render_frame_revealed(
    frame: KeyFrame, box: tuple[int, int], colour: bool = True, *, screen: bool = False
) -> Rendered:
    """One keyframe unblurred, at its display size in `box` (scaled up from the frame's
    own raster where that is smaller; for full detail decode the frame larger with
    reviewer.video.keyframe_at). A reveal: callers meter it."""
    check_box(box)
    source = (frame.source_width, frame.source_height)
    img = reduce_sharp(frame.image(), display_size(source, box))
    return pack(img if colour else img.convert("L"), source, False, 0, screen=screen)


def format_time(seconds: float) -> str:
    """'mm:ss', or 'h:mm:ss' from an hour on; seconds are truncated, as players do."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


# --- Internals


def _cell_picture(
    source: tuple[int, int], box: tuple[int, int], cols: int, rows: int, gap: int
) -> tuple[int, int, bool]:
    """Largest frame size (w, h) in a cols x rows grid, and whether labels fit."""
    avail_w = max(1, (box[0] - (cols + 1) * gap) // cols)
    avail_h = max(1, (box[1] - (rows + 1) * gap) // rows)
    labelled = avail_h - _LABEL_STRIP >= _MIN_FRAME_STRIPS * _LABEL_STRIP
    if labelled:
        avail_h -= _LABEL_STRIP
    w, h = fit(source, (avail_w, avail_h))
    return w, h, labelled


def _best_columns(n: int, source: tuple[int, int], box: tuple[int, int], gap: int) -> int:
    def area(cols: int) -> int:
        w, h, _ = _cell_picture(source, box, cols, math.ceil(n / cols), gap)
        return w * h

    # Ties go to fewer columns: larger rows read more easily in time order.
    return max(range(1, n + 1), key=lambda c: (area(c), -c))


def _protected_cell(frame: KeyFrame, size: tuple[int, int], blur_step: int) -> Image.Image:
    """The frame protected for a `size` cell, already scaled up to it. The cell caps the
    ladder: a small cell gets a raster as protective as a full view of the frame."""
    if blur_step == 0:
        return reduce_sharp(frame.image(), size).convert("L")
    source = (frame.source_width, frame.source_height)
    small = protect_image(frame.image().convert("L"), source, blur_step, cap=size)
    return enlarge(small, size, exact=True)
