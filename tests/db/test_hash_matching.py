"""Known-hash matching, list versions, near-duplicate groups and export, end to end:
ingest (hashing + matching hook) -> list import -> review decisions, on both backends."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import wiring
from hash_helpers import set_grades_needed
from PIL import Image
from sign_in import stored_account

from db.hashes import HashRepo
from db.media_store import MediaStore
from db.store import Store
from reviewer import synthetic
from reviewer.grading import Grading
from reviewer.hashing import compute_hashes
from reviewer.hashlists import MAX_SOURCE, ListRefused, parse_hash_list
from reviewer.ingest import Entry, IngestReport, ingest_bytes
from reviewer.matching import (
    HashIngest,
    ShowLess,
    export_confirmed,
    grading_for,
    import_hash_list,
)
from reviewer.matching_demo import generate_matching_demo
from reviewer.model import Exposure, User
from reviewer.untrusted import MAX_LIST_NAME, Untrusted
from reviewer.vocabulary import (
    AgeBand,
    AgeConfidence,
    ProductionContext,
    Severity,
    SkipReason,
    Source,
)

SIZE = (640, 480)


def _crop(img: Image.Image, fraction: float) -> Image.Image:
    w, h = img.size
    dx, dy = max(1, round(w * fraction)), max(1, round(h * fraction))
    return img.crop((dx, dy, w - dx, h - dy))


VARIANTS: dict[str, Callable[[Image.Image], bytes]] = {
    "resized": lambda im: synthetic.encode(im.resize((im.width // 2, im.height // 2)), "JPEG"),
    "reencoded": lambda im: synthetic.encode(im, "JPEG", 55),
    "cropped": lambda im: synthetic.encode(_crop(im, 0.005), "JPEG"),
    "greyscale": lambda im: synthetic.encode(im.convert("L"), "JPEG"),
}


def _ingest(
    store: Store,
    media: MediaStore,
    hook: HashIngest,
    data: bytes,
    tag: str,
    suspected: Severity | None = None,
) -> int:
    report = IngestReport()
    entry = Entry(
        line=1,
        source=Source.USER_REPORT,
        queue="General",
        external_id=tag,
        imminent_risk=False,
        reported_accounts=(),
        upload_ip=None,
        upload_time=datetime(2026, 1, 5, tzinfo=UTC),
        report_text="",
        extra={},
        suspected_category=suspected,
    )
    ingest_bytes(store.items, media, entry, data, report, hook)
    assert report.item_ids, "item not created"
    return report.item_ids[-1]


def _list(rows: list[dict[str, str]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _pdq_row(data: bytes, category: str = "A", band: str = "7-10") -> dict[str, str]:
    pdq = compute_hashes(data).pdq_hex
    assert pdq is not None
    return {
        "hash_type": "pdq",
        "value": pdq,
        "source": "Hotline",
        "category": category,
        "age_band": band,
    }


def _grading(severity: Severity = Severity.B, band: AgeBand = AgeBand.B11_13) -> Grading:
    return Grading(
        severity=severity,
        age_band=band,
        age_confidence=AgeConfidence.CERTAIN,
        production_context=ProductionContext.UNKNOWN,
    )


@pytest.fixture
def repo(store: Store) -> HashRepo:
    return store.hashes


@pytest.mark.parametrize("list_first", [True, False], ids=["at_ingest", "rematched"])
def test_altered_reuploads_match_the_list_end_to_end(
    store: Store, media: MediaStore, repo: HashRepo, list_first: bool
) -> None:
    originals = [synthetic.make_image(*SIZE, seed) for seed in range(3)]
    rows = [_pdq_row(synthetic.encode(img, "JPEG", 90)) for img in originals]

    def load() -> None:
        import_hash_list(repo, _list(rows), "ngo", "Hotline", "ngo.jsonl")

    if list_first:
        load()
    hook = HashIngest(repo)
    altered: dict[tuple[int, str], int] = {}
    for n, img in enumerate(originals):
        for name, make in VARIANTS.items():
            altered[n, name] = _ingest(store, media, hook, make(img), f"{n}-{name}")
    unrelated = _ingest(
        store, media, hook, synthetic.encode(synthetic.make_image(*SIZE, 99), "JPEG"), "x"
    )
    if not list_first:
        load()

    entry_of = {r["value"]: n for n, r in enumerate(rows)}
    for (n, name), item_id in altered.items():
        found = repo.known_matches(item_id)
        assert found, f"{name} copy of picture {n} did not match"
        best = found[0]
        assert best.kind == "pdq" and best.distance <= 31, (name, best)
        assert best.hash_list.name == "ngo" and best.graded
    assert repo.known_matches(unrelated) == []
    # A match with a graded entry makes the entry's category the item's severity hint.
    assert {store.items.item(i).suspected_category for i in altered.values()} == {Severity.A}
    assert store.items.item(unrelated).suspected_category is None
    # Each altered copy matched its own original's entry, not another's.
    values = {e.id: e.value for e in repo.active_entries()}
    for (n, _name), item_id in altered.items():
        assert {entry_of[values[m.entry_id]] for m in repo.known_matches(item_id)} == {n}


def test_exact_digests_match_and_are_told_apart_from_pdq(
    store: Store, media: MediaStore, repo: HashRepo
) -> None:
    data = synthetic.encode(synthetic.make_image(*SIZE, 5), "JPEG")
    h = compute_hashes(data)
    rows = [
        {
            "hash_type": "sha256",
            "value": h.sha256,
            "source": "Hotline",
            "category": "C",
            "age_band": "14-15",
        },
        {"hash_type": "md5", "value": h.md5.upper(), "source": "Hotline"},
    ]
    import_hash_list(repo, _list(rows), "exact", "Hotline", "exact.jsonl")
    item = _ingest(store, media, HashIngest(repo), data, "e")
    found = repo.known_matches(item)
    assert {(m.kind, m.hash_type.value) for m in found} == {("exact", "sha256"), ("exact", "md5")}
    show = ShowLess(repo, store, User(1, "nobody", "moderator"), wiring.NoMedia().get)
    graded = show.graded_matches(item)
    # Only the SHA-256 row carries a grade; the MD5 row has no category.
    assert [m.hash_type.value for m in graded] == ["sha256"]
    assert graded[0].describe() == "SHA-256 exact match"
    media_row = repo.pending_item_hashes()[0][1]
    assert media_row.md5 == h.md5 and media_row.pdq == h.pdq


def test_a_list_with_malformed_rows_is_refused_whole_and_changes_nothing(
    repo: HashRepo,
) -> None:
    good = _pdq_row(synthetic.encode(synthetic.make_image(*SIZE, 1), "JPEG"))
    other = {"hash_type": "md5", "value": "a" * 32, "source": "H"}
    first = import_hash_list(repo, _list([good]), "mixed", "Hotline", "v1.jsonl")
    text = (
        json.dumps(good)
        + "\n"
        + '{"hash_type": "md5", "value": "xyz", "source": "H"}\n'
        + "not json\n"
        + json.dumps(other)
        + "\n"
    ).encode()
    with pytest.raises(ListRefused) as refused:
        import_hash_list(repo, text, "mixed", "Hotline", "mixed.jsonl")
    assert [(e.line, e.skipped) for e in refused.value.errors] == [(2, True), (3, True)]
    assert "2 problem(s) in mixed.jsonl; nothing imported" in str(refused.value)
    with pytest.raises(ListRefused, match="line 1: header lacks column"):
        import_hash_list(repo, b"garbage\n", "mixed", "Hotline", "bad.csv")
    with pytest.raises(ListRefused, match="no valid rows"):
        import_hash_list(repo, b"hash_type,value,source\n", "mixed", "Hotline", "empty.csv")
    long_name, long_source = "n" * (MAX_LIST_NAME + 1), "s" * (MAX_SOURCE + 1)
    with pytest.raises(Untrusted, match=f"'name' is longer than {MAX_LIST_NAME} characters"):
        import_hash_list(repo, _list([good]), long_name, "Hotline", "v2.jsonl")
    with pytest.raises(Untrusted, match=f"'source' is longer than {MAX_SOURCE} characters"):
        import_hash_list(repo, _list([good]), "mixed", long_source, "v2.jsonl")
    assert repo.lists(long_name) == []
    # The refused files replaced nothing and added nothing.
    assert repo.lists("mixed") == [first.hash_list]
    assert {e.value for e in repo.active_entries()} == {good["value"]}


def test_provenance_and_versions_survive_a_list_update(
    store: Store, media: MediaStore, repo: HashRepo
) -> None:
    a, b = (synthetic.encode(synthetic.make_image(*SIZE, s), "JPEG") for s in (11, 12))
    v1 = import_hash_list(
        repo, _list([_pdq_row(a, "A"), _pdq_row(b, "A")]), "ngo", "Org 1", "v1.jsonl", user_id=None
    )
    hook = HashIngest(repo)
    item_a = _ingest(store, media, hook, a, "a")
    item_b = _ingest(store, media, hook, b, "b")
    # Decide item a by confirming its known match.
    user = stored_account(store, "mod")
    claim = store.claims.claim_next(user.id)
    assert claim is not None and claim.item.id == item_a
    show = ShowLess(repo, store, User(user.id, user.name, user.role), wiring.NoMedia().get)
    match = show.graded_matches(item_a)[0]
    show.confirm(claim, match, Exposure(), str(uuid.uuid4()))

    # Version 2 regrades b and drops a.
    v2 = import_hash_list(repo, _list([_pdq_row(b, "B", "11-13")]), "ngo", "Org 2", "v2.jsonl")
    assert v2.replaced_version == 1 and v2.hash_list.version == 2
    versions = repo.lists("ngo")
    assert [(v.version, v.active, v.source_org, v.file_name) for v in versions] == [
        (1, False, "Org 1", "v1.jsonl"),
        (2, True, "Org 2", "v2.jsonl"),
    ]
    assert versions[0].file_sha256 == v1.hash_list.file_sha256 != versions[1].file_sha256
    # The decided item still cites the version it was confirmed under...
    decided = repo.known_matches(item_a)
    assert [(m.hash_list.version, m.category) for m in decided] == [(1, Severity.A)]
    assert "ngo v1 (Org 1)" in store.items.decisions(item_a)[0]["note"]
    # ...the pending one was re-matched to the new version and its new grade.
    pending = show.graded_matches(item_b)
    assert [(m.hash_list.version, m.category) for m in pending] == [(2, Severity.B)]
    kinds = [e.kind for e in store.audit_events()]
    assert kinds.count("hashlist_imported") == 2 and "hashlist_rematched" in kinds


def test_confirm_stores_the_lists_grade_with_zero_exposure(
    store: Store, media: MediaStore, repo: HashRepo
) -> None:
    data = synthetic.encode(synthetic.make_image(*SIZE, 21), "JPEG")
    import_hash_list(repo, _list([_pdq_row(data, "A", "3-6")]), "ngo", "Hotline", "l.jsonl")
    item = _ingest(store, media, HashIngest(repo), data, "k")
    user = stored_account(store, "mod")
    claim = store.claims.claim_next(user.id)
    assert claim is not None
    show = ShowLess(repo, store, User(user.id, user.name, user.role), wiring.NoMedia().get)
    match = show.graded_matches(item)[0]
    assert grading_for(match).severity is Severity.A
    show.confirm(claim, match, Exposure(), "tok-1")
    (decision,) = store.items.decisions(item)
    assert decision["severity"] == "A" and decision["age_band"] == "3-6"
    assert "Confirmed known match" in decision["note"]
    (exposure,) = store.items.exposures(item)
    assert exposure["reveal_count"] == 0 and not exposure["full_unprotected"]


def test_near_duplicates_group_and_the_grade_propagates(
    store: Store, media: MediaStore, repo: HashRepo
) -> None:
    img = synthetic.make_image(*SIZE, 31)
    hook = HashIngest(repo)
    rep = _ingest(store, media, hook, synthetic.encode(img, "JPEG"), "r")
    copies = [_ingest(store, media, hook, make(img), name) for name, make in VARIANTS.items()]
    lonely = _ingest(
        store, media, hook, synthetic.encode(synthetic.make_image(*SIZE, 32), "JPEG"), "u"
    )
    flat = _ingest(store, media, hook, synthetic.encode(Image.new("RGB", SIZE, "grey"), "PNG"), "f")
    flat2 = _ingest(
        store, media, hook, synthetic.encode(Image.new("RGB", SIZE, "grey"), "JPEG"), "f2"
    )
    group = repo.group_of(rep)
    assert group is not None and group.representative_item_id == rep
    assert {m.item_id for m in group.members} == {rep, *copies}
    assert all(m.distance <= 31 for m in group.members)
    # Unrelated pictures and low-quality PDQ (flat pictures) are never grouped.
    assert repo.group_of(lonely) is None
    assert repo.group_of(flat) is None and repo.group_of(flat2) is None

    user = stored_account(store, "mod")
    claim = store.claims.claim_next(user.id)
    assert claim is not None and claim.item.id == rep
    store.claims.submit_decision(claim, _grading(), Exposure(1.5, 1, 1.0, True), "rep")
    show = ShowLess(repo, store, User(user.id, user.name, user.role), wiring.NoMedia().get)
    assert {store.items.item(i).suspected_category for i in copies} == {None}
    after = show.group_after(rep)
    assert after is not None
    # The members still to decide take the group's grade as their hint at once.
    assert {store.items.item(i).suspected_category for i in copies} == {Severity.B}
    assert store.items.item(lonely).suspected_category is None
    members = [m.item_id for m in after.pending_except(rep)]
    done = show.settle(after.id, rep, members[:-1], members[-1:])
    assert set(done.decided) == set(members[:-1]) and done.skipped == ()
    for item_id in done.decided:
        (d,) = store.items.decisions(item_id)
        assert (d["severity"], d["age_band"]) == ("B", "11-13")
        (e,) = store.items.exposures(item_id)
        assert e["reveal_count"] == 0 and e["seconds_revealed"] == 0 and not e["full_unprotected"]
        assert [ev.kind for ev in store.audit_events(item_id)][-1] == "group_decision"
        assert store.items.item_status(item_id) == "decided"
    assert repo.group_of(members[-1]) is None  # detached: graded on its own
    # Propagating again skips what is no longer pending.
    again = show.settle(after.id, rep, members[:1])
    assert again.decided == () and again.skipped == (members[0],)
    assert show.flags() == []


def test_hints_rise_with_evidence_and_never_fall(
    store: Store, media: MediaStore, repo: HashRepo
) -> None:
    """Manifest, known list and a decided near-duplicate: the most severe wins."""
    pictures = [synthetic.make_image(*SIZE, seed) for seed in (51, 52, 53)]
    listed, decided, plain = (synthetic.encode(p, "JPEG") for p in pictures)
    rows = [_pdq_row(listed, "B", "11-13"), {"hash_type": "md5", "value": "ab" * 16, "source": "H"}]
    import_hash_list(repo, _list(rows), "ngo", "Hotline", "l.jsonl")
    hook = HashIngest(repo)
    # The classifier suspected C; the list says B: the hint rises to B.
    from_list = _ingest(store, media, hook, VARIANTS["resized"](pictures[0]), "l", Severity.C)
    # The manifest said A; the list's B does not lower it.
    kept = _ingest(store, media, hook, VARIANTS["reencoded"](pictures[0]), "k", Severity.A)
    first = _ingest(store, media, hook, decided, "d")
    assert store.items.item(from_list).suspected_category is Severity.B
    assert store.items.item(kept).suspected_category is Severity.A
    assert store.items.item(first).suspected_category is None

    user = stored_account(store, "mod")
    claim = store.claims.claim_next(user.id)
    while claim is not None and claim.item.id != first:
        store.claims.skip(claim, SkipReason.OTHER, "", Exposure())
        claim = store.claims.claim_next(user.id)
    assert claim is not None
    store.claims.submit_decision(claim, _grading(Severity.A, AgeBand.B7_10), Exposure(), "t")
    # Uploaded again, altered: a near-duplicate of a decided item takes its grade. An
    # ingest run loads the decided items once, so this is a new run.
    later = HashIngest(repo)
    again = _ingest(store, media, later, VARIANTS["greyscale"](pictures[1]), "again")
    other = _ingest(store, media, later, plain, "p")
    assert store.items.item(again).suspected_category is Severity.A
    assert store.items.item(other).suspected_category is None


def test_a_member_graded_differently_flags_the_group(
    store: Store, media: MediaStore, repo: HashRepo
) -> None:
    img = synthetic.make_image(*SIZE, 41)
    hook = HashIngest(repo)
    rep = _ingest(store, media, hook, synthetic.encode(img, "JPEG"), "r")
    member = _ingest(store, media, hook, VARIANTS["greyscale"](img), "m")
    user = stored_account(store, "mod")
    c1 = store.claims.claim_next(user.id)
    assert c1 is not None and c1.item.id == rep
    store.claims.submit_decision(c1, _grading(Severity.B), Exposure(), "t1")
    c2 = store.claims.claim_next(user.id)
    assert c2 is not None and c2.item.id == member
    store.claims.submit_decision(c2, _grading(Severity.A), Exposure(), "t2")
    show = ShowLess(repo, store, User(user.id, user.name, user.role), wiring.NoMedia().get)
    (flag,) = show.flags()
    assert flag.item_id == member and "graded A" in flag.reason
    assert show.flags() == [flag]  # the sweep is idempotent
    assert [e.item_id for e in store.audit_events(kind="dup_group_flagged")] == [member]


def test_export_confirmed_hashes_round_trips_and_is_audited(
    store: Store, media: MediaStore, repo: HashRepo
) -> None:
    hook = HashIngest(repo)
    datas = [synthetic.encode(synthetic.make_image(*SIZE, s), "JPEG") for s in (51, 52)]
    items = [_ingest(store, media, hook, d, str(i)) for i, d in enumerate(datas)]
    user = stored_account(store, "mod")
    # One grade is enough here (tests/db/test_export_consensus.py tests the bar).
    set_grades_needed(store, 1)
    for sev, token in ((Severity.A, "x1"), (Severity.NOT_ILLEGAL, "x2")):
        claim = store.claims.claim_next(user.id)
        assert claim is not None
        grading = _grading(sev) if sev.is_category else Grading(severity=sev)
        store.claims.submit_decision(claim, grading, Exposure(), token)
    for fmt in ("csv", "jsonl"):
        out = io.StringIO()
        report = export_confirmed(repo, out, fmt, "Our Org", user.id)
        assert (report.items, report.rows) == (1, 3)  # the Category A item: PDQ, MD5, SHA-256
        entries, errors = parse_hash_list(out.getvalue())
        assert errors == []
        h = compute_hashes(datas[0])
        assert {(e.hash_type.value, e.value) for e in entries} == {
            ("pdq", h.pdq_hex),
            ("md5", h.md5),
            ("sha256", h.sha256),
        }
        assert {(e.category, e.age_band) for e in entries} == {(Severity.A, AgeBand.B11_13)}
    assert len(store.audit_events(kind="hashlist_exported")) == 2
    assert items


def test_demo_queue_decides_40_percent_without_unprotected_pixels(
    store: Store, media: MediaStore, repo: HashRepo
) -> None:
    """30 % on a graded list, 20 % near-duplicates: a moderator who confirms known
    matches unseen, and who fully reveals every other item before grading it, still
    decides at least 40 % of the queue with no unprotected pixel shown (by the
    exposure ledger)."""
    demo = generate_matching_demo(store.items, media, repo, n=20, seed=3, list_first=False)
    user = stored_account(store, "mod")
    show = ShowLess(repo, store, User(user.id, user.name, user.role), wiring.NoMedia().get)
    revealed = Exposure(
        seconds_revealed=4.0, reveal_count=1, max_area_fraction=1.0, full_unprotected=True
    )
    while (claim := store.claims.claim_next(user.id)) is not None:
        item_id = claim.item.id
        matches = show.graded_matches(item_id)
        if matches:
            show.confirm(claim, matches[0], Exposure(), str(uuid.uuid4()))
            continue
        store.claims.submit_decision(claim, _grading(), revealed, str(uuid.uuid4()))
        group = show.group_after(item_id)
        if group is not None:
            show.settle(group.id, item_id, [m.item_id for m in group.pending_except(item_id)])

    all_items = [*demo.known, *demo.near, *demo.other]
    assert all(store.items.item_status(i) == "decided" for i in all_items)
    unseen = [
        i
        for i in all_items
        if all(
            e["reveal_count"] == 0 and not e["full_unprotected"] for e in store.items.exposures(i)
        )
    ]
    share = len(unseen) / len(all_items)
    assert share >= 0.40, share
    # The known items were all confirmed from the list, not graded by eye.
    assert set(demo.known) <= set(unseen)


def test_a_video_whose_keyframe_is_on_a_list_matches_it(
    store: Store, media: MediaStore, repo: HashRepo
) -> None:
    """Known-list matching works per keyframe: a listed frame inside a video is found
    without anyone watching it."""
    from reviewer import synthetic_video
    from reviewer.video_model import inspect_for_ingest

    videos = store.videos
    listed = synthetic_video.make_video(duration_s=4.0, seed=21)
    unrelated = synthetic_video.make_video(duration_s=4.0, seed=22)
    _, frames = inspect_for_ingest(listed)
    frame = max(frames, key=lambda f: f.quality)
    assert frame.quality >= 50
    row = {
        "hash_type": "pdq",
        "value": frame.hex,
        "source": "Hotline",
        "category": "A",
        "age_band": "3-6",
    }
    import_hash_list(repo, _list([row]), "ngo", "Hotline", "frames.jsonl")

    def frame_pdqs(sha256: str) -> tuple:
        meta = videos.video_meta(sha256)
        return () if meta is None else meta.keyframe_pdqs

    hook = HashIngest(repo, frame_pdqs=frame_pdqs)
    ids = []
    for tag, data in (("listed", listed), ("unrelated", unrelated)):
        report = IngestReport()
        entry = Entry(1, Source.USER_REPORT, "General", tag, False, (), None, None, "", {})
        ingest_bytes(store.items, media, entry, data, report, hook, videos)
        ids.append(report.item_ids[-1])
    [match] = repo.known_matches(ids[0])
    assert match.kind == "pdq" and match.distance == 0
    assert repo.known_matches(ids[1]) == []
