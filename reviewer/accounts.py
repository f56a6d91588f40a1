"""Who may do what. Every rule here is enforced by the services, not only by hiding
buttons: a screen that shows a control it should not is a bug, but not a breach.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Role(StrEnum):
    MODERATOR = "moderator"
    QA = "qa"
    LEAD = "lead"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return {"moderator": "Moderator", "qa": "QA reviewer", "lead": "Team lead"}.get(
            self.value, "Admin"
        )


class Permission(StrEnum):
    REVIEW = "review"  # claim and grade items
    SEE_OWN_HISTORY = "see_own_history"
    SEE_TEAM_HISTORY = "see_team_history"  # other moderators' decisions
    QA_REGRADE = "qa_regrade"  # blind re-grades of sampled items
    SEE_QA_GRADES = "see_qa_grades"  # before adjudication
    ADJUDICATE = "adjudicate"
    OVERRIDE = "override"  # release a lock, reassign, end a break early (audited)
    SEE_EXPOSURE = "see_exposure"  # team exposure figures
    MANAGE_USERS = "manage_users"
    MANAGE_SETTINGS = "manage_settings"
    EXPORT_AUDIT = "export_audit"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.MODERATOR: frozenset({Permission.REVIEW, Permission.SEE_OWN_HISTORY}),
    # QA re-grades blind: seeing the team's decisions would unblind them.
    Role.QA: frozenset({Permission.QA_REGRADE, Permission.SEE_OWN_HISTORY}),
    Role.LEAD: frozenset(
        {
            Permission.SEE_OWN_HISTORY,
            Permission.SEE_TEAM_HISTORY,
            Permission.SEE_QA_GRADES,
            Permission.ADJUDICATE,
            Permission.OVERRIDE,
            Permission.SEE_EXPOSURE,
        }
    ),
    Role.ADMIN: frozenset(
        {
            Permission.MANAGE_USERS,
            Permission.MANAGE_SETTINGS,
            Permission.EXPORT_AUDIT,
            Permission.SEE_OWN_HISTORY,
        }
    ),
}
# Nobody may edit or delete audit events: there is deliberately no permission for it.

# Vetting is renewed periodically (e.g. enhanced checks every 3 years); an expired
# vetting stops review work but not sign-in, so the person can still see resources.
VETTING_VALID_DAYS = 3 * 365
MIN_PASSWORD_LENGTH = 12


class VettingStatus(StrEnum):
    PENDING = "pending"
    VETTED = "vetted"
    REVOKED = "revoked"


class AccessDenied(PermissionError):
    """The signed-in person may not do this; the message says why, in plain words."""


class LoginFailed(Exception):
    """Wrong name or password, or the account is disabled. Deliberately vague."""


@dataclass(frozen=True)
class TrainingRecord:
    course: str
    completed_on: date


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    roles: frozenset[Role]
    disabled: bool = False
    vetting: VettingStatus = VettingStatus.PENDING
    vetted_on: date | None = None
    training: tuple[TrainingRecord, ...] = ()
    queue_ids: frozenset[int] = field(default_factory=frozenset)  # restricted queues allowed

    @property
    def role(self) -> str:
        """Primary role for display: the most senior one held."""
        for r in (Role.ADMIN, Role.LEAD, Role.QA, Role.MODERATOR):
            if r in self.roles:
                return r.value
        return Role.MODERATOR.value

    def permissions(self) -> frozenset[Permission]:
        out: set[Permission] = set()
        for r in self.roles:
            out |= ROLE_PERMISSIONS[r]
        return frozenset(out)

    def can(self, permission: Permission) -> bool:
        return not self.disabled and permission in self.permissions()

    def vetting_current(self, today: date) -> bool:
        return (
            self.vetting is VettingStatus.VETTED
            and self.vetted_on is not None
            and (today - self.vetted_on).days <= VETTING_VALID_DAYS
        )


def require(account: Account, permission: Permission, now: datetime | None = None) -> None:
    """Raise AccessDenied unless `account` holds `permission` (and, for work that shows
    material, a current vetting)."""
    if account.disabled:
        raise AccessDenied(f"{account.name}'s account is disabled.")
    if permission not in account.permissions():
        raise AccessDenied(f"{account.name} ({account.role}) may not {permission.value}.")
    shows_material = permission in (Permission.REVIEW, Permission.QA_REGRADE)
    if shows_material and now is not None and not account.vetting_current(now.date()):
        raise AccessDenied(
            f"{account.name}'s vetting is not current; review work needs a current vetting."
        )


def may_claim_from(account: Account, queue_id: int, restricted: bool) -> bool:
    return not restricted or queue_id in account.queue_ids


# argon2id with the library's RFC 9106 "low memory" defaults: ~50 ms and 64 MiB a login.
_HASHER = PasswordHasher()


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip() != password:
        raise ValueError("a password cannot start or end with a space")


def hash_password(password: str) -> str:
    check_password_strength(password)
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        return False
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False
