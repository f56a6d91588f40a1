"""The database fixtures themselves: db_url on both backends, migrated_db_url and the
team template, and the PgServer helper."""

from __future__ import annotations

import os
import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from pgserver import PgNotAvailableError, PgServer, find_pg_bindir
from sqlalchemy import create_engine, make_url, text

from db.engine import make_engine
from db.migrate import upgrade

_seen_databases: dict[str, str] = {}

# Tests below that look at what an earlier test left (a database URL, a keyring entry)
# run on one xdist worker, in file order, or the earlier one may run elsewhere.
one_worker = pytest.mark.xdist_group("test_pgserver_order")


def _scalar(url: str, sql: str) -> object:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


def test_db_url_connects(db_url: str, db_backend: str) -> None:
    assert make_url(db_url).get_backend_name() == db_backend
    assert _scalar(db_url, "select 1") == 1


def test_db_url_is_empty_and_writable(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("create table t (x integer)"))
            conn.execute(text("insert into t values (42)"))
        with engine.connect() as conn:
            assert conn.execute(text("select x from t")).scalar_one() == 42
    finally:
        engine.dispose()


@one_worker
@pytest.mark.parametrize("n", [1, 2])
def test_each_test_gets_its_own_database(db_url: str, db_backend: str, n: int) -> None:
    # Both runs create the same table: it would clash if the database were shared.
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("create table only_once (x integer)"))
    finally:
        engine.dispose()
    _seen_databases[f"{db_backend}-{n}"] = db_url
    other = _seen_databases.get(f"{db_backend}-{3 - n}")
    if other is not None:
        assert other != db_url


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_sqlite_file_is_in_tmp_path(db_url: str, tmp_path: Path) -> None:
    database = make_url(db_url).database
    assert database is not None
    assert Path(database).parent == tmp_path
    _scalar(db_url, "select 1")
    assert Path(database).is_file()


@pytest.mark.postgres_only
def test_pg_drop_database_removes_it(pg_server: PgServer, db_url: str) -> None:
    name = make_url(db_url).database
    assert name is not None
    assert _scalar(pg_server.url(), f"select count(*) from pg_database where datname = '{name}'")
    pg_server.drop_database(name)
    assert not _scalar(
        pg_server.url(), f"select count(*) from pg_database where datname = '{name}'"
    )


@pytest.mark.postgres_only
def test_pg_drop_forces_out_open_connections(pg_server: PgServer) -> None:
    url = pg_server.create_database("force_drop_check")
    engine = create_engine(url)
    conn = engine.connect()
    try:
        conn.execute(text("select 1"))
        pg_server.drop_database("force_drop_check")
    finally:
        conn.invalidate()
        engine.dispose()
    assert not _scalar(
        pg_server.url(), "select count(*) from pg_database where datname = 'force_drop_check'"
    )


@pytest.mark.postgres_only
def test_pg_database_name_is_validated(pg_server: PgServer) -> None:
    with pytest.raises(ValueError):
        pg_server.create_database('x"; drop database postgres; --')


@pytest.mark.postgres_only
def test_pg_server_runs_with_throwaway_settings(pg_server: PgServer) -> None:
    url = pg_server.url()
    assert url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    assert _scalar(url, "show fsync") == "off"
    assert _scalar(url, "show max_connections") == "200"
    assert _scalar(url, "show listen_addresses") == "127.0.0.1"


def test_find_pg_bindir_honours_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("initdb", "pg_ctl", "postgres"):
        (tmp_path / name).touch()
    monkeypatch.setenv("REVIEWER_PG_BINDIR", str(tmp_path))
    assert find_pg_bindir() == tmp_path


def test_missing_binaries_raise_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PgNotAvailableError, match="apt-get install -y postgresql"):
        PgServer(bindir=tmp_path)


@one_worker
def test_keyring_is_in_memory(memory_keyring: object) -> None:
    assert keyring.get_keyring() is memory_keyring
    keyring.set_password("reviewer-test", "alice", "s3cret")
    assert keyring.get_password("reviewer-test", "alice") == "s3cret"


@one_worker
def test_keyring_is_fresh_per_test() -> None:
    assert keyring.get_password("reviewer-test", "alice") is None


def test_data_dir_is_isolated(reviewer_data_dir: Path, tmp_path: Path) -> None:
    assert os.environ["REVIEWER_DATA_DIR"] == str(reviewer_data_dir)
    assert reviewer_data_dir.is_relative_to(tmp_path)
    assert "REVIEWER_DB" not in os.environ


