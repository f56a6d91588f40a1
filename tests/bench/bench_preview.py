"""Benchmark: protected preview against the naive Pillow way and the decode floor.

Run from the repository root:

    python tests/bench/bench_preview.py [--reps N]

All media is synthetic and generated in memory by reviewer.synthetic. For each case it
prints median milliseconds and ratios to the floor, then one `BENCH {json}` line for
tooling. The floor is the least work any preview can do: for JPEG a greyscale decode
at 1/8 scale, for PNG (no scaled decode exists) a plain full decode.

Not a pytest module: no test_ names, nothing is collected.
"""

from __future__ import annotations

import argparse
import gc
import io
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

import PIL
from PIL import Image, ImageFilter, features

from reviewer import synthetic
from wellbeing.render import DEFAULT_BLUR_STEP, fit, render_protected

BOX = (1600, 1000)
GOAL_JPEG_RATIO = 1.25
# Naive blur radius in source pixels; Pillow's GaussianBlur costs the same at any radius.
NAIVE_RADIUS = 12
CASES: list[tuple[str, str, float]] = [
    ("jpeg_1mp", "JPEG", 1),
    ("jpeg_12mp", "JPEG", 12),
    ("jpeg_24mp", "JPEG", 24),
    ("png_12mp", "PNG", 12),
]


def ours(data: bytes) -> None:
    render_protected(data, BOX)


def naive(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        grey = img.convert("L").filter(ImageFilter.GaussianBlur(NAIVE_RADIUS))
    grey.resize(fit(grey.size, BOX), Image.Resampling.BILINEAR)


def floor_jpeg(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as img:
        w, h = img.size
        img.draft("L", (w // 8, h // 8))
        img.load()


def floor_full(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as img:
        img.load()


def median_ms(
    methods: dict[str, Callable[[bytes], None]], data: bytes, reps: int
) -> dict[str, float]:
    """Median wall time per method.

    Methods interleave, in an order that rotates each round, so that load from other
    processes and cache effects of the heavy naive run fall on all of them alike.
    """
    for fn in methods.values():
        fn(data)  # warm-up: imports, allocator, CPU caches
    names = list(methods)
    times: dict[str, list[float]] = {name: [] for name in names}
    gc.disable()
    try:
        for i in range(reps):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                t0 = time.perf_counter_ns()
                methods[name](data)
                times[name].append((time.perf_counter_ns() - t0) / 1e6)
    finally:
        gc.enable()
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15, help="timed repetitions per case")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]  # other work on the machine skews every figure
    results: dict[str, dict[str, float]] = {}
    rows: list[str] = []
    header = (
        f"{'case':<10} {'size':>11} {'floor ms':>9} {'ours ms':>9} {'naive ms':>9} "
        f"{'ours/floor':>10} {'naive/floor':>11}"
    )
    for name, fmt, mp in CASES:
        data = synthetic.make_jpeg(mp, seed=7) if fmt == "JPEG" else synthetic.make_png(mp, seed=7)
        w, h = synthetic.size_for(mp)
        floor = floor_jpeg if fmt == "JPEG" else floor_full
        med = median_ms({"floor": floor, "ours": ours, "naive": naive}, data, args.reps)
        res = {
            "floor_ms": round(med["floor"], 2),
            "ours_ms": round(med["ours"], 2),
            "naive_ms": round(med["naive"], 2),
            "ours_ratio": round(med["ours"] / med["floor"], 3),
            "naive_ratio": round(med["naive"] / med["floor"], 2),
        }
        results[name] = res
        rows.append(
            f"{name:<10} {f'{w}x{h}':>11} {res['floor_ms']:>9.2f} {res['ours_ms']:>9.2f} "
            f"{res['naive_ms']:>9.2f} {res['ours_ratio']:>9.2f}x {res['naive_ratio']:>10.1f}x"
        )

    goal_met = all(r["ours_ratio"] <= GOAL_JPEG_RATIO for n, r in results.items() if "jpeg" in n)
    print(
        f"render_protected(data, {BOX}) at blur step {DEFAULT_BLUR_STEP}; "
        f"median of {args.reps} after warm-up"
    )
    print(
        f"Python {platform.python_version()}, Pillow {PIL.__version__}, "
        f"libjpeg-turbo {features.version('libjpeg_turbo')}, {os.cpu_count()} CPUs, "
        f"load average {load_before:.2f} before / {os.getloadavg()[0]:.2f} after"
    )
    print(header)
    print("-" * len(header))
    print("\n".join(rows))
    print(f"JPEG goal ours/floor <= {GOAL_JPEG_RATIO}: {'met' if goal_met else 'NOT met'}")
    bench = {
        "bench": "preview",
        "box": list(BOX),
        "blur_step": DEFAULT_BLUR_STEP,
        "reps": args.reps,
        "cpus": os.cpu_count(),
        "load_before": round(load_before, 2),
        "pillow": PIL.__version__,
        "cases": results,
        "jpeg_goal_ratio": GOAL_JPEG_RATIO,
        "jpeg_goal_met": goal_met,
    }
    print("BENCH " + json.dumps(bench, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
