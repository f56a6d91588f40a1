"""db.prepared: a statement compiled once and run on the driver's cursor must give what
Connection.execute gives, and fail the way it fails."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from db.engine import make_engine
from db.models import UTCDateTime
from db.prepared import Prepared

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
        with pytest.raises(DBAPIError) as err:
            add.run(conn, params)
        assert err.value.connection_invalidated
        assert conn.invalidated
    # The pool hands out a fresh connection: the next transaction just works.
    with engine.begin() as conn:
        assert add.first(conn, {**params, "p_at": AT + timedelta(seconds=1)}) is not None
