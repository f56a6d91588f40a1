"""The team server is the gate: each kind of person, signed in to PostgreSQL with their
own credentials, tries in raw SQL what the services would refuse them, and the server
refuses it (migration 0018: grants, row-level security, reviewer_may).

Every refusal is paired with the same statement by someone allowed (the owner, or a
person whose job it is), so a policy that stopped everything would fail here too.
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
from reviewer.errors import NotFound
from reviewer.model import Exposure
from reviewer.vocabulary import Severity

pytestmark = pytest.mark.postgres_only

AUDIT_TABLES = ("audit_events", "audit_head", "audit_chains")


@dataclass
class Scene:
    team: TeamDb
    general: int
    restricted: int
    restricted_items: list[int]
    mo: Person
    max: Person
    quinn: Person
    lee: Person
    mo_decision: int
    mo_held_item: int
    mo_open_claim: int
    lee_sample: int
    mo_sample: int

    def people(self) -> dict[str, Person]:
        return {
            "moderator": self.mo,
            "qa": self.quinn,
            "lead": self.lee,
            "admin": self.team.admin,
        }


@pytest.fixture
def scene(team_db: TeamDb) -> Iterator[Scene]:
    team = team_db
    owner = team.owner
    general = owner.items.ensure_queue("General")
    restricted = owner.items.ensure_queue("Restricted")
    team.accounts.set_queue_restricted(team.admin.account, restricted, True)
    add_items(owner, 4, queue="General", tag="g")
    restricted_items = add_items(owner, 2, queue="Restricted", tag="r")
    mo = team.person("Mo", Role.MODERATOR)
    max_ = team.person("Max", Role.MODERATOR)
    quinn = team.person("Quinn", Role.QA)
    lee = team.person("Lee", Role.LEAD, Role.MODERATOR)

    # The ordinary claim lifecycle, each person through a Store signed in as themselves.
    mo_store = team.store(mo)
    claim = mo_store.claims.claim_next(mo.id, general)
    assert claim is not None
    mo_decision = mo_store.claims.submit_decision(
        claim, graded(Severity.NOT_ILLEGAL), Exposure(), str(uuid.uuid4())
    ).decision_id
    held = mo_store.claims.claim_next(mo.id, general)
    assert held is not None
    lee_store = team.store(lee)
    lee_claim = lee_store.claims.claim_next(lee.id, general)
    assert lee_claim is not None
    lee_decision = lee_store.claims.submit_decision(
        lee_claim, graded(Severity.NOT_ILLEGAL), Exposure(), str(uuid.uuid4())
    ).decision_id

    # QA samples of both decisions and a blind re-grade of Mo's, written by the owner.
    with owner.engine.begin() as conn:
        samples = []
        for did, who, item in (
            (mo_decision, mo, claim.item.id),
            (lee_decision, lee, lee_claim.item.id),
        ):
            samples.append(
                conn.exec_driver_sql(
                    "INSERT INTO qa_samples (decision_id, item_id, moderator_id, reason,"
                    " sampled_at, status) VALUES (%s, %s, %s, 'random', now(), 'disputed')"
                    " RETURNING id",
                    (did, item, who.id),
                ).scalar_one()
            )
        conn.exec_driver_sql(
            "INSERT INTO qa_grades (sample_id, qa_user_id, claim_id, client_token, severity,"
            " csea_related, actions, note, graded_at)"
            " VALUES (%s, %s, %s, %s, 'category_a', false, '[]', '', now())",
            (samples[0], quinn.id, claim.claim_id, str(uuid.uuid4())),
        )
    yield Scene(
        team,
        general,
        restricted,
        restricted_items,
        mo,
        max_,
        quinn,
        lee,
        mo_decision,
        held.item.id,
        held.claim_id,
        samples[1],
        samples[0],
    )


def _rows(conn: psycopg.Connection, sql: str, *params: object) -> list[tuple[object, ...]]:
    return conn.execute(sql, params).fetchall()


def _owner_rows(scene: Scene, sql: str, *params: object) -> list[tuple[object, ...]]:
    with scene.team.owner.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql, params).all()]


# -- reading -----------------------------------------------------------------------------


def test_a_restricted_queue_s_items_and_media_are_invisible_without_access(
    scene: Scene,
) -> None:
    items_sql = "SELECT id, status FROM items WHERE queue_id = %s"
    media_sql = (
        "SELECT m.sha256 FROM media m WHERE m.id IN"
        " (SELECT media_id FROM items WHERE queue_id = %s)"
    )
    assert len(_owner_rows(scene, items_sql, scene.restricted)) == 2
    everyone = [*scene.people().values(), scene.max]
    for person in everyone:
        with scene.team.raw(person) as conn:
            assert _rows(conn, items_sql, scene.restricted) == [], person.role
            assert _rows(conn, media_sql, scene.restricted) == [], person.role
            # Not by id either, nor by joining from the media side.
            assert (
                _rows(conn, "SELECT id FROM items WHERE id = %s", scene.restricted_items[0]) == []
            )
            assert _rows(conn, "SELECT count(*) FROM media")[0][0] <= 4
            # Nor can they claim one by hand.
            cur = conn.execute(
                "UPDATE items SET status = 'claimed', claimed_by = %s WHERE queue_id = %s",
                (person.id, scene.restricted),
            )
            assert cur.rowcount == 0
    # Granted access, a moderator sees the queue: the policy reads queue_access now.
    scene.team.accounts.grant_queue(scene.team.admin.account, scene.max.id, scene.restricted)
    with scene.team.raw(scene.max) as conn:
        assert len(_rows(conn, items_sql, scene.restricted)) == 2


def test_a_moderator_sees_only_items_it_holds_decided_or_may_claim(scene: Scene) -> None:
    # Lee's decided item and Mo's held one are not Max's business.
    lee_item = _owner_rows(scene, "SELECT item_id FROM decisions WHERE user_id = %s", scene.lee.id)
    with scene.team.raw(scene.max) as conn:
        assert _rows(conn, "SELECT id FROM items WHERE id = %s", lee_item[0][0]) == []
        assert _rows(conn, "SELECT id FROM items WHERE id = %s", scene.mo_held_item) == []
    with scene.team.raw(scene.mo) as conn:
        assert _rows(conn, "SELECT id FROM items WHERE id = %s", scene.mo_held_item) != []
        mine = _rows(conn, "SELECT item_id FROM decisions WHERE user_id = %s", scene.mo.id)
        assert _rows(conn, "SELECT id FROM items WHERE id = %s", mine[0][0]) != []


CONTEXT_COLUMNS = ("report_text", "reported_accounts", "upload_ip", "upload_time", "extra")


def test_a_moderator_reads_report_context_and_media_only_of_what_it_holds_or_decided(
    scene: Scene,
) -> None:
    pending, pending_media = _owner_rows(
        scene,
        "SELECT id, media_id FROM items WHERE status = 'pending' AND queue_id = %s",
        scene.general,
    )[0]
    held_media = _owner_rows(scene, "SELECT media_id FROM items WHERE id = %s", scene.mo_held_item)
    decided = _owner_rows(scene, "SELECT item_id FROM decisions WHERE id = %s", scene.mo_decision)
    context = "SELECT report_text FROM reviewer_item_context(%s)"
    with scene.team.raw(scene.mo) as conn:
        # A pending item's row, for the claim picker, but none of its report context,
        # by any route: the table's columns, the one function, its media row.
        assert _rows(conn, "SELECT id, status, priority FROM items WHERE id = %s", pending) != []
        for column in (*CONTEXT_COLUMNS, "dedupe_key", "*"):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(f"SELECT {column} FROM items WHERE id = %s", (pending,))
        assert _rows(conn, context, pending) == []
        assert _rows(conn, "SELECT sha256 FROM media WHERE id = %s", pending_media) == []
        # What it holds and what it decided: context and media.
        assert _rows(conn, context, scene.mo_held_item) == [("report g1",)]
        assert _rows(conn, context, decided[0][0]) == [("report g0",)]
        assert _rows(conn, "SELECT sha256 FROM media WHERE id = %s", held_media[0][0]) != []
    with scene.team.raw(scene.max) as conn:
        # Another moderator's held item: nothing.
        assert _rows(conn, context, scene.mo_held_item) == []
        assert _rows(conn, "SELECT sha256 FROM media WHERE id = %s", held_media[0][0]) == []
    # QA and leads work on any item of a queue they may see: the context is theirs.
    for person in (scene.quinn, scene.lee):
        with scene.team.raw(person) as conn:
            assert _rows(conn, "SELECT report_text FROM items WHERE id = %s", pending) != []
            assert _rows(conn, context, pending) != []
            assert _rows(conn, "SELECT sha256 FROM media WHERE id = %s", pending_media) != []


def test_the_one_item_reader_serves_every_login_role_as_the_server_allows(scene: Scene) -> None:
    # store.items.item (db.items.ItemViews, also QA's and referrals' reader) goes through
    # reviewer_item_context: a moderator's own login role reads what it holds and what
    # it decided, with the report context, where a plain read of items is refused.
    decided = _owner_rows(scene, "SELECT item_id FROM decisions WHERE id = %s", scene.mo_decision)
    mo = scene.team.store(scene.mo)
    held = mo.items.item(scene.mo_held_item)
    assert held.report_text == "report g1" and held.media.sha256
    assert mo.items.item(decided[0][0]).report_text == "report g0"
    # Another moderator's hold is not theirs to read: not found, nothing shown.
    with pytest.raises(NotFound):
        scene.team.store(scene.max).items.item(scene.mo_held_item)
    # QA, a lead and the owner read it through the same statement.
    for store in (scene.team.store(scene.quinn), scene.team.store(scene.lee), scene.team.owner):
        assert store.items.item(scene.mo_held_item).report_text == "report g1"


def test_a_moderator_cannot_drop_its_own_decision_from_the_sampling_outbox(scene: Scene) -> None:
    store = scene.team.store(scene.mo)
    claim = store.claims.claim_next(scene.mo.id, scene.general)
    assert claim is not None
    receipt = store.claims.submit_decision(
        claim, graded(Severity.NOT_ILLEGAL), Exposure(), str(uuid.uuid4())
    )
    due = "SELECT decision_id FROM qa_sampling_due WHERE decision_id = %s"
    drop = "DELETE FROM qa_sampling_due WHERE decision_id = %s"
    assert _owner_rows(scene, due, receipt.decision_id) != []
    with scene.team.raw(scene.mo) as conn:
        assert conn.execute(drop, (receipt.decision_id,)).rowcount == 0
    assert _owner_rows(scene, due, receipt.decision_id) != []
    # Someone else working the outbox off may (its sample is drawn first, in the same
    # transaction, by the service); so may Mo once the sample is taken.
    with scene.team.raw(scene.max) as conn:
        assert conn.execute(drop, (receipt.decision_id,)).rowcount == 1
    assert _owner_rows(scene, due, receipt.decision_id) == []


def test_qa_grades_never_reach_a_moderator(scene: Scene) -> None:
    for person in (scene.mo, scene.max):
        with scene.team.raw(person) as conn:
            # Row-level security: however asked, no row (the owner has one).
            assert _rows(conn, "SELECT * FROM qa_grades") == []
            assert _rows(conn, "SELECT severity FROM qa_grades WHERE id > 0") == []
            assert (
                _rows(
                    conn,
                    "SELECT g.severity FROM qa_grades g JOIN qa_samples s ON s.id = g.sample_id",
                )
                == []
            )
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("UPDATE qa_grades SET note = 'x'")
    assert len(_owner_rows(scene, "SELECT id FROM qa_grades")) == 1
    with scene.team.raw(scene.quinn) as conn:
        assert len(_rows(conn, "SELECT id FROM qa_grades")) == 1
    with scene.team.raw(scene.lee) as conn:
        assert len(_rows(conn, "SELECT id FROM qa_grades")) == 1


def test_other_moderators_decisions_are_for_leads_and_admin_jobs_only(scene: Scene) -> None:
    sql = "SELECT id FROM decisions WHERE user_id = %s"
    with scene.team.raw(scene.max) as conn:
        assert _rows(conn, sql, scene.mo.id) == []
        assert _rows(conn, sql, scene.lee.id) == []
    # ... and admins, for their matrix jobs only (retention, the hash export: migration
    # 0025's admin_jobs); tests/db/test_pg_attacks_team_paths.py shows what they may not.
    with scene.team.raw(scene.team.admin) as conn:
        assert _rows(conn, sql, scene.mo.id) == [(scene.mo_decision,)]
    with scene.team.raw(scene.quinn) as conn:
        # QA re-grades blind: Lee's sampled decision stays hidden until Quinn grades
        # it; Mo's, which Quinn has graded, is what the re-grade is compared with.
        assert _rows(conn, sql, scene.lee.id) == []
        assert _rows(conn, sql, scene.mo.id) == [(scene.mo_decision,)]
    with scene.team.raw(scene.lee) as conn:
        assert _rows(conn, sql, scene.mo.id) == [(scene.mo_decision,)]
    with scene.team.raw(scene.mo) as conn:
        assert _rows(conn, sql, scene.mo.id) == [(scene.mo_decision,)]


# -- acting on someone else's work -------------------------------------------------------


def _insert_decision(conn: psycopg.Connection, item: int, user: int, claim: int) -> None:
    conn.execute(
        "INSERT INTO decisions (client_token, item_id, user_id, claim_id, decided_at,"
        " severity, csea_related, actions, note) VALUES (%s, %s, %s, %s, now(),"
        " 'not_illegal', false, '[]', '')",
        (str(uuid.uuid4()), item, user, claim),
    )


def test_nobody_decides_on_another_s_claim(scene: Scene) -> None:
    with scene.team.raw(scene.max) as conn:
        for as_user in (scene.max.id, scene.mo.id):
            with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
                _insert_decision(conn, scene.mo_held_item, as_user, scene.mo_open_claim)
        # Nor close the item or the claim under Mo's feet.
        cur = conn.execute(
            "UPDATE items SET status = 'decided', claimed_by = NULL WHERE id = %s",
            (scene.mo_held_item,),
        )
        assert cur.rowcount == 0
        cur = conn.execute(
            "UPDATE claims SET closed_at = now(), outcome = 'decided' WHERE id = %s",
            (scene.mo_open_claim,),
        )
        assert cur.rowcount == 0
    with scene.team.raw(scene.mo) as conn:  # the holder may (the policy is not a wall)
        conn.execute("BEGIN")
        _insert_decision(conn, scene.mo_held_item, scene.mo.id, scene.mo_open_claim)
        conn.execute("ROLLBACK")


def _adjudicate(conn: psycopg.Connection, sample: int, lead: int) -> None:
    conn.execute(
        "INSERT INTO adjudications (sample_id, lead_id, reason, decided_at, severity,"
        " csea_related) VALUES (%s, %s, 'final', now(), 'not_illegal', false)",
        (sample, lead),
    )


def test_a_lead_does_not_adjudicate_its_own_decision(scene: Scene) -> None:
    with scene.team.raw(scene.lee) as conn:
        with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
            _adjudicate(conn, scene.lee_sample, scene.lee.id)
        conn.execute("BEGIN")
        _adjudicate(conn, scene.mo_sample, scene.lee.id)  # someone else's: allowed
        conn.execute("ROLLBACK")
    for person in (scene.mo, scene.quinn, scene.team.admin):
        with scene.team.raw(person) as conn, pytest.raises(errors.InsufficientPrivilege):
            _adjudicate(conn, scene.mo_sample, person.id)


# -- the audit trail and the roles themselves ---------------------------------------------


@pytest.mark.parametrize("kind", ["moderator", "qa", "lead", "admin"])
def test_nobody_rewrites_the_audit_trail_or_its_guards(scene: Scene, kind: str) -> None:
    person = scene.people()[kind]
    attempts = [
        "UPDATE audit_events SET detail = '{}'",
        "DELETE FROM audit_events",
        "UPDATE audit_head SET seq = seq - 1",
        "DELETE FROM audit_head",
        "UPDATE audit_chains SET seq = 0",
        "DELETE FROM audit_chains",
        *(f"TRUNCATE {t}" for t in AUDIT_TABLES),
        *(f"ALTER TABLE {t} DISABLE TRIGGER ALL" for t in AUDIT_TABLES),
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete",
        "ALTER TABLE audit_events DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE audit_events ADD COLUMN note text",
        "DROP TRIGGER audit_events_no_update_delete ON audit_events",
        "ALTER TABLE items DISABLE ROW LEVEL SECURITY",
        "DROP POLICY items_select ON items",
        "CREATE OR REPLACE FUNCTION reviewer_may("
        "text, reviewer_account, integer, integer, integer[], text, boolean)"
        " RETURNS boolean LANGUAGE sql AS 'SELECT true'",
        "SET session_replication_role = replica",
    ]
    before = _owner_rows(scene, "SELECT count(*), max(id) FROM audit_events")
    with scene.team.raw(person) as conn:
        for sql in attempts:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(sql)
    assert _owner_rows(scene, "SELECT count(*), max(id) FROM audit_events") == before


@pytest.mark.parametrize("kind", ["moderator", "qa", "lead", "admin"])
def test_nobody_grants_themselves_a_role(scene: Scene, kind: str) -> None:
    person = scene.people()[kind]
    with scene.team.raw(person) as conn:
        for group in (
            "reviewer_qa",
            "reviewer_lead",
            "reviewer_admin",
            "reviewer_owner",
            "postgres",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(f"GRANT {group} TO {person.role}")
            if group != f"reviewer_{kind}":  # its own group it may SET ROLE to: no gain
                with pytest.raises(errors.InsufficientPrivilege):
                    conn.execute(f"SET ROLE {group}")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(f"ALTER ROLE {person.role} SUPERUSER")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(f"ALTER ROLE {person.role} BYPASSRLS")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(f"CREATE ROLE sneaky_{person.role} LOGIN")
        if kind != "admin":
            # The app's own role list and the one door to login roles: admins only.
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(
                    'UPDATE users SET roles = \'["lead", "admin"]\' WHERE id = %s',
                    (person.id,),
                )
            with pytest.raises(errors.InsufficientPrivilege, match="only an admin"):
                conn.execute("SELECT reviewer_sync_login(%s, NULL)", (person.id,))
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SELECT password_hash FROM users")
    with scene.team.raw(person) as conn:
        granted = _rows(
            conn,
            "SELECT r.rolname FROM pg_roles r WHERE pg_has_role(current_user, r.oid, 'MEMBER')"
            " AND r.rolname LIKE 'reviewer%%'",
        )
    # Exactly the groups of its app roles (the first admin also moderates).
    expected = {"reviewer_person", *(f"reviewer_{r.value}" for r in person.account.roles)}
    assert f"reviewer_{kind}" in expected
    assert {r[0] for r in granted} == expected


def test_an_admin_cannot_take_over_the_owner_or_a_superuser_role(scene: Scene) -> None:
    team = scene.team
    with team.raw(team.admin) as conn:
        for victim in ("reviewer_owner", "postgres", "reviewer_lead"):
            conn.execute("BEGIN")
            conn.execute("UPDATE users SET db_role = %s WHERE id = %s", (victim, scene.max.id))
            with pytest.raises(errors.InsufficientPrivilege, match="not a reviewer sign-in"):
                conn.execute("SELECT reviewer_sync_login(%s, NULL)", (scene.max.id,))
            conn.execute("ROLLBACK")


def test_a_disabled_account_can_neither_sign_in_nor_act_on_an_open_session(
    scene: Scene,
) -> None:
    team = scene.team
    open_session = team.raw(scene.mo)
    try:
        assert _rows(open_session, "SELECT id FROM decisions") != []
        team.accounts.disable(team.admin.account, scene.mo.id)
        # The policies re-read the account on every statement.
        assert _rows(open_session, "SELECT id FROM decisions") == []
        with pytest.raises(errors.InsufficientPrivilege):
            _insert_decision(open_session, scene.mo_held_item, scene.mo.id, scene.mo_open_claim)
    finally:
        open_session.close()
    with pytest.raises(psycopg.OperationalError):
        team.raw(scene.mo)


def test_a_session_opened_any_way_runs_without_jit(scene: Scene) -> None:
    # Not a rule but a cost: under the policies a person's statements are large plans,
    # and JIT compiling one took seconds (migration 0026). A bare connection, as psql
    # opens it, gets the database's default.
    for person in [*scene.people().values(), scene.max]:
        with scene.team.raw(person) as conn:
            assert _rows(conn, "SHOW jit") == [("off",)], person.role


# -- the account's facts (migration 0027) --------------------------------------------------


def test_a_person_s_search_path_and_temporary_objects_do_not_change_who_they_are(
    scene: Scene,
) -> None:
    # The policies ask reviewer_me_id / _is / _queues, whose bodies are parsed in the
    # caller's session. Max, a moderator without the restricted queue, puts look-alikes
    # of what they read first on the search path: a users table naming Max a lead with
    # every queue, and a view of the account to match.
    max_ = scene.max
    with scene.team.raw(max_) as conn:
        conn.execute(
            "CREATE TEMP TABLE users AS SELECT %s::integer AS id, session_user::varchar AS"
            ' db_role, \'["lead", "qa", "admin"]\'::json AS roles, false AS disabled',
            (max_.id,),
        )
        # DDL takes no bound parameters: the id is an int, spelled out.
        conn.execute(
            "CREATE TEMP VIEW reviewer_account_now AS SELECT ROW("
            f"{int(max_.id)}, true, true, true, true,"
            " ARRAY(SELECT id FROM public.queues))::reviewer_account AS me"
        )
        conn.execute("CREATE FUNCTION pg_temp.reviewer_me_id() RETURNS integer AS 'SELECT 0'"
                     " LANGUAGE sql")  # fmt: skip
        conn.execute("SET search_path = pg_temp, public")
        assert _rows(conn, "SELECT count(*) FROM users") == [(1,)]  # the look-alike is read
        assert _rows(conn, "SELECT public.reviewer_me_id()") == [(max_.id,)]
        assert _rows(conn, "SELECT public.reviewer_me_is('lead')") == [(False,)]
        assert scene.restricted not in _rows(conn, "SELECT public.reviewer_me_queues()")[0][0]
        # What the policies then let through: nothing more than before.
        items = "SELECT id FROM public.items WHERE queue_id = %s"
        assert _rows(conn, items, scene.restricted) == []
        others = "SELECT id FROM public.decisions WHERE user_id <> %s"
        assert _rows(conn, others, max_.id) == []
        assert _rows(conn, "SELECT id FROM public.qa_grades") == []
    # The same reads by someone whose job they are, so the queries themselves are sound.
    with scene.team.raw(scene.lee) as conn:
        assert _rows(conn, "SELECT id FROM decisions WHERE user_id <> %s", scene.lee.id) != []


@pytest.mark.parametrize("kind", ["moderator", "qa", "lead", "admin"])
def test_nobody_replaces_what_the_policies_ask_about_the_account(scene: Scene, kind: str) -> None:
    person = scene.people()[kind]
    with scene.team.raw(person) as conn:
        for sql in (
            "CREATE OR REPLACE FUNCTION public.reviewer_me_is(p_role text) RETURNS boolean"
            " LANGUAGE sql STABLE AS 'SELECT true'",
            "ALTER FUNCTION public.reviewer_me_id() RENAME TO gone",
            "DROP FUNCTION public.reviewer_me_queues()",
            "CREATE FUNCTION public.reviewer_me_lead() RETURNS boolean AS 'SELECT true'"
            " LANGUAGE sql",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(sql)
        assert _rows(conn, "SELECT public.reviewer_me_id()") == [(person.id,)]


def test_every_policy_reads_the_account_through_the_fact_functions(scene: Scene) -> None:
    # One place answers who the session is: a policy that read users itself would be a
    # second copy of that rule (and planned with every statement on its table).
    rows = _owner_rows(
        scene,
        "SELECT tablename, policyname, coalesce(qual, '') || ' ' || coalesce(with_check, '')"
        " FROM pg_policies WHERE schemaname = 'public'",
    )
    assert len(rows) > 40
    asking = 0
    for table, name, text in rows:
        text = str(text)
        assert "FROM users" not in text and "reviewer_account_now" not in text, (table, name)
        asking += "reviewer_me_" in text
    assert asking > 30