# ------------------------------------------------------------- migrated copies
def _migrate(url: str) -> None:
    # What Store.open does before anything else: make_engine, then upgrade.
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def _pg_dump(server: PgServer, name: str) -> str:
    text_ = server.dump(name)
    # pg_dump's per-run \restrict key, and the database's own name, differ by design.
    text_ = "\n".join(
        line for line in text_.splitlines() if not line.startswith(("\\restrict", "\\unrestrict"))
    )
    return re.sub(rf"\b{re.escape(name)}\b", "<db>", text_)


@pytest.fixture
def fresh_pg(pg_server: PgServer) -> Iterator[list[str]]:
    """Names of databases a test makes on the server itself, dropped afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        pg_server.drop_database(name)


@pytest.mark.postgres_only
def test_a_migrated_copy_dumps_the_same_as_a_freshly_migrated_database(
    pg_server: PgServer, migrated_db_url: str, fresh_pg: list[str]
) -> None:
    fresh = f"fresh_{uuid.uuid4().hex[:12]}"
    fresh_pg.append(fresh)
    _migrate(pg_server.create_database(fresh))
    copy = make_url(migrated_db_url).database
    assert copy is not None
    want = _pg_dump(pg_server, fresh)
    # What a copy could silently miss: the database-level default of migration 0026,
    # which CREATE DATABASE does not carry over, and the rows migrations insert.
    assert "ALTER DATABASE <db> SET jit TO 'off'" in want
    assert "COPY public.alembic_version" in want and "CREATE POLICY" in want
    assert _pg_dump(pg_server, copy) == want


@pytest.mark.postgres_only
def test_a_team_copy_dumps_the_same_as_a_database_the_owner_migrated(
    pg_server: PgServer, pg_team_template: str, fresh_pg: list[str]
) -> None:
    fresh, copy = (f"{kind}_{uuid.uuid4().hex[:12]}" for kind in ("fresh", "copy"))
    fresh_pg += [fresh, copy]
    pg_server.create_database(fresh, owner=pg_server.owner)
    _migrate(pg_server.owner_url(fresh))
    pg_server.create_database(copy, owner=pg_server.owner, template=pg_team_template)
    want = _pg_dump(pg_server, fresh)
    assert f"ALTER DATABASE <db> OWNER TO {pg_server.owner}" in want
    assert "ALTER DATABASE <db> SET jit TO 'off'" in want
    assert _pg_dump(pg_server, copy) == want


@pytest.mark.postgres_only
def test_a_template_refuses_connections_and_a_copy_of_a_missing_one_fails(
    pg_server: PgServer, pg_head_template: str
) -> None:
    with pytest.raises(Exception, match="not currently accepting connections"):
        _scalar(pg_server.url(pg_head_template), "select 1")
    with pytest.raises(Exception, match="does not exist"):
        pg_server.create_database("never_made", template="no_such_template")


def _sqlite_state(path: Path) -> tuple[object, ...]:
    conn = sqlite3.connect(path)
    try:
        pragmas = tuple(
            conn.execute(f"pragma {p}").fetchone()[0]
            for p in ("user_version", "application_id", "journal_mode", "page_size",
                      "auto_vacuum", "encoding")
        )  # fmt: skip
        # Alembic's batch mode rebuilds tables with their constraints in no fixed order
        # (two fresh migrations differ there): each statement's lines, as a set.
        dump = sorted(
            tuple(sorted(line.strip().rstrip(",") for line in statement.splitlines()))
            for statement in conn.iterdump()
        )
        return (path.stat().st_mode & 0o777, pragmas, dump)
    finally:
        conn.close()


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_a_migrated_sqlite_copy_is_the_file_a_fresh_migration_makes(
    migrated_db_url: str, tmp_path: Path
) -> None:
    fresh = tmp_path / "fresh.db"
    _migrate(f"sqlite:///{fresh}")
    copy = make_url(migrated_db_url).database
    assert copy is not None
    want = _sqlite_state(fresh)
    assert any("alembic_version" in line for statement in want[2] for line in statement)
    assert _sqlite_state(Path(copy)) == want


def test_db_url_alone_stays_empty(db_url: str) -> None:
    # The store fixtures' copy must not leak into tests that asked for an empty one.
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(
                text(
                    "select name from sqlite_master where type = 'table'"
                    if db_url.startswith("sqlite")
                    else "select tablename from pg_tables where schemaname = 'public'"
                )
            ).all()
    finally:
        engine.dispose()
    assert tables == []
