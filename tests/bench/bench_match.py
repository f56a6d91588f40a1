"""Benchmark: exact PDQ radius search (reviewer.hash_index) against the baselines.

Run from the repository root:

    python tests/bench/bench_match.py [--sizes 1000000 10000000] [--radius 31]

For each list size N (random 256-bit hashes, seeded) it measures, with 1,000 queries
(half near-duplicates of listed hashes at 0-40 bits, half random):

- the read-bandwidth limit: N x 32 bytes / the machine's read bandwidth, measured as
  the best of several numpy sums over the same N x 32-byte array. Any method that
  reads every hash once per query cannot beat it;
- ours (PdqIndex): build time, per query (median), and batches of 1,000 (median);
- faiss IndexBinaryFlat used naively: range_search per query, and for the batch;
- the numpy one-liner `np.bitwise_count(db ^ q).sum(axis=1) <= r` on (N, 4) uint64
  words, per query; its batch time is extrapolated from that (1,000 x ~0.5 s is too
  long to run at 10M).

It checks that ours and faiss return identical results for every query, prints a
table with ratios, and ends with one `BENCH {json}` line. faiss uses all its OpenMP
threads; ours and numpy use one. Other work on the machine moves absolute figures,
so the load average is printed; compare ratios measured in the same run.

Not a pytest module: no test_ names, nothing is collected.
"""

from __future__ import annotations

import argparse
import gc
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

import faiss
import numpy as np
import numpy.typing as npt

from reviewer.hash_index import PdqIndex

GOAL_PER_QUERY_VS_LIMIT = 1.2  # ours per query <= 1.2 x the bandwidth limit
GOAL_BATCH_VS_FAISS = 2.0  # ours batch throughput >= 2 x faiss IndexBinaryFlat
N_QUERIES = 1_000

Results = list[list[tuple[int, int]]]


def make_data(n: int, seed: int) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """n random hashes, and queries: half listed hashes with 0-40 bits flipped."""
    rng = np.random.default_rng(seed)
    db = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    queries = rng.integers(0, 256, size=(N_QUERIES, 32), dtype=np.uint8)
    half = N_QUERIES // 2
    bits = np.unpackbits(db[rng.integers(0, n, size=half)], axis=1)
    for row, k in zip(bits, rng.integers(0, 41, size=half), strict=True):
        row[rng.choice(256, size=k, replace=False)] ^= 1
    queries[:half] = np.packbits(bits, axis=1)
    return db, queries


def timed(fn: Callable[[], object], reps: int) -> list[float]:
    """Wall seconds of each of `reps` calls, after one warm-up call."""
    fn()
    out = []
    gc.disable()
    try:
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    finally:
        gc.enable()
    return out


def read_bandwidth(db: npt.NDArray[np.uint8]) -> float:
    """Bytes per second for one pass over `db`: best of several numpy sums."""
    flat = db.view(np.uint64).ravel()
    return flat.nbytes / min(timed(flat.sum, 7))


def per_query_ms(
    search: Callable[[npt.NDArray[np.uint8]], object], queries: npt.NDArray[np.uint8], k: int
) -> float:
    """Median ms over k single queries, cycling through both query kinds."""
    picks = [queries[(i * 37) % len(queries)] for i in range(k)]
    search(picks[0])  # warm-up
    times = []
    for q in picks:
        t0 = time.perf_counter()
        search(q)
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def faiss_results(
    index: faiss.IndexBinaryFlat, queries: npt.NDArray[np.uint8], radius: int
) -> Results:
    # faiss's binary range_search keeps distances < radius, so ask for radius + 1.
    lims, dist, ids = index.range_search(queries, radius + 1)
    out: Results = []
    for i in range(len(queries)):
        pairs = zip(
            ids[lims[i] : lims[i + 1]].tolist(), dist[lims[i] : lims[i + 1]].tolist(), strict=True
        )
        out.append(sorted(((int(j), int(d)) for j, d in pairs), key=lambda p: (p[1], p[0])))
    return out


