"""wellbeing.render: the protected raster is grey, blurred, steppable and true to shape;
the revealed raster is colour and sharp; bad bytes only ever raise MediaUnreadable."""

from __future__ import annotations

import io
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageOps

from reviewer import synthetic
from reviewer.media_types import MediaUnreadable
from reviewer.video_types import KeyFrame
from wellbeing.keyframes import render_frame_protected, render_keyframe_sheet
from wellbeing.render import (
    BLUR_STEPS,
    DEFAULT_BLUR_STEP,
    REFERENCE_PIXELS,
    SCREEN_MODE,
    STYLISED_TONES,
    Rendered,
    display_size,
    fit,
    raster_size,
    reference_size,
    render_protected,
    render_revealed,
)

BOX = (1600, 1000)
JPEG_2MP = synthetic.make_jpeg(2, seed=11)
PNG_1MP = synthetic.make_png(1, seed=12)


def as_image(r: Rendered) -> Image.Image:
    assert len(r.data) == r.width * r.height * len(r.mode)
    return Image.frombytes(r.mode, (r.width, r.height), r.data)


def painted(r: Rendered, size: tuple[int, int]) -> np.ndarray:
    """The raster as the UI paints it: smoothly (bilinear) scaled to `size`, as grey.

    Scaled in float: rounding to 8 bits would add a Laplacian noise floor that hides
    the differences between the strongly blurred steps.
    """
    img = as_image(r).convert("L").convert("F").resize(size, Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32)


