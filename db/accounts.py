"""Accounts: sign-in, roles, vetting, training, per-queue access, idle-lock settings.

Every mutation takes the acting Account and checks its permission here, against the
account as it is in the database now (a role removed or an account disabled since
sign-in counts at once), not only in the screens. A refused attempt is audited
("access_denied") and raised as AccessDenied. Passwords are hashed with argon2id
(reviewer.accounts); neither a password nor its hash is ever put in an audit event.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    delete,
    insert,
    select,
    text,
    update,
)

from db import pg_logins
from db.gate import account_from_row, load_account, restricted_queues, users_select
from db.models import DecisionRow, ItemRow, QueueAccessRow, QueueRow, SecuritySettingsRow, UserRow
from db.repo import Repo, translate_errors
from reviewer.accounts import (
    FIRST_RUN_ROLES,
    AccessDenied,
    Account,
    DecisionSummary,
    LoginFailed,
    QueueInfo,
    Role,
    SecuritySettings,
    VettingStatus,
    check_password_strength,
    hash_password,
    password_needs_rehash,
    primary_role,
    roles_from,
    verify_password,
)
from reviewer.errors import NotFound
from reviewer.model import User
from reviewer.permissions import Operation
from reviewer.untrusted import MAX_COURSE, MAX_SIGN_IN_NAME, Untrusted, recorded_name, sign_in_name
from reviewer.untrusted import text as bounded_text

users_t = UserRow.__table__
queues_t = QueueRow.__table__
access_t = QueueAccessRow.__table__
settings_t = SecuritySettingsRow.__table__
decisions_t = DecisionRow.__table__
items_t = ItemRow.__table__

MAX_NAME_LENGTH = MAX_SIGN_IN_NAME
# Serialises first-run enrolment across PostgreSQL workstations (SQLite's BEGIN
# IMMEDIATE already does): two people enrolling at once must not both become admin.
_ENROL_LOCK_KEY = 0x5245_5649_4557  # "REVIEW"


@functools.cache
def _dummy_hash() -> str:
    """Verified against for unknown names, so they take as long as known ones."""
    return hash_password("no account has this password")


def _clean_name(name: str) -> str:
    """A new account's name; Untrusted (a ValueError) naming what is wrong with it."""
    if isinstance(name, str) and not name.strip():
        raise ValueError("an account needs a name")
    return sign_in_name(name)


def _roles_list(roles: Collection[Role]) -> list[str]:
    out = sorted(Role(r).value for r in roles)
    if not out:
        raise ValueError("an account needs at least one role")
    return out


