"""A workstation pointed at a team server keeps the password in the keyring only."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from db.keys import open_secrets
from db.team import password_name
from reviewer import config
from reviewer.cli import main

SECRET = "correct-horse-battery-staple"


@pytest.mark.postgres_only
def test_connect_stores_password_in_keyring_not_in_a_file(
    db_url: str, reviewer_data_dir: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET + "\n"))
    assert main(["connect", db_url, "--password-stdin"]) == 0
    public = capsys.readouterr().out
    assert SECRET not in public
    for f in reviewer_data_dir.rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f"secret leaked into {f}"
    public_url = json.loads(config.settings_path().read_text())["team_server"]
    assert public_url.startswith("postgresql")
    secrets = open_secrets(reviewer_data_dir)
    assert secrets.get(password_name(public_url)) == SECRET.encode()
    # With no --db, the CLI now works against the team server.
    assert main(["demo", "--items", "2", "--max-mp", "0.3"]) == 0
    assert "added 2 item(s)" in capsys.readouterr().out
    assert main(["connect", "--forget"]) == 0
    assert secrets.get(password_name(public_url)) is None


def test_connect_refuses_a_non_postgres_url(capsys) -> None:
    assert main(["connect", "sqlite:///x.db", "--no-password"]) == 1
    assert "must be PostgreSQL" in capsys.readouterr().err


@pytest.mark.postgres_only
def test_connect_reports_an_unreachable_server(capsys) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    assert main(["connect", url, "--no-password"]) == 1
    assert "could not connect" in capsys.readouterr().err
    assert (
        not config.settings_path().exists()
        or "team_server" not in config.settings_path().read_text()
    )
