"""Tests only: accounts without passwords, and sessions for them.

The workstation signs people in with a password (Workstation.log_in); tests that
exercise a screen or a queue need a signed-in person without going through argon2 and
an admin. These helpers store the account as an admin would have set it up (roles,
vetting) so that the permission gate, which re-reads the stored account on every call,
sees what the test means."""

from __future__ import annotations

from datetime import date

from sqlalchemy import update

from db import pg_logins
from db.models import UserRow
from db.store import Store
from reviewer.accounts import Account, Role, VettingStatus, hash_password, primary_role
from reviewer.permissions import Check, Operation
from reviewer.review_service import ReviewService, Workstation

# Current under both the tests' FakeClock (January 2026) and the real clock.
VETTED_ON = date(2025, 6, 1)


def stored_account(
    store: Store, name: str, *roles: Role, vetted: bool = True, password: str | None = None
) -> Account:
    """An account with `roles` (moderator by default), vetted unless told, with no
    password unless one is given."""
    held = frozenset(roles or (Role.MODERATOR,))
    user = store.accounts.ensure_user(name, primary_role(held).value)
    with store.engine.begin() as conn:
        conn.execute(
            update(UserRow.__table__)
            .where(UserRow.__table__.c.id == user.id)
            .values(
                roles=sorted(r.value for r in held),
                role=primary_role(held).value,
                vetting_status=(VettingStatus.VETTED if vetted else VettingStatus.PENDING).value,
                vetted_on=VETTED_ON if vetted else None,
                password_hash=None if password is None else hash_password(password),
            )
        )
        if password is not None and conn.dialect.name == "postgresql":
            # On a team server the password is the login role's, checked by the server.
            role = pg_logins.login_role_name(name)
            conn.execute(
                update(UserRow.__table__)
                .where(UserRow.__table__.c.id == user.id)
                .values(db_role=role, password_hash=None)
            )
            pg_logins.sync_login(conn, user.id, role, password)
    return store.accounts.account(user.id)


def admin_check(store: Store, op: Operation, name: str = "Settings Admin") -> Check:
    """The gate's question for a stored admin doing `op` (settings, retention...)."""
    admin = stored_account(store, name, Role.ADMIN)
    return Check(admin.id, admin.name, op)


def sign_in(ws: Workstation, name: str, *roles: Role) -> ReviewService:
    """A session for a stored password-less account, as Workstation.log_in would give."""
    return ws._service(stored_account(ws._store, name, *roles))  # type: ignore[arg-type]
