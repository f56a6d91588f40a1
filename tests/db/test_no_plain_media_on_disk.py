"""After a demo ingest and a review, nothing on disk holds media or a secret in the clear.

Synthetic pictures only (reviewer.synthetic via reviewer.demo): never real imagery.
The scan covers the whole test directory: the data directory (media store, settings,
vault), the SQLite database when that is the backend, and a private temp directory
that every `tempfile` user is pointed at, so a temporary copy of media would be found.
"""

from __future__ import annotations

import base64
import io
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
import wiring
from keyring.backends import fail
from PIL import Image
from sign_in import sign_in
from sqlalchemy.engine import make_url

from db.keys import AUDIT_KEY, MEDIA_KEY, PASSPHRASE_ENV, PassphraseVault, open_secrets
from db.media_store import MediaStore
from db.store import Store
from reviewer import config
from reviewer.demo import generate_demo
from reviewer.grading import Grading
from reviewer.model import Exposure
from reviewer.vocabulary import Action, AgeBand, AgeConfidence, ProductionContext, Severity

DB_PASSWORD = b"test-db-password-6f1c2e"  # what `reviewer connect` would keep
PASSPHRASE = "vault passphrase for the scan test"
JFIF_APP0 = b"\xff\xd8\xff\xe0\x00\x10JFIF"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHUNK = 32  # any 64-byte window of an original contains a whole aligned 32-byte chunk


class RecordingMedia:
    """Passes puts to the store and keeps the originals for the scan."""

    def __init__(self, media: MediaStore) -> None:
        self.media = media
        self.originals: list[bytes] = []

    def put(self, data: bytes) -> str:
        self.originals.append(data)
        return self.media.put(data)


@pytest.fixture(params=["keyring", "vault"])
def secrets_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "vault":
        keyring.set_keyring(fail.Keyring())  # a headless box; conftest restores it
        monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    return str(request.param)


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    yield tmp


def media_chunks(originals: list[bytes]) -> set[bytes]:
    chunks = set()
    for data in originals:
        for offset in range(0, len(data) - CHUNK + 1, CHUNK):
            chunk = data[offset : offset + CHUNK]
            # Runs such as zero padding are not "readable media" and occur in any file.
            if len(set(chunk)) >= 8:
                chunks.add(chunk)
    return chunks


def secret_forms(secret: bytes) -> list[bytes]:
    return [
        secret,
        base64.b64encode(secret),
        base64.b64encode(secret).rstrip(b"="),
        base64.urlsafe_b64encode(secret),
        secret.hex().encode(),
        secret.hex().upper().encode(),
    ]


def test_nothing_readable_on_disk_after_ingest_and_review(
    db_url: str, secrets_backend: str, private_tmp: Path, tmp_path: Path
) -> None:
    data_dir = config.data_dir()
    secrets = open_secrets(data_dir)
    assert isinstance(secrets, PassphraseVault) == (secrets_backend == "vault")
    media_key = secrets.get_or_create(MEDIA_KEY)
    audit_key = secrets.get_or_create(AUDIT_KEY)
    secrets.set("db-password", DB_PASSWORD)

    store = Store.open(db_url, audit_key=audit_key)
    try:
        media = MediaStore(config.media_dir(), media_key)
        recording = RecordingMedia(media)
        report = generate_demo(store.items, recording, n=6, max_megapixels=1)
        assert report.added == 6 and report.unreadable == 0

        # A review: claim, decode in memory as the viewer does, decide.
        review = sign_in(wiring.workstation(store, media), "moderator")
        claim = review.claim_next()
        assert claim is not None
        review.open_item(claim)
        with Image.open(io.BytesIO(review.media_bytes(claim))) as img:
            img.load()
            assert img.width > 0
        grading = Grading(
            severity=Severity.C,
            age_band=AgeBand.B14_15,
            age_confidence=AgeConfidence.PROBABLE,
            production_context=ProductionContext.PEER,
            actions=frozenset({Action.REMOVE}),
        )
        exposure = Exposure(
            seconds_revealed=3.0, reveal_count=1, max_area_fraction=1.0, full_unprotected=True
        )
        review.submit(claim, grading, exposure, str(uuid.uuid4()))
        assert store.items.item_status(claim.item.id) == "decided"
    finally:
        store.close()  # flushes SQLite's WAL into the file that is scanned

    originals = recording.originals
    assert any(o.startswith(JFIF_APP0) for o in originals)  # the scan is not vacuous
    assert len({p.name for p in config.media_dir().rglob("*") if p.is_file()} - {".media-key-id"})
    chunks = media_chunks(originals)
    secrets_on_disk = [media_key, audit_key, DB_PASSWORD, PASSPHRASE.encode()]
    db_password = make_url(db_url).password
    if db_password:
        secrets_on_disk.append(str(db_password).encode())
    forms = [form for s in secrets_on_disk for form in secret_forms(s)]

    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert data_dir in {p.parent for p in files} or any(data_dir in p.parents for p in files)
    for path in files:
        content = path.read_bytes()
        where = path.relative_to(tmp_path)
        assert not content.startswith(b"\xff\xd8\xff"), f"JPEG SOI at the start of {where}"
        assert JFIF_APP0 not in content, f"JPEG SOI+APP0/JFIF marker in {where}"
        assert PNG_SIGNATURE not in content, f"PNG signature in {where}"
        for form in forms:
            assert form not in content, f"a secret (or its encoding) is in {where}"
        for offset in range(len(content) - CHUNK + 1):
            assert content[offset : offset + CHUNK] not in chunks, f"media bytes in {where}"
    assert list(private_tmp.iterdir()) == [], "temporary files were left behind"
    if secrets_backend == "vault":
        assert (data_dir / "keys.vault.json").is_file()
