"""reviewer.media: every kind of bad upload is refused with the right reason, and
nothing but MediaUnreadable ever escapes, whatever the bytes."""

from __future__ import annotations

import builtins
import io
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from reviewer import synthetic
from reviewer.hashing import compute_hashes
from reviewer.media import open_image, probe
from reviewer.media_types import MAX_PIXELS, MediaProbe, MediaUnreadable, check_dimensions

EXPECTED_REASON = {
    "truncated": "truncated",
    "zero_byte": "empty",
    "unknown_format": "unknown_format",
    "decompression_bomb": "decompression_bomb",
}

# No example database: test runs leave nothing behind in the tree.
FUZZ = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def _encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


SMALL = synthetic.make_image(96, 64, seed=3)
VALID_SMALL = {
    "JPEG": _encode(SMALL, "JPEG"),
    "PNG": _encode(SMALL, "PNG"),
    "WEBP": _encode(SMALL, "WEBP"),
    "GIF": _encode(SMALL, "GIF"),
    "BMP": _encode(SMALL, "BMP"),
}


def test_every_broken_kind_has_an_expected_reason() -> None:
    # A new broken kind in synthetic.py must be given its reason here.
    assert set(EXPECTED_REASON) == set(synthetic.BROKEN_KINDS)


@pytest.mark.parametrize("kind", sorted(synthetic.BROKEN_KINDS))
def test_broken_kind_raises_with_reason(kind: str) -> None:
    data = synthetic.BROKEN_KINDS[kind]()
    with pytest.raises(MediaUnreadable) as info:
        probe(data)
    reason = EXPECTED_REASON[kind]
    assert info.value.reason == reason
    message = str(info.value)
    assert message.startswith(f"{reason}: ")
    assert len(message) > len(reason) + 4
    assert "0x" not in message  # no object reprs leak into what people read


@pytest.mark.parametrize("kind", ["zero_byte", "unknown_format", "decompression_bomb"])
def test_open_image_refuses_before_decoding(kind: str) -> None:
    with pytest.raises(MediaUnreadable) as info:
        open_image(synthetic.BROKEN_KINDS[kind]())
    assert info.value.reason == EXPECTED_REASON[kind]


def test_a_long_strip_is_opened_whatever_its_shape() -> None:
    with open_image(synthetic.png_with_header(1, 1_000_000)) as img:
        assert img.size == (1, 1_000_000)


def test_open_image_returns_unloaded_image() -> None:
    with open_image(synthetic.make_jpeg(0.3, seed=1)) as img:
        assert img.format == "JPEG"
        assert img.size == (640, 480)


@pytest.mark.parametrize("megapixels", [0.3, 1, 2])
def test_valid_jpeg_probes_to_its_size(megapixels: float) -> None:
    assert probe(synthetic.make_jpeg(megapixels, seed=2)) == MediaProbe(
        "JPEG", *synthetic.size_for(megapixels)
    )


def test_valid_png_probes_to_its_size() -> None:
    assert probe(synthetic.make_png(1, seed=2)) == MediaProbe("PNG", *synthetic.size_for(1))


@pytest.mark.parametrize("fmt", sorted(VALID_SMALL))
def test_each_accepted_format_probes(fmt: str) -> None:
    assert probe(VALID_SMALL[fmt]) == MediaProbe(fmt, 96, 64)


def test_formats_outside_the_list_are_unknown() -> None:
    with pytest.raises(MediaUnreadable) as info:
        probe(_encode(SMALL, "TIFF"))
    assert info.value.reason == "unknown_format"


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.75, 0.9, 0.99])
def test_jpeg_truncated_anywhere_in_the_scan_is_truncated(fraction: float) -> None:
    data = synthetic.make_jpeg(1, seed=4)
    with pytest.raises(MediaUnreadable) as info:
        probe(data[: int(len(data) * fraction)])
    assert info.value.reason == "truncated"


@pytest.mark.parametrize("fraction", [0.2, 0.6, 0.99])
def test_progressive_jpeg_truncated_is_truncated(fraction: float) -> None:
    buf = io.BytesIO()
    synthetic.make_image(640, 480, seed=4).save(buf, "JPEG", progressive=True)
    data = buf.getvalue()
    assert probe(data) == MediaProbe("JPEG", 640, 480)
    with pytest.raises(MediaUnreadable) as info:
        probe(data[: int(len(data) * fraction)])
    assert info.value.reason == "truncated"


