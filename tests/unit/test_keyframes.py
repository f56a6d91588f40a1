"""wellbeing.keyframes: the keyframe sheet is greyscale and blurred like a protected
picture, with grey time labels and cells in time order; single frames render like
pictures do. Synthetic frames only (reviewer.synthetic, reviewer.synthetic_video)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from reviewer import synthetic
from reviewer import synthetic_video as sv
from reviewer.video import keyframes
from reviewer.video_types import KeyFrame
from wellbeing.keyframes import (
    SheetRendered,
    format_time,
    render_frame_protected,
    render_frame_revealed,
    render_keyframe_sheet,
)
from wellbeing.render import BLUR_STEPS, DEFAULT_BLUR_STEP, Rendered, fit, raster_size

BOX = (1600, 1000)


def frame(time_s: float, size: tuple[int, int] = (480, 270), seed: int = 0) -> KeyFrame:
    """A keyframe as reviewer.video returns it: a reduced raster of a 1080p source."""
    img = synthetic.make_image(*size, seed=seed)
    source = (1920, 1080) if size[0] >= size[1] else (1080, 1920)
    return KeyFrame(time_s, size[0], size[1], source[0], source[1], img.tobytes())


FRAMES = [frame(10.0 * i, seed=i) for i in range(12)]


def as_image(r: Rendered) -> Image.Image:
    assert len(r.data) == r.width * r.height * len(r.mode)
    return Image.frombytes(r.mode, (r.width, r.height), r.data)


def hf_energy(grey: np.ndarray) -> float:
    """Mean absolute 4-neighbour Laplacian: how much fine detail there is."""
    g = grey.astype(np.float32)
    lap = 4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
    return float(np.abs(lap).mean())


def sharp_grey(f: KeyFrame, size: tuple[int, int]) -> np.ndarray:
    """The unprotected frame at `size`, in grey: what the cell would show unblurred."""
    img = f.image().convert("L").resize(size, Image.Resampling.LANCZOS)
    return np.asarray(img, dtype=np.float32)


def test_sheet_is_greyscale_protected_and_fits_the_box() -> None:
    sheet = render_keyframe_sheet(FRAMES, BOX)
    assert isinstance(sheet, SheetRendered)
    assert sheet.mode == "L"  # saturation is zero by construction
    assert sheet.protected and sheet.blur_step == DEFAULT_BLUR_STEP
    assert sheet.width <= BOX[0] and sheet.height <= BOX[1]
    assert (sheet.source_width, sheet.source_height) == (sheet.width, sheet.height)
    # Even as RGB (as a UI might convert it), no channel differs from another.
    rgb = np.asarray(as_image(sheet).convert("RGB"))
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()


def test_each_cell_is_far_less_detailed_than_the_frame() -> None:
    sheet = render_keyframe_sheet(FRAMES, BOX)
    pixels = np.asarray(as_image(sheet), dtype=np.float32)
    for cell, f in zip(sheet.cells, FRAMES, strict=True):
        shown = pixels[cell.y : cell.y + cell.h, cell.x : cell.x + cell.w]
        sharp = sharp_grey(f, (cell.w, cell.h))
        assert hf_energy(shown) < 0.2 * hf_energy(sharp)
        # ...yet the layout is still there to grade from: coarse tones agree.
        coarse = (max(1, cell.w // 16), max(1, cell.h // 16))
        a = np.asarray(Image.fromarray(shown).resize(coarse, Image.Resampling.BOX))
        b = np.asarray(Image.fromarray(sharp).resize(coarse, Image.Resampling.BOX))
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.8


def test_cells_in_time_order_inside_the_sheet_without_overlap() -> None:
    shuffled = FRAMES[5:] + FRAMES[:5]
    sheet = render_keyframe_sheet(shuffled, BOX)
    assert [c.time_s for c in sheet.cells] == [f.time_s for f in FRAMES]
    boxes = [(c.x, c.y, c.x + c.w, c.y + c.h) for c in sheet.cells]
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= sheet.width and 0 <= y0 < y1 <= sheet.height
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
    # Cells keep the frames' shape (16:9) and are as large as the box allows.
    c = sheet.cells[0]
    assert abs(c.w / c.h - 16 / 9) < 0.02
    assert c.w >= 350  # 12 frames in 1600 x 1000: a 4 x 3 grid of about 380 px


def test_labels_are_grey_text_below_each_cell() -> None:
    sheet = render_keyframe_sheet(FRAMES, BOX)
    pixels = np.asarray(as_image(sheet))
    background = pixels[0, 0]
    for cell in sheet.cells:
        strip = pixels[cell.y + cell.h + 1 : cell.y + cell.h + 20, cell.x : cell.x + cell.w]
        assert (strip != background).any()  # something is written there
    assert format_time(FRAMES[7].time_s) == "01:10"


def test_columns_can_be_chosen() -> None:
    sheet = render_keyframe_sheet(FRAMES, BOX, columns=2)
    xs = sorted({c.x for c in sheet.cells})
    assert len(xs) == 2
    assert len({c.y for c in sheet.cells}) == 6


def test_blur_steps_on_the_sheet() -> None:
    sheets = [render_keyframe_sheet(FRAMES[:4], BOX, blur_step=k) for k in range(BLUR_STEPS + 1)]
    energies = []
    for sheet in sheets:
        pixels = np.asarray(as_image(sheet), dtype=np.float32)
        c = sheet.cells[0]
        energies.append(hf_energy(pixels[c.y : c.y + c.h, c.x : c.x + c.w]))
    # Steps 3 and 4 are both nearly flat; on 8-bit pixels their order is rounding noise.
    assert energies[0] > energies[1] > energies[2] > max(energies[3:])
    assert all(e < 0.2 * energies[0] for e in energies[1:])
    assert not sheets[0].protected and all(s.protected for s in sheets[1:])
    assert all(s.mode == "L" for s in sheets)


def test_small_videos_are_not_enlarged() -> None:
    tiny = [KeyFrame(t, 160, 120, 160, 120, synthetic.make_image(160, 120, 1).tobytes())
            for t in (0.0, 1.0)]  # fmt: skip
    sheet = render_keyframe_sheet(tiny, BOX)
    assert all((c.w, c.h) == (160, 120) for c in sheet.cells)


def test_mixed_shapes_fit_their_cells() -> None:
    mixed = [frame(0.0), frame(5.0, size=(270, 480)), frame(9.0)]
    sheet = render_keyframe_sheet(mixed, BOX)
    wide, tall = sheet.cells[0], sheet.cells[1]
    assert wide.w > wide.h and tall.h > tall.w
    assert tall.h <= wide.h  # letterboxed into the same cell height


@pytest.mark.parametrize("n", [12, 48])
def test_tiny_box_drops_labels_but_keeps_cells(n: int) -> None:
    frames = [frame(float(i), size=(96, 54), seed=i) for i in range(n)]
    sheet = render_keyframe_sheet(frames, (200, 120))
    assert len(sheet.cells) == n
    assert sheet.width <= 200 and sheet.height <= 120
    assert all(c.w >= 1 and c.h >= 1 for c in sheet.cells)


def test_sheet_from_a_real_video() -> None:
    data = sv.make_video(width=640, height=360, duration_s=6.0, gop_s=1.0, scene_s=1.0)
    frames = keyframes(data)
    sheet = render_keyframe_sheet(frames, BOX)
    assert [c.time_s for c in sheet.cells] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert sheet.mode == "L" and sheet.protected


@pytest.mark.parametrize(
    ("bad", "kwargs"),
    [([], {}), (FRAMES, {"box": (0, 10)}), (FRAMES, {"blur_step": 9})],
)
def test_sheet_refuses_bad_arguments(bad: list[KeyFrame], kwargs: dict) -> None:
    with pytest.raises(ValueError):
        render_keyframe_sheet(bad, **kwargs)


# --- Single frames


def test_frame_protected_matches_picture_protection() -> None:
    f = FRAMES[3]
    prot = render_frame_protected(f, BOX)
    assert prot.mode == "L" and prot.protected and prot.blur_step == DEFAULT_BLUR_STEP
    # As much detail as a 1920x1080 picture keeps at this step, enlarged to exactly its
    # display size: the screen paints it as it is.
    assert raster_size((1920, 1080), DEFAULT_BLUR_STEP) == (185, 104)
    display = fit((1920, 1080), BOX)
    assert (prot.width, prot.height) == display
    assert (prot.source_width, prot.source_height) == (1920, 1080)
    painted = as_image(prot)
    sharp = sharp_grey(f, display)
    assert hf_energy(np.asarray(painted, dtype=np.float32)) < 0.2 * hf_energy(sharp)


def test_frame_protected_colour_and_step_zero() -> None:
    coloured = render_frame_protected(FRAMES[0], BOX, colour=True)
    assert coloured.mode == "RGB" and coloured.protected
    step0 = render_frame_protected(FRAMES[0], BOX, blur_step=0)
    assert not step0.protected


def test_frame_revealed_is_colour_and_as_sharp_as_the_raster_allows() -> None:
    f = FRAMES[0]
    rev = render_frame_revealed(f, (480, 480))
    assert rev.mode == "RGB" and not rev.protected and rev.blur_step == 0
    assert (rev.width, rev.height) == (480, 270)  # the raster's own size: as it is
    assert (rev.source_width, rev.source_height) == (1920, 1080)
    assert rev.data == f.rgb
    # Shown larger than it was decoded: scaled up to the display size, never painted
    # scaled by the screen.
    large = render_frame_revealed(f, BOX)
    assert (large.width, large.height) == fit((1920, 1080), BOX)
    small = render_frame_revealed(f, (240, 240), colour=False)
    assert (small.width, small.height, small.mode) == (240, 135, "L")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "00:00"), (9.99, "00:09"), (61, "01:01"), (3599, "59:59"), (3600, "1:00:00"),
     (36_061, "10:01:01"), (-1, "00:00")],
)  # fmt: skip
def test_format_time(seconds: float, text: str) -> None:
    assert format_time(seconds) == text
