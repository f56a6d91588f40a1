"""Re-hashing stored images after the PDQ hasher changed: stored hashes end up equal
to what the current hasher computes from the stored bytes, pending items are matched
again, and media the store cannot give back keep their hash (both backends)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hash_helpers import ingest_one

from db.hashes import HashRepo
from db.media_store import MediaStore
from db.store import Store
from reviewer import hashing, synthetic
from reviewer.cli import main
from reviewer.hashing import compute_hashes
from reviewer.matching import HashIngest, import_hash_list, rehash_stored
from reviewer.media_types import MediaUnreadable

_real_pdq_of = hashing._pdq_of


def _older_hasher(data: bytes) -> tuple[bytes, int, hashing.Picture]:
    """Stands for a hasher of an earlier release that disagrees with today's."""
    pdq, quality, picture = _real_pdq_of(data)
    return bytes(b ^ 0xFF for b in pdq), quality, picture


def _stored_pdqs(repo: HashRepo) -> dict[str, bytes | None]:
    return {h.sha256: h.pdq for _, h in repo.stored_images(0, 1000)}


def test_rehash_makes_stored_hashes_agree_with_the_hasher(
    store: Store, media: MediaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = store.hashes
    datas = [synthetic.encode(synthetic.make_image(900, 600, seed), "JPEG") for seed in (1, 2, 3)]
    with monkeypatch.context() as m:
        m.setattr(hashing, "_pdq_of", _older_hasher)
        items = [ingest_one(store, media, HashIngest(repo), d, str(i)) for i, d in enumerate(datas)]
    fresh = {compute_hashes(d).sha256: compute_hashes(d).pdq for d in datas}
    assert all(_stored_pdqs(repo)[sha] != pdq for sha, pdq in fresh.items())

    listed = compute_hashes(datas[0]).pdq_hex
    row = {"hash_type": "pdq", "value": listed, "source": "NGO", "category": "B"}
    import_hash_list(repo, (json.dumps(row) + "\n").encode(), "ngo", "NGO", "l.jsonl")
    assert repo.known_matches(items[0]) == []  # the old hash is far from the list's

    # One blob is gone from the media store: its hash stays as stored, and is named.
    lost = compute_hashes(datas[2]).sha256
    media.discard(lost)
    report = rehash_stored(repo, media.get)
    assert (report.checked, report.changed, report.missing) == (2, 2, (lost,))
    stored = _stored_pdqs(repo)
    assert stored[compute_hashes(datas[0]).sha256] == fresh[compute_hashes(datas[0]).sha256]
    assert stored[compute_hashes(datas[1]).sha256] == fresh[compute_hashes(datas[1]).sha256]
    assert stored[lost] != fresh[lost]
    (match,) = repo.known_matches(items[0])
    assert match.kind == "pdq" and match.distance == 0
    assert [e.detail["changed"] for e in store.audit_events(kind="media_rehashed")] == [2]

    again = rehash_stored(repo, media.get)
    assert (again.checked, again.changed) == (2, 0)  # idempotent


def test_rehash_refuses_bytes_that_are_not_the_stored_media(
    store: Store, media: MediaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that hands back another file's bytes must not overwrite a hash."""
    repo = store.hashes
    data = synthetic.encode(synthetic.make_image(640, 480, 9), "JPEG")
    other = synthetic.encode(synthetic.make_image(640, 480, 10), "JPEG")
    with monkeypatch.context() as m:
        m.setattr(hashing, "_pdq_of", _older_hasher)
        ingest_one(store, media, HashIngest(repo), data, "x")
    before = _stored_pdqs(repo)
    report = rehash_stored(repo, lambda sha: other)
    assert report.changed == 0 and report.missing == (compute_hashes(data).sha256,)
    assert _stored_pdqs(repo) == before


def test_rehash_keeps_a_hash_the_hasher_can_no_longer_compute(
    store: Store, media: MediaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stricter decoder must not cost a stored PDQ: the item would drop off the lists."""
    repo = store.hashes
    data = synthetic.encode(synthetic.make_image(640, 480, 11), "JPEG")
    ingest_one(store, media, HashIngest(repo), data, "x")
    before = _stored_pdqs(repo)

    def refuses(_data: bytes) -> tuple[bytes, int, hashing.Picture]:
        raise MediaUnreadable("corrupt", "a stricter decoder")

    monkeypatch.setattr(hashing, "_pdq_of", refuses)
    report = rehash_stored(repo, media.get)
    assert report.changed == 0 and report.unhashable == (compute_hashes(data).sha256,)
    assert _stored_pdqs(repo) == before and None not in before.values()


def test_rehash_command(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    img = synthetic.make_image(700, 500, 4)
    (tmp_path / "a.jpg").write_bytes(synthetic.encode(img, "JPEG"))
    (tmp_path / "b.png").write_bytes(synthetic.encode(img, "PNG"))
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        "".join(
            json.dumps({"media": n, "source": "user_report"}) + "\n" for n in ("a.jpg", "b.png")
        )
    )
    with monkeypatch.context() as m:
        m.setattr(hashing, "_pdq_of", _older_hasher)
        assert main(["ingest", str(manifest), "--db", db_url]) == 0
    capsys.readouterr()
    assert main(["hashlist", "rehash", "--db", db_url]) == 0
    assert "re-hashed 2 stored image(s): 2 PDQ hash(es) changed" in capsys.readouterr().out
    assert main(["hashlist", "rehash", "--db", db_url]) == 0
    assert "0 PDQ hash(es) changed" in capsys.readouterr().out
