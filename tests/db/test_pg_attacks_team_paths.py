"""The doors migration 0025 opened, tried as an insider would: each person signed in to
PostgreSQL as their own login role, in raw SQL (what psql would give them).

- reviewer_serve_gold_copy, the SECURITY DEFINER function serving gold: a moderator
  may not be served gold of a restricted queue it has no access to, may not serve
  anyone else, may not serve itself the same gold item twice, and a QA-only or lead-only
  role is not served at all.
- The media policy's near-duplicate clause: a group's media only to whoever holds or
  decided one of its members; nobody settles someone else's group by writing the
  members' rows.
- admin_jobs: an admin reads everyone's decisions, exposures and QA grades, but writes
  none, and a moderator still reads none of anyone else's.

Each refusal is paired with the same statement by someone allowed, so a door shut for
everyone would fail here too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import errors
from qa_helpers import add_items, graded
from team_server import Person, TeamDb

from reviewer.accounts import Role
from reviewer.model import Exposure
from reviewer.permissions import Check, Operation
from reviewer.vocabulary import Severity

pytestmark = pytest.mark.postgres_only

SERVE = "SELECT gold_id, item_id FROM reviewer_serve_gold_copy(%s, %s, '{}', now(), now())"


@dataclass
class Scene:
    team: TeamDb
    general: int
    restricted: int
    gold_general: int
    gold_restricted: int
    mo: Person  # no access to the restricted queue
    rita: Person  # a moderator with access to it
    max: Person
    quinn: Person
    lee: Person
    mo_decision: int
    mo_claim: int
    group_media: list[int]  # media ids of the group's pending members


def _mark_gold(team: TeamDb, item: int) -> None:
    admin = team.admin.account
    team.owner.qa.mark_gold(
        item, graded(Severity.C), admin.id, check=Check(admin.id, admin.name, Operation.GOLD)
    )


@pytest.fixture
def scene(team_db: TeamDb) -> Iterator[Scene]:
    team = team_db
    owner = team.owner
    general = owner.items.ensure_queue("General")
    restricted = owner.items.ensure_queue("Restricted")
    team.accounts.set_queue_restricted(team.admin.account, restricted, True)
    (gold_general,) = add_items(owner, 1, queue="General", tag="gg", synthetic=True)
    (gold_restricted,) = add_items(owner, 1, queue="Restricted", tag="gr", synthetic=True)
    _mark_gold(team, gold_general)
    _mark_gold(team, gold_restricted)
    rep, *members = add_items(owner, 3, queue="General", tag="dup")
    mo = team.person("Mo", Role.MODERATOR)
    rita = team.person("Rita", Role.MODERATOR, queues=[restricted])
    max_ = team.person("Max", Role.MODERATOR)
    quinn = team.person("Quinn", Role.QA)
    lee = team.person("Lee", Role.LEAD)

    # Mo decides the group's representative, the ordinary way.
    mo_store = team.store(mo)
    claim = mo_store.claims.claim_next(mo.id, general)
    assert claim is not None and claim.item.id == rep
    mo_decision = mo_store.claims.submit_decision(
        claim, graded(Severity.B), Exposure(), str(uuid.uuid4())
    ).decision_id
    with owner.engine.begin() as conn:
        group = conn.exec_driver_sql(
            "INSERT INTO dup_groups (representative_item_id, created_at, max_distance)"
            " VALUES (%s, now(), 31) RETURNING id",
            (rep,),
        ).scalar_one()
        for item, distance in ((rep, 0), (members[0], 4), (members[1], 6)):
            conn.exec_driver_sql(
                "INSERT INTO dup_members (item_id, group_id, distance, joined_at)"
                " VALUES (%s, %s, %s, now())",
                (item, group, distance),
            )
        group_media = [
            int(conn.exec_driver_sql("SELECT media_id FROM items WHERE id = %s", (i,)).scalar())
            for i in members
        ]
    yield Scene(
        team,
        general,
        restricted,
        gold_general,
        gold_restricted,
        mo,
        rita,
        max_,
        quinn,
        lee,
        mo_decision,
        claim.claim_id,
        group_media,
    )


def _rows(conn: psycopg.Connection, sql: str, *params: object) -> list[tuple[object, ...]]:
    return conn.execute(sql, params).fetchall()


def _gold_of(scene: Scene, item: int) -> int:
    with scene.team.owner.engine.connect() as conn:
        return int(
            conn.exec_driver_sql("SELECT id FROM gold_items WHERE item_id = %s", (item,)).scalar()
        )


# -- serving gold ------------------------------------------------------------------------


def test_gold_of_a_restricted_queue_is_served_only_to_those_with_access(scene: Scene) -> None:
    with scene.team.raw(scene.mo) as conn:
        assert _rows(conn, SERVE, scene.mo.id, scene.restricted) == []
        # Asked for any queue, Mo gets the general gold item, never the restricted one.
        served = _rows(conn, SERVE, scene.mo.id, None)
        assert [g for g, _ in served] == [_gold_of(scene, scene.gold_general)]
        assert _rows(conn, SERVE, scene.mo.id, None) == []
    with scene.team.raw(scene.rita) as conn:
        served = _rows(conn, SERVE, scene.rita.id, scene.restricted)
        assert [g for g, _ in served] == [_gold_of(scene, scene.gold_restricted)]


def test_a_moderator_gets_each_gold_item_once_however_it_calls(scene: Scene) -> None:
    with scene.team.raw(scene.mo) as conn:
        (first,) = _rows(conn, SERVE, scene.mo.id, scene.general)
        assert _rows(conn, SERVE, scene.mo.id, scene.general) == []
        # The copy is Mo's own claimed item, recorded as Mo's serve.
        assert _rows(conn, "SELECT claimed_by, status FROM items WHERE id = %s", first[1]) == [
            (scene.mo.id, "claimed")
        ]
        assert _rows(conn, "SELECT gold_id FROM gold_serves WHERE user_id = %s", scene.mo.id) == [
            (first[0],)
        ]


def test_nobody_is_served_gold_in_someone_else_s_name(scene: Scene) -> None:
    with scene.team.raw(scene.mo) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(SERVE, (scene.max.id, scene.general))
    # Max still has the general gold item to come.
    with scene.team.raw(scene.max) as conn:
        assert len(_rows(conn, SERVE, scene.max.id, scene.general)) == 1


@pytest.mark.parametrize("who", ["quinn", "lee"])
def test_only_a_moderator_is_served_gold(scene: Scene, who: str) -> None:
    person = getattr(scene, who)
    with scene.team.raw(person) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(SERVE, (person.id, scene.general))


def test_a_moderator_still_may_not_read_gold_items_or_insert_items(scene: Scene) -> None:
    with scene.team.raw(scene.mo) as conn:
        assert _rows(conn, "SELECT id FROM items WHERE id = %s", scene.gold_general) == []
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO items (queue_id, media_id, dedupe_key, source, priority,"
                " imminent_risk, received_at, status) SELECT queue_id, media_id, 'x', source,"
                " priority, false, now(), 'pending' FROM items LIMIT 1"
            )


# -- near-duplicate groups ---------------------------------------------------------------


def test_a_group_s_media_only_to_whoever_graded_a_member(scene: Scene) -> None:
    sql = "SELECT id FROM media WHERE id = ANY(%s) ORDER BY id"
    with scene.team.raw(scene.mo) as conn:
        assert [r[0] for r in _rows(conn, sql, scene.group_media)] == sorted(scene.group_media)
    with scene.team.raw(scene.max) as conn:
        assert _rows(conn, sql, scene.group_media) == []


def test_nobody_settles_a_group_by_writing_its_members_rows(scene: Scene) -> None:
    members = "SELECT item_id FROM dup_members WHERE distance > 0 ORDER BY item_id"
    for person in (scene.max, scene.mo):
        with scene.team.raw(person) as conn:
            items = [r[0] for r in _rows(conn, members)]
            # Straight to 'decided', without a claim: the item's new row is refused.
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("UPDATE items SET status = 'decided' WHERE id = ANY(%s)", (items,))
            # A decision on another member under Mo's claim of the representative (the
            # only claim there is): refused, for Mo too (the claim is of another item).
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(
                    "INSERT INTO decisions (client_token, item_id, user_id, claim_id,"
                    " decided_at, severity, csea_related, actions, note) VALUES (%s, %s, %s,"
                    " %s, now(), 'category_b', true, '[]', '')",
                    (str(uuid.uuid4()), items[0], person.id, scene.mo_claim),
                )


# -- the admin's jobs --------------------------------------------------------------------


def test_an_admin_reads_everyone_s_decisions_and_writes_none(scene: Scene) -> None:
    sql = "SELECT id FROM decisions WHERE user_id = %s"
    with scene.team.raw(scene.team.admin) as conn:
        assert _rows(conn, sql, scene.mo.id) == [(scene.mo_decision,)]
        assert _rows(conn, "SELECT user_id FROM exposures WHERE user_id = %s", scene.mo.id)
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO decisions (client_token, item_id, user_id, claim_id, decided_at,"
                " severity, csea_related, actions, note) SELECT %s, item_id, user_id, id,"
                " now(), 'not_illegal', false, '[]', '' FROM claims WHERE user_id = %s",
                (str(uuid.uuid4()), scene.mo.id),
            )
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("UPDATE decisions SET severity = 'not_illegal'")
    for person in (scene.max, scene.rita):
        with scene.team.raw(person) as conn:
            assert _rows(conn, sql, scene.mo.id) == [], person.role
            assert _rows(conn, "SELECT id FROM exposures WHERE user_id = %s", scene.mo.id) == []
