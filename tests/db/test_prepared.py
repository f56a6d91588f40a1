"""db.prepared: a statement compiled once and run on the driver's cursor must give what
Connection.execute gives, and fail the way it fails."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg._queries import PostgresQuery  # psycopg's own conversion, to compare with
from psycopg.adapt import Transformer
from psycopg.types.json import Json
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Engine,
    Float,
    Integer,
    Interval,
    MetaData,
    String,
    Table,
    bindparam,
    cast,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError

from db import prepared
from db.audit import _WriterSql
from db.claims import ClaimStatements
from db.engine import make_engine
from db.gate import Gate
from db.models import UTCDateTime
from db.prepared import Prepared, run_steps

meta = MetaData()
things = Table(
    "prepared_things",
    meta,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), nullable=False, unique=True),
    Column("status", String(20), nullable=False),
    Column("flag", Boolean),
    Column("at", UTCDateTime()),
    Column("extra", JSON),
)

AT = datetime(2026, 11, 22, 19, 30, 5, 123456, tzinfo=UTC)
ADD = (
    insert(things)
    .values(
        name=bindparam("p_name", type_=String()),
        status="new",  # a literal: bound from the statement's own value
        flag=bindparam("p_flag", type_=Boolean()),
        at=bindparam("p_at", type_=UTCDateTime()),
        extra=bindparam("p_extra", type_=JSON()),
    )
    .returning(things.c.id, things.c.at, things.c.extra, things.c.flag)
)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    e = make_engine(db_url)
    meta.create_all(e)
    yield e
    e.dispose()


def test_rows_and_types_match_connection_execute(engine: Engine) -> None:
    add = Prepared(ADD, engine.dialect)
    read = select(things).where(things.c.name == bindparam("p_name", type_=String()))
    params = {"p_name": "a", "p_flag": True, "p_at": AT, "p_extra": {"k": [1, "x"], "n": None}}
    with engine.begin() as conn:
        row = add.first(conn, params)
        assert row is not None
        assert add.keys == ("id", "at", "extra", "flag")
        assert row[1:] == (AT, {"k": [1, "x"], "n": None}, True)
        assert row[1].tzinfo is not None
        # A NULL goes in and comes out as None through the same processors.
        add.run(conn, {"p_name": "b", "p_flag": None, "p_at": None, "p_extra": None})
    with engine.connect() as conn:
        for name in ("a", "b"):
            core = tuple(conn.execute(read, {"p_name": name}).one())
            assert Prepared(read, engine.dialect).first(conn, {"p_name": name}) == core
    assert core[2:] == ("new", None, None, None)


def test_rowcount_of_an_update(engine: Engine) -> None:
    add = Prepared(ADD, engine.dialect)
    flip = Prepared(
        update(things)
        .where(things.c.status == bindparam("p_from", type_=String()))
        .values(status=bindparam("p_to", type_=String())),
        engine.dialect,
    )
    with engine.begin() as conn:
        for name in ("a", "b", "c"):
            add.run(conn, {"p_name": name, "p_flag": False, "p_at": AT, "p_extra": {}})
        assert flip.run(conn, {"p_from": "new", "p_to": "seen"}) == ([], 3)
        assert flip.run(conn, {"p_from": "new", "p_to": "seen"})[1] == 0


def test_a_missing_parameter_is_named(engine: Engine) -> None:
    add = Prepared(ADD, engine.dialect)
    with engine.begin() as conn, pytest.raises(KeyError, match="p_at"):
        add.run(conn, {"p_name": "a", "p_flag": True, "p_extra": None})


def test_in_lists_are_refused() -> None:
    stmt = select(things.c.id).where(things.c.id.in_(bindparam("p_ids", expanding=True)))
    with pytest.raises(ValueError, match="expanding"):
        Prepared(stmt, make_engine("sqlite://").dialect)


def test_a_constraint_violation_is_sqlalchemys_error_and_rolls_back(engine: Engine) -> None:
    add = Prepared(ADD, engine.dialect)
    params = {"p_name": "a", "p_flag": True, "p_at": AT, "p_extra": {}}
    with pytest.raises(IntegrityError), engine.begin() as conn:
        add.run(conn, params)
        add.run(conn, params)  # name is unique
    with engine.connect() as conn:
        assert conn.execute(select(things.c.id)).all() == []
    # The pooled connection is usable afterwards.
    with engine.begin() as conn:
        assert add.first(conn, params) is not None


@pytest.mark.postgres_only
def test_a_lost_connection_is_invalidated_as_sqlalchemy_does(engine: Engine) -> None:
    add = Prepared(ADD, engine.dialect)
    params = {"p_name": "a", "p_flag": True, "p_at": AT, "p_extra": {}}
    with engine.connect() as conn:
        pid = conn.execute(text("select pg_backend_pid()")).scalar_one()
        conn.commit()
        with engine.connect() as killer:
            killer.execute(text("select pg_terminate_backend(:p)"), {"p": pid})
        conn.begin()
        with pytest.raises(DBAPIError) as err:
            add.run(conn, params)
        assert err.value.connection_invalidated
        assert conn.invalidated
        # Rolled back, the same Connection carries on on a fresh DBAPI connection.
        conn.rollback()
        assert conn.execute(text("select 1")).scalar_one() == 1
        conn.commit()
    # The pool hands out a fresh connection: the next transaction just works.
    with engine.begin() as conn:
        assert add.first(conn, {**params, "p_at": AT + timedelta(seconds=1)}) is not None


# -- the precomputed converters give what SQLAlchemy's generic processors give ---------

aware_times = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
) | st.datetimes(timezones=st.just(UTC))


def _generic(type_: UTCDateTime, dialect: Dialect) -> tuple[Any, Any]:
    impl = type_.dialect_impl(dialect)
    return impl.bind_processor(dialect), impl.result_processor(dialect, None)


@settings(max_examples=400, deadline=None)
@given(value=st.none() | aware_times)
def test_utc_bind_and_result_on_sqlite_equal_the_generic_chain(value: datetime | None) -> None:
    dialect = sqlite.dialect()
    bind, result = _generic(UTCDateTime(), dialect)
    text_form = bind(value)
    assert prepared.bind_processor(UTCDateTime(), dialect)(value) == text_form  # type: ignore[misc]
    fast_result = prepared.result_processor(UTCDateTime(), dialect)
    assert fast_result is not None
    back = fast_result(text_form)
    assert back == result(text_form)
    assert back is None or back.tzinfo is UTC
    # What SQLite itself writes (CURRENT_TIMESTAMP defaults): no fraction, reads the same.
    if text_form is not None:
        assert fast_result(text_form[:19]) == result(text_form[:19])


def test_a_naive_time_is_refused_alike() -> None:
    dialect = sqlite.dialect()
    bind, _result = _generic(UTCDateTime(), dialect)
    fast = prepared.bind_processor(UTCDateTime(), dialect)
    assert fast is not None
    naive = datetime(2026, 1, 1, 12)
    for proc in (bind, fast):
        with pytest.raises(ValueError, match="naive datetime"):
            proc(naive)


@functools.cache
def _hot_statements(name: str) -> list[tuple[Any, Prepared]]:
    """(Core statement compiled, Prepared) for every statement the claim path prepares:
    the Store's, the gate's, the audit writer's."""
    dialect = sqlite.dialect() if name == "sqlite" else psycopg_dialect()
    made: list[tuple[Any, Prepared]] = []
    original = Prepared.__init__

    def keep(self: Prepared, stmt: Any, d: Dialect) -> None:
        original(self, stmt, d)
        made.append((stmt.compile(dialect=d), self))

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Prepared, "__init__", keep)
        ClaimStatements(dialect, server_time=dialect.name == "postgresql")
        ClaimStatements(dialect, server_time=False)
        Gate(False, lambda: AT, dialect=dialect)
        _WriterSql(dialect)
    return made


