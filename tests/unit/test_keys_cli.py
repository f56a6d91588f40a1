"""Enrolling a second workstation: export the team keys, import them elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewer.cli import main


def test_keys_export_then_import_gives_the_same_fingerprints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, memory_keyring
) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "transfer passphrase 42")
    assert main(["keys", "export"]) == 0
    exported = capsys.readouterr().out
    assert main(["keys", "show"]) == 0
    first = capsys.readouterr().out
    # A new workstation: empty keyring, other data dir.
    memory_keyring.passwords.clear()
    monkeypatch.setenv("REVIEWER_DATA_DIR", str(tmp_path / "second"))
    bundle = tmp_path / "team-keys.json"
    bundle.write_text(exported)
    assert main(["keys", "import", str(bundle)]) == 0
    capsys.readouterr()
    assert main(["keys", "show"]) == 0
    second = capsys.readouterr().out
    strip = lambda text: [line.split("[")[0] for line in text.splitlines()]  # noqa: E731
    assert strip(first) == strip(second) and "(none yet)" not in second


def test_import_with_the_wrong_passphrase_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, memory_keyring
) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "transfer passphrase 42")
    assert main(["keys", "export"]) == 0
    bundle = tmp_path / "k.json"
    bundle.write_text(capsys.readouterr().out)
    memory_keyring.passwords.clear()
    monkeypatch.setenv("REVIEWER_DATA_DIR", str(tmp_path / "second"))
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "not the passphrase")
    assert main(["keys", "import", str(bundle)]) == 2
    assert "passphrase" in capsys.readouterr().err.lower()