def test_jpeg_missing_only_its_end_marker_is_truncated() -> None:
    data = synthetic.make_jpeg(0.3, seed=4)
    assert data.endswith(b"\xff\xd9")
    with pytest.raises(MediaUnreadable) as info:
        probe(data[:-2])
    assert info.value.reason == "truncated"


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_truncated_png_is_truncated(fraction: float) -> None:
    data = synthetic.make_png(0.3, seed=4)
    with pytest.raises(MediaUnreadable) as info:
        probe(data[: int(len(data) * fraction)])
    assert info.value.reason == "truncated"


@pytest.mark.parametrize(
    ("width", "height", "reason"),
    [
        (10_001, 10_000, "decompression_bomb"),  # just over MAX_PIXELS
        (MAX_PIXELS + 1, 1, "decompression_bomb"),  # a strip is still held to it
        (0, 100, "absurd_dimensions"),
    ],
)
def test_dimension_limits(width: int, height: int, reason: str) -> None:
    with pytest.raises(MediaUnreadable) as info:
        check_dimensions(width, height)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("width", "height"),
    [(10_000, 10_000), (20_000, 50), (50, 20_000), (MAX_PIXELS, 1), (1, MAX_PIXELS)],
)
def test_any_shape_within_the_pixel_limit_passes(width: int, height: int) -> None:
    assert width * height <= MAX_PIXELS
    check_dimensions(width, height)


@pytest.mark.parametrize(("width", "height"), [(20_000, 50), (50, 20_000), (30_000, 3)])
def test_long_strips_are_readable_and_hashed(width: int, height: int) -> None:
    data = synthetic.make_strip(width, height, seed=3)
    assert probe(data) == MediaProbe("PNG", width, height)
    assert compute_hashes(data).pdq is not None


def test_header_at_the_aspect_limit_passes_checks_then_fails_as_truncated() -> None:
    # 40:1 is allowed, so the decoder runs and finds the pixel data missing.
    with pytest.raises(MediaUnreadable) as info:
        probe(synthetic.png_with_header(4_000, 100))
    assert info.value.reason == "truncated"


def test_reason_survives_pickling() -> None:
    err = MediaUnreadable("truncated")
    back = pickle.loads(pickle.dumps(err))
    assert (back.reason, str(back)) == ("truncated", str(err))


def test_load_truncated_images_stays_off() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_probe_fails_closed_if_pillow_is_told_to_pad(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(MediaUnreadable):
        probe(synthetic.truncated_jpeg())


def test_probe_touches_no_files(monkeypatch: pytest.MonkeyPatch) -> None:
    data = synthetic.make_png(0.3, seed=5)
    jpeg = synthetic.make_jpeg(0.3, seed=5)
    probe(data)  # plugins imported before the trap is set

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"file opened: {args!r}")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(os, "open", refuse)
    probe(data)
    probe(jpeg)


def test_no_qt_or_sqlalchemy_imported() -> None:
    code = (
        "import sys, reviewer.media, wellbeing.render\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'sqlalchemy')]\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


# --- Fuzzing: whatever the bytes, only MediaProbe or MediaUnreadable comes back.


def _probe_or_reason(data: bytes) -> MediaProbe | str:
    try:
        return probe(data)
    except MediaUnreadable as exc:
        assert exc.reason in EXPECTED_REASON.values() or exc.reason == "corrupt"
        return exc.reason


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise_anything_else(data: bytes) -> None:
    _probe_or_reason(data)


@FUZZ
@given(
    st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"BM", b"RIFF"]),
    st.binary(max_size=2048),
)
def test_plausible_headers_with_garbage_never_raise_anything_else(
    magic: bytes, rest: bytes
) -> None:
    _probe_or_reason(magic + rest)


@FUZZ
@given(
    st.sampled_from(sorted(VALID_SMALL)),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(0, 10**6),
)
def test_damaged_valid_files_never_raise_anything_else(
    fmt: str, flips: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(VALID_SMALL[fmt])
    for pos, value in flips:
        data[pos % len(data)] = value
    _probe_or_reason(bytes(data[: max(1, cut % (len(data) + 1))]))