class AccountsRepo(Repo):
    # -- profiles -----------------------------------------------------------------------

    @translate_errors
    def ensure_user(self, name: str, role: str = "moderator") -> User:
        """A profile by name, created (and audited) if new: for the embedded database's
        demo and tests; sign-in accounts are made by create_user / enrol_first_admin."""
        name = name.strip()
        if not name:
            raise ValueError("a profile needs a name")
        with self.write() as conn:
            row = conn.execute(
                select(users_t.c.id, users_t.c.name, users_t.c.role).where(users_t.c.name == name)
            ).first()
            if row is None:
                uid = conn.execute(
                    insert(users_t)
                    .values(name=name, role=role, created_at=self.now())
                    .returning(users_t.c.id)
                ).scalar_one()
                self.audit(conn, uid, "user_created", detail={"name": name, "role": role})
                return User(uid, name, role)
            return User(row.id, row.name, row.role)

    @translate_errors
    def users(self) -> list[User]:
        with self.read() as conn:
            rows = conn.execute(
                select(users_t.c.id, users_t.c.name, users_t.c.role).order_by(users_t.c.name)
            )
            return [User(r.id, r.name, r.role) for r in rows]

    # -- reading ------------------------------------------------------------------------

    def _account(self, conn: Connection, row: Row[Any]) -> Account:
        return account_from_row(conn, row)

    def _load(self, conn: Connection, user_id: int) -> Account | None:
        return load_account(conn, user_id)

    def _target(self, conn: Connection, user_id: int, lock: bool = False) -> Account:
        q = self._users().where(users_t.c.id == user_id)
        row = conn.execute(q.with_for_update() if lock else q).first()
        if row is None:
            raise NotFound(f"user {user_id}")
        return self._account(conn, row)

    @translate_errors
    def account(self, user_id: int) -> Account:
        """The account as stored now (services re-read it before claiming work)."""
        with self.read() as conn:
            found = self._load(conn, user_id)
        if found is None:
            raise NotFound(f"user {user_id}")
        return found

    @translate_errors
    def login_accounts_exist(self) -> bool:
        """False on first run: nobody has a password yet."""
        with self.read() as conn:
            return (
                conn.execute(select(users_t.c.id).where(self._signs_in()).limit(1)).first()
                is not None
            )

    # -- team mode: a PostgreSQL login role per person ------------------------------------
    #
    # On PostgreSQL the server checks passwords (SCRAM) and the policies of migration
    # 0018 bind each person's own login role; `password_hash` stays empty there. On
    # SQLite this repository keeps its own argon2id hashes, as before.

    def _users(self) -> Select[Any]:
        return users_select(self.pg)

    def _signs_in(self) -> ColumnElement[bool]:
        """Accounts that can sign in: a login role on PostgreSQL, a hash on SQLite."""
        column = users_t.c.db_role if self.pg else users_t.c.password_hash
        return column.is_not(None)

    def _sign_in_values(self, name: str, password: str) -> dict[str, Any]:
        if self.pg:
            # No password_hash column at all: an admin's login role may INSERT only the
            # columns 0018 grants it, and naming this one (even as NULL) is refused.
            return {"db_role": pg_logins.login_role_name(name)}
        return {"password_hash": hash_password(password)}

    def _sync_login(self, conn: Connection, user_id: int, password: str | None) -> None:
        """PostgreSQL: the login role follows the row just changed, in this transaction."""
        if not self.pg:
            return
        role = conn.execute(select(users_t.c.db_role).where(users_t.c.id == user_id)).scalar()
        if role is not None:
            pg_logins.sync_login(conn, user_id, role, password)

    def _password_matches(self, row: Row[Any] | None, password: str) -> bool:
        """Checked by the server on PostgreSQL (signing in as the role), else against
        the stored hash; for an unknown name the same work is done, so the time taken
        does not tell."""
        if self.pg:
            role = None if row is None else row.db_role
            return (
                pg_logins.password_ok(self.engine.url, role or "reviewer_no_such_role", password)
                and role is not None
            )
        stored = None if row is None else row.password_hash
        return verify_password(stored or _dummy_hash(), password) and stored is not None

    # -- sign-in ------------------------------------------------------------------------

    @translate_errors
    def enrol_first_admin(self, name: str, password: str) -> Account:
        """First run: the first person to sign in creates an account for themselves with
        roles {admin, moderator}, marked vetted by first-run self-enrolment (audited as
        such). Refused once any account has a password."""
        name = _clean_name(name)
        check_password_strength(password)
        signs_in = self._sign_in_values(name, password)
        with self.write() as conn:
            if self.pg:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ENROL_LOCK_KEY})
            taken = conn.execute(select(users_t.c.id).where(self._signs_in()).limit(1)).first()
            if taken is not None:
                raise AccessDenied(
                    "This workstation already has accounts: sign in, or ask an admin for one."
                )
            today = self.now_value(conn).date()
            roles = _roles_list(FIRST_RUN_ROLES)
            values: dict[str, Any] = {
                **signs_in,
                "roles": roles,
                "role": primary_role(FIRST_RUN_ROLES).value,
                "disabled": False,
                "vetting_status": VettingStatus.VETTED.value,
                "vetted_on": today,
            }
            uid = conn.execute(select(users_t.c.id).where(users_t.c.name == name)).scalar()
            if uid is None:
                uid = conn.execute(
                    insert(users_t)
                    .values(name=name, created_at=self.now(), **values)
                    .returning(users_t.c.id)
                ).scalar_one()
            else:  # a profile from before accounts existed takes the account over
                conn.execute(update(users_t).where(users_t.c.id == uid).values(**values))
            self._sync_login(conn, uid, password)
            account = self._target(conn, uid)
            self.audit(
                conn,
                uid,
                "first_run_enrolment",
                detail={
                    "user_id": uid,
                    "name": name,
                    "roles": roles,
                    "vetting": VettingStatus.VETTED.value,
                    "vetted_on": today.isoformat(),
                    "vetted_by": "first-run self-enrolment",
                },
            )
            return account

    @translate_errors
    def authenticate(self, name: str, password: str) -> Account:
        """The account, if `password` is right and it may sign in; else LoginFailed, with
        the same message whatever the reason. Both outcomes are audited with the name
        tried (never the password). A name no account can have (too long, control
        characters, lone surrogates…) is refused with a message saying why, and
        audited with only a short escaped excerpt of it."""
        return self._authenticate(name, password, desk=None)

    @translate_errors
    def authenticate_at_desk(self, desk_user_id: int, name: str, password: str) -> Account:
        """A second person proving who they are at someone else's signed-in desk (a lead
        ending a moderator's break): checked as authenticate checks a sign-in, but
        audited as `desk_sign_in_ok` / `desk_sign_in_failed` by the desk's person
        (`desk_user_id`), naming the person tried in the detail. The desk's connection
        is the desk person's login role, and a role writes events only as itself: the
        event says who was at the keyboard, and who was proven."""
        return self._authenticate(name, password, desk=desk_user_id)

    def _authenticate(self, name: str, password: str, desk: int | None) -> Account:
        ok_kind, failed_kind = (
            ("login_ok", "login_failed")
            if desk is None
            else ("desk_sign_in_ok", "desk_sign_in_failed")
        )

        def as_whom(uid: int | None) -> int | None:
            return uid if desk is None else desk

        def about(uid: int | None, detail: dict[str, Any]) -> dict[str, Any]:
            return detail if desk is None else {**detail, "person_id": uid}

        try:
            name = sign_in_name(name)
        except Untrusted as exc:
            with self.write() as conn:
                detail = {"name": recorded_name(name), "reason": "malformed_name", "why": str(exc)}
                self.audit(conn, as_whom(None), failed_kind, detail=about(None, detail))
            raise LoginFailed(f"This sign-in name cannot be used: {exc}") from None
        with self.read() as conn:
            row = conn.execute(self._users().where(users_t.c.name == name)).first()
            stored = None if row is None else row.password_hash
            # Verify even for an unknown name or a disabled account: the time taken
            # must not tell which it was.
            matches = self._password_matches(row, password)
            reason = None
            if row is None:
                reason = "unknown_name"
            elif stored is None and row.db_role is None:
                reason = "no_password"
            elif row.disabled and self.pg:  # its login role is NOLOGIN: nothing to check
                reason = "disabled"
            elif not matches:
                reason = "wrong_password"
            elif row.disabled:
                reason = "disabled"
            account = None if reason or row is None else self._account(conn, row)
        with self.write() as conn:
            uid = None if row is None else row.id
            if account is None:
                detail = about(uid, {"name": name, "reason": reason})
                self.audit(conn, as_whom(uid), failed_kind, detail=detail)
            else:
                # Only the person's own sign-in may rehash their password (a desk's
                # login role may not write another's account row).
                if desk is None and stored is not None and password_needs_rehash(stored):
                    conn.execute(
                        update(users_t)
                        .where(users_t.c.id == account.id)
                        .values(password_hash=hash_password(password))
                    )
                self.audit(conn, as_whom(uid), ok_kind, detail=about(uid, {"name": name}))
        if account is None:
            raise LoginFailed()
        return account

    @translate_errors
    def check_password(self, user_id: int, password: str) -> bool:
        """Unlocking an idle-locked screen: True if this is the account's password and it
        may still sign in. Audited as unlock_ok / unlock_failed."""
        with self.read() as conn:
            row = conn.execute(self._users().where(users_t.c.id == user_id)).first()
        ok = self._password_matches(row, password)
        if ok and row is not None and row.disabled:
            ok = False
        with self.write() as conn:
            self.audit(
                conn,
                None if row is None else user_id,
                "unlock_ok" if ok else "unlock_failed",
                detail={"user_id": user_id},
            )
        return ok

    # -- administering accounts ---------------------------------------------------------

    @translate_errors
    def accounts(self, actor: Account) -> list[Account]:
        with self.read() as conn:
            self.enforce(conn, actor, Operation.MANAGE_USERS)
            rows = conn.execute(self._users().order_by(users_t.c.name)).all()
            return [self._account(conn, r) for r in rows]

    @translate_errors
    def create_user(
        self, actor: Account, name: str, password: str, roles: Collection[Role]
    ) -> Account:
        """A new account, vetting pending, with `password` to be changed by its owner."""
        name = _clean_name(name)
        role_names = _roles_list(roles)
        check_password_strength(password)
        signs_in = self._sign_in_values(name, password)
        with self.write() as conn:
            who = self.enforce(conn, actor, Operation.MANAGE_USERS).account
            if conn.execute(select(users_t.c.id).where(users_t.c.name == name)).first():
                raise ValueError(f"there is already an account named {name!r}")
            role = signs_in.get("db_role")
            if role and conn.execute(select(users_t.c.id).where(users_t.c.db_role == role)).first():
                raise ValueError(f"another account already signs in as {role!r}: pick another name")
            uid = conn.execute(
                insert(users_t)
                .values(
                    name=name,
                    role=primary_role(roles_from(role_names)).value,
                    roles=role_names,
                    created_at=self.now(),
                    **signs_in,
                )
                .returning(users_t.c.id)
            ).scalar_one()
            self._sync_login(conn, uid, password)
            account = self._target(conn, uid)
            self.audit(
                conn,
                who.id,
                "user_created",
                detail={"user_id": uid, "name": name, "roles": role_names},
            )
            return account

    @translate_errors
    def set_password(self, actor: Account, user_id: int, password: str) -> None:
        check_password_strength(password)
        with self.write() as conn:
            who = self.enforce(conn, actor, Operation.MANAGE_USERS).account
            target = self._target(conn, user_id, lock=True)
            if self.pg:
                if not target.has_password:  # a profile from before accounts signs in now
                    role = pg_logins.login_role_name(target.name)
                    conn.execute(
                        update(users_t).where(users_t.c.id == user_id).values(db_role=role)
                    )
                self._sync_login(conn, user_id, password)
            else:
                conn.execute(
                    update(users_t)
                    .where(users_t.c.id == user_id)
                    .values(password_hash=hash_password(password))
                )
            self.audit(
                conn, who.id, "password_set", detail={"user_id": user_id, "name": target.name}
            )

    @translate_errors
    def set_disabled(self, actor: Account, user_id: int, disabled: bool) -> None:
        with self.write() as conn:
            who = self.enforce(conn, actor, Operation.MANAGE_USERS).account
            target = self._target(conn, user_id, lock=True)
            conn.execute(update(users_t).where(users_t.c.id == user_id).values(disabled=disabled))
            self._an_admin_remains(conn)
            self._sync_login(conn, user_id, None)
            self.audit(
                conn,
                who.id,
                "user_disabled" if disabled else "user_enabled",
                detail={"user_id": user_id, "name": target.name},
            )

    def disable(self, actor: Account, user_id: int) -> None:
        self.set_disabled(actor, user_id, True)

    def enable(self, actor: Account, user_id: int) -> None:
        self.set_disabled(actor, user_id, False)

    @translate_errors
    def set_roles(self, actor: Account, user_id: int, roles: Collection[Role]) -> None:
        role_names = _roles_list(roles)
        with self.write() as conn:
            who = self.enforce(conn, actor, Operation.MANAGE_USERS).account
            target = self._target(conn, user_id, lock=True)
            conn.execute(
                update(users_t)
                .where(users_t.c.id == user_id)
                .values(roles=role_names, role=primary_role(roles_from(role_names)).value)
            )
            self._an_admin_remains(conn)
            self._sync_login(conn, user_id, None)
            self.audit(
                conn,
                who.id,
                "roles_set",
                detail={
                    "user_id": user_id,
                    "name": target.name,
                    "from": sorted(r.value for r in target.roles),
                    "to": role_names,
                },
            )

    def _an_admin_remains(self, conn: Connection) -> None:
        """Refuse (rolling back) a change that leaves nobody able to administer."""
        rows = conn.execute(
            select(users_t.c.roles, users_t.c.role).where(
                users_t.c.disabled.is_(False), self._signs_in()
            )
        ).all()
        if not any(Role.ADMIN.value in (r.roles or [r.role]) for r in rows):
            raise ValueError("that would leave no enabled admin who can sign in")

    @translate_errors
    def set_vetting(
        self, actor: Account, user_id: int, status: VettingStatus, vetted_on: date | None
    ) -> None:
        status = VettingStatus(status)
        if status is VettingStatus.VETTED and vetted_on is None:
            raise ValueError("a vetted account needs the date of its vetting")
        with self.write() as conn:
            who = self.enforce(conn, actor, Operation.MANAGE_USERS).account
            if vetted_on is not None and vetted_on > self.now_value(conn).date():
                raise ValueError("the vetting date cannot be in the future")
            target = self._target(conn, user_id, lock=True)
            conn.execute(
                update(users_t)
                .where(users_t.c.id == user_id)
                .values(vetting_status=status.value, vetted_on=vetted_on)
            )
            self.audit(
                conn,
                who.id,
                "vetting_set",
                detail={
                    "user_id": user_id,
                    "name": target.name,
                    "status": status.value,
                    "vetted_on": None if vetted_on is None else vetted_on.isoformat(),
                },
            )

    @translate_errors
    def add_training(self, actor: Account, user_id: int, course: str, completed_on: date) -> None:
        course = " ".join(bounded_text("course", course, MAX_COURSE).split())
        if not course:
            raise ValueError("a training record needs the course's name")
        with self.write() as conn:
            who = self.enforce(conn, actor, Operation.MANAGE_USERS).account
            if completed_on > self.now_value(conn).date():
                raise ValueError("a course cannot be completed in the future")
            target = self._target(conn, user_id, lock=True)
            records = [
                {"course": t.course, "completed_on": t.completed_on.isoformat()}
                for t in target.training
            ]
            records.append({"course": course, "completed_on": completed_on.isoformat()})
            conn.execute(update(users_t).where(users_t.c.id == user_id).values(training=records))
            self.audit(
                conn,
                who.id,
                "training_added",
                detail={
                    "user_id": user_id,
                    "name": target.name,
                    "course": course,
                    "completed_on": completed_on.isoformat(),
                },
            )

    # -- queues -------------------------------------------------------------------------

    def _queue_name(self, conn: Connection, queue_id: int) -> str:
        name = conn.execute(select(queues_t.c.name).where(queues_t.c.id == queue_id)).scalar()
        if name is None:
            raise NotFound(f"queue {queue_id}")
        return str(name)

    @translate_errors
    def grant_queue(self, actor: Account, user_id: int, queue_id: int) -> None:
        with self.write() as conn:
            who = self.enforce(conn, actor, Operation.MANAGE_USERS).account
            target = self._target(conn, user_id)
            queue = self._queue_name(conn, queue_id)
            if queue_id in target.queue_ids:
                return
            conn.execute(
                insert(access_t).values(queue_id=queue_id, user_id=user_id, granted_at=self.now())
            )
            self.audit(
                conn,
                who.id,
                "queue_access_granted",
                detail={
                    "user_id": user_id,
                    "name": target.name,
                    "queue_id": queue_id,
                    "queue": queue,
                },
            )

    @translate_errors
    def revoke_queue(self, actor: Account, user_id: int, queue_id: int) -> None:
        with self.write() as conn:
            who = self.enforce(conn, actor, Operation.MANAGE_USERS).account
            target = self._target(conn, user_id)
            queue = self._queue_name(conn, queue_id)
            gone = conn.execute(
                delete(access_t).where(
                    access_t.c.queue_id == queue_id, access_t.c.user_id == user_id
                )
            ).rowcount
            if not gone:
                return
            self.audit(
                conn,
                who.id,
                "queue_access_revoked",
                detail={
                    "user_id": user_id,
                    "name": target.name,
                    "queue_id": queue_id,
                    "queue": queue,
                },
            )

    @translate_errors
    def set_queue_restricted(self, actor: Account, queue_id: int, restricted: bool) -> None:
        with self.write() as conn:
            who = self.enforce(conn, actor, Operation.MANAGE_USERS).account
            queue = self._queue_name(conn, queue_id)
            conn.execute(
                update(queues_t).where(queues_t.c.id == queue_id).values(restricted=restricted)
            )
            self.audit(
                conn,
                who.id,
                "queue_restricted_set",
                detail={"queue_id": queue_id, "queue": queue, "restricted": restricted},
            )

    @translate_errors
    def queues(self) -> list[QueueInfo]:
        with self.read() as conn:
            rows = conn.execute(
                select(queues_t.c.id, queues_t.c.name, queues_t.c.restricted).order_by(
                    queues_t.c.name
                )
            )
            return [QueueInfo(r.id, r.name, bool(r.restricted)) for r in rows]

    @translate_errors
    def restricted_queue_ids(self) -> frozenset[int]:
        with self.read() as conn:
            return restricted_queues(conn)

    # -- history ------------------------------------------------------------------------

    @translate_errors
    def decision_history(
        self, actor: Account, user_id: int, limit: int = 200
    ) -> list[DecisionSummary]:
        """`user_id`'s decisions, newest first. One's own needs SEE_OWN_HISTORY; anyone
        else's needs SEE_TEAM_HISTORY (a moderator may not read a colleague's)."""
        own = user_id == actor.id
        q = (
            select(
                decisions_t.c.id,
                decisions_t.c.item_id,
                decisions_t.c.user_id,
                queues_t.c.name.label("queue_name"),
                decisions_t.c.decided_at,
                decisions_t.c.severity,
                decisions_t.c.csea_related,
                decisions_t.c.not_assessable_reason,
            )
            .join(items_t, items_t.c.id == decisions_t.c.item_id)
            .join(queues_t, queues_t.c.id == items_t.c.queue_id)
            .where(decisions_t.c.user_id == user_id)
            .order_by(decisions_t.c.decided_at.desc(), decisions_t.c.id.desc())
            .limit(limit)
        )
        with self.read() as conn:
            if own:
                self.enforce(conn, actor, Operation.OWN_HISTORY)
            else:
                self.enforce(conn, actor, Operation.TEAM_HISTORY)
            return [
                DecisionSummary(
                    r.id,
                    r.item_id,
                    r.user_id,
                    r.queue_name,
                    r.decided_at,
                    r.severity,
                    bool(r.csea_related),
                    r.not_assessable_reason,
                )
                for r in conn.execute(q)
            ]

    # -- settings -----------------------------------------------------------------------

    @translate_errors
    def security_settings(self) -> SecuritySettings:
        with self.read() as conn:
            stored = conn.execute(
                select(settings_t.c.settings).where(settings_t.c.id == 1)
            ).scalar()
        return SecuritySettings.from_dict(dict(stored or {}))

    @translate_errors
    def set_security_settings(self, actor: Account, settings: SecuritySettings) -> None:
        with self.write() as conn:
            who = self.enforce(conn, actor, Operation.SECURITY_SETTINGS).account
            before = conn.execute(
                select(settings_t.c.settings).where(settings_t.c.id == 1)
            ).scalar()
            conn.execute(
                update(settings_t).where(settings_t.c.id == 1).values(settings=settings.to_dict())
            )
            self.audit(
                conn,
                who.id,
                "security_settings_set",
                detail={
                    "from": SecuritySettings.from_dict(dict(before or {})).to_dict(),
                    "to": settings.to_dict(),
                },
            )
