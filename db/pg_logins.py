"""Team mode: each person signs in to PostgreSQL as their own LOGIN role.

Migration 0018 made the database the gate: group roles per app role, grants, and
row-level security whose policies read the account behind `session_user`. This module
is the workstation's side of it:

- the login role name of an account (`login_role_name`);
- creating, re-passwording, disabling and re-grouping that role, through the one
  SECURITY DEFINER function `reviewer_sync_login`, with the password turned into a
  SCRAM-SHA-256 verifier here, so it never crosses the wire or reaches a server log;
- checking a password by signing in to the server as that role (`password_ok`);
- refusing the owner or a superuser for daily work (`daily_role_problem`).
"""

from __future__ import annotations

import re

import psycopg
from sqlalchemy import Connection, text
from sqlalchemy.engine import URL

MAX_ROLE_LENGTH = 63  # PostgreSQL's identifier limit (NAMEDATALEN - 1)
# Names PostgreSQL or this application keep for themselves.
_RESERVED_PREFIXES = ("pg_", "reviewer_")
_RESERVED = frozenset({"postgres", "public", "current_user", "session_user", "none"})


def login_role_name(name: str) -> str:
    """The PostgreSQL login role for an account name: lower case letters, digits and
    underscores ("Ann Lee" -> "ann_lee"). ValueError when nothing usable is left or
    the result is a name PostgreSQL or this application reserve."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if slug and slug[0].isdigit():
        slug = f"u_{slug}"
    slug = slug[:MAX_ROLE_LENGTH].rstrip("_")
    if not slug:
        raise ValueError(
            f"{name!r} gives no database sign-in name: use letters or digits in the name"
        )
    if slug in _RESERVED or slug.startswith(_RESERVED_PREFIXES):
        raise ValueError(f"{name!r} would sign in as the reserved database role {slug!r}")
    return slug


def sync_login(conn: Connection, user_id: int, role: str, password: str | None) -> None:
    """Bring the user's login role in line with its `users` row (enabled, groups) and,
    if `password` is given, set it. Inside the caller's transaction: an account change
    and its login role commit or roll back together (role DDL is transactional)."""
    verifier = None
    if password is not None:
        driver = conn.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)  # login roles exist on PostgreSQL only
        pgconn = driver.pgconn
        verifier = pgconn.encrypt_password(
            password.encode(), role.encode(), b"scram-sha-256"
        ).decode()
    conn.execute(text("SELECT reviewer_sync_login(:u, :v)"), {"u": user_id, "v": verifier})


def connect_as(url: URL, role: str, password: str) -> psycopg.Connection:
    """A raw connection to the server of `url` as `role` (SCRAM over the wire)."""
    return psycopg.connect(
        host=url.host,
        port=url.port,
        dbname=url.database,
        user=role,
        password=password,
        connect_timeout=10,
    )


def password_ok(url: URL, role: str, password: str) -> bool:
    """True if the server accepts `password` for `role` (and the role may log in)."""
    try:
        with connect_as(url, role, password):
            return True
    except psycopg.OperationalError:
        return False


# Why a role must not be used for daily work, in the words `reviewer connect` prints.
_DAILY_ROLE_SQL = """
SELECT r.rolsuper, r.rolcreaterole, r.rolbypassrls,
       t.tableowner IS NOT NULL AND pg_has_role(current_user, t.tableowner, 'MEMBER'),
       t.tableowner IS NOT NULL
FROM pg_roles r
LEFT JOIN pg_tables t ON t.schemaname = 'public' AND t.tablename = 'users'
WHERE r.rolname = current_user
"""


def daily_role_problem(conn: Connection) -> str | None:
    """None if this session's role is a person's login role; else why not."""
    row = conn.execute(text(_DAILY_ROLE_SQL)).one()
    superuser, createrole, bypassrls, owner, set_up = row
    who = conn.execute(text("SELECT current_user")).scalar_one()
    if superuser:
        return f"{who!r} is a superuser, which no policy binds: sign in as your own role"
    if owner:
        return (
            f"{who!r} owns the tables (it runs migrations and bypasses row-level "
            "security): sign in as your own role"
        )
    if createrole or bypassrls:
        return f"{who!r} can create roles or bypass row-level security: not for daily work"
    if not set_up:
        return (
            "the database is not set up yet: the owner role runs `reviewer migrate` "
            "first (README, Team server)"
        )
    return None
