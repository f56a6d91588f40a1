"""reviewer.hash_index: exact radius search, checked against brute force.

Exactness rests on the pigeonhole argument in the module docstring; these tests try
to break it: random data, neighbours planted at exactly the radius and one past it,
differences spread so that only one chunk is within its probe radius, skewed
buckets, tiny tables, many segments, and every radius from 0 to 256.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewer import hash_index
from reviewer.hash_index import DigestIndex, PdqIndex, chunk_radii

Hashes = npt.NDArray[np.uint8]
FUZZ = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def brute(db: Hashes, ids: npt.NDArray[np.int64], q: Hashes, radius: int) -> list[tuple[int, int]]:
    dist = np.unpackbits(db ^ q, axis=1).sum(axis=1)
    best: dict[int, int] = {}
    for i, d in zip(ids.tolist(), dist.tolist(), strict=True):
        if d <= radius:
            best[i] = min(best.get(i, d), d)
    return sorted(best.items(), key=lambda kv: (kv[1], kv[0]))


def flip_bits(h: Hashes, rng: np.random.Generator, k: int) -> Hashes:
    bits = np.unpackbits(h)
    bits[rng.choice(256, size=k, replace=False)] ^= 1
    return np.packbits(bits)


def random_hashes(rng: np.random.Generator, n: int) -> Hashes:
    return rng.integers(0, 256, size=(n, 32), dtype=np.uint8)


@pytest.fixture
def force_index(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Index even tiny sets and never fall back to scanning, so that small, fast
    tests exercise the bucket tables (at their smallest, 8 bits per chunk)."""
    monkeypatch.setattr(hash_index, "TAIL_MAX", 1)
    monkeypatch.setattr(hash_index, "_PROBE_COST", 0)
    monkeypatch.setattr(hash_index, "_CANDIDATE_COST", 0)
    yield


def check_against_brute(
    index: PdqIndex, db: Hashes, ids: npt.NDArray[np.int64], queries: Hashes, radius: int
) -> None:
    got = index.search_batch(queries, radius)
    for q, result in zip(queries, got, strict=True):
        assert result == brute(db, ids, q, radius)
    # The single-query path must agree with the batch path.
    assert index.search(queries[0].tobytes(), radius) == got[0]


def planted_queries(rng: np.random.Generator, db: Hashes, distances: range) -> Hashes:
    rows = [flip_bits(db[rng.integers(len(db))], rng, k) for k in distances]
    return np.array(rows + list(random_hashes(rng, 10)))


# --------------------------------------------------------------------- the pigeonhole


@pytest.mark.parametrize("radius", range(0, 257))
def test_chunk_radii_cover_radius_plus_one(radius: int) -> None:
    widths = [b for _, _, b in hash_index._CHUNKS]
    radii = chunk_radii(radius, widths)
    assert sum(r + 1 for r in radii) == radius + 1
    assert max(radii) - min(radii) <= 1
    # The larger radius goes to the widest chunks.
    assert all(
        radii[i] >= radii[j]
        for i, j in itertools.permutations(range(12), 2)
        if widths[i] > widths[j]
    )


def test_chunks_partition_the_256_bits() -> None:
    covered = [(w, s + k) for w, s, b in hash_index._CHUNKS for k in range(b)]
    assert len(covered) == len(set(covered)) == 256


@pytest.mark.usefixtures("force_index")
@pytest.mark.parametrize("n", [3_000, 40_000])
def test_only_one_chunk_within_its_radius_is_still_found(n: int) -> None:
    """The worst case for the pigeonhole: 31 differing bits spread so that exactly one
    chunk is within its probe radius; each of the 12 chunks takes that role in turn.
    n = 3,000 gives 12-bit tables (the high chunk bits unindexed), 40,000 16-bit."""
    rng = np.random.default_rng(n)
    db = random_hashes(rng, n)
    ids = np.arange(n, dtype=np.int64)
    index = PdqIndex()
    index.add(db, ids)
    index.search(db[0].tobytes())  # build
    widths = [b for _, _, b in hash_index._CHUNKS]
    radii = chunk_radii(31, widths)
    for lucky in range(12):
        words = db[7].copy().view(np.uint64)
        for t, (w, s, _) in enumerate(hash_index._CHUNKS):
            flips = radii[t] if t == lucky else radii[t] + 1
            for k in range(flips):
                words[w] ^= np.uint64(1) << np.uint64(s + k)
        q = words.view(np.uint8)
        assert (7, 31) in index.search(q.tobytes(), 31)
        assert index.search(q.tobytes(), 30) == brute(db, ids, q, 30)


# ------------------------------------------------------------------ exact vs brute force


