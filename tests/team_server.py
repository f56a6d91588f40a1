"""A team database on the throwaway PostgreSQL server, set up as a team would.

The database belongs to the owner role (tests/pgserver.py creates it with the group
roles), which runs the migrations; every person is an account made through the
accounts repository and so a LOGIN role of their own, with a SCRAM password, which
signs in with `url(person)` or `raw(person)` and is bound by the policies of
migration 0018.

``tests/`` is not a package: conftest.py puts this directory on sys.path.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

import psycopg
from pgserver import PgServer

from db.accounts import AccountsRepo
from db.store import Store
from reviewer.accounts import Account, Role, VettingStatus
from reviewer.clock import Clock

# A fixed audit key: every Store of one team shares the team's key.
AUDIT_KEY = b"team-audit-key-for-the-tests-32b"
FIRST_ADMIN_PASSWORD = "first admin's own password"


@dataclass(frozen=True)
class Person:
    account: Account
    role: str  # the PostgreSQL login role
    password: str

    @property
    def id(self) -> int:
        return self.account.id


class TeamDb:
    """One team database: `owner` is the owner's Store (set-up and migrations only)."""

    def __init__(self, server: PgServer, clock: Clock | None = None) -> None:
        self.server = server
        self.clock = clock
        self.name = f"team_{uuid.uuid4().hex[:12]}"
        # Role names are cluster-wide and each test has its own database: a tag keeps
        # one test's people apart from another's.
        self.tag = uuid.uuid4().hex[:6]
        server.create_database(self.name, owner=server.owner)
        self.owner_url = server.owner_url(self.name)
        self.owner = Store.open(self.owner_url, clock=clock, audit_key=AUDIT_KEY)
        self.accounts = AccountsRepo(self.owner)
        admin = self.accounts.enrol_first_admin(f"Admin {self.tag}", FIRST_ADMIN_PASSWORD)
        self.admin = Person(admin, f"admin_{self.tag}", FIRST_ADMIN_PASSWORD)
        self._stores: list[Store] = []

    def person(self, name: str, *roles: Role, queues: Collection[int] = ()) -> Person:
        """A vetted account with `roles` (and access to restricted `queues`), made by the
        admin: its login role exists, in the group roles of its app roles."""
        password = f"{name}'s own password {uuid.uuid4().hex[:8]}"
        full = f"{name} {self.tag}"
        acc = self.accounts.create_user(self.admin.account, full, password, roles)
        today = self.clock.now().date() if self.clock is not None else date.today()
        self.accounts.set_vetting(self.admin.account, acc.id, VettingStatus.VETTED, today)
        for q in queues:
            self.accounts.grant_queue(self.admin.account, acc.id, q)
        return Person(self.accounts.account(acc.id), f"{name.lower()}_{self.tag}", password)

    def url(self, person: Person) -> str:
        return self.server.url(self.name, person.role, person.password)

    def store(self, person: Person) -> Store:
        """A Store signed in as `person` (closed with the TeamDb)."""
        store = Store.open(self.url(person), clock=self.clock, audit_key=AUDIT_KEY)
        self._stores.append(store)
        return store

    def raw(self, person: Person) -> psycopg.Connection:
        """A bare psycopg connection as `person`, autocommit: what psql would give them."""
        return psycopg.connect(
            host=self.server.host,
            port=self.server.port,
            dbname=self.name,
            user=person.role,
            password=person.password,
            autocommit=True,
        )

    def close(self) -> None:
        for store in self._stores:
            store.close()
        self.owner.close()
        self.server.drop_database(self.name)