def _value_for(type_: Any, draw: Any) -> Any:
    """A value of the kind a caller binds to a parameter of `type_` (or None)."""
    if isinstance(type_, UTCDateTime):
        return draw(st.none() | aware_times)
    if isinstance(type_, Boolean):
        return draw(st.none() | st.booleans())
    if isinstance(type_, Integer):
        return draw(st.none() | st.integers(-(2**62), 2**62))
    if isinstance(type_, Float):
        return draw(st.none() | st.floats(allow_nan=False, allow_infinity=False))
    if isinstance(type_, JSON):
        return draw(st.none() | st.lists(st.text(max_size=5), max_size=3))
    if isinstance(type_, Interval):
        return timedelta(seconds=draw(st.integers(0, 10**6)))
    # PostgreSQL text holds no NUL and UTF-8 no lone surrogate: psycopg refuses both.
    return draw(
        st.none()
        | st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=10)
    )


@pytest.mark.parametrize("name", ["sqlite", "postgresql"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_hot_statements_bind_what_sqlalchemy_would(name: str, data: st.DataObject) -> None:
    """Every parameter of every hot statement, given or left to the statement's own
    value, reaches the driver as SQLAlchemy's own execution would send it."""
    for compiled, prep in _hot_statements(name):
        params: dict[str, Any] = {"not_a_parameter_of_it": 1}
        for bp, bname in compiled.bind_names.items():
            if bp.required or data.draw(st.booleans()):
                params[bname] = _value_for(bp.type, data.draw)
        raw = compiled.construct_params(params)
        procs = compiled._bind_processors
        want = {k: procs[k](v) if k in procs else v for k, v in raw.items()}
        if compiled.positiontup is not None:
            assert prep.bind(params) == [want[k] for k in compiled.positiontup], prep.sql
        else:
            got = prep.bind(params)
            assert isinstance(got, dict)
            assert _comparable(got) == _comparable(want), prep.sql
            # What the pipeline sends is what psycopg itself would make of the statement.
            theirs = PostgresQuery(Transformer())
            theirs.convert(prep.sql, got)
            ours = Transformer()
            assert prep.pg_sql == theirs.query
            assert ours.dump_sequence(prep.pg_values(params), prep.pg_formats) == theirs.params
            assert tuple(ours.types or ()) == tuple(theirs.types)


def _comparable(bound: dict[str, Any]) -> dict[str, Any]:
    # psycopg's JSON wrapper has no equality of its own: compare what it wraps.
    return {k: (Json, v.obj) if isinstance(v, Json) else v for k, v in bound.items()}


def test_the_hot_statements_stored_text_is_the_same_as_cores(engine: Engine) -> None:
    """Written through Prepared and through Connection.execute, the same values are
    stored alike, compared as the database's own text."""
    add = Prepared(ADD, engine.dialect)
    shown = select(
        things.c.name, cast(things.c.at, String()), cast(things.c.extra, String()), things.c.flag
    ).order_by(things.c.name)
    paris = datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=ZoneInfo("Europe/Paris"))
    values = [AT, AT.replace(microsecond=0), paris, None]
    with engine.begin() as conn:
        for i, at in enumerate(values):
            params = {"p_flag": i % 2 == 0, "p_at": at, "p_extra": {"n": i, "l": [None]}}
            add.run(conn, {**params, "p_name": f"fast{i}"})
            conn.execute(ADD, {**params, "p_name": f"core{i}"})
    with engine.connect() as conn:
        rows = conn.execute(shown).all()
    core = [tuple(r)[1:] for r in rows if r[0].startswith("core")]
    fast = [tuple(r)[1:] for r in rows if r[0].startswith("fast")]
    assert fast == core
    assert core[0][0] != core[1][0]  # the text does show the fraction


@pytest.mark.postgres_only
def test_a_hot_statement_is_prepared_on_the_server_from_its_first_run(engine: Engine) -> None:
    """Under row-level security planning a claim statement costs more than running it;
    the driver's default (prepare from the fifth run) planned every statement of a
    workstation's first claims, and of every claim after anything emptied its cache."""
    add = Prepared(ADD, engine.dialect)
    step = Prepared(select(things.c.id).where(things.c.name == bindparam("p_name")), engine.dialect)
    params = {"p_name": "a", "p_flag": True, "p_at": AT, "p_extra": {}}
    with engine.begin() as conn:
        add.run(conn, params)
        run_steps(conn, [(step, {"p_name": "a"})])
        prepared = conn.execute(text("select statement from pg_prepared_statements")).scalars()
        texts = " ".join(prepared)
    assert "INSERT INTO prepared_things" in texts
    assert "SELECT prepared_things.id" in texts


@pytest.mark.postgres_only
def test_a_hot_statement_is_one_server_statement_whatever_its_numbers_size(
    engine: Engine,
) -> None:
    """psycopg sends an int as the smallest integer type that holds it and keys its
    prepared statements by the parameters' types: an item id of 40,000 after ones under
    32,768 was a second statement, planned afresh (under row-level security a plan of
    the decision costs milliseconds, and every workstation met the boundary at once). An
    integer goes as its column's type, a whole number for a float column as a float."""
    by_id = Prepared(
        select(things.c.id).where(
            things.c.id == bindparam("p_id", type_=Integer()),
            cast(things.c.id, Float()) < bindparam("p_cap", type_=Float()),
        ),
        engine.dialect,
    )
    with engine.begin() as conn:
        for p_id, p_cap in ((5, 0.5), (40_000, 3), (2**31 - 1, 7.25), (-3, 0)):
            by_id.run(conn, {"p_id": p_id, "p_cap": p_cap})
        statements = conn.execute(text("select statement from pg_prepared_statements")).scalars()
        ours = [t for t in statements if "prepared_things.id AS FLOAT" in t]
    assert len(ours) == 1, ours


@pytest.mark.postgres_only
def test_an_id_out_of_its_columns_range_is_refused_not_wrapped_around(engine: Engine) -> None:
    """An integer sent as its column's type must not lose its high bytes on the way
    (psycopg's binary int4 of 2**32 is 0): the server refuses it, as it did before."""
    by_id = Prepared(
        select(things.c.name).where(things.c.id == bindparam("p_id", type_=Integer())),
        engine.dialect,
    )
    with engine.begin() as conn:
        conn.execute(insert(things).values(id=0, name="row zero", status="s"))
    for hostile in (2**32, 2**31, -(2**31) - 1, 2**64):
        with engine.begin() as conn, pytest.raises(DBAPIError, match="out of range"):
            by_id.run(conn, {"p_id": hostile})
    with engine.begin() as conn:
        assert by_id.run(conn, {"p_id": 0})[0] == [("row zero",)]


# -- the pipeline's statements prepared on the server (PostgreSQL) --------------------

NAMED = select(things.c.id).where(things.c.name == bindparam("p_name", type_=String()))


def _server_statements(conn: Any) -> list[str]:
    rows = conn.execute(text("select statement from pg_prepared_statements")).scalars()
    return [t for t in rows if "prepared_things.name = $1" in t]


def _psycopg_prepares_its_own(conn: Any) -> None:
    """Make psycopg prepare a statement of its own on `conn` (it does from the fifth
    run): it then sends DEALLOCATE ALL after a ROLLBACK or a DROP/ALTER."""
    for _ in range(6):
        conn.execute(text("select count(*) from prepared_things where status = 'x'"))


@pytest.mark.postgres_only
@pytest.mark.parametrize("close", [True, False], ids=["libpq17", "no-close"])
@pytest.mark.parametrize("how", ["rollback", "alter"])
def test_psycopg_deallocating_everything_does_not_break_the_next_statement(
    engine: Engine, how: str, close: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also without libpq 17's Close, where a forgotten statement is prepared again
    under a new name."""
    monkeypatch.setattr(prepared, "_CAN_CLOSE", close)
    named = Prepared(NAMED, engine.dialect)
    with engine.connect() as conn:
        with conn.begin():
            assert named.run(conn, {"p_name": "a"}) == ([], 0)
            _psycopg_prepares_its_own(conn)
        if how == "rollback":
            with conn.begin() as tx:
                _psycopg_prepares_its_own(conn)
                tx.rollback()
        else:
            with conn.begin():
                conn.execute(text("ALTER TABLE prepared_things ADD COLUMN note text"))
        with conn.begin():
            assert _server_statements(conn) == []  # psycopg did deallocate it
            assert named.run(conn, {"p_name": "a"}) == ([], 0)
            assert len(_server_statements(conn)) == 1


@pytest.mark.postgres_only
@pytest.mark.parametrize(
    ("can_close", "copies"),
    [(True, 1), (False, 4)],
    ids=["closed-and-prepared-again", "without-close-a-new-name"],
)
def test_a_statement_forgotten_but_still_there_is_prepared_again_without_error(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, can_close: bool, copies: int
) -> None:
    """A rollback with nothing of psycopg's own prepared deallocates nothing: the
    statement, taken for lost, is closed and prepared again, not left twice. Without
    libpq 17's Close nothing fails either: each forgetting costs one more copy on the
    server (under a new name), until the connection ends."""
    if can_close and not prepared._CAN_CLOSE:
        pytest.skip("this libpq has no Close of a prepared statement (before 17)")
    monkeypatch.setattr(prepared, "_CAN_CLOSE", can_close)
    named = Prepared(NAMED, engine.dialect)
    with engine.connect() as conn:
        for _ in range(3):
            with conn.begin() as tx:
                assert named.run(conn, {"p_name": "a"}) == ([], 0)
                tx.rollback()
        with conn.begin():
            assert named.run(conn, {"p_name": "a"}) == ([], 0)
            assert len(_server_statements(conn)) == copies


@pytest.mark.postgres_only
def test_statements_deallocated_behind_its_back_fail_once_then_work(engine: Engine) -> None:
    named = Prepared(NAMED, engine.dialect)
    with engine.connect() as conn:
        with conn.begin():
            named.run(conn, {"p_name": "a"})
        raw: Any = conn.connection.driver_connection
        raw.pgconn.exec_(b"DEALLOCATE ALL")  # under the driver: no event sees it
        with pytest.raises(DBAPIError, match="does not exist"), conn.begin():
            named.run(conn, {"p_name": "a"})
        with conn.begin():
            assert named.run(conn, {"p_name": "a"}) == ([], 0)


def test_numbered_is_libpqs_form() -> None:
    sql = "SELECT %(b)s, %(a)s, %(b)s, '50%%', '%%(a)s'"
    assert prepared.numbered(sql, ["a", "b"]) == (b"SELECT $1, $2, $1, '50%', '%(a)s'", (1, 0))


@pytest.mark.postgres_only
def test_a_connection_the_pool_rolled_back_prepares_again(engine: Engine) -> None:
    """The pool rolls back a connection given back inside a transaction, outside any
    SQLAlchemy transaction's events: psycopg then deallocates everything too."""
    named = Prepared(NAMED, engine.dialect)
    with engine.connect() as conn:
        with conn.begin():
            named.run(conn, {"p_name": "a"})
            _psycopg_prepares_its_own(conn)
        raw: Any = conn.connection.driver_connection
        raw.pgconn.exec_(b"BEGIN")  # open when it goes back to the pool
    with engine.connect() as conn:
        assert conn.connection.driver_connection is raw
        with conn.begin():
            assert _server_statements(conn) == []
            assert named.run(conn, {"p_name": "a"}) == ([], 0)