@pytest.mark.parametrize("n", [0, 1, 37, 5_000, 20_000, 70_000])
@pytest.mark.parametrize("radius", [0, 1, 15, 31, 32, 45])
def test_matches_brute_force(n: int, radius: int) -> None:
    rng = np.random.default_rng(n * 1000 + radius)
    db = random_hashes(rng, n)
    ids = rng.permutation(n).astype(np.int64) * 7 - 3  # arbitrary, including negative
    index = PdqIndex()
    index.add(db, ids)
    source = db if n else random_hashes(rng, 1)
    queries = planted_queries(rng, source, range(0, 48, 3))
    check_against_brute(index, db, ids, queries, radius)


@pytest.mark.parametrize("radius", [31, 30])
def test_neighbours_at_exactly_31_and_32(radius: int) -> None:
    rng = np.random.default_rng(31)
    db = random_hashes(rng, 50_000)
    q = db[123].copy()
    at = {29: 1_000, 30: 1_001, 31: 1_002, 32: 1_003, 33: 1_004}
    for distance, row in at.items():
        db[row] = flip_bits(q, rng, distance)
    ids = np.arange(len(db), dtype=np.int64)
    index = PdqIndex()
    index.add(db, ids)
    found = dict(index.search(q.tobytes(), radius))
    assert found[123] == 0
    for distance, row in at.items():
        assert (row in found) == (distance <= radius)
        if distance <= radius:
            assert found[row] == distance
    check_against_brute(index, db, ids, q[None, :], radius)


