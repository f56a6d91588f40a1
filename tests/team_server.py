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
import sqlalchemy as sa
from pgserver import PgServer

from db.engine import make_engine
from db.media_store import MediaStore
from db.migrate import upgrade
from db.store import Store
from db.team import team_sign_in
from reviewer.accounts import Account, Role, VettingStatus
from reviewer.clock import Clock
from reviewer.composition import build_workstation
from reviewer.review_service import ReviewService

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


@dataclass(frozen=True)
class Seat:
    """A person signed in at a team workstation: their session (`svc`, with the team
    tools their roles open in `svc.team`) over a Store connected as their login role."""

    person: Person
    store: Store
    svc: ReviewService

    def session_roles(self) -> tuple[str, str]:
        """(current_user, session_user) of the Store's own connection: who the server
        thinks is doing the work."""
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.text("SELECT current_user, session_user")).one()
        return str(row[0]), str(row[1])

    def setting(self, name: str) -> str:
        """A server setting as this Store's connections see it."""
        with self.store.engine.connect() as conn:
            return str(conn.execute(sa.text("SELECT current_setting(:n)"), {"n": name}).scalar())

    def assert_own_login_role(self) -> None:
        assert self.session_roles() == (self.person.role, self.person.role)


def migrated_template(server: PgServer, owner: str | None) -> str:
    """A database at the head revision, for `server.create_database(template=...)`:
    created as `owner` (a team's, see TeamDb) or the superuser's (db_url's) and migrated
    by that role, exactly as Store.open migrates an empty one (make_engine, then
    upgrade), then frozen. A copy takes about 40 ms where migrating takes 0.4 to 1 s,
    which over the thousand-odd PostgreSQL tests was most of the test run;
    tests/db/test_pgserver.py checks a copy dumps the same as a migrated database."""
    if owner not in (None, server.owner):
        raise ValueError(f"no password for {owner!r}: the owner role or the superuser only")
    name = f"head_{'team' if owner else 'plain'}_{uuid.uuid4().hex[:12]}"
    server.create_database(name, owner=owner)
    engine = make_engine(server.owner_url(name) if owner else server.url(name))
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    server.freeze_template(name)
    return name


class TeamDb:
    """One team database: `owner` is the owner's Store (set-up and migrations only).

    With `template` (a `migrated_template(server, server.owner)`) the database starts
    as a copy of it, already migrated by the owner; without, it starts empty and the
    owner's Store migrates it."""

    def __init__(
        self, server: PgServer, clock: Clock | None = None, template: str | None = None
    ) -> None:
        self.server = server
        self.clock = clock
        self.name = f"team_{uuid.uuid4().hex[:12]}"
        # Role names are cluster-wide and each test has its own database: a tag keeps
        # one test's people apart from another's.
        self.tag = uuid.uuid4().hex[:6]
        server.create_database(self.name, owner=server.owner, template=template)
        self.owner_url = server.owner_url(self.name)
        self.owner = Store.open(self.owner_url, clock=clock, audit_key=AUDIT_KEY)
        self.accounts = self.owner.accounts
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

    def sign_in(self, person: Person, media: MediaStore, qa_seed: bytes) -> Seat:
        """`person` at a workstation as team mode runs it (reviewer.cli's GUI start on a
        team server): the sign-in dialog's name and password checked by the server
        (`team_sign_in`), the Store opened as their own login role, the workstation
        built by the composition root, and the person signed in on it."""
        url = team_sign_in(self.server.url(self.name), person.account.name, person.password)
        store = Store.open(url, clock=self.clock, audit_key=AUDIT_KEY)
        self._stores.append(store)
        workstation = build_workstation(store, media, qa_seed, None, self.clock)
        return Seat(person, store, workstation.log_in(person.account.name, person.password))

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
