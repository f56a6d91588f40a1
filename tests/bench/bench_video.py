"""Benchmark: bytes of a long 1080p video to its protected keyframe sheet, and hashing.

Run from the repository root:

    python tests/bench/bench_video.py [--minutes 10] [--reps 5]

The video is synthetic (reviewer.synthetic_video: gradients, noise, moving shapes and
a label; 1920 x 1080, 10 fps, a keyframe every 10 s, H.264 in MP4), generated once
per run in memory; its generation time is reported on its own. Timed cases, each from
the bytes in memory:

- floor: the least any approach to this sheet must do: demux every packet and decode
  the same 48 keyframes, in this process, converting nothing;
- ours: reviewer.video.keyframes (worker process, index seek, keyframes only, reduced
  to 480 px) then wellbeing.keyframes.render_keyframe_sheet: the Rendered sheet;
- ours_in_process: the same with isolate=False, to show what the worker costs;
- naive: decode every frame, keep the keyframes, reduce them, same sheet (run once).

Hashing: SHA-256 + MD5 of the file, and PDQ per keyframe (the whole frame fitted into
512 x 512 as for a picture, in the worker), as the extra time keyframes(pdq=True)
takes over keyframes(pdq=False).
Also: probe_video in the worker and in process (the difference is the bytes crossing
the pipe), inspect_video, the one call ingest needs (probe, frames and PDQ), and
keyframe_at at full size for revealing one cell (same bytes: not sent again).
Prints a table, then one `BENCH {json}` line. Not a pytest module.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import io
import itertools
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Standalone script: make the repository importable without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import av
import numpy as np

from reviewer import synthetic_video as sv
from reviewer import video_worker
from reviewer.video import (
    inspect_video,
    keyframe_at,
    keyframes,
    probe_video,
)
from reviewer.video_types import DEFAULT_MAX_FRAMES, DEFAULT_MAX_SIDE, KeyFrame
from wellbeing.keyframes import render_keyframe_sheet

BOX = (1600, 1000)


def floor(data: bytes, wanted: set[int]) -> int:
    """Demux every packet and decode the `wanted` keyframes (by position) only."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        ctx.skip_frame = "NONKEY"
        n = ordinal = 0
        for packet in container.demux(stream):
            if packet.size and packet.is_keyframe:
                if ordinal in wanted:
                    n += len(ctx.decode(packet))
                ordinal += 1
        n += len(ctx.decode(None))
    return n


def spread(n: int, k: int) -> set[int]:
    """The positions reviewer.video picks: k of n, evenly, first and last included."""
    if n <= k:
        return set(range(n))
    return {round(i * (n - 1) / (k - 1)) for i in range(k)}


def ours(data: bytes, isolate: bool = True) -> int:
    frames = keyframes(data, isolate=isolate)
    sheet = render_keyframe_sheet(frames, BOX)
    assert sheet.mode == "L" and sheet.protected
    return len(sheet.cells)


def naive(data: bytes) -> int:
    frames: list[KeyFrame] = []
    with av.open(io.BytesIO(data)) as container:
        for frame in container.decode(video=0):
            if frame.key_frame:
                w = DEFAULT_MAX_SIDE
                h = round(frame.height * w / frame.width)
                rgb = frame.to_ndarray(width=w, height=h, format="rgb24")
                frames.append(
                    KeyFrame(frame.time or 0.0, w, h, frame.width, frame.height, rgb.tobytes())
                )
    if len(frames) > DEFAULT_MAX_FRAMES:  # the same cap as ours, evenly spread
        picks = np.linspace(0, len(frames) - 1, DEFAULT_MAX_FRAMES).round().astype(int)
        frames = [frames[i] for i in sorted(set(picks))]
    return len(render_keyframe_sheet(frames, BOX).cells)


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - t0) / 1e6


def medians(methods: dict[str, Callable[[], object]], reps: int) -> dict[str, float]:
    """Median wall time per method; methods interleave in a rotating order so that
    other load on the machine falls on all of them alike."""
    for fn in methods.values():
        fn()  # warm-up: worker start, imports, allocator
    names = list(methods)
    times: dict[str, list[float]] = {name: [] for name in names}
    gc.disable()
    try:
        for i in range(reps):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                times[name].append(timed(methods[name]))
    finally:
        gc.enable()
    return {name: statistics.median(ts) for name, ts in times.items()}