@FUZZ
@given(
    n=st.integers(1, 400),
    radius=st.integers(0, 64),
    distances=st.lists(st.integers(0, 64), min_size=1, max_size=8),
    seed=st.integers(0, 2**32 - 1),
)
def test_fuzz_small_tables(n: int, radius: int, distances: list[int], seed: int) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hash_index, "TAIL_MAX", 1)
        mp.setattr(hash_index, "_PROBE_COST", 0)
        mp.setattr(hash_index, "_CANDIDATE_COST", 0)
        rng = np.random.default_rng(seed)
        db = random_hashes(rng, n)
        ids = rng.integers(0, max(1, n // 2), size=n).astype(np.int64)  # shared ids
        index = PdqIndex()
        index.add(db, ids)
        queries = np.array([flip_bits(db[rng.integers(n)], rng, k) for k in distances])
        check_against_brute(index, db, ids, queries, radius)


@pytest.mark.usefixtures("force_index")
@pytest.mark.parametrize("radius", [0, 31, 100, 256])
def test_every_radius_through_the_tables(radius: int) -> None:
    rng = np.random.default_rng(radius)
    db = random_hashes(rng, 300)
    ids = np.arange(300, dtype=np.int64)
    index = PdqIndex()
    index.add(db, ids)
    check_against_brute(index, db, ids, planted_queries(rng, db, range(0, 140, 20)), radius)


def test_radius_above_256_is_everything() -> None:
    rng = np.random.default_rng(5)
    db = random_hashes(rng, 50)
    index = PdqIndex()
    index.add(db, np.arange(50))
    assert len(index.search(db[0].tobytes(), 1_000)) == 50


def test_skewed_buckets_fall_back_to_scanning_and_stay_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Near-blank pictures share most chunk values; a query among them would have
    almost every row as a candidate."""
    rng = np.random.default_rng(8)
    blank = np.zeros((30_000, 32), dtype=np.uint8)
    blank = np.array([flip_bits(row, rng, int(rng.integers(0, 12))) for row in blank])
    db = np.concatenate([blank, random_hashes(rng, 30_000)])
    ids = np.arange(len(db), dtype=np.int64)
    index = PdqIndex()
    index.add(db, ids)
    queries = np.array([np.zeros(32, np.uint8), flip_bits(np.zeros(32, np.uint8), rng, 20)])
    queries = np.concatenate([queries, db[rng.integers(len(db), size=6)]])
    scanned = spy_on_scans(monkeypatch)
    check_against_brute(index, db, ids, queries, 31)
    assert scanned  # the blank-like queries were scanned, not verified one by one


def spy_on_scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record how many queries go to the linear scan."""
    scanned: list[int] = []
    real = hash_index._scan_many

    def spy(words: Any, queries: Any, radius: int, numbers: Any) -> Any:
        scanned.append(len(queries))
        return real(words, queries, radius, numbers)

    monkeypatch.setattr(hash_index, "_scan_many", spy)
    return scanned


def test_large_sets_are_searched_through_the_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    db = random_hashes(rng, 70_000)
    index = PdqIndex()
    index.add(db, np.arange(len(db)))
    scanned = spy_on_scans(monkeypatch)
    assert index.search(db[5].tobytes()) == [(5, 0)]
    assert scanned == [] and len(index._segments) == 1


# ---------------------------------------------------------------- growth and segments


def test_incremental_adds_merge_into_few_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hash_index, "TAIL_MAX", 500)
    rng = np.random.default_rng(11)
    db = random_hashes(rng, 0)
    ids = np.empty(0, np.int64)
    index = PdqIndex()
    for step in range(40):
        batch = random_hashes(rng, int(rng.integers(1, 900)))
        batch_ids = np.arange(len(ids), len(ids) + len(batch), dtype=np.int64)
        index.add(batch, batch_ids)
        db, ids = np.concatenate([db, batch]), np.concatenate([ids, batch_ids])
        if step % 5 == 4:
            check_against_brute(index, db, ids, planted_queries(rng, db, range(0, 40, 8)), 31)
    assert len(index) == len(db)
    sizes = [len(s.ids) for s in index._segments]
    # Binary-counter merging: each segment more than twice the next one's size.
    assert all(a > 2 * b for a, b in itertools.pairwise(sizes))
    assert len(sizes) <= 1 + int(np.log2(len(db)))


def test_same_id_with_several_hashes_is_reported_once_at_its_nearest() -> None:
    rng = np.random.default_rng(2)
    q = random_hashes(rng, 1)[0]
    index = PdqIndex()
    index.add(np.array([flip_bits(q, rng, 9), flip_bits(q, rng, 4), q]), [5, 5, 6])
    assert index.search(q.tobytes()) == [(6, 0), (5, 4)]


def test_results_are_nearest_first_then_by_id() -> None:
    rng = np.random.default_rng(3)
    q = random_hashes(rng, 1)[0]
    rows = [flip_bits(q, rng, d) for d in (7, 3, 7, 0)]
    index = PdqIndex()
    index.add(np.array(rows), [40, 30, 20, 10])
    assert index.search(q) == [(10, 0), (30, 3), (20, 7), (40, 7)]


def test_accepts_sequences_of_bytes() -> None:
    rng = np.random.default_rng(4)
    db = random_hashes(rng, 10)
    index = PdqIndex()
    index.add([row.tobytes() for row in db], list(range(10)))
    assert index.search_batch([db[3].tobytes(), db[4].tobytes()], 0) == [[(3, 0)], [(4, 0)]]
    assert len(index) == 10 and index.nbytes > 0
    # A list of uint8 rows is an array too.
    index.add([db[0], db[1]], [20, 21])
    assert index.search(db[1].tobytes(), 0) == [(1, 0), (21, 0)]


def test_caller_may_reuse_its_arrays_after_add() -> None:
    db = np.zeros((3, 32), np.uint8)
    index = PdqIndex()
    index.add(db, np.arange(3))
    db[:] = 255
    assert [i for i, _ in index.search(bytes(32), 0)] == [0, 1, 2]


def test_empty_index_and_empty_batch() -> None:
    index = PdqIndex()
    assert index.search(bytes(32)) == []
    index.add(np.zeros((0, 32), np.uint8), np.zeros(0, np.int64))
    assert index.search_batch(np.zeros((0, 32), np.uint8)) == []


@pytest.mark.parametrize(
    ("hashes", "ids"),
    [
        (np.zeros((2, 31), np.uint8), [1, 2]),
        (np.zeros((2, 32), np.int64), [1, 2]),
        (np.zeros(32, np.uint8), [1]),
        (np.zeros((2, 32), np.uint8), [1]),
        (np.zeros((2, 32), np.uint8), [1.5, 2.5]),
        ([b"\x00" * 31], [1]),
        (b"\x00" * 64, [1, 2]),  # one bytes object, not a sequence of 32-byte hashes
        ("\x00" * 64, [1, 2]),
        ([b"\x00" * 32, "\x00" * 32], [1, 2]),  # text among the hashes
    ],
)
def test_add_refuses_malformed_input(hashes: object, ids: object) -> None:
    with pytest.raises(ValueError):
        PdqIndex().add(hashes, ids)  # type: ignore[arg-type]


def test_search_refuses_malformed_input() -> None:
    index = PdqIndex()
    with pytest.raises(ValueError):
        index.search(b"\x00" * 31)
    with pytest.raises(ValueError):
        index.search(bytes(32), radius=-1)
    with pytest.raises(ValueError):
        index.search_batch(np.zeros((2, 16), np.uint8))


# ------------------------------------------------------------------------ exact digests


def test_digest_index() -> None:
    index = DigestIndex()
    a, b = bytes.fromhex("aa" * 32), bytes.fromhex("bb" * 16)
    index.add(a, 1)
    index.add_many([(a, 2), (a, 1), (b, 3)])
    assert index.lookup(a) == (1, 2)
    assert index.lookup(b) == (3,)
    assert index.lookup(b"\x00" * 32) == ()
    assert a in index and b"\x01" not in index
    assert len(index) == 2
