"""The database fixtures themselves: db_url on both backends, and the PgServer helper."""

from __future__ import annotations

import os
from pathlib import Path

import keyring
import pytest
from pgserver import PgNotAvailableError, PgServer, find_pg_bindir
from sqlalchemy import create_engine, make_url, text

_seen_databases: dict[str, str] = {}


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


def test_keyring_is_in_memory(memory_keyring: object) -> None:
    assert keyring.get_keyring() is memory_keyring
    keyring.set_password("reviewer-test", "alice", "s3cret")
    assert keyring.get_password("reviewer-test", "alice") == "s3cret"


def test_keyring_is_fresh_per_test() -> None:
    assert keyring.get_password("reviewer-test", "alice") is None


def test_data_dir_is_isolated(reviewer_data_dir: Path, tmp_path: Path) -> None:
    assert os.environ["REVIEWER_DATA_DIR"] == str(reviewer_data_dir)
    assert reviewer_data_dir.is_relative_to(tmp_path)
    assert "REVIEWER_DB" not in os.environ
