"""Pointing a workstation at a team's PostgreSQL server.

The server address (without password) lives in the workstation settings file; the
password lives only in the OS keyring, so nothing secret is ever written to a file.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from db.engine import make_engine
from db.keys import SecretSource

SETTINGS_KEY = "team_server"


def password_name(public_url: str) -> str:
    """Name of the secret holding the password for a (password-less) server URL."""
    return f"db-password:{public_url}"


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


def connect(url: str, password: str | None, settings_path: Path, secrets: SecretSource) -> str:
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
        secrets.set(password_name(public), password.encode())
    settings = _settings(settings_path)
    settings[SETTINGS_KEY] = public
    settings_path.write_text(json.dumps(settings, indent=2))
    return public


def forget(settings_path: Path, secrets: SecretSource) -> None:
    settings = _settings(settings_path)
    public = settings.pop(SETTINGS_KEY, None)
    if isinstance(public, str) and secrets.get(password_name(public)) is not None:
        secrets.delete(password_name(public))
    settings_path.write_text(json.dumps(settings, indent=2))


def team_url(settings_path: Path, secrets: SecretSource) -> str | None:
    """The configured team server's URL with its password from the keyring, if any."""
    public = _settings(settings_path).get(SETTINGS_KEY)
    if not isinstance(public, str):
        return None
    password = secrets.get(password_name(public))
    url = make_url(public)
    if password:
        url = url.set(password=password.decode())
    return url.render_as_string(hide_password=False)
