"""Pointing a workstation at a team's PostgreSQL server.

Each person signs in as their own PostgreSQL login role (migration 0018): the
workstation settings file keeps only the server address, and no password is kept
anywhere (the keyring no longer holds one: a password stored from before is removed).
A command that needs the database asks its person for their password. The owner role
and superusers are refused for daily work: no policy binds them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from db.engine import make_engine
from db.keys import SecretSource
from db.pg_logins import daily_role_problem, login_role_name
from reviewer.accounts import AccessDenied, LoginFailed
from reviewer.errors import StoreUnavailable
from reviewer.untrusted import Untrusted, sign_in_name

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


class RefusedRole(ValueError):
    """The role signs in, but must not be used for daily work (the message says why)."""


def connect(url: str, password: str | None, settings_path: Path, secrets: SecretSource) -> str:
    """Check that the server answers to this person's own login role (not the owner, not
    a superuser), then remember the address; returns the password-less URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError("a team server must be PostgreSQL (postgresql+psycopg://user@host/db)")
    password = password if password is not None else parsed.password
    full = parsed.set(password=password) if password else parsed
    engine = make_engine(full.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            problem = daily_role_problem(conn)
    finally:
        engine.dispose()
    if problem is not None:
        raise RefusedRole(problem)
    public = _public(parsed)
    if secrets.get(password_name(public)) is not None:
        secrets.delete(password_name(public))
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


def team_public_url(settings_path: Path) -> str | None:
    """The configured team server's address (no password), if this workstation has one."""
    public = _settings(settings_path).get(SETTINGS_KEY)
    return public if isinstance(public, str) else None


def team_url(settings_path: Path, ask_password: Callable[[str], str | None]) -> str | None:
    """The configured team server's URL, with the password `ask_password(public_url)`
    gives (the person types it; None for a server that needs none), if one is set."""
    public = team_public_url(settings_path)
    if public is None:
        return None
    password = ask_password(public)
    url = make_url(public)
    if password:
        url = url.set(password=password)
    return url.render_as_string(hide_password=False)


def sign_in_url(public_url: str, role: str, password: str) -> str:
    """The team server's URL as `role` with `password`, once the server has accepted
    them and the role is fit for daily work; RefusedRole or psycopg's error if not."""
    url = make_url(public_url).set(username=role, password=password)
    full = url.render_as_string(hide_password=False)
    engine = make_engine(full)
    try:
        with engine.connect() as conn:
            problem = daily_role_problem(conn)
    finally:
        engine.dispose()
    if problem is not None:
        raise RefusedRole(problem)
    return full


def team_sign_in(public_url: str, name: str, password: str) -> str:
    """The sign-in dialog's check on a team server: the URL as `name`'s own login role
    if the server accepts `password` for it (LoginFailed otherwise, one message for
    every reason), refusing a role unfit for daily work (AccessDenied). A name no
    account can have is refused, saying why, before anything is sent to the server."""
    try:
        name = sign_in_name(name)
    except Untrusted as exc:
        raise LoginFailed(f"This sign-in name cannot be used: {exc}") from None
    try:
        role = login_role_name(name)
    except ValueError:
        raise LoginFailed() from None
    try:
        return sign_in_url(public_url, role, password)
    except RefusedRole as exc:
        raise AccessDenied(str(exc)) from None
    except OperationalError as exc:
        if "password authentication failed" in str(exc) or "not permitted to log in" in str(exc):
            raise LoginFailed() from None
        raise StoreUnavailable(f"the team server cannot be reached: {exc}") from exc