def hf_energy(grey: np.ndarray) -> float:
    """Mean absolute 4-neighbour Laplacian: how much fine detail there is."""
    lap = 4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:]
    return float(np.abs(lap).mean())


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def coarse(grey: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    img = Image.fromarray(grey.astype(np.uint8)).resize(size, Image.Resampling.BOX)
    return np.asarray(img, dtype=np.float32)


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


@pytest.mark.parametrize("data", [JPEG_2MP, PNG_1MP], ids=["jpeg", "png"])
def test_protected_is_grey_and_far_less_detailed(data: bytes) -> None:
    sharp = render_revealed(data, BOX, colour=False)
    prot = render_protected(data, BOX)
    assert prot.mode == "L"
    assert prot.protected
    assert prot.blur_step == DEFAULT_BLUR_STEP
    display = (sharp.width, sharp.height)
    ratio = hf_energy(painted(prot, display)) / hf_energy(painted(sharp, display))
    assert ratio < 0.2


def test_protected_colour_false_has_zero_saturation_even_when_asked_for_rgb_later() -> None:
    arr = np.asarray(as_image(render_protected(JPEG_2MP, BOX)).convert("RGB"))
    assert (arr[..., 0] == arr[..., 1]).all()
    assert (arr[..., 1] == arr[..., 2]).all()


def test_protected_colour_true_keeps_colour_but_still_blurs() -> None:
    prot = render_protected(JPEG_2MP, BOX, colour=True)
    assert prot.mode == "RGB"
    assert prot.protected
    arr = np.asarray(as_image(prot)).astype(int)
    assert np.abs(arr[..., 0] - arr[..., 2]).mean() > 5


def test_step_one_still_shows_the_shapes() -> None:
    sharp = render_revealed(JPEG_2MP, BOX, colour=False)
    display = (sharp.width, sharp.height)
    step1 = painted(render_protected(JPEG_2MP, BOX, blur_step=1), display)
    small = (display[0] // 16, display[1] // 16)
    reference = np.asarray(as_image(sharp), dtype=np.float32)
    # At coarse scale the layout (gradients, shapes, label block) survives intact.
    assert correlation(coarse(step1, small), coarse(reference, small)) > 0.9
    assert hf_energy(step1) < hf_energy(reference)


def fidelity(r: Rendered, sharp: Rendered) -> float:
    """How much of the picture a rendering keeps: its correlation with the unprotected
    picture, both as painted at display size. The detail measure the protection ladder
    is held to: every step strictly below the one before."""
    display = (sharp.width, sharp.height)
    return correlation(painted(r, display), np.asarray(as_image(sharp), dtype=np.float32))


def test_higher_steps_are_smaller_and_softer() -> None:
    sharp = render_revealed(JPEG_2MP, BOX, colour=False)
    display = (sharp.width, sharp.height)
    source = synthetic.size_for(2)
    sizes = [raster_size(source, k) for k in range(1, BLUR_STEPS + 1)]
    assert [w * h for w, h in sizes] == sorted((w * h for w, h in sizes), reverse=True)
    renders = [render_protected(JPEG_2MP, BOX, blur_step=k) for k in range(BLUR_STEPS + 1)]
    kept = [fidelity(r, sharp) for r in renders]
    assert kept == sorted(kept, reverse=True)
    assert len(set(kept)) == len(kept)
    energies = [hf_energy(painted(r, display)) for r in renders]
    assert all(e < 0.2 * energies[0] for e in energies[1:])
    assert (renders[0].width, renders[0].height) == display  # step 0: no blur at all
    assert not renders[0].protected


# Many pictures of every shape and size a queue holds, long strips included.
_SHAPES = [
    (4032, 3024),
    (3024, 4032),
    (1224, 816),
    (640, 480),
    (320, 240),
    (1600, 1600),
    (4000, 300),
    (300, 4000),
    (2000, 1125),
    (800, 1200),
    (5000, 3750),
    (160, 120),
]
LADDER_CASES = [(w, h, seed) for seed, (w, h) in enumerate(_SHAPES * 2)]


def ladder(data: bytes, stylised: bool) -> list[float]:
    sharp = render_revealed(data, BOX, colour=False)
    return [
        fidelity(render_protected(data, BOX, blur_step=k, stylised=stylised), sharp)
        for k in range(1, BLUR_STEPS + 1)
    ]


def ladder_picture(width: int, height: int, seed: int) -> bytes:
    img = synthetic.make_image(width, height, seed=seed)
    return encode(img, "JPEG", quality=90) if seed % 2 else encode(img, "PNG")


@pytest.mark.parametrize(("width", "height", "seed"), LADDER_CASES)
def test_each_step_keeps_strictly_less_detail_than_the_one_before(
    width: int, height: int, seed: int
) -> None:
    data = ladder_picture(width, height, seed)
    kept = ladder(data, stylised=False)
    assert all(a > b for a, b in pairwise(kept)), kept
    # The reduced-detail view never keeps as much as one step less blur would.
    stylised = ladder(data, stylised=True)
    assert all(s < b for s, b in zip(stylised[1:], kept, strict=False)), (stylised, kept)


def test_stylised_view_keeps_less_than_its_own_blur_step_on_average() -> None:
    cases = LADDER_CASES[:: len(LADDER_CASES) // 8]
    blur = np.mean([ladder(ladder_picture(*case), stylised=False) for case in cases], axis=0)
    flat = np.mean([ladder(ladder_picture(*case), stylised=True) for case in cases], axis=0)
    assert (flat < blur).all(), (flat, blur)


@pytest.mark.parametrize("step", range(1, BLUR_STEPS + 1))
def test_the_same_step_shows_the_same_picture_whatever_box_it_was_rendered_for(
    step: int,
) -> None:
    # Rendered ahead for the default box, or after a restart for the laid-out canvas:
    # the moderator must see the same detail either way.
    boxes = [(1280, 960), (1017, 713), (1920, 1080), (700, 900)]
    tiny = raster_size(synthetic.size_for(2), step)

    def seen(box: tuple[int, int]) -> np.ndarray:
        shown = as_image(render_protected(JPEG_2MP, box, blur_step=step))
        return np.asarray(shown.resize(tiny, Image.Resampling.BOX), dtype=np.float32)

    first, *others = [seen(box) for box in boxes]
    for other in others:
        assert np.abs(other - first).max() <= 8
        assert correlation(other, first) > 0.99
    assert render_protected(JPEG_2MP, boxes[0], blur_step=step) == render_protected(
        JPEG_2MP, boxes[0], blur_step=step
    )


def test_stylised_view_is_a_few_flat_grey_tones() -> None:
    prot = render_protected(JPEG_2MP, BOX, colour=True, stylised=True)
    assert prot.mode == "L"
    assert prot.protected
    assert len(set(prot.data)) <= STYLISED_TONES


@pytest.mark.parametrize(
    "source",
    [(4032, 3024), (3024, 4032), (1224, 816), (4000, 100), (100, 4000), (10, 10), (7, 3)],
)
@pytest.mark.parametrize("step", range(1, BLUR_STEPS + 1))
def test_aspect_ratio_is_kept_and_raster_is_small(source: tuple[int, int], step: int) -> None:
    w, h = raster_size(source, step)
    sw, sh = source
    assert abs(w - h * sw / sh) <= 1 or abs(h - w * sh / sw) <= 1
    ref = reference_size(source)
    assert ref[0] * ref[1] <= REFERENCE_PIXELS
    factor = 2 ** (step + 1)
    assert w <= max(1, -(-ref[0] // factor))
    assert h <= max(1, -(-ref[1] // factor))


def test_thumbnails_are_capped_by_their_box() -> None:
    source = synthetic.size_for(2)
    assert raster_size(source, 2, cap=(160, 120)) == (20, 15)
    thumb = render_protected(JPEG_2MP, (160, 120), thumbnail=True)
    assert (thumb.width, thumb.height) == (160, 120)


def test_render_keeps_aspect_for_a_portrait_png() -> None:
    data = encode(synthetic.make_image(600, 900, seed=2), "PNG")
    prot = render_protected(data, BOX)
    assert (prot.source_width, prot.source_height) == (600, 900)
    assert abs(prot.width / prot.height - 600 / 900) < 0.02


def test_small_images_are_not_enlarged_so_protection_stays_relative() -> None:
    data = encode(synthetic.make_image(160, 120, seed=2), "PNG")
    assert (render_revealed(data, BOX).width, render_revealed(data, BOX).height) == (160, 120)
    assert raster_size((160, 120), DEFAULT_BLUR_STEP) == (20, 15)
    prot = render_protected(data, BOX)
    assert (prot.width, prot.height) == (160, 120)


def test_revealed_is_colour_sharp_and_fits_the_box() -> None:
    rev = render_revealed(JPEG_2MP, BOX)
    prot = render_protected(JPEG_2MP, BOX)
    assert rev.mode == "RGB"
    assert not rev.protected
    assert rev.blur_step == 0
    assert (rev.width, rev.height) == fit(synthetic.size_for(2), BOX) == (1333, 1000)
    arr = np.asarray(as_image(rev)).astype(int)
    assert np.abs(arr[..., 0] - arr[..., 2]).mean() > 5
    display = (rev.width, rev.height)
    assert hf_energy(painted(rev, display)) > 5 * hf_energy(painted(prot, display))


def test_anything_unblurred_counts_as_unprotected() -> None:
    # Full detail is a reveal for the exposure meter, greyscale or not.
    rev = render_revealed(JPEG_2MP, BOX, colour=False)
    assert (rev.mode, rev.protected) == ("L", False)
    step0 = render_protected(JPEG_2MP, BOX, blur_step=0)
    assert (step0.mode, step0.protected, step0.blur_step) == ("L", False, 0)


def asymmetric() -> Image.Image:
    # A white block top-left on black: any wrong rotation or flip moves it.
    img = Image.new("RGB", (400, 200), "black")
    ImageDraw.Draw(img).rectangle((0, 0, 120, 60), fill="white")
    return img


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_orientation_is_applied(orientation: int, fmt: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(asymmetric(), fmt, exif=exif.tobytes())
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("L")
    rev = render_revealed(data, BOX, colour=False)
    assert (rev.source_width, rev.source_height) == expected.size
    assert (rev.width, rev.height) == expected.size
    got = np.asarray(as_image(rev), dtype=np.float32)
    assert correlation(got, np.asarray(expected, dtype=np.float32)) > 0.95
    prot = render_protected(data, BOX, blur_step=1)
    assert abs(prot.width / prot.height - expected.width / expected.height) < 0.05
    small = np.asarray(expected.resize((prot.width, prot.height), Image.Resampling.BOX))
    assert correlation(np.asarray(as_image(prot), dtype=np.float32), small) > 0.8


def test_transparent_pixels_show_as_grey_not_their_hidden_colour() -> None:
    img = Image.new("RGBA", (400, 300), (255, 255, 255, 0))
    prot = render_protected(encode(img, "PNG"), BOX, blur_step=1)
    assert set(prot.data) == {128}
    rev = render_revealed(encode(img, "PNG"), BOX)
    assert set(rev.data) == {128}


def test_sixteen_bit_grey_keeps_its_tones() -> None:
    ramp = np.tile(np.linspace(0, 65535, 256, dtype=np.uint16), (64, 1))
    data = encode(Image.fromarray(ramp), "PNG")
    rev = np.asarray(as_image(render_revealed(data, BOX, colour=False)), dtype=np.float32)
    assert rev.min() < 10
    assert rev.max() > 245
    assert 100 < rev.mean() < 155


@pytest.mark.parametrize("fmt", ["WEBP", "GIF", "BMP"])
def test_other_formats_render(fmt: str) -> None:
    data = encode(synthetic.make_image(320, 240, seed=9), fmt)
    prot = render_protected(data, BOX)
    assert (prot.mode, prot.width, prot.height) == ("L", 320, 240)
    assert raster_size((320, 240), DEFAULT_BLUR_STEP) == (40, 30)
    assert render_revealed(data, BOX).mode == "RGB"


@pytest.mark.parametrize("kind", sorted(synthetic.BROKEN_KINDS))
def test_broken_media_raises_media_unreadable(kind: str) -> None:
    data = synthetic.BROKEN_KINDS[kind]()
    with pytest.raises(MediaUnreadable):
        render_protected(data, BOX)
    with pytest.raises(MediaUnreadable):
        render_revealed(data, BOX)


@pytest.mark.parametrize("step", [-1, BLUR_STEPS + 1, 1.5, True])
def test_bad_blur_step_is_a_programming_error(step: int) -> None:
    with pytest.raises(ValueError):
        render_protected(JPEG_2MP, BOX, blur_step=step)
    # One step check for every protected raster: a keyframe sheet or frame takes no
    # step a picture would refuse (its own copy once let 1.5 through).
    frame = KeyFrame(0.0, 64, 48, 640, 480, bytes(64 * 48 * 3))
    with pytest.raises(ValueError):
        render_keyframe_sheet([frame], BOX, blur_step=step)
    with pytest.raises(ValueError):
        render_frame_protected(frame, BOX, blur_step=step)


@pytest.mark.parametrize(
    ("source", "box"),
    [((1920, 1080), BOX), ((600, 900), BOX), ((20_000, 50), (900, 600)), ((60, 9_000), BOX)],
)
@pytest.mark.parametrize("step", range(BLUR_STEPS + 1))
def test_rasters_come_finished_at_their_display_size(
    source: tuple[int, int], box: tuple[int, int], step: int
) -> None:
    """Whatever the shape (long strips included) and step, the raster is exactly the
    size it is shown at, so the screen copies it instead of scaling it."""
    data = encode(synthetic.make_image(*source, seed=3), "PNG")
    shown = display_size(source, box)
    prot = render_protected(data, box, blur_step=step)
    assert (prot.width, prot.height) == shown
    assert (render_revealed(data, box).width, render_revealed(data, box).height) == shown


@pytest.mark.parametrize("colour", [False, True])
def test_finished_for_a_screen_is_the_same_picture_in_32_bit_pixels(colour: bool) -> None:
    plain = render_protected(JPEG_2MP, BOX, colour=colour)
    packed = render_protected(JPEG_2MP, BOX, colour=colour, screen=True)
    assert packed.mode == SCREEN_MODE and (packed.width, packed.height) == (
        plain.width,
        plain.height,
    )
    assert len(packed.data) == packed.width * packed.height * 4
    # 0xffRRGGBB in the machine's byte order: decoded the same way a screen reads it.
    words = np.frombuffer(packed.data, dtype=np.uint32)
    assert (words >> 24 == 0xFF).all()
    rgb = np.stack([(words >> 16) & 0xFF, (words >> 8) & 0xFF, words & 0xFF], axis=-1)
    expected = np.asarray(as_image(plain).convert("RGB")).reshape(-1, 3)
    assert np.array_equal(rgb.astype(np.uint8), expected)
    if not colour:
        assert (rgb[:, 0] == rgb[:, 1]).all() and (rgb[:, 1] == rgb[:, 2]).all()
    assert packed.protected and packed.blur_step == plain.blur_step


@pytest.mark.parametrize("box", [(0, 100), (100, 0), (-5, -5)])
def test_bad_box_is_a_programming_error(box: tuple[int, int]) -> None:
    with pytest.raises(ValueError):
        render_protected(JPEG_2MP, box)
    with pytest.raises(ValueError):
        render_revealed(JPEG_2MP, box)


SMALL_JPEG = synthetic.make_jpeg(0.3, seed=13)


@settings(
    max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
    st.integers(1, 10**6),
    st.integers(0, BLUR_STEPS),
)
def test_damaged_jpeg_never_raises_anything_else(
    flips: list[tuple[int, int]], cut: int, step: int
) -> None:
    data = bytearray(SMALL_JPEG)
    for pos, value in flips:
        data[pos % len(data)] = value
    damaged = bytes(data[: cut % len(data) + 1])
    for render in (
        lambda: render_protected(damaged, BOX, blur_step=step),
        lambda: render_revealed(damaged, BOX),
    ):
        try:
            out = render()
        except MediaUnreadable:
            continue
        assert len(out.data) == out.width * out.height * len(out.mode)