def worker_peak_rss_mb() -> float | None:
    proc = video_worker._WORKER._proc
    try:
        status = Path(f"/proc/{proc.pid}/status").read_text() if proc else ""
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="video length")
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions per case")
    args = parser.parse_args()

    load_before = os.getloadavg()  # other developers share the cores: say how busy
    spec = sv.VideoSpec(
        container="mp4",
        width=1920,
        height=1080,
        fps=10,
        duration_s=args.minutes * 60,
        gop_s=10.0,
        scene_s=5.0,
        seed=9,
    )
    t0 = time.perf_counter()
    data = sv.make_video(spec)
    gen_s = time.perf_counter() - t0

    # Cold: the first call starts the worker process (interpreter and PyAV import).
    video_worker.shutdown_worker()
    cold_ms = timed(lambda: probe_video(sv.make_video(width=64, height=64, duration_s=0.5)))
    probe = probe_video(data)

    wanted = spread(len(probe.keyframe_times), DEFAULT_MAX_FRAMES)
    assert floor(data, wanted) == len(wanted)
    # The worker keeps the last bytes it was sent and is not sent them again; a new
    # item is new bytes, so each timed worker call gets a fresh (equal) copy.
    copies = itertools.cycle([data, bytes(bytearray(data))])
    med = medians(
        {
            "floor": lambda: floor(data, wanted),
            "ours": lambda: ours(next(copies)),
            "ours_in_process": lambda: ours(data, isolate=False),
        },
        args.reps,
    )
    probe_ms = statistics.median(timed(lambda: probe_video(next(copies))) for _ in range(args.reps))
    probe_local_ms = statistics.median(
        timed(lambda: probe_video(data, isolate=False)) for _ in range(args.reps)
    )
    ingest_ms = statistics.median(
        timed(lambda: inspect_video(next(copies))) for _ in range(args.reps)
    )
    # Reveal of one cell after the sheet: the worker still holds these bytes.
    item = next(copies)
    keyframes(item)
    reveal_ms = statistics.median(
        timed(lambda: keyframe_at(item, probe.duration_s / 2)) for _ in range(args.reps)
    )
    naive_ms = timed(lambda: naive(data))
    cells = ours(data)

    digest_ms = statistics.median(
        timed(lambda: (hashlib.sha256(data).digest(), hashlib.md5(data).digest()))
        for _ in range(args.reps)
    )
    pdq_med = medians(
        {
            "plain": lambda: keyframes(data, isolate=False),
            "pdq": lambda: keyframes(data, pdq=True, isolate=False),
        },
        args.reps,
    )
    n_hashed = len(keyframes(data, pdq=True))
    pdq_ms = max(0.0, pdq_med["pdq"] - pdq_med["plain"])
    load_after = os.getloadavg()

    n_keys = len(probe.keyframe_times)
    print(
        f"{args.minutes:g} min synthetic video, {spec.width}x{spec.height} at {spec.fps} fps, "
        f"keyframe every {spec.gop_s:g} s: {len(data) / 1e6:.1f} MB, {probe.codec} in "
        f"{probe.container}, {probe.frame_count_estimate} frames, {n_keys} keyframes; "
        f"sheet of {cells} cells in {BOX}"
    )
    print(f"generated in {gen_s:.1f} s (not timed below)")
    print(
        f"Python {platform.python_version()}, PyAV {av.__version__}, {os.cpu_count()} CPUs, "
        f"load average {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} before / "
        f"{load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f} after; "
        f"median of {args.reps} after warm-up (naive: one run)"
    )
    header = f"{'case':<34} {'ms':>10} {'/ floor':>9} {'naive /':>9}"
    print(header)
    print("-" * len(header))
    rows = [
        (f"floor: decode {len(wanted)} keyframes", med["floor"]),
        ("ours: bytes -> sheet (worker)", med["ours"]),
        ("ours: bytes -> sheet (in process)", med["ours_in_process"]),
        ("naive: decode all -> sheet", naive_ms),
    ]
    for name, ms in rows:
        print(f"{name:<34} {ms:>10.1f} {ms / med['floor']:>8.2f}x {naive_ms / ms:>8.1f}x")
    print(f"{'probe_video (worker)':<34} {probe_ms:>10.1f}")
    print(f"{'probe_video (in process)':<34} {probe_local_ms:>10.1f}")
    print(f"{'inspect_video (probe+frames+PDQ)':<34} {ingest_ms:>10.1f}")
    print(f"{'keyframe_at 1080p (same bytes)':<34} {reveal_ms:>10.1f}")
    print(f"{'worker cold start + tiny probe':<34} {cold_ms:>10.1f}")
    print(f"{'SHA-256 + MD5 of the file':<34} {digest_ms:>10.1f}")
    print(
        f"{'PDQ of ' + str(n_hashed) + ' keyframes (512 fit)':<34} {pdq_ms:>10.1f}"
        f"   ({pdq_ms / max(1, n_hashed):.1f} ms per keyframe)"
    )
    rss = worker_peak_rss_mb()
    if rss is not None:
        print(f"{'worker peak RSS (MB)':<34} {rss:>10.1f}")

    bench = {
        "bench": "video",
        "minutes": args.minutes,
        "size": [spec.width, spec.height],
        "fps": spec.fps,
        "gop_s": spec.gop_s,
        "bytes": len(data),
        "keyframes": n_keys,
        "sheet_cells": cells,
        "box": list(BOX),
        "reps": args.reps,
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "pyav": av.__version__,
        "generate_s": round(gen_s, 1),
        "floor_ms": round(med["floor"], 1),
        "ours_ms": round(med["ours"], 1),
        "ours_in_process_ms": round(med["ours_in_process"], 1),
        "naive_ms": round(naive_ms, 1),
        "naive_over_ours": round(naive_ms / med["ours"], 1),
        "ours_over_floor": round(med["ours"] / med["floor"], 2),
        "probe_ms": round(probe_ms, 1),
        "probe_in_process_ms": round(probe_local_ms, 1),
        "inspect_ms": round(ingest_ms, 1),
        "reveal_ms": round(reveal_ms, 1),
        "worker_cold_ms": round(cold_ms, 1),
        "digest_ms": round(digest_ms, 1),
        "pdq_ms": round(pdq_ms, 1),
        "pdq_per_keyframe_ms": round(pdq_ms / max(1, n_hashed), 2),
        "worker_peak_rss_mb": rss,
    }
    print("BENCH " + json.dumps(bench, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
