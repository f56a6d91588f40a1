"""Pointing a workstation at a team's PostgreSQL server.

The server address (without password) lives in the workstation settings file; the
password lives only in the OS keyring, so nothing secret is ever written to a file.
"""

from __future__ import annotations

import json
from pathlib import Path

import keyring
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from db.engine import make_engine

KEYRING_SERVICE = "reviewer-database"
SETTINGS_KEY = "team_server"


def _settings(path: Path) -> dict[str, object]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"workstation settings {path} are unreadable: {exc}") from exc
    return data if isinstance(data, dict) else {}


def _public(url: URL) -> str:
    return url.set(password=None).render_as_string(hide_password=False)


def connect(url: str, password: str | None, settings_path: Path) -> str:
    """Check that the server answers, then remember it; returns the password-less URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError("a team server must be PostgreSQL (postgresql+psycopg://user@host/db)")
    password = password if password is not None else parsed.password
    full = parsed.set(password=password) if password else parsed
    engine = make_engine(full.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    finally:
        engine.dispose()
    public = _public(parsed)
    if password:
        keyring.set_password(KEYRING_SERVICE, public, password)
    settings = _settings(settings_path)
    settings[SETTINGS_KEY] = public
    settings_path.write_text(json.dumps(settings, indent=2))
    return public


def forget(settings_path: Path) -> None:
    settings = _settings(settings_path)
    public = settings.pop(SETTINGS_KEY, None)
    if isinstance(public, str) and keyring.get_password(KEYRING_SERVICE, public) is not None:
        keyring.delete_password(KEYRING_SERVICE, public)
    settings_path.write_text(json.dumps(settings, indent=2))


def team_url(settings_path: Path) -> str | None:
    """The configured team server's URL with its password from the keyring, if any."""
    public = _settings(settings_path).get(SETTINGS_KEY)
    if not isinstance(public, str):
        return None
    password = keyring.get_password(KEYRING_SERVICE, public)
    url = make_url(public)
    return (url.set(password=password) if password else url).render_as_string(hide_password=False)