def measure_ours(
    db: npt.NDArray[np.uint8], queries: npt.NDArray[np.uint8], radius: int
) -> tuple[dict[str, float], Results]:
    index = PdqIndex()
    index.add(db, np.arange(len(db), dtype=np.int64))
    t0 = time.perf_counter()
    index.build()
    build_s = time.perf_counter() - t0
    figures = {
        "build_s": build_s,
        "bytes": index.nbytes,
        "query_ms": per_query_ms(lambda q: index.search(q, radius), queries, 300),
        "batch_s": statistics.median(timed(lambda: index.search_batch(queries, radius), 3)),
    }
    return figures, index.search_batch(queries, radius)


def measure_faiss(
    db: npt.NDArray[np.uint8], queries: npt.NDArray[np.uint8], radius: int, batch_reps: int
) -> tuple[dict[str, float], Results]:
    flat = faiss.IndexBinaryFlat(256)
    flat.add(db)
    figures = {
        "query_ms": per_query_ms(lambda q: flat.range_search(q[None, :], radius + 1), queries, 20),
        "batch_s": statistics.median(
            timed(lambda: flat.range_search(queries, radius + 1), batch_reps)
        ),
    }
    # Also one OpenMP thread: on a busy machine faiss's threads wait on each other,
    # which can make a single query far slower than the scan itself.
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        figures["query_1t_ms"] = per_query_ms(
            lambda q: flat.range_search(q[None, :], radius + 1), queries, 20
        )
    finally:
        faiss.omp_set_num_threads(threads)
    return figures, faiss_results(flat, queries, radius)


