"""Team mode's start: the person signs in to the team server as their own PostgreSQL
login role, and only then is the workstation's database opened, as them.

The embedded (SQLite) workstation opens its database first and checks passwords
itself (`Workstation`); on a team server there is nothing to open before sign-in,
since no workstation holds a credential of its own. `TeamSignIn` answers the start-up
screens' four questions in place of a `Workstation` until someone has signed in.
"""

from __future__ import annotations

from collections.abc import Callable

from reviewer.accounts import AccessDenied
from reviewer.review_service import ReviewService, Workstation

FIRST_ADMIN_ON_SERVER = (
    "On a team server the first admin is enrolled by the server's owner "
    "(reviewer migrate --first-admin NAME): sign in with that account."
)


class TeamSignIn:
    """`sign_in(name, password)` returns the database URL as that person (LoginFailed
    or AccessDenied otherwise, checked by the server); `open_workstation(url)` builds
    the workstation on it. Closed with `close()`."""

    def __init__(
        self,
        sign_in: Callable[[str, str], str],
        open_workstation: Callable[[str], Workstation],
        close_workstation: Callable[[Workstation], None],
    ) -> None:
        self._sign_in = sign_in
        self._open = open_workstation
        self._close = close_workstation
        self._workstation: Workstation | None = None

    def needs_first_account(self) -> bool:
        return False

    def enrol_first_admin(self, name: str, password: str) -> ReviewService:
        raise AccessDenied(FIRST_ADMIN_ON_SERVER)

    def log_in(self, name: str, password: str) -> ReviewService:
        url = self._sign_in(name, password)
        workstation = self._open(url)
        try:
            service = workstation.log_in(name, password)
        except BaseException:
            self._close(workstation)
            raise
        if self._workstation is not None:
            self._close(self._workstation)
        self._workstation = workstation
        return service

    def seed_demo_if_empty(self, progress: Callable[[int, int], None]) -> int:
        if self._workstation is None:
            return 0
        return self._workstation.seed_demo_if_empty(progress)

    def close(self) -> None:
        if self._workstation is not None:
            self._close(self._workstation)
            self._workstation = None
