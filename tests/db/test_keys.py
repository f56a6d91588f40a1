"""Secrets live in the OS keyring, or in an explicit passphrase vault; never in plaintext."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import pytest
from keyring.backends import fail, null
from keyring.backends.chainer import ChainerBackend

from db.keys import (
    AUDIT_KEY,
    KEYRING_SERVICE,
    MEDIA_KEY,
    PASSPHRASE_ENV,
    KeyConflict,
    KeyringLocked,
    KeyringSecrets,
    KeysError,
    NoKeyringAvailable,
    PassphraseVault,
    VaultCorrupt,
    VaultLocked,
    WeakPassphrase,
    WrongPassphrase,
    accept_in_memory_backend,
    export_secrets,
    fingerprint,
    import_secrets,
    keyring_problem,
    open_secrets,
    vault_path,
)

PASSPHRASE = "a long vault passphrase"


def encodings(secret: bytes) -> list[bytes]:
    """Every way a secret could plausibly be written down."""
    return [
        secret,
        base64.b64encode(secret),
        base64.urlsafe_b64encode(secret),
        base64.b64encode(secret).rstrip(b"="),
        secret.hex().encode(),
        secret.hex().upper().encode(),
    ]


def assert_not_in_files(root: Path, *secrets: bytes) -> None:
    for f in root.rglob("*"):
        if f.is_file():
            content = f.read_bytes()
            for secret in secrets:
                for form in encodings(secret):
                    assert form not in content, f"a secret leaked into {f}"


@pytest.fixture
def no_keyring() -> None:
    # conftest's memory_keyring fixture restores the previous backend afterwards.
    keyring.set_keyring(fail.Keyring())


class RaisingKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self, exc: Exception) -> None:
        super().__init__()
        self.exc = exc

    def get_password(self, service: str, username: str) -> str | None:
        raise self.exc

    def set_password(self, service: str, username: str, password: str) -> None:
        raise self.exc

    def delete_password(self, service: str, username: str) -> None:
        raise self.exc


class ForgetfulKeyring(keyring.backend.KeyringBackend):
    """Accepts every secret and keeps none, as a misconfigured backend can."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        pass

    def delete_password(self, service: str, username: str) -> None:
        pass


# Both keep secrets in memory only; the allowlist takes them for these tests.
accept_in_memory_backend(RaisingKeyring)
accept_in_memory_backend(ForgetfulKeyring)


# ------------------------------------------------------------------- OS keyring
def test_keys_are_created_once_in_the_keyring(memory_keyring, reviewer_data_dir: Path) -> None:
    source = open_secrets(reviewer_data_dir)
    assert isinstance(source, KeyringSecrets)
    assert source.get(MEDIA_KEY) is None
    media_key = source.get_or_create(MEDIA_KEY)
    audit_key = source.get_or_create(AUDIT_KEY)
    assert len(media_key) == 32 and len(audit_key) == 32 and media_key != audit_key
    # Stable across calls and restarts; stored base64 under the documented service.
    assert open_secrets(reviewer_data_dir).get_or_create(MEDIA_KEY) == media_key
    stored = memory_keyring.passwords[(KEYRING_SERVICE, MEDIA_KEY)]
    assert base64.b64decode(stored) == media_key
    assert not vault_path(reviewer_data_dir).exists()
    if reviewer_data_dir.exists():
        assert_not_in_files(reviewer_data_dir, media_key, audit_key)


def test_keyring_secret_of_wrong_length_is_refused(memory_keyring) -> None:
    memory_keyring.passwords[(KEYRING_SERVICE, MEDIA_KEY)] = base64.b64encode(b"short").decode()
    with pytest.raises(KeysError, match="expected 32"):
        KeyringSecrets().get_or_create(MEDIA_KEY)


def test_keyring_delete(memory_keyring) -> None:
    source = KeyringSecrets()
    source.set("db-password:postgresql+psycopg://mod@db.example:5432/reviews", b"pw")
    source.delete("db-password:postgresql+psycopg://mod@db.example:5432/reviews")
    assert memory_keyring.passwords == {}
    source.delete("never-stored")  # no error


# ---------------------------------------------------------- no usable keyring
def test_no_keyring_raises_a_clear_error(no_keyring, reviewer_data_dir: Path) -> None:
    with pytest.raises(NoKeyringAvailable) as info:
        open_secrets(reviewer_data_dir)
    message = str(info.value)
    assert "No usable OS keyring" in message and PASSPHRASE_ENV in message
    assert "Nothing is ever stored in plaintext" in message
    assert info.value.creating and info.value.vault_path == vault_path(reviewer_data_dir)
    assert not vault_path(reviewer_data_dir).exists()


