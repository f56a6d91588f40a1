"""reviewer.video: probe and keyframes of synthetic videos in every container, hashes,
and every kind of broken video refused as MediaUnreadable within a time limit, with a
worker process that is stopped when it hangs and replaced when it dies.

Synthetic media only (reviewer.synthetic_video): shapes, gradients, noise and labels.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import signal
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewer import synthetic_video as sv
from reviewer import video_worker
from reviewer.hashing import compute_hashes
from reviewer.media_types import MediaUnreadable
from reviewer.video import (
    inspect_video,
    keyframe_at,
    keyframes,
    probe_video,
    video_hashes,
)
from reviewer.video_container import looks_like_video
from reviewer.video_types import (
    MAX_VIDEO_PIXELS,
    MAX_VIDEO_SIDE,
    KeyFrame,
    VideoProbe,
    check_video_dimensions,
)

# Every broken video must be refused well within this, worker start-up included.
LIMIT_S = 5.0
CONTAINERS = ["mp4", "mov", "mkv", "webm", "ts"]
# 5 s at 10 fps with a keyframe every second: 50 frames, 5 keyframes.
SPEC = sv.VideoSpec(width=320, height=240, fps=10, duration_s=5.0, gop_s=1.0, scene_s=1.0)
VIDEOS = {c: sv.make_video(SPEC, container=c, audio=c in ("mp4", "webm")) for c in CONTAINERS}

EXPECTED_REASON: dict[str, set[str]] = {
    "truncated_mp4": {"truncated"},
    "truncated_mkv": {"truncated"},
    "truncated_webm": {"truncated"},
    "truncated_fragmented_mp4": {"truncated"},
    "zero_frames_mkv": {"no_frames"},
    "zero_frames_mp4": {"no_frames"},
    "huge_dimensions": {"absurd_dimensions"},
    "resolution_switch": {"absurd_dimensions"},
    "absurd_duration": {"absurd_dimensions"},
    "unknown_codec": {"unknown_format"},
    "corrupt_frames": {"corrupt"},
    "garbage": {"corrupt"},
    "not_a_video": {"unknown_format"},
    "audio_only": {"no_frames"},
    "empty": {"empty"},
}
TIMEOUT_REASONS = {"timeout"}


def saturation(frame: KeyFrame) -> float:
    arr = frame.array().astype(np.int16)
    return float((arr.max(axis=2) - arr.min(axis=2)).mean())


def pdq_distance(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


# --- Readable videos


@pytest.mark.parametrize("container", CONTAINERS)
def test_probe_values(container: str) -> None:
    probe = probe_video(VIDEOS[container])
    assert probe == VideoProbe(
        container=container,
        codec="vp9" if container == "webm" else "h264",
        width=320,
        height=240,
        rotation=0,
        duration_s=pytest.approx(5.0, abs=0.05),  # type: ignore[arg-type]
        fps=10.0,
        frame_count_estimate=50,
        has_audio=container in ("mp4", "webm"),
        keyframe_times=(0.0, 1.0, 2.0, 3.0, 4.0),
    )
    assert probe.display_size == (320, 240)


@pytest.mark.parametrize("container", CONTAINERS)
def test_keyframes_are_the_keyframes_in_time_order(container: str) -> None:
    frames = keyframes(VIDEOS[container])
    assert [f.time_s for f in frames] == [0.0, 1.0, 2.0, 3.0, 4.0]
    for f in frames:
        # Never enlarged: a 320 x 240 source stays 320 x 240 under max_side 480.
        assert (f.width, f.height) == (320, 240) == (f.source_width, f.source_height)
        assert len(f.rgb) == 320 * 240 * 3
        assert saturation(f) > 20  # real colour came through the decode
        assert f.pdq is None
    # Each second is a new scene: every keyframe shows a different picture.
    arrays = [f.array().astype(np.int16) for f in frames]
    assert all(np.abs(a - b).mean() > 5 for a, b in itertools.pairwise(arrays))


def test_keyframes_match_a_full_decode() -> None:
    data = VIDEOS["mp4"]
    ours = keyframes(data)
    with av.open(io.BytesIO(data)) as container:
        full = [f for f in container.decode(video=0) if f.key_frame]
    assert len(full) == len(ours)
    for mine, theirs in zip(ours, full, strict=True):
        reference = theirs.to_ndarray(format="rgb24").astype(np.int16)
        assert np.abs(mine.array().astype(np.int16) - reference).mean() < 3


def test_large_frames_come_back_reduced() -> None:
    data = sv.make_video(width=1280, height=720, duration_s=2.0, gop_s=1.0)
    frames = keyframes(data)
    assert [(f.width, f.height, f.source_width, f.source_height) for f in frames] == [
        (480, 270, 1280, 720)
    ] * 2
    big = keyframes(data, max_side=960)
    assert (big[0].width, big[0].height) == (960, 540)


def test_selection_spreads_over_the_whole_video() -> None:
    data = sv.make_video(width=160, height=120, fps=10, duration_s=20.0, gop_s=1.0)
    assert len(probe_video(data).keyframe_times) == 20
    times = [f.time_s for f in keyframes(data, max_frames=5)]
    assert times[0] == 0.0 and times[-1] == 19.0
    assert len(times) == 5 and times == sorted(times)
    gaps = np.diff(times)
    assert gaps.max() - gaps.min() <= 1.0  # evenly spread, to the nearest keyframe


@pytest.mark.parametrize("container", ["mp4", "ts", "mkv"])
def test_b_frames_and_reorder_delay(container: str) -> None:
    # "veryfast" uses B-frames: keyframes come out of the decoder only when drained.
    data = sv.make_video(
        container=container, width=320, height=240, fps=25, duration_s=4.0, gop_s=1.0,
        preset="veryfast",
    )  # fmt: skip
    frames = keyframes(data)
    assert [f.time_s for f in frames] == pytest.approx([0.0, 1.0, 2.0, 3.0], abs=0.05)


@pytest.mark.parametrize(
    ("container", "codec"), [("webm", "vp8"), ("mkv", "hevc"), ("mkv", "mpeg4"), ("mov", "hevc")]
)
def test_other_codecs(container: str, codec: str) -> None:
    data = sv.make_video(SPEC, container=container, codec=codec, duration_s=2.0)
    probe, frames = inspect_video(data)
    assert probe.codec == codec
    assert [f.time_s for f in frames] == [0.0, 1.0]


def test_rotation_is_applied_and_reported() -> None:
    upright = keyframes(sv.make_video(SPEC, duration_s=1.0))[0]
    probe, frames = inspect_video(sv.make_video(SPEC, duration_s=1.0, rotation=90))
    assert (probe.width, probe.height, probe.rotation) == (320, 240, 90)
    assert probe.display_size == (240, 320)
    turned = frames[0]
    assert (turned.width, turned.height) == (240, 320)
    assert (turned.source_width, turned.source_height) == (240, 320)
    # Counter-clockwise, as the display matrix says (and ffmpeg's autorotate does).
    expected = np.rot90(upright.array(), 1).astype(np.int16)
    assert np.abs(turned.array().astype(np.int16) - expected).mean() < 2


def test_keyframe_at_picks_the_keyframe_before() -> None:
    data = sv.make_video(width=1280, height=720, duration_s=3.0, gop_s=1.0)
    frame = keyframe_at(data, 2.5)
    assert frame.time_s == 2.0
    assert (frame.width, frame.height) == (1280, 720)  # under REVEAL_MAX_SIDE
    assert keyframe_at(data, -1.0).time_s == 0.0
    assert keyframe_at(data, 99.0).time_s == 2.0


def test_sniffing_routes_videos_and_not_pictures() -> None:
    assert all(looks_like_video(data) for data in VIDEOS.values())
    assert not looks_like_video(b"\x89PNG\r\n\x1a\n" + bytes(64))
    assert not looks_like_video(b"\xff\xd8\xff\xe0" + bytes(64))
    assert not looks_like_video(b"")


@pytest.mark.parametrize("kwargs", [{"max_frames": 0}, {"max_side": 0}, {"time_limit_s": 0}])
def test_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        keyframes(VIDEOS["mp4"], **kwargs)


def test_repeated_bytes_are_not_resent_yet_never_confused() -> None:
    a, b = VIDEOS["mp4"], VIDEOS["webm"]
    copy_of_a = bytes(bytearray(a))  # equal content, another object: sent again
    results = [probe_video(x).container for x in (a, a, b, a, copy_of_a, bytearray(b))]
    assert results == ["mp4", "mp4", "webm", "mp4", "mp4", "webm"]
    assert keyframe_at(a, 3.5).time_s == 3.0 and keyframe_at(a, 1.2).time_s == 1.0


def test_isolated_and_in_process_agree() -> None:
    data = VIDEOS["mkv"]
    assert inspect_video(data) == inspect_video(data, isolate=False)


# --- Hashes


def test_video_hashes() -> None:
    data = VIDEOS["mp4"]
    probe, frames = inspect_video(data)
    hashes = video_hashes(data, frames)
    assert hashes.sha256 == hashlib.sha256(data).hexdigest()
    assert hashes.md5 == hashlib.md5(data).hexdigest()
    assert [h.time_s for h in hashes.frames] == list(probe.keyframe_times)
    assert all(len(h.pdq) == 32 and len(h.hex) == 64 for h in hashes.frames)
    assert all(h.quality >= 50 for h in hashes.frames)
    # Without frames (or frames without PDQ) it decodes them itself, with the same result.
    assert video_hashes(data) == hashes
    assert video_hashes(data, keyframes(data)) == hashes


@pytest.mark.parametrize(
    ("size", "rotation"), [((1280, 720), 0), ((640, 480), 90), ((200, 150), 0)]
)
def test_a_keyframe_hashes_as_the_same_frame_saved_as_a_png(
    size: tuple[int, int], rotation: int
) -> None:
    """Keyframes go through the still-picture hasher: the frame, decoded independently
    and saved as a PNG, gets the same PDQ within a bit or two (chroma upsampling may
    differ by a shade), so a video frame matches a list entry made from a screenshot."""
    data = sv.make_video(width=size[0], height=size[1], duration_s=2.0, rotation=rotation)
    frames = keyframes(data, pdq=True)
    with av.open(io.BytesIO(data)) as container:
        decoded = [f.to_image() for f in container.decode(video=0) if f.key_frame]
    assert len(frames) == len(decoded) == 2
    for mine, picture in zip(frames, decoded, strict=True):
        upright = picture.rotate(rotation, expand=True) if rotation else picture
        assert (mine.source_width, mine.source_height) == upright.size
        png = io.BytesIO()
        upright.save(png, "PNG")
        still = compute_hashes(png.getvalue())
        assert mine.pdq is not None and still.pdq is not None
        assert pdq_distance(mine.pdq, still.pdq) <= 2
        assert abs((mine.pdq_quality or 0) - (still.pdq_quality or 0)) <= 5


def test_pdq_survives_a_resize_and_tells_scenes_apart() -> None:
    small = keyframes(sv.make_video(width=640, height=480, duration_s=2.0), pdq=True)
    large = keyframes(sv.make_video(width=1280, height=960, duration_s=2.0), pdq=True)
    for a, b in zip(small, large, strict=True):
        assert a.pdq is not None and b.pdq is not None
        assert pdq_distance(a.pdq, b.pdq) <= 31  # PDQ's usual match threshold
    scenes = keyframes(sv.make_video(SPEC, width=640, height=480), pdq=True)
    assert scenes[0].pdq is not None and scenes[1].pdq is not None
    assert pdq_distance(scenes[0].pdq, scenes[1].pdq) > 31


# --- Broken videos


@pytest.mark.parametrize("kind", sorted(EXPECTED_REASON))
def test_broken_video_is_refused_quickly(kind: str) -> None:
    data = sv.BROKEN_KINDS[kind](0)
    start = time.monotonic()
    with pytest.raises(MediaUnreadable) as info:
        keyframes(data, time_limit_s=LIMIT_S)
    assert time.monotonic() - start < LIMIT_S
    assert info.value.reason in EXPECTED_REASON[kind], info.value
    assert info.value.detail


def test_every_broken_kind_is_covered() -> None:
    assert set(sv.BROKEN_KINDS) == set(EXPECTED_REASON)


def test_probe_refuses_broken_headers_without_decoding_much() -> None:
    for kind in ("huge_dimensions", "absurd_duration", "unknown_codec", "zero_frames_mkv"):
        with pytest.raises(MediaUnreadable) as info:
            probe_video(sv.BROKEN_KINDS[kind](0))
        assert info.value.reason in EXPECTED_REASON[kind]


@pytest.mark.parametrize(
    ("size", "ok"),
    [
        ((1920, 1080), True),
        ((1080, 1920), True),
        ((7680, 4320), True),
        ((8192, 4320), True),
        ((MAX_VIDEO_SIDE + 2, 1000), False),
        ((8192, 4322), False),  # over MAX_VIDEO_PIXELS
        ((4000, 50), False),  # 80:1
        ((0, 480), False),
    ],
)
def test_check_video_dimensions(size: tuple[int, int], ok: bool) -> None:
    assert MAX_VIDEO_PIXELS == 8192 * 4320
    if ok:
        check_video_dimensions(*size)
    else:
        with pytest.raises(MediaUnreadable) as info:
            check_video_dimensions(*size)
        assert info.value.reason == "absurd_dimensions"


def test_time_limit_inside_the_worker() -> None:
    data = sv.make_video(width=640, height=360, duration_s=10.0, gop_s=0.5)
    start = time.monotonic()
    with pytest.raises(MediaUnreadable) as info:
        keyframes(data, time_limit_s=0.001)
    assert time.monotonic() - start < LIMIT_S
    assert info.value.reason in TIMEOUT_REASONS
    assert "longer than" in info.value.detail
    # The worker reported it itself, so it is still the same healthy process.
    assert len(keyframes(data, max_frames=2)) == 2


# Stand-in workers: they start like the real one, then misbehave on the first request.
_READY = "import sys; sys.stdout.buffer.write(b'R'); sys.stdout.flush(); "
HANGS = [sys.executable, "-c", _READY + "import time; sys.stdin.buffer.read(4); time.sleep(60)"]
CRASHES = [sys.executable, "-c", _READY + "import os; sys.stdin.buffer.read(4); os.abort()"]
# Claims a 8000 x 8000 frame: the caller must refuse it before reading 192 MB.
LIES = [
    sys.executable,
    "-c",
    _READY
    + "import json, struct; sys.stdin.buffer.read(4); "
    + "h = json.dumps({'ok': True, 'frames': [{'width': 8000, 'height': 8000}]}).encode(); "
    + "sys.stdout.buffer.write(struct.pack('>I', len(h)) + h); sys.stdout.flush(); "
    + "import time; time.sleep(60)",
]
REQUEST = {"limit_s": 0.5, "max_frames": 4, "max_side": 64, "pdq": False, "at": None}


def test_a_hung_worker_is_killed_at_the_limit() -> None:
    worker = video_worker._Worker(HANGS)
    try:
        start = time.monotonic()
        with pytest.raises(MediaUnreadable) as info:
            worker.call(REQUEST, b"x" * 1000, kill_after_s=0.5, max_payload=1 << 20)
        assert time.monotonic() - start < 3.0
        assert info.value.reason in TIMEOUT_REASONS
        assert "stopped" in info.value.detail
        assert worker._proc is None  # killed, to be replaced on the next call
    finally:
        worker.close()


@pytest.mark.parametrize("command", [CRASHES, LIES], ids=["crash", "malformed_reply"])
def test_a_failing_worker_means_corrupt_not_a_crash(command: list[str]) -> None:
    worker = video_worker._Worker(command)
    try:
        start = time.monotonic()
        with pytest.raises(MediaUnreadable) as info:
            worker.call(REQUEST, b"x" * 1000, kill_after_s=5.0, max_payload=1 << 20)
        assert time.monotonic() - start < LIMIT_S
        assert info.value.reason == "corrupt"
        assert worker._proc is None
    finally:
        worker.close()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
def test_the_real_worker_is_replaced_after_it_dies() -> None:
    keyframes(VIDEOS["mp4"], max_frames=1)
    proc = video_worker._WORKER._proc
    assert proc is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(keyframes(VIDEOS["mp4"])) == 5
    assert video_worker._WORKER._proc is not proc


def test_calls_from_several_threads_are_served_in_turn() -> None:
    results: list[int] = []

    def work(container: str) -> None:
        results.append(len(keyframes(VIDEOS[container])))

    threads = [threading.Thread(target=work, args=(c,)) for c in CONTAINERS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [5] * len(CONTAINERS)


def test_nothing_is_written_to_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A fresh worker whose working and temporary directories are empty ones of ours.
    work, temp = tmp_path / "cwd", tmp_path / "tmp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    for name in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.setenv(name, str(temp))
    worker = video_worker._Worker()
    monkeypatch.setattr(video_worker, "_WORKER", worker)
    try:
        inspect_video(VIDEOS["mkv"])
        inspect_video(VIDEOS["ts"], isolate=False)
        with pytest.raises(MediaUnreadable):
            keyframes(sv.corrupt_frames())
    finally:
        worker.close()
    assert list(work.iterdir()) == [] and list(temp.iterdir()) == []


# --- Fuzzing: damaged copies of real videos never escape as anything but MediaUnreadable.

FUZZ = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
SEEDS = {c: sv.make_video(width=160, height=120, duration_s=1.0, gop_s=0.5, container=c)
         for c in ("mp4", "mkv", "ts")}  # fmt: skip


@FUZZ
@given(
    container=st.sampled_from(sorted(SEEDS)),
    edits=st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=16)), max_size=8),
    cut=st.floats(0.05, 1.0),
)
def test_damaged_videos_only_raise_media_unreadable(
    container: str, edits: list[tuple[float, bytes]], cut: float
) -> None:
    data = bytearray(SEEDS[container])
    for where, patch in edits:
        pos = int(where * (len(data) - 1))
        data[pos : pos + len(patch)] = patch
    damaged = bytes(data[: max(1, int(len(data) * cut))])
    start = time.monotonic()
    try:
        probe, frames = inspect_video(damaged, max_frames=4, time_limit_s=LIMIT_S)
    except MediaUnreadable:
        pass
    else:
        assert frames and all(len(f.rgb) == f.width * f.height * 3 for f in frames)
        assert probe.width > 0 and probe.height > 0
    assert time.monotonic() - start < LIMIT_S + video_worker.KILL_GRACE_S