def bench_size(n: int, radius: int, batch_reps: int) -> dict[str, float | int | bool]:
    db, queries = make_data(n, seed=n)
    bandwidth = read_bandwidth(db)
    limit_ms = 1e3 * db.nbytes / bandwidth
    # One index alive at a time (each is freed on return): peak memory stays near the
    # data plus our index.
    ours, ours_found = measure_ours(db, queries, radius)
    gc.collect()
    theirs, faiss_found = measure_faiss(db, queries, radius, batch_reps)
    gc.collect()
    ours_q, ours_batch = ours["query_ms"], ours["batch_s"]
    faiss_q, faiss_batch = theirs["query_ms"], theirs["batch_s"]
    build_s, ours_bytes = ours["build_s"], ours["bytes"]
    identical = ours_found == faiss_found

    words = db.view(np.uint64)
    numpy_q = per_query_ms(
        lambda q: np.flatnonzero(np.bitwise_count(words ^ q.view(np.uint64)).sum(axis=1) <= radius),
        queries,
        3 if n >= 5_000_000 else 10,
    )
    matches = sum(len(r) for r in ours_found)
    return {
        "n": n,
        "bandwidth_gbs": round(bandwidth / 1e9, 2),
        "limit_ms": round(limit_ms, 3),
        "ours_build_s": round(build_s, 2),
        "ours_mb": round(ours_bytes / 1e6),
        "ours_query_ms": round(ours_q, 3),
        "ours_batch_ms_per_query": round(1e3 * ours_batch / N_QUERIES, 3),
        "faiss_query_ms": round(faiss_q, 3),
        "faiss_1t_query_ms": round(theirs["query_1t_ms"], 3),
        "faiss_batch_ms_per_query": round(1e3 * faiss_batch / N_QUERIES, 3),
        "numpy_query_ms": round(numpy_q, 2),
        "ours_query_vs_limit": round(ours_q / limit_ms, 3),
        "faiss_query_vs_limit": round(faiss_q / limit_ms, 2),
        "faiss_1t_query_vs_limit": round(theirs["query_1t_ms"] / limit_ms, 2),
        "numpy_query_vs_limit": round(numpy_q / limit_ms, 1),
        "batch_speedup_vs_faiss": round(faiss_batch / ours_batch, 1),
        "matches": matches,
        "identical_to_faiss": identical,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--radius", type=int, default=31)
    parser.add_argument("--batch-reps", type=int, default=3, help="timed faiss batches")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]  # other developers share these 2 cores
    started = time.perf_counter()
    results = [bench_size(n, args.radius, args.batch_reps) for n in args.sizes]
    load_after = os.getloadavg()[0]

    print(f"Exact PDQ search, radius {args.radius}, {N_QUERIES} queries (half near-duplicates)")
    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, faiss {faiss.__version__} "
        f"({faiss.omp_get_max_threads()} threads), {os.cpu_count()} CPUs, load average "
        f"{load_before:.2f} before / {load_after:.2f} after, {time.perf_counter() - started:.0f} s"
    )
    header = (
        f"{'N':>11} {'method':<26} {'per query ms':>12} {'x limit':>8} "
        f"{'batch ms/q':>10} {'batch vs faiss':>14}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        n = f"{r['n']:,}"
        rows = [
            ("read-bandwidth limit", r["limit_ms"], 1.0, None, None),
            (
                "ours (PdqIndex)",
                r["ours_query_ms"],
                r["ours_query_vs_limit"],
                r["ours_batch_ms_per_query"],
                r["batch_speedup_vs_faiss"],
            ),
            (
                "faiss IndexBinaryFlat",
                r["faiss_query_ms"],
                r["faiss_query_vs_limit"],
                r["faiss_batch_ms_per_query"],
                1.0,
            ),
            (
                "faiss, 1 thread",
                r["faiss_1t_query_ms"],
                r["faiss_1t_query_vs_limit"],
                None,
                None,
            ),
            (
                "numpy one-liner",
                r["numpy_query_ms"],
                r["numpy_query_vs_limit"],
                r["numpy_query_ms"],
                None,
            ),
        ]
        for name, q_ms, vs_limit, batch, speedup in rows:
            batch_s = "" if batch is None else f"{batch:.3f}"
            if name == "numpy one-liner":
                batch_s += "*"
            speed_s = "" if speedup is None else f"{speedup:.1f}x"
            print(f"{n:>11} {name:<26} {q_ms:>12.3f} {vs_limit:>7.2f}x {batch_s:>10} {speed_s:>14}")
        print(
            f"{'':>11} ours: build {r['ours_build_s']} s, {r['ours_mb']} MB; read bandwidth "
            f"{r['bandwidth_gbs']} GB/s; {r['matches']} matches, identical to faiss: "
            f"{'yes' if r['identical_to_faiss'] else 'NO'}"
        )
    print("* numpy batch = per-query time (1,000 queries would take minutes at 10M)")
    per_query_met = all(r["ours_query_vs_limit"] <= GOAL_PER_QUERY_VS_LIMIT for r in results)
    batch_met = all(r["batch_speedup_vs_faiss"] >= GOAL_BATCH_VS_FAISS for r in results)
    exact = all(r["identical_to_faiss"] for r in results)
    verdict = {True: "met", False: "NOT met"}
    print(
        f"Goals: per query <= {GOAL_PER_QUERY_VS_LIMIT}x limit: {verdict[per_query_met]}; "
        f"batch >= {GOAL_BATCH_VS_FAISS}x faiss: {verdict[batch_met]}; "
        f"exact: {'yes' if exact else 'NO'}"
    )
    bench = {
        "bench": "match",
        "radius": args.radius,
        "queries": N_QUERIES,
        "cpus": os.cpu_count(),
        "faiss_threads": faiss.omp_get_max_threads(),
        "load_before": round(load_before, 2),
        "load_after": round(load_after, 2),
        "numpy": np.__version__,
        "faiss": faiss.__version__,
        "sizes": results,
        "per_query_goal_met": per_query_met,
        "batch_goal_met": batch_met,
        "exact": exact,
    }
    print("BENCH " + json.dumps(bench, separators=(",", ":")))
    return 0 if exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