@pytest.mark.parametrize(
    "backend",
    [fail.Keyring(), null.Keyring()],
    ids=["fail", "null"],
)
def test_unusable_backends_are_detected(backend: keyring.backend.KeyringBackend) -> None:
    assert keyring_problem(backend) is not None
    with pytest.raises(NoKeyringAvailable):
        KeyringSecrets(backend)


def test_empty_chainer_is_no_keyring() -> None:
    class EmptyChainer(ChainerBackend):
        backends = []  # type: ignore[assignment]

    assert keyring_problem(EmptyChainer()) == "keyring found no OS keyring backend"


def test_plaintext_keyrings_are_never_used(memory_keyring) -> None:
    class FileKeyring(ForgetfulKeyring):  # not on the allowlist, as a file backend
        pass

    FileKeyring.__module__ = "somevendor.file"
    problem = keyring_problem(FileKeyring())
    assert problem is not None and "plaintext" in problem

    class Chainer(ChainerBackend):
        backends = [memory_keyring, FileKeyring()]  # type: ignore[assignment]

    assert keyring_problem(Chainer()) is not None


def test_backend_raising_no_keyring_error_falls_back_only_with_a_passphrase(
    reviewer_data_dir: Path,
) -> None:
    keyring.set_keyring(RaisingKeyring(keyring.errors.NoKeyringError("no dbus session")))
    with pytest.raises(NoKeyringAvailable, match="no dbus session"):
        open_secrets(reviewer_data_dir)
    source = open_secrets(reviewer_data_dir, passphrase=PASSPHRASE)
    assert isinstance(source, PassphraseVault)


def test_locked_keyring_is_not_silently_replaced_by_a_vault(reviewer_data_dir: Path) -> None:
    keyring.set_keyring(RaisingKeyring(keyring.errors.KeyringLocked("locked")))
    with pytest.raises(KeyringLocked, match="unlock"):
        open_secrets(reviewer_data_dir, passphrase=PASSPHRASE)
    assert not vault_path(reviewer_data_dir).exists()


def test_keyring_that_keeps_nothing_is_caught() -> None:
    with pytest.raises(NoKeyringAvailable, match="did not keep it"):
        KeyringSecrets(ForgetfulKeyring()).get_or_create(MEDIA_KEY)


