"""What the workstation keeps on disk is its owner's only: the embedded database (and
its -wal and -shm files), the data, media and key folders. Created so, and tightened
when they already exist with the modes an older version left (0644 / 0755)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from db.keys import PassphraseVault
from db.media_store import MediaStore
from db.store import Store
from reviewer import config

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REVIEWER_DATA_DIR", str(tmp_path / "data"))
    # What a careless environment gives: new files 0644 and folders 0755 at best.
    old = os.umask(0o022)
    yield tmp_path / "data"
    os.umask(old)


KEY = os.urandom(32)


def _use_everything(data: Path) -> Store:
    """Open and write everything; the store stays open (SQLite removes -wal and -shm
    when the last connection closes)."""
    store = Store.open(config.embedded_database_url())
    store.accounts.ensure_user("mod")  # a write: the -wal and -shm files exist now
    media = MediaStore(config.media_dir(), KEY)
    media.put(b"synthetic bytes, not an image")
    PassphraseVault(data / "keys.vault.json", "a long enough passphrase 1").set("k", b"v")
    return store


def _assert_owner_only(data: Path, blobs: bool = True) -> None:
    db = data / "reviewer.db"
    for f in (db, db.with_name("reviewer.db-wal"), db.with_name("reviewer.db-shm")):
        assert mode(f) == 0o600, f"{f.name} is {oct(mode(f))}"
    assert mode(data / "keys.vault.json") == 0o600
    folders = [data, data / "media", *[p for p in (data / "media").iterdir() if p.is_dir()]]
    assert len(folders) >= 3  # the data folder, the media store and a shard of it
    for d in folders:
        assert mode(d) == 0o700, f"{d} is {oct(mode(d))}"
    for blob in (data / "media").rglob("*") if blobs else ():
        if blob.is_file():
            assert mode(blob) & 0o077 == 0, f"{blob} is {oct(mode(blob))}"


def test_a_new_workstation_creates_everything_owner_only(data: Path) -> None:
    store = _use_everything(data)
    _assert_owner_only(data)
    store.close()


def test_wide_modes_left_by_an_older_version_are_tightened(data: Path) -> None:
    _use_everything(data).close()
    # What an older version left behind: everything readable by every account, and
    # the -wal and -shm files of a database last closed uncleanly.
    (data / "reviewer.db-wal").touch()
    (data / "reviewer.db-shm").touch()
    for p in [data, *data.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    store = _use_everything(data)
    # Blobs are not visited one by one: their folders keep everyone else out.
    _assert_owner_only(data, blobs=False)
    store.close()
