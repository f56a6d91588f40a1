"""Migration 0027 (the account's facts as three functions) goes both ways on a team
server: down, the policies are exactly those of a database migrated only to 0026; up
again, exactly those of the head; and only the facts' expressions differ between them."""

from __future__ import annotations

import uuid

import pytest
from alembic import command
from pgserver import PgServer
from sqlalchemy import Engine, text
from team_server import TeamDb

from db.engine import make_engine
from db.migrate import alembic_config, upgrade

pytestmark = pytest.mark.postgres_only

Policies = dict[tuple[str, str], tuple[str, str, str]]


def _policies(engine: Engine) -> Policies:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT tablename, policyname, cmd, coalesce(qual, ''), coalesce(with_check, '')"
                " FROM pg_policies WHERE schemaname = 'public'"
            )
        ).all()
    return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}


def _fact_functions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT proname FROM pg_proc WHERE proname LIKE 'reviewer\\_me\\_%'")
        ).all()
    return {r[0] for r in rows}


def test_0027_round_trip_restores_each_policy_exactly(pg_server: PgServer, team_db: TeamDb) -> None:
    engine = team_db.owner.engine
    head = _policies(engine)
    assert _fact_functions(engine) == {"reviewer_me_id", "reviewer_me_is", "reviewer_me_queues"}

    name = f"at_0026_{uuid.uuid4().hex[:8]}"
    pg_server.create_database(name, owner=pg_server.owner)
    at_0026 = make_engine(pg_server.owner_url(name))
    try:
        upgrade(at_0026, "0026")
        before = _policies(at_0026)
    finally:
        at_0026.dispose()
        pg_server.drop_database(name)

    command.downgrade(alembic_config(engine), "0026")
    assert _policies(engine) == before
    assert _fact_functions(engine) == set()

    upgrade(engine)
    assert _policies(engine) == head
    # Every policy is still there, with the same command; those that read the account
    # now ask the functions instead.
    assert head.keys() == before.keys()
    changed = [k for k in head if head[k] != before[k]]
    assert len(changed) > 30
    for key in changed:
        assert head[key][0] == before[key][0]
        assert "reviewer_me_" in head[key][1] + head[key][2], key