# ------------------------------------------------------------- passphrase vault
def test_vault_round_trip_through_env(
    no_keyring, reviewer_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    source = open_secrets(reviewer_data_dir)
    assert isinstance(source, PassphraseVault)
    media_key = source.get_or_create(MEDIA_KEY)
    audit_key = source.get_or_create(AUDIT_KEY)
    again = open_secrets(reviewer_data_dir)
    assert again.get(MEDIA_KEY) == media_key and again.get(AUDIT_KEY) == audit_key
    assert again.get("unknown") is None


def test_vault_wrong_or_missing_passphrase(no_keyring, reviewer_data_dir: Path) -> None:
    open_secrets(reviewer_data_dir, PASSPHRASE).get_or_create(MEDIA_KEY)
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        open_secrets(reviewer_data_dir, "not the passphrase")
    with pytest.raises(VaultLocked) as info:
        open_secrets(reviewer_data_dir)
    assert not info.value.creating and PASSPHRASE_ENV in str(info.value)


def test_existing_vault_wins_over_a_keyring(memory_keyring, reviewer_data_dir: Path) -> None:
    # Keys must never split between two places: once a vault exists, it is the source.
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    key = open_secrets(reviewer_data_dir, PASSPHRASE).get_or_create(MEDIA_KEY)
    keyring.set_keyring(previous)
    source = open_secrets(reviewer_data_dir, PASSPHRASE)
    assert isinstance(source, PassphraseVault) and source.get(MEDIA_KEY) == key
    with pytest.raises(VaultLocked):
        open_secrets(reviewer_data_dir)
    assert memory_keyring.passwords == {}


def test_vault_file_holds_no_secret_in_plaintext(no_keyring, reviewer_data_dir: Path) -> None:
    source = open_secrets(reviewer_data_dir, PASSPHRASE)
    media_key = source.get_or_create(MEDIA_KEY)
    audit_key = source.get_or_create(AUDIT_KEY)
    source.set("db-password", b"hunter2-db-password")
    path = vault_path(reviewer_data_dir)
    assert_not_in_files(
        reviewer_data_dir, media_key, audit_key, b"hunter2-db-password", PASSPHRASE.encode()
    )
    doc = json.loads(path.read_text())
    assert doc["kdf"]["name"] == "argon2id" and doc["kdf"]["memory_cost_kib"] >= 64 * 1024
    assert set(doc["secrets"]) == {MEDIA_KEY, AUDIT_KEY, "db-password"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in reviewer_data_dir.iterdir()] == [path.name]  # no temp file left


def test_vault_entries_swapped_or_altered_fail(no_keyring, reviewer_data_dir: Path) -> None:
    source = open_secrets(reviewer_data_dir, PASSPHRASE)
    source.get_or_create(MEDIA_KEY)
    source.get_or_create(AUDIT_KEY)
    path = vault_path(reviewer_data_dir)
    doc = json.loads(path.read_text())
    s = doc["secrets"]
    s[MEDIA_KEY], s[AUDIT_KEY] = s[AUDIT_KEY], s[MEDIA_KEY]
    path.write_text(json.dumps(doc))
    with pytest.raises(VaultCorrupt, match="integrity"):
        open_secrets(reviewer_data_dir, PASSPHRASE).get(MEDIA_KEY)
    doc["kdf"]["time_cost"] = 4  # a different key: indistinguishable from a wrong passphrase
    path.write_text(json.dumps(doc))
    with pytest.raises(WrongPassphrase):
        open_secrets(reviewer_data_dir, PASSPHRASE)
    doc["kdf"]["memory_cost_kib"] = 1  # a downgrade is refused outright
    path.write_text(json.dumps(doc))
    with pytest.raises(VaultCorrupt, match="out of bounds"):
        open_secrets(reviewer_data_dir, PASSPHRASE)


def test_new_vault_needs_a_real_passphrase(no_keyring, reviewer_data_dir: Path) -> None:
    with pytest.raises(WeakPassphrase):
        open_secrets(reviewer_data_dir, "short")


# ------------------------------------------------------------------ team sharing
def test_export_import_gives_a_new_workstation_the_team_keys(
    memory_keyring, tmp_path: Path
) -> None:
    enrolled = KeyringSecrets()
    media_key = enrolled.get_or_create(MEDIA_KEY)
    audit_key = enrolled.get_or_create(AUDIT_KEY)
    text = export_secrets(enrolled, "transfer passphrase")
    for secret in (media_key, audit_key):
        for form in encodings(secret):
            assert form.decode("latin-1") not in text
    # A headless newcomer with a vault.
    newcomer = PassphraseVault(tmp_path / "new" / "keys.vault.json", PASSPHRASE)
    with pytest.raises(WrongPassphrase):
        import_secrets(newcomer, text, "wrong transfer passphrase")
    assert sorted(import_secrets(newcomer, text, "transfer passphrase")) == [AUDIT_KEY, MEDIA_KEY]
    assert newcomer.get(MEDIA_KEY) == media_key and newcomer.get(AUDIT_KEY) == audit_key
    assert fingerprint(newcomer.get_or_create(MEDIA_KEY)) == fingerprint(media_key)
    assert import_secrets(newcomer, text, "transfer passphrase") == []  # idempotent


def test_import_refuses_to_replace_a_different_key(tmp_path: Path) -> None:
    team = PassphraseVault(tmp_path / "a.json", PASSPHRASE)
    team.get_or_create(MEDIA_KEY)
    other = PassphraseVault(tmp_path / "b.json", PASSPHRASE)
    own = other.get_or_create(MEDIA_KEY)
    text = export_secrets(team, "transfer passphrase", [MEDIA_KEY])
    with pytest.raises(KeyConflict, match="different 'media-key'"):
        import_secrets(other, text, "transfer passphrase")
    assert other.get(MEDIA_KEY) == own
    assert import_secrets(other, text, "transfer passphrase", replace=True) == [MEDIA_KEY]
    assert other.get(MEDIA_KEY) == team.get(MEDIA_KEY)


def test_fingerprint_is_short_stable_and_not_the_key() -> None:
    key = bytes(range(32))
    fp = fingerprint(key)
    assert fp == fingerprint(key) and fp != fingerprint(bytes(32)) and len(fp) == 19
    assert key.hex()[:8] not in fp.replace(" ", "")


def test_the_os_keyrings_keyring_ships_are_accepted() -> None:
    from keyring.backends import SecretService, kwallet

    assert keyring_problem(SecretService.Keyring()) is None
    assert keyring_problem(kwallet.DBusKeyring()) is None
