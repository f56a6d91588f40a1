"""A synthetic queue that exercises "show less": some items are on a graded hash list,
some are near-duplicates of others. No real imagery: every picture is generated.

Of `n` items, `known` (default 30 %) are re-uploads of pictures an NGO list carries
(half listed by MD5 of the exact bytes, half by the PDQ of the original, the upload
being re-encoded, resized or greyscale); `near` (default 20 %) are altered copies of
other, unlisted items in the queue; the rest are unrelated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from PIL import Image

from reviewer import synthetic
from reviewer.hashing import compute_hashes
from reviewer.ingest import IngestMedia, IngestReport, IngestStore, ingest_bytes
from reviewer.manifest import Entry
from reviewer.matching import HashIngest, HashPort, ImportReport, import_hash_list
from reviewer.vocabulary import Source

LIST_NAME = "Demo hotline list"
LIST_ORG = "Demo Hotline (synthetic)"
_GRADES = [("A", "7-10"), ("B", "11-13"), ("C", "14-15")]


@dataclass(frozen=True)
class MatchingDemo:
    known: tuple[int, ...]  # item ids on the list
    near: tuple[int, ...]  # item ids that are near-duplicates of an earlier item
    other: tuple[int, ...]
    hash_list: ImportReport

    @property
    def total(self) -> int:
        return len(self.known) + len(self.near) + len(self.other)


def altered_copy(img: Image.Image, k: int) -> bytes:
    """A re-upload: re-encoded, resized, greyscale or very slightly cropped."""
    w, h = img.size
    match k % 4:
        case 0:
            return synthetic.encode(img, "JPEG", 60)
        case 1:
            return synthetic.encode(img.resize((w // 2, h // 2)), "JPEG", 85)
        case 2:
            return synthetic.encode(img.convert("L"), "JPEG", 85)
        case _:
            dx, dy = max(1, w // 200), max(1, h // 200)
            return synthetic.encode(img.crop((dx, dy, w - dx, h - dy)), "PNG")


def generate_matching_demo(
    store: IngestStore,
    media: IngestMedia,
    repo: HashPort,
    n: int = 20,
    seed: int = 0,
    known_share: float = 0.3,
    near_share: float = 0.2,
    size: tuple[int, int] = (640, 480),
    list_first: bool = True,
) -> MatchingDemo:
    """Ingest the queue with hashing and matching; import the list before the items
    (matched at ingest) or after them (`list_first=False`: matched by re-matching)."""
    n_known, n_near = round(n * known_share), round(n * near_share)
    n_other = n - n_known - n_near
    if n_other < n_near:
        raise ValueError("near-duplicates need as many unrelated originals to copy")
    hook = HashIngest(repo)
    now = datetime.now(UTC)
    report = IngestReport()
    rows: list[dict[str, str]] = []
    kinds: list[str] = []
    pictures: list[bytes] = []
    for i in range(n_known):
        img = synthetic.make_image(*size, seed * 1000 + i, f"LISTED {i + 1}")
        original = synthetic.encode(img, "JPEG", 90)
        category, band = _GRADES[i % len(_GRADES)]
        if i % 2 == 0:  # the exact file is on the list
            upload = original
            row = {"hash_type": "md5", "value": compute_hashes(original).md5}
        else:  # the list has the original's PDQ; this upload was altered
            upload = altered_copy(img, i)
            pdq = compute_hashes(original).pdq_hex
            assert pdq is not None
            row = {"hash_type": "pdq", "value": pdq}
        rows.append({**row, "source": LIST_ORG, "category": category, "age_band": band})
        pictures.append(upload)
        kinds.append("known")
    originals = [
        synthetic.make_image(*size, seed * 1000 + 500 + j, f"NEW {j + 1}") for j in range(n_other)
    ]
    pictures += [synthetic.encode(img, "JPEG", 88) for img in originals]
    kinds += ["other"] * n_other
    pictures += [altered_copy(originals[j], j) for j in range(n_near)]
    kinds += ["near"] * n_near

    def load_list() -> ImportReport:
        text = "".join(json.dumps(r) + "\n" for r in rows).encode()
        return import_hash_list(repo, text, LIST_NAME, LIST_ORG, "demo-list.jsonl")

    hash_list = load_list() if list_first else None
    ids: dict[str, list[int]] = {"known": [], "near": [], "other": []}
    for i, (kind, data) in enumerate(zip(kinds, pictures, strict=True)):
        entry = Entry(
            line=i + 1,
            source=Source.USER_REPORT,
            queue="General",
            external_id=f"match-demo-{seed}-{i}",
            imminent_risk=False,
            reported_accounts=(f"user{i}@example.test",),
            upload_ip="192.0.2.1",
            upload_time=now - timedelta(minutes=n - i),
            report_text="Synthetic item for the show-less demo.",
            extra={"demo": True, "synthetic": kind},
        )
        ingest_bytes(store, media, entry, data, report, hook)
        ids[kind].append(report.item_ids[-1])
    if hash_list is None:
        hash_list = load_list()
    return MatchingDemo(tuple(ids["known"]), tuple(ids["near"]), tuple(ids["other"]), hash_list)
