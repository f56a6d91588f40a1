"""The media store keeps only AES-GCM ciphertext: authenticated, bound to its hash."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from db.media_store import NONCE_BYTES, MediaKeyMismatch, MediaStore, MediaTampered
from reviewer import synthetic
from reviewer.errors import MediaMissing

JPEG_SOI = b"\xff\xd8\xff"
JFIF_APP0 = b"\xff\xd8\xff\xe0\x00\x10JFIF"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def media(root: Path, key: bytes) -> MediaStore:
    return MediaStore(root, key)


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    return synthetic.make_jpeg(0.3, seed=1)


@pytest.fixture(scope="module")
def png() -> bytes:
    return synthetic.make_png(0.3, seed=2)


def blob_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")]


def test_round_trip_returns_the_original_and_its_hash(
    media: MediaStore, jpeg: bytes, png: bytes
) -> None:
    for data in (jpeg, png, b"\x00", os.urandom(100_000)):
        sha = media.put(data)
        assert sha == hashlib.sha256(data).hexdigest()
        assert media.has(sha) and media.get(sha) == data


def test_put_is_idempotent(media: MediaStore, root: Path, jpeg: bytes) -> None:
    sha = media.put(jpeg)
    [path] = blob_files(root)
    before = path.read_bytes()
    assert media.put(jpeg) == sha
    assert blob_files(root) == [path] and path.read_bytes() == before


def test_each_blob_has_a_fresh_nonce(key: bytes, tmp_path: Path, jpeg: bytes) -> None:
    a, b = MediaStore(tmp_path / "a", key), MediaStore(tmp_path / "b", key)
    sha = a.put(jpeg)
    b.put(jpeg)
    blob_a = (tmp_path / "a" / sha[:2] / sha).read_bytes()
    blob_b = (tmp_path / "b" / sha[:2] / sha).read_bytes()
    assert blob_a[:NONCE_BYTES] != blob_b[:NONCE_BYTES] and blob_a != blob_b
    assert len(blob_a) == NONCE_BYTES + len(jpeg) + 16


def test_stored_files_hold_no_readable_media(media: MediaStore, root: Path, jpeg, png) -> None:
    originals = [jpeg, png]
    for data in originals:
        media.put(data)
    assert jpeg.startswith(JFIF_APP0) and png.startswith(PNG_SIGNATURE)
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        stored = path.read_bytes()
        assert not stored.startswith(JPEG_SOI) and not stored[NONCE_BYTES:].startswith(JPEG_SOI)
        assert JFIF_APP0 not in stored and PNG_SIGNATURE not in stored
        # Any 64-byte window of an original contains a whole 32-byte aligned chunk.
        for data in originals:
            for offset in range(0, len(data) - 32, 32):
                assert data[offset : offset + 32] not in stored


def test_missing_blob_is_missing_not_tampered(media: MediaStore) -> None:
    with pytest.raises(MediaMissing) as info:
        media.get("ab" * 32)
    assert not isinstance(info.value, MediaTampered)
    assert not media.has("ab" * 32)


def test_wrong_key_is_refused(root: Path, media: MediaStore, jpeg: bytes) -> None:
    sha = media.put(jpeg)
    other = os.urandom(32)
    with pytest.raises(MediaKeyMismatch, match="another media key"):
        MediaStore(root, other)
    # Even past the store-level check, each blob refuses the wrong key.
    (root / ".media-key-id").unlink()
    with pytest.raises(MediaTampered, match="integrity"):
        MediaStore(root, other).get(sha)


def test_swapped_blob_fails(media: MediaStore, root: Path, jpeg: bytes, png: bytes) -> None:
    a, b = media.put(jpeg), media.put(png)
    path_a, path_b = root / a[:2] / a, root / b[:2] / b
    path_a.write_bytes(path_b.read_bytes())  # a valid blob, under the wrong name
    with pytest.raises(MediaTampered):
        media.get(a)
    assert media.get(b) == png


def test_altered_or_truncated_blob_fails(media: MediaStore, root: Path, jpeg: bytes) -> None:
    sha = media.put(jpeg)
    path = root / sha[:2] / sha
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 1
    path.write_bytes(bytes(blob))
    with pytest.raises(MediaTampered):
        media.get(sha)
    path.write_bytes(bytes(blob[:20]))
    with pytest.raises(MediaTampered, match="truncated"):
        media.get(sha)


def test_a_key_is_required(root: Path) -> None:
    with pytest.raises(ValueError, match="media key is required"):
        MediaStore(root)
    with pytest.raises(ValueError, match="32 bytes"):
        MediaStore(root, b"too short")


def test_failed_write_leaves_no_part_file(
    media: MediaStore, root: Path, jpeg: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        media.put(jpeg)
    monkeypatch.undo()
    assert blob_files(root) == []
    sha = media.put(jpeg)
    assert media.get(sha) == jpeg and [p.name for p in blob_files(root)] == [sha]


def test_plaintext_blobs_of_an_older_version_are_encrypted_on_first_open(
    root: Path, key: bytes, jpeg: bytes
) -> None:
    sha = hashlib.sha256(jpeg).hexdigest()
    (root / sha[:2]).mkdir(parents=True)
    (root / sha[:2] / sha).write_bytes(jpeg)
    (root / sha[:2] / f"{sha}.part").write_bytes(jpeg[:1000])  # a crashed older write
    media = MediaStore(root, key)
    assert media.get(sha) == jpeg
    assert [p.name for p in blob_files(root)] == [sha]
    assert JFIF_APP0 not in (root / sha[:2] / sha).read_bytes()
