"""Root test configuration.

- Qt runs offscreen (set before anything imports Qt).
- Every test gets an in-memory keyring and its own REVIEWER_DATA_DIR; REVIEWER_DB is
  cleared, so no test touches the real keyring or user data.
- ``db_url`` gives a fresh empty database per test and is parametrised over SQLite and
  PostgreSQL, so every database test runs on both. ``--backend sqlite|postgresql|all``
  restricts that. Tests marked ``postgres_only`` get only the PostgreSQL variant; a
  test can pin one with ``@pytest.mark.parametrize("db_backend", [...], indirect=True)``.
- ``migrated_db_url`` (what the ``store`` fixtures open) makes that database a copy of
  one already migrated, and ``team_db`` copies a team database migrated by its owner.
- Under pytest-xdist (scripts/test runs one worker per CPU) session fixtures are per
  worker: each worker starts its own PostgreSQL server on a free port.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

# Before any import of Qt (pytest-qt imports it when its plugin loads tests).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import keyring
import keyring.backend
import keyring.errors
import pytest

# tests/ is not a package; make `import pgserver` work under any --import-mode.
_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from pgserver import PgNotAvailableError, PgServer  # noqa: E402
from team_server import TeamDb, migrated_template  # noqa: E402

from db.engine import make_engine  # noqa: E402
from db.keys import accept_in_memory_backend  # noqa: E402
from db.migrate import upgrade  # noqa: E402

BACKENDS = ("sqlite", "postgresql")
_BACKEND_IDS = {"sqlite": "sqlite", "postgresql": "pg"}


# --------------------------------------------------------------------------- options
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=("sqlite", "postgresql", "pg", "all"),
        default="all",
        help="database backend(s) for tests using db_url (default: all)",
    )


def _selected_backends(config: pytest.Config) -> tuple[str, ...]:
    choice = config.getoption("--backend")
    if choice == "all":
        return BACKENDS
    return ("postgresql",) if choice in ("postgresql", "pg") else ("sqlite",)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # fixturenames is the full closure, so fixtures built on db_url are covered too.
    if "db_backend" not in metafunc.fixturenames or _pins_db_backend(metafunc):
        return
    selected = _selected_backends(metafunc.config)
    wanted = (
        ("postgresql",) if metafunc.definition.get_closest_marker("postgres_only") else BACKENDS
    )
    params = [pytest.param(b, id=_BACKEND_IDS[b]) for b in wanted if b in selected]
    if not params:
        # A postgres_only test under --backend=sqlite: one visible skip, not an error.
        params = [
            pytest.param("postgresql", id="pg", marks=pytest.mark.skip(reason="--backend=sqlite"))
        ]
    metafunc.parametrize("db_backend", params, indirect=True)


def _pins_db_backend(metafunc: pytest.Metafunc) -> bool:
    # A test may pin its backend itself:
    #   @pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
    for marker in metafunc.definition.iter_markers("parametrize"):
        argnames = marker.args[0] if marker.args else marker.kwargs.get("argnames", ())
        if isinstance(argnames, str):
            argnames = [a.strip() for a in argnames.split(",")]
        if "db_backend" in argnames:
            return True
    return False


# --------------------------------------------------------------------------- keyring
class InMemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that lives in a dict: nothing reaches the OS keyring or a file."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.passwords[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError(
                f"no password for {service}/{username}"
            ) from None


accept_in_memory_backend(InMemoryKeyring)  # db.keys only trusts OS keyrings otherwise


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[InMemoryKeyring]:
    """Autouse: a fresh in-memory keyring per test (the previous backend is restored)."""
    previous = keyring.get_keyring()
    backend = InMemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


# ------------------------------------------------------------------ password hashing
@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Autouse: argon2id with tiny costs, so the many accounts tests make stay quick.

    The production parameters are checked in tests/unit/test_account_rules.py."""
    from argon2 import PasswordHasher

    import reviewer.accounts

    monkeypatch.setattr(
        reviewer.accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


# ------------------------------------------------------------------------ data dir
@pytest.fixture(autouse=True)
def reviewer_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Autouse: REVIEWER_DATA_DIR -> a per-test directory (not created); REVIEWER_DB unset."""
    data_dir = tmp_path / "reviewer-data"
    monkeypatch.setenv("REVIEWER_DATA_DIR", str(data_dir))
    monkeypatch.delenv("REVIEWER_DB", raising=False)
    return data_dir


# ------------------------------------------------------------------------ databases
def _pg_required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("REVIEWER_REQUIRE_PG") == "1"


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest) -> Iterator[PgServer]:
    """One throwaway PostgreSQL server for the whole run (for each xdist worker: a
    session is per worker), started on first use, in RAM where there is room.

    Skips when PostgreSQL is not installed, except under CI or REVIEWER_REQUIRE_PG=1,
    where that fails the tests instead.
    """
    if "postgresql" not in _selected_backends(request.config):
        pytest.skip("--backend=sqlite")
    try:
        server = PgServer(in_memory=True)
        server.start()
    except PgNotAvailableError as e:
        if _pg_required():
            pytest.fail(f"PostgreSQL required (CI / REVIEWER_REQUIRE_PG=1) but unavailable: {e}")
        pytest.skip(f"PostgreSQL not available: {e}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    """'sqlite' or 'postgresql' (parametrised in pytest_generate_tests)."""
    return getattr(request, "param", "sqlite")


_db_counter = itertools.count()
# What db_url made for a test: whether its database is a migrated copy (migrated_db_url).
_MIGRATED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def pg_head_template(pg_server: PgServer) -> str:
    """A frozen database on this session's server at the head revision, migrated by the
    superuser as Store.open(db_url) would: what migrated_db_url copies."""
    return migrated_template(pg_server, owner=None)


@pytest.fixture(scope="session")
def pg_team_template(pg_server: PgServer) -> str:
    """A frozen database owned and migrated by the owner role: what TeamDb copies."""
    return migrated_template(pg_server, owner=pg_server.owner)


@pytest.fixture(scope="session")
def sqlite_head_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the head revision, made as Store.open makes one (make_engine,
    then upgrade) and closed: what migrated_db_url copies."""
    path = tmp_path_factory.mktemp("head-template") / "reviewer.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    # The last connection's close checkpoints the WAL into the file: a copy of the file
    # alone is then the whole database.
    leftovers = [p.name for p in path.parent.iterdir() if p != path]
    if leftovers:
        raise RuntimeError(f"the SQLite template left {leftovers} beside it")
    return path


@pytest.fixture
def db_url(request: pytest.FixtureRequest, db_backend: str, tmp_path: Path) -> Iterator[str]:
    """SQLAlchemy URL of a fresh database for this test, on ``db_backend``: empty,
    unless the test also uses ``migrated_db_url`` (directly or through a ``store``
    fixture), which makes it a copy of a database already at the head revision."""
    migrated = "migrated_db_url" in request.fixturenames
    request.node.stash[_MIGRATED] = migrated
    if db_backend == "sqlite":
        path = tmp_path / "reviewer.db"
        if migrated:
            template: Path = request.getfixturevalue("sqlite_head_template")
            shutil.copyfile(template, path)
            shutil.copymode(template, path)
        yield f"sqlite:///{path}"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    name = f"t{next(_db_counter)}_{uuid.uuid4().hex[:12]}"
    source = request.getfixturevalue("pg_head_template") if migrated else None
    url = server.create_database(name, template=source)
    try:
        yield url
    finally:
        server.drop_database(name)


@pytest.fixture
def migrated_db_url(request: pytest.FixtureRequest, db_url: str) -> str:
    """``db_url``, its database already at the head revision: a copy of a template this
    session migrated once, the same as the empty database Store.open would have migrated
    (tests/db/test_pgserver.py compares the two). Store fixtures open it: migrating
    every test's database from empty was most of their set-up time."""
    if not request.node.stash.get(_MIGRATED, False):
        # Asked for after db_url was made (request.getfixturevalue): it is empty.
        raise RuntimeError("migrated_db_url must be a parameter of the test or its fixtures")
    return db_url


@pytest.fixture
def team_db(pg_server: PgServer, pg_team_template: str) -> Iterator[TeamDb]:
    """A PostgreSQL database set up as a team's server: owned and migrated by the owner
    role (a copy of pg_team_template), with a first admin; `team_db.person(...)` adds
    people, each signing in as their own login role (tests/team_server.py)."""
    team = TeamDb(pg_server, template=pg_team_template)
    try:
        yield team
    finally:
        team.close()
