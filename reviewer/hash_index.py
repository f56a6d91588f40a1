"""Exact radius search over millions of 256-bit PDQ hashes, and exact digest lookup.

`PdqIndex` answers "which known hashes lie within Hamming distance r of this one?"
with no false negatives and no false positives. It is a multi-index hash (Norouzi,
Punjani & Fleet, "Fast search in Hamming space with multi-index hashing", 2012):

- Each hash is cut into 12 disjoint bit chunks (3 per 64-bit word, 22 + 22 + 20 bits),
  and each chunk indexes a bucket table: bucket `key` lists every row whose chunk has
  that value. Tables for small segments use only the low `bits` of each chunk, so that
  the bucket array stays about as long as the segment.
- Pigeonhole: give chunk t a probe radius r_t. If every chunk of a row differed from
  the query's chunk by more than r_t bits, the full distance would be at least
  sum(r_t + 1). Choosing radii with sum(r_t + 1) = r + 1 therefore guarantees that a
  row within distance r shares at least one chunk within r_t, so probing every chunk
  value within r_t of the query's finds it. For r = 31: eight chunks at radius 2 and
  four at radius 1 (8 * 3 + 4 * 2 = 32). Bits a table leaves out only widen buckets;
  the argument holds for any disjoint chunks.
- Candidates are verified against the full 256 bits, so results are exact.

On random data a radius-31 query at 10M hashes touches about 2,100 buckets and 5,700
candidate rows instead of reading all 320 MB. Skewed data (many hashes sharing chunk
values, e.g. near-blank pictures) degrades gracefully: a query whose candidates would
cost more than a scan is answered by a blocked linear scan instead.

Rows are kept in segments (each with its own tables) plus a small unindexed tail that
is scanned linearly, so adding a few hashes never rebuilds millions. Segments merge
when a newer one reaches half the size of the one before it, so there are O(log n)
of them and each row is rebuilt O(log n) times. Not thread-safe: guard add and search
with one lock if they can run concurrently.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Final, TypeGuard

import faiss
import numpy as np
import numpy.typing as npt

HASH_BYTES: Final = 32
DEFAULT_RADIUS: Final = 31

# 12 chunks, 3 per 64-bit word: (word, shift, width). Widths sum to 256.
_CHUNKS: Final = tuple((w, s, b) for w in range(4) for s, b in ((0, 22), (22, 22), (44, 20)))
_MAX_BUCKET_BITS: Final = 22
_MIN_BUCKET_BITS: Final = 8
# Rows held unindexed and scanned linearly; past this they become a segment.
TAIL_MAX: Final = 16_384
# Costs in units of one row of linear scan (~10 ns), measured at 10M hashes on the
# 2-core CI machine: a probe (two random bucket-offset reads) ~ 4, a candidate (a
# random posting and 32-byte row read, then the distance) ~ 10.
_PROBE_COST: Final = 4
_CANDIDATE_COST: Final = 10
# Probes + expected candidates per batch block. Small blocks keep the temporaries in
# cache: at 10M hashes, 60k (about 8 queries) ran 2.5x faster than 2M.
_BLOCK_WORK: Final = 60_000
_SCAN_BLOCK: Final = 1 << 15

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


def _byte_strings(hashes: object) -> TypeGuard[Sequence[bytes]]:
    return isinstance(hashes, list | tuple) and all(isinstance(h, bytes) for h in hashes)


def _as_words(hashes: npt.ArrayLike | Sequence[bytes], what: str) -> U64:
    """(n, 32) uint8 hashes (or a sequence of 32-byte strings) as (n, 4) uint64 words."""
    if _byte_strings(hashes):
        if any(len(h) != HASH_BYTES for h in hashes):
            raise ValueError(f"{what}: every hash must be {HASH_BYTES} bytes")
        arr = np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(-1, HASH_BYTES)
    else:
        arr = np.asarray(hashes)
    if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] != HASH_BYTES:
        raise ValueError(f"{what}: expected a uint8 array of shape (n, {HASH_BYTES})")
    # Native-order words: distances do not depend on byte order, chunk keys only need
    # to be computed the same way for rows and queries.
    return np.ascontiguousarray(arr).view(np.uint64)


def _distances(rows: U64, query: U64) -> npt.NDArray[np.uint32]:
    """Hamming distances of (n, 4) rows to a (4,) query or to (n, 4) queries."""
    counts = np.bitwise_count(rows ^ query).view(np.uint32).ravel()
    # Each row's four per-word counts sit in one uint32's bytes; add them pairwise in
    # 16-bit lanes (a plain byte sum would overflow at distance 256).
    pairs = (counts & 0x00FF00FF) + ((counts >> 8) & 0x00FF00FF)
    total: npt.NDArray[np.uint32] = (pairs & 0xFFFF) + (pairs >> 16)
    return total


def _scan(words: U64, query: U64, radius: int) -> tuple[I64, npt.NDArray[np.uint32]]:
    """Blocked linear scan: positions and distances of rows within `radius`."""
    found_pos: list[I64] = []
    found_dist: list[npt.NDArray[np.uint32]] = []
    # Blocks small enough to stay in L2: one pass over memory, no n-sized temporaries.
    for start in range(0, len(words), _SCAN_BLOCK):
        dist = _distances(words[start : start + _SCAN_BLOCK], query)
        hit = np.flatnonzero(dist <= radius)
        if len(hit):
            found_pos.append(hit + start)
            found_dist.append(dist[hit])
    if not found_pos:
        return np.empty(0, np.int64), np.empty(0, np.uint32)
    return np.concatenate(found_pos), np.concatenate(found_dist)


@cache
def _flip_masks(bits: int, radius: int) -> U64:
    """Every `bits`-bit mask with at most `radius` bits set (the probe offsets)."""
    masks = [
        sum(1 << i for i in combo)
        for k in range(radius + 1)
        for combo in itertools.combinations(range(bits), k)
    ]
    return np.array(masks, dtype=np.uint64)


def chunk_radii(radius: int, widths: Sequence[int]) -> list[int]:
    """Per-chunk probe radii (-1 = not probed) with sum(r_t + 1) = radius + 1.

    The `extra` widest chunks get the larger radius: a wide chunk's buckets are
    smaller, so each extra probed bit costs fewer candidates there.
    """
    base, extra = divmod(radius + 1, len(widths))
    order = sorted(range(len(widths)), key=lambda t: (-widths[t], t))
    radii = [base - 1] * len(widths)
    for t in order[:extra]:
        radii[t] = base
    return radii


@dataclass(frozen=True)
class _Probes:
    """Every bucket one query must visit in one segment, as parallel arrays."""

    word: npt.NDArray[np.intp]
    shift: U64
    mask: U64
    flip: U64
    table_base: I64  # where this table's offsets start in the flat offsets array
    post_base: I64  # where this table's postings start in the flat postings array
    candidates: int  # expected candidates per query on random data
    cost: int  # estimated work per query, in rows-scanned units; > n means "scan"


@dataclass
class _Segment:
    words: U64
    ids: I64
    bits: list[int] = field(default_factory=list)
    offsets: npt.NDArray[np.uint32] = field(default_factory=lambda: np.empty(0, np.uint32))
    table_base: list[int] = field(default_factory=list)
    postings: npt.NDArray[np.uint32] = field(default_factory=lambda: np.empty(0, np.uint32))
    _probes: dict[int, _Probes] = field(default_factory=dict)

    @classmethod
    def build(cls, words: U64, ids: I64) -> _Segment:
        n = len(words)
        if n >= 2**32:
            raise ValueError("a segment holds fewer than 2**32 hashes")
        bucket_bits = min(_MAX_BUCKET_BITS, max(_MIN_BUCKET_BITS, math.ceil(math.log2(n + 1))))
        bits = [min(width, bucket_bits) for _, _, width in _CHUNKS]
        table_base = np.cumsum([0] + [(1 << b) + 1 for b in bits]).tolist()
        # Filled in place: concatenating per-table arrays would copy ~50 bytes per row.
        offsets = np.empty(table_base[-1], dtype=np.uint32)
        postings = np.empty(len(_CHUNKS) * n, dtype=np.uint32)
        for t, (w, s, _) in enumerate(_CHUNKS):
            keys = ((words[:, w] >> np.uint64(s)) & np.uint64((1 << bits[t]) - 1)).view(np.int64)
            # A counting sort in C: linear time, ~12x faster than numpy's argsort here.
            lims, perm = faiss.bucket_sort(keys, nbucket=1 << bits[t], nt=0)
            offsets[table_base[t] : table_base[t + 1]] = lims
            postings[t * n : (t + 1) * n] = perm
        return cls(
            words=words,
            ids=ids,
            bits=bits,
            offsets=offsets,
            table_base=table_base[:-1],
            postings=postings,
        )

    @property
    def nbytes(self) -> int:
        return self.words.nbytes + self.ids.nbytes + self.offsets.nbytes + self.postings.nbytes

    def probes(self, radius: int) -> _Probes:
        if radius not in self._probes:
            self._probes[radius] = self._make_probes(radius)
        return self._probes[radius]

    def _make_probes(self, radius: int) -> _Probes:
        n = len(self.words)
        radii = chunk_radii(radius, self.bits)
        tables: list[int] = []
        n_probes = candidates = cost = 0
        for t, r_t in enumerate(radii):
            if r_t < 0:
                continue
            # Count before enumerating: for large radii the ball itself is the cost.
            ball = sum(math.comb(self.bits[t], k) for k in range(r_t + 1))
            n_probes += ball
            candidates += ball * n >> self.bits[t]
            cost = _PROBE_COST * n_probes + _CANDIDATE_COST * candidates
            if cost > n:
                return _Probes(*_NO_PROBES, candidates=0, cost=cost)
            tables.append(t)
        masks = [_flip_masks(self.bits[t], radii[t]) for t in tables]
        sizes = [len(m) for m in masks]

        def per_probe(values: list[int]) -> npt.NDArray[np.int64]:
            return np.repeat(np.array(values, dtype=np.int64), sizes)

        return _Probes(
            word=per_probe([_CHUNKS[t][0] for t in tables]).astype(np.intp),
            shift=per_probe([_CHUNKS[t][1] for t in tables]).astype(np.uint64),
            mask=per_probe([(1 << self.bits[t]) - 1 for t in tables]).astype(np.uint64),
            flip=np.concatenate([np.empty(0, np.uint64), *masks]),
            table_base=per_probe([self.table_base[t] for t in tables]),
            post_base=per_probe([t * n for t in tables]),
            candidates=candidates,
            cost=cost,
        )

    def search(self, queries: U64, radius: int) -> tuple[I64, I64, npt.NDArray[np.uint32]]:
        """(query index, row position, distance) of every row within `radius`.

        A row reached through several chunks appears several times; callers dedupe.
        """
        n = len(self.words)
        probes = self.probes(radius)
        if probes.cost > n:
            return _scan_many(self.words, queries, radius, np.arange(len(queries)))
        qi_parts: list[I64] = [np.empty(0, np.int64)]
        pos_parts: list[I64] = [np.empty(0, np.int64)]
        dist_parts: list[npt.NDArray[np.uint32]] = [np.empty(0, np.uint32)]
        block = max(1, _BLOCK_WORK // max(1, len(probes.flip) + probes.candidates))
        for start in range(0, len(queries), block):
            q = queries[start : start + block]
            qi, pos, dist = self._search_block(q, radius, probes)
            qi_parts.append(qi + start)
            pos_parts.append(pos)
            dist_parts.append(dist)
        return np.concatenate(qi_parts), np.concatenate(pos_parts), np.concatenate(dist_parts)

    def _search_block(
        self, queries: U64, radius: int, probes: _Probes
    ) -> tuple[I64, I64, npt.NDArray[np.uint32]]:
        n = len(self.words)
        n_q = len(queries)
        # (queries, probes) bucket numbers: the query's chunk value with each flip mask.
        keys = ((queries[:, probes.word] >> probes.shift) & probes.mask) ^ probes.flip
        bucket = keys.view(np.int64) + probes.table_base
        # np.take, not fancy indexing: 2-4x faster for these large random gathers.
        start = np.take(self.offsets, bucket).astype(np.int64)
        length = np.take(self.offsets, bucket + 1).astype(np.int64) - start
        start += probes.post_base
        total = length.sum(axis=1)
        # Skewed buckets: if verifying would cost more than scanning, scan instead.
        heavy = np.flatnonzero(total * _CANDIDATE_COST > n)
        extra = None
        if len(heavy):
            extra = _scan_many(self.words, queries[heavy], radius, heavy)
            length[heavy] = 0
            total[heavy] = 0
        flat_len = length.ravel()
        n_cand = int(flat_len.sum())
        # Concatenate all posting ranges [start, start + length) without a Python loop.
        ends = np.cumsum(flat_len)
        idx = np.arange(n_cand, dtype=np.int64)
        idx += np.repeat(start.ravel() - (ends - flat_len), flat_len)
        pos = np.take(self.postings, idx).astype(np.int64)
        qi = np.repeat(np.arange(n_q, dtype=np.int64), total)
        rows = np.take(self.words, pos, axis=0)
        dist = _distances(rows, np.take(queries, qi, axis=0))
        keep = np.flatnonzero(dist <= radius)
        qi, pos, dist = qi[keep], pos[keep], dist[keep]
        if extra is not None:
            qi = np.concatenate([qi, extra[0]])
            pos = np.concatenate([pos, extra[1]])
            dist = np.concatenate([dist, extra[2]])
        return qi, pos, dist


_NO_PROBES: Final = (
    np.empty(0, np.intp),
    np.empty(0, np.uint64),
    np.empty(0, np.uint64),
    np.empty(0, np.uint64),
    np.empty(0, np.int64),
    np.empty(0, np.int64),
)


def _scan_many(
    words: U64, queries: U64, radius: int, query_numbers: npt.NDArray[np.integer]
) -> tuple[I64, I64, npt.NDArray[np.uint32]]:
    qi_parts: list[I64] = [np.empty(0, np.int64)]
    pos_parts: list[I64] = [np.empty(0, np.int64)]
    dist_parts: list[npt.NDArray[np.uint32]] = [np.empty(0, np.uint32)]
    for number, query in zip(query_numbers, queries, strict=True):
        pos, dist = _scan(words, query, radius)
        qi_parts.append(np.full(len(pos), number, np.int64))
        pos_parts.append(pos)
        dist_parts.append(dist)
    return np.concatenate(qi_parts), np.concatenate(pos_parts), np.concatenate(dist_parts)


class PdqIndex:
    """Exact Hamming-radius search over 256-bit hashes (PDQ), for lists of millions.

    Ids are int64 chosen by the caller (e.g. a hash-list entry or item id). An id that
    was added with several hashes is reported once per query, at its smallest distance.
    """

    def __init__(self) -> None:
        self._segments: list[_Segment] = []
        self._pending_words: list[U64] = []
        self._pending_ids: list[I64] = []
        self._tail_words: U64 = np.empty((0, 4), np.uint64)
        self._tail_ids: I64 = np.empty(0, np.int64)

    def __len__(self) -> int:
        return (
            sum(len(s.ids) for s in self._segments)
            + len(self._tail_ids)
            + sum(len(i) for i in self._pending_ids)
        )

    @property
    def nbytes(self) -> int:
        """Memory held by hashes, ids and bucket tables."""
        pending = sum(w.nbytes for w in self._pending_words) + sum(
            i.nbytes for i in self._pending_ids
        )
        tail = self._tail_words.nbytes + self._tail_ids.nbytes
        return sum(s.nbytes for s in self._segments) + tail + pending

    def add(self, hashes: npt.ArrayLike | Sequence[bytes], ids: npt.ArrayLike) -> None:
        """Add (n, 32) uint8 hashes with their (n,) int64 ids.

        Cheap: tables are built at the next search (or `build()`), so a bulk load
        of many `add` calls costs one build.
        """
        words = _as_words(hashes, "hashes").copy()
        id_arr = np.asarray(ids)
        if id_arr.ndim != 1 or len(id_arr) != len(words):
            raise ValueError("ids: expected a 1-D array with one id per hash")
        if len(id_arr) and not np.issubdtype(id_arr.dtype, np.integer):
            raise ValueError("ids: expected integers")
        if len(words):
            self._pending_words.append(words)
            self._pending_ids.append(id_arr.astype(np.int64))

    def build(self) -> None:
        """Index pending hashes now (e.g. in a background thread after loading lists)."""
        if not self._pending_ids:
            return
        words = np.concatenate([self._tail_words, *self._pending_words])
        ids = np.concatenate([self._tail_ids, *self._pending_ids])
        segments = list(self._segments)
        if len(ids) >= TAIL_MAX:
            # Merge like a binary counter: keeps O(log n) segments of falling size.
            while segments and len(segments[-1].ids) <= 2 * len(ids):
                last = segments.pop()
                words = np.concatenate([last.words, words])
                ids = np.concatenate([last.ids, ids])
            segments.append(_Segment.build(words, ids))
            words, ids = np.empty((0, 4), np.uint64), np.empty(0, np.int64)
        # State changes only once everything is built: a failure (say, MemoryError)
        # leaves the index as it was, pending hashes included.
        self._segments, self._tail_words, self._tail_ids = segments, words, ids
        self._pending_words, self._pending_ids = [], []

    def search(
        self, query: bytes | npt.ArrayLike, radius: int = DEFAULT_RADIUS
    ) -> list[tuple[int, int]]:
        """(id, distance) of every hash within `radius` bits, nearest first."""
        if isinstance(query, bytes | bytearray | memoryview):
            q = np.frombuffer(bytes(query), dtype=np.uint8)
        else:
            q = np.asarray(query)
        if q.shape != (HASH_BYTES,):
            raise ValueError(f"query: expected {HASH_BYTES} bytes")
        return self.search_batch(q.reshape(1, HASH_BYTES), radius)[0]

    def search_batch(
        self, queries: npt.ArrayLike | Sequence[bytes], radius: int = DEFAULT_RADIUS
    ) -> list[list[tuple[int, int]]]:
        """`search` for each row of an (m, 32) uint8 array, in one vectorised pass."""
        if radius < 0:
            raise ValueError("radius must be >= 0")
        qwords = _as_words(queries, "queries")
        self.build()
        radius = min(radius, 8 * HASH_BYTES)
        found: list[tuple[I64, I64, npt.NDArray[np.uint32]]] = []
        for seg in self._segments:
            qi, pos, dist = seg.search(qwords, radius)
            found.append((qi, seg.ids[pos], dist))
        if len(self._tail_ids):
            qi, pos, dist = _scan_many(self._tail_words, qwords, radius, np.arange(len(qwords)))
            found.append((qi, self._tail_ids[pos], dist))
        return _collect(len(qwords), found)


def _collect(
    n_queries: int, found: Iterable[tuple[I64, I64, npt.NDArray[np.uint32]]]
) -> list[list[tuple[int, int]]]:
    """Per query: (id, distance) pairs, one per id at its smallest distance, sorted."""
    parts = list(found)
    results: list[list[tuple[int, int]]] = [[] for _ in range(n_queries)]
    if not parts:
        return results
    qi = np.concatenate([p[0] for p in parts])
    ids = np.concatenate([p[1] for p in parts])
    dist = np.concatenate([p[2] for p in parts]).astype(np.int64)
    # Sort by (query, id, distance) and keep the first of each (query, id).
    order = np.lexsort((dist, ids, qi))
    qi, ids, dist = qi[order], ids[order], dist[order]
    first = np.ones(len(qi), dtype=bool)
    first[1:] = (qi[1:] != qi[:-1]) | (ids[1:] != ids[:-1])
    qi, ids, dist = qi[first], ids[first], dist[first]
    # Then nearest first within each query.
    order = np.lexsort((ids, dist, qi))
    for q, i, d in zip(qi[order].tolist(), ids[order].tolist(), dist[order].tolist(), strict=True):
        results[q].append((i, d))
    return results


class DigestIndex:
    """Exact lookup of SHA-256 / MD5 digests (raw bytes) to the ids that carry them."""

    def __init__(self) -> None:
        self._ids: dict[bytes, tuple[int, ...]] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, digest: object) -> bool:
        return digest in self._ids

    def add(self, digest: bytes, id_: int) -> None:
        known = self._ids.get(digest, ())
        if id_ not in known:
            self._ids[digest] = (*known, id_)

    def add_many(self, pairs: Iterable[tuple[bytes, int]]) -> None:
        for digest, id_ in pairs:
            self.add(digest, id_)

    def lookup(self, digest: bytes) -> tuple[int, ...]:
        """Ids with exactly this digest, in the order they were added; () if none."""
        return self._ids.get(digest, ())
