"""a PostgreSQL login role per person; grants and row-level security (server-enforced)

Revision ID: 0018
Revises: 0019
Create Date: 2026-12-06 15:00:00

Team mode used to connect every workstation as the role that owns the tables, so any
rule the services enforce was one psql session away from being bypassed. From here on
(PostgreSQL only; SQLite only gains the column):

- `users.db_role` names the person's own LOGIN role (SCRAM password, set by an admin
  through Admin > Users via `reviewer_sync_login`, the one SECURITY DEFINER function
  that creates, re-passwords, disables and re-groups login roles).
- Group roles per app role: reviewer_moderator, reviewer_qa, reviewer_lead and
  reviewer_admin, all members of reviewer_person. Created here if the server set-up
  did not already (that needs CREATEROLE on the owner, which it keeps for
  `reviewer_sync_login`).
- Privileges go to the group roles, table by table, and only what the services need:
  nothing here grants UPDATE or DELETE on the audit trail, TRUNCATE on anything, or
  any privilege that lets a login role alter a table or a trigger (only the owner
  can, and no workstation signs in as the owner).
- Row-level security on every table with per-person rows. Each policy calls ONE
  function, `reviewer_may(op, me, queue_id, subject)`: "may this account do `op` to a
  row of this queue about this person". `me` is the view `reviewer_account_now`, the account
  re-read from `users` by the session's login role (disabled = nobody) once per
  statement (an InitPlan), so the per-row work is an inlined CASE, not a lookup.

The owner runs this migration and bypasses row-level security (it owns the tables);
policies bind everyone else.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0019"
branch_labels = None
depends_on = None

GROUPS = ("reviewer_moderator", "reviewer_qa", "reviewer_lead", "reviewer_admin")
PERSON = "reviewer_person"

# Column lists a login role may UPDATE; everything else is read-only to it.
_ITEM_LEASE = "status, claimed_by, claim_id, lease_expires_at"
_USER_EDITABLE = "name, role, roles, disabled, vetting_status, vetted_on, training, db_role"
_USER_READABLE = f"id, created_at, {_USER_EDITABLE}"  # never password_hash

_ROLES_SQL = f"""
DO $$
DECLARE g text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{PERSON}') THEN
        CREATE ROLE {PERSON} NOLOGIN;
    END IF;
    FOREACH g IN ARRAY ARRAY{list(GROUPS)!r} LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = g) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', g);
        END IF;
        IF NOT pg_has_role(g, '{PERSON}', 'MEMBER') THEN
            EXECUTE format('GRANT {PERSON} TO %I', g);
        END IF;
    END LOOP;
END
$$
"""

_FUNCTIONS = [
    """
    CREATE TYPE reviewer_account AS (
        user_id integer, moderator boolean, qa boolean, lead boolean, admin boolean,
        queues integer[]
    )
    """,
    # The account behind this session, as stored now: NULL fields (so every rule says
    # no) for an unknown role or a disabled account. session_user, not current_user: a
    # login role cannot change its session_user. A view, not a function: each policy
    # reads it as a sub-select, planned with the statement (and cached with its plan),
    # run once per statement, with no function call around it: a few microseconds. It
    # reads as its owner, so the policies on users do not apply inside it.
    """
    CREATE VIEW reviewer_account_now AS
    SELECT ROW(u.id, r ? 'moderator', r ? 'qa', r ? 'lead', r ? 'admin',
               ARRAY(SELECT q.id FROM public.queues q
                     WHERE NOT q.restricted
                        OR EXISTS (SELECT 1 FROM public.queue_access a
                                   WHERE a.queue_id = q.id AND a.user_id = u.id))
           )::reviewer_account AS me
    FROM public.users u CROSS JOIN LATERAL (SELECT u.roles::jsonb) AS j (r)
    WHERE u.db_role = session_user AND NOT u.disabled
    """,
    # The one rule book; anything unknown is refused. PL/pgSQL, one simple expression:
    # about a microsecond a row. (A SQL function would be inlined only if `me` were no
    # sub-select, and not inlined it costs some 30 times more.)
    """
    CREATE FUNCTION reviewer_may(
        op text, me reviewer_account, p_queue integer, p_subject integer,
        p_queues integer[] DEFAULT NULL, p_state text DEFAULT NULL,
        p_stale boolean DEFAULT false
    ) RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE COST 1
    AS $$
    BEGIN
        RETURN coalesce(CASE op
            -- a queue this account may see (restricted ones only with queue_access)
            WHEN 'see_queue' THEN p_queue = ANY (me.queues)
            -- An item (p_subject: its holder; p_state: its status; p_stale: its lease
            -- ran out). Any item of a visible queue to QA, leads and admins; to a
            -- moderator only one it may claim next, holds, or may put back (a stale
            -- lease); decided ones through its own claim (in the policy: a query).
            WHEN 'see_item' THEN p_queue = ANY (me.queues)
                AND (me.qa OR me.lead OR me.admin OR p_subject = me.user_id
                     OR (p_state = 'pending' AND me.moderator)
                     OR (p_state = 'claimed' AND p_stale))
            -- Change an item: claim a pending one, close one's own, put back a stale
            -- one; leads override, leads and admins ingest and dispose.
            WHEN 'change_item' THEN
                (p_state = 'pending' AND p_queue = ANY (me.queues) AND me.moderator)
                OR p_subject = me.user_id OR me.lead OR me.admin
                OR (p_state = 'claimed' AND p_stale)
            -- What an item may become: held by oneself or by nobody (a lead may
            -- reassign), in a visible queue.
            WHEN 'keep_item' THEN p_queue = ANY (me.queues)
                AND (p_subject IS NULL OR p_subject = me.user_id OR me.lead)
            -- a row about this person (claims, skips, exposures, welfare)
            WHEN 'own' THEN p_subject = me.user_id
            -- another person's decisions, claims and exposures: leads only
            WHEN 'see_team' THEN p_subject = me.user_id OR me.lead
            WHEN 'decide' THEN p_subject = me.user_id AND me.moderator
            WHEN 'qa_sample' THEN me.qa OR me.lead OR p_subject = me.user_id
            -- QA grades: never to moderators
            WHEN 'see_qa_grade' THEN me.lead OR (me.qa AND p_subject = me.user_id)
            WHEN 'qa_grade' THEN me.qa AND p_subject = me.user_id
            -- p_subject: the moderator whose decision is adjudicated, or the QA
            -- reviewer whose grade disputes it (none yet: NULL)
            WHEN 'adjudicate' THEN me.lead AND p_subject IS DISTINCT FROM me.user_id
            WHEN 'override' THEN me.lead
            WHEN 'ingest' THEN me.lead OR me.admin
            -- a media row, by the queues its items are in (none yet: being ingested)
            WHEN 'see_media' THEN me.queues && p_queues
                                  OR (cardinality(p_queues) = 0 AND (me.lead OR me.admin))
            WHEN 'manage_users' THEN me.admin
        END, false);
    END
    $$
    """,
    # Creating, re-passwording, disabling and re-grouping a person's login role needs
    # CREATEROLE, which only the owner has: this function is the one door, and it
    # re-checks that the caller is an admin (or the owner, for the first admin).
    # `verifier` is a SCRAM-SHA-256 verifier computed on the workstation, so no
    # password crosses the wire or reaches a server log; NULL keeps the password.
    f"""
    CREATE FUNCTION reviewer_sync_login(p_user integer, p_verifier text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    AS $$
    DECLARE
        u record;
        r record;
        g text;
        wanted boolean;
        owner_name text := (SELECT tableowner FROM pg_tables
                            WHERE schemaname = 'public' AND tablename = 'users');
    BEGIN
        IF NOT coalesce(((SELECT me FROM reviewer_account_now)).admin, false)
           AND NOT pg_has_role(session_user, owner_name, 'MEMBER') THEN
            RAISE EXCEPTION 'only an admin manages sign-ins'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        SELECT id, db_role, roles::jsonb AS roles, disabled INTO u FROM users WHERE id = p_user;
        IF u.id IS NULL OR u.db_role IS NULL THEN
            RAISE EXCEPTION 'user % has no database sign-in name', p_user;
        END IF;
        IF p_verifier IS NOT NULL AND p_verifier NOT LIKE 'SCRAM-SHA-256$%' THEN
            RAISE EXCEPTION 'a password must be sent as a SCRAM-SHA-256 verifier';
        END IF;
        SELECT * INTO r FROM pg_roles WHERE rolname = u.db_role;
        IF r.rolname IS NULL THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN INHERIT', u.db_role);
            EXECUTE format('GRANT {PERSON} TO %I', u.db_role);
        ELSIF r.rolsuper OR r.rolcreaterole OR r.rolbypassrls OR r.rolreplication
              OR NOT pg_has_role(u.db_role, '{PERSON}', 'MEMBER')
              OR u.db_role = owner_name OR u.db_role LIKE 'reviewer\\_%' THEN
            RAISE EXCEPTION 'role % exists and is not a reviewer sign-in', u.db_role
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF p_verifier IS NOT NULL THEN
            EXECUTE format('ALTER ROLE %I PASSWORD %L', u.db_role, p_verifier);
        END IF;
        IF u.disabled THEN
            EXECUTE format('ALTER ROLE %I NOLOGIN', u.db_role);
        ELSE
            EXECUTE format('ALTER ROLE %I LOGIN', u.db_role);
        END IF;
        FOREACH g IN ARRAY ARRAY{list(GROUPS)!r} LOOP
            wanted := u.roles ? substr(g, length('reviewer_') + 1);
            IF wanted AND NOT pg_has_role(u.db_role, g, 'MEMBER') THEN
                EXECUTE format('GRANT %I TO %I', g, u.db_role);
            ELSIF NOT wanted AND pg_has_role(u.db_role, g, 'MEMBER') THEN
                EXECUTE format('REVOKE %I FROM %I', g, u.db_role);
            END IF;
        END LOOP;
    END
    $$
    """,
    # Which queues file a media row, whatever their items' state: a policy runs as its
    # invoker and would see only the items it may (and walk every invisible one of a
    # media shared by thousands of items), so this one question needs the owner's eyes.
    # A media row holds no content (hashes, size, format); the items' own policy keeps
    # a moderator to the items it holds or decided.
    """
    CREATE FUNCTION reviewer_media_queues(p_media bigint) RETURNS integer[]
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    AS $$
    BEGIN
        RETURN ARRAY(SELECT DISTINCT queue_id FROM public.items WHERE media_id = p_media);
    END
    $$
    """,
    # The claim pick's plan depends on the statistics of items once policies filter
    # it: on a freshly bulk-loaded table (no ANALYZE yet) PostgreSQL sorts every
    # pending row, policy and all, instead of walking ix_items_pending (40 ms a claim
    # at 5,000 pending). Only the owner may ANALYZE; a bulk ingest asks it here.
    """
    CREATE FUNCTION reviewer_analyze_items() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    AS $$ BEGIN ANALYZE public.items; END $$
    """,
    "REVOKE ALL ON FUNCTION reviewer_analyze_items() FROM PUBLIC",
    "GRANT EXECUTE ON FUNCTION reviewer_analyze_items() TO reviewer_lead, reviewer_admin",
    "REVOKE ALL ON FUNCTION reviewer_sync_login(integer, text) FROM PUBLIC",
    f"GRANT EXECUTE ON FUNCTION reviewer_sync_login(integer, text) TO {PERSON}",
    "REVOKE ALL ON FUNCTION reviewer_media_queues(bigint) FROM PUBLIC",
    f"GRANT EXECUTE ON FUNCTION reviewer_media_queues(bigint) TO {PERSON}",
    f"GRANT SELECT ON reviewer_account_now TO {PERSON}",
]

# Table privileges, per group. PUBLIC gets nothing; a table added later gets nothing
# until a migration grants it (a login role then fails closed).
_GRANTS: dict[str, list[str]] = {
    PERSON: [
        f"SELECT ({_USER_READABLE}) ON users",
        "SELECT ON queues, queue_access, security_settings, qa_settings, reporting_settings,"
        " welfare_settings, hash_lists, hash_matches, dup_groups, dup_members,"
        " dup_group_flags, media_video, video_keyframes, video_segments, alembic_version",
        "SELECT, INSERT ON audit_events",
        "SELECT, INSERT, UPDATE (seq, hash) ON audit_chains, audit_head",
        "SELECT ON items, media",
        # A known match's grade and provenance, which the moderator confirms (never
        # the list's hash values).
        "SELECT (id, list_id, hash_type, source, category, age_band, line) ON hash_list_entries",
        f"UPDATE ({_ITEM_LEASE}) ON items",
        # A decided near-duplicate's grade becomes its group's pending members' hint
        # (ShowLess.group_after, run by the moderator who decided it); the items
        # policy still limits which rows.
        "UPDATE (suspected_category) ON items",
        "SELECT, INSERT ON claims, skips, decisions, exposures, qa_samples, gold_serves",
        # The sampling outbox: a trigger on decisions fills it as the decider, and
        # whoever works it off deletes the rows (decision ids only).
        "SELECT, INSERT, UPDATE, DELETE ON qa_sampling_due",  # UPDATE: FOR UPDATE
        "UPDATE (closed_at, outcome, expires_at) ON claims",
        f"UPDATE ({_ITEM_LEASE}) ON qa_samples",
        "SELECT ON adjudications, legal_holds",
        # Rows by the qa_grades policy: a moderator gets none, whatever it asks (its
        # welfare totals and the decisions policy join the table).
        "SELECT ON qa_grades",
        # Whether an item is a gold item (never sampled), not its answer.
        "SELECT (id, item_id, active) ON gold_items",
        "UPDATE (seen_by_moderator_at) ON adjudications",
        "SELECT, INSERT, UPDATE ON welfare_days, welfare_opt_outs, welfare_support_requests",
        "INSERT, UPDATE, DELETE ON video_segments",
    ],
    "reviewer_qa": ["INSERT ON qa_grades", "SELECT ON gold_items"],
    "reviewer_lead": [
        "SELECT, INSERT ON adjudications",
        "UPDATE (status) ON qa_samples",
        "SELECT, INSERT, UPDATE ON referrals, legal_holds",
        "SELECT ON gold_items",  # the known answers, for agreement; marking is the admin's
        "SELECT ON hash_list_entries",  # matching at ingest
        "INSERT ON items, media, queues, media_video, video_keyframes",
        "UPDATE ON items, media",
        "INSERT, UPDATE, DELETE ON hash_matches, dup_groups, dup_members, dup_group_flags",
    ],
    "reviewer_admin": [
        f"INSERT ({_USER_EDITABLE}, created_at), UPDATE ({_USER_EDITABLE}) ON users",
        "INSERT, DELETE ON queue_access",
        "INSERT, UPDATE ON queues, security_settings, qa_settings, reporting_settings,"
        " welfare_settings, hash_lists, hash_list_entries",
        "SELECT ON hash_list_entries, referrals",
        # Gold items are the admin's to mark and unmark (the gate: MANAGE_SETTINGS).
        "SELECT, INSERT, UPDATE ON gold_items",
        "INSERT ON items, media, media_video, video_keyframes",
        "UPDATE ON items, media",
        "INSERT, UPDATE, DELETE ON hash_matches, dup_groups, dup_members, dup_group_flags",
    ],
}

# (table, command, USING, WITH CHECK) with `m` standing for the account of this
# statement. Every table a person's rows live in; see reviewer_may for the rules.
_M = "(SELECT me FROM reviewer_account_now)"
_ME = f"({_M}).user_id"
_POLICIES: list[tuple[str, str, str | None, str | None]] = [
    (
        "items",
        "SELECT",
        "reviewer_may('see_item', m, queue_id, claimed_by, NULL, status,"
        "             coalesce(lease_expires_at < now(), false))"
        # Decided through one's own claim. The claim, not the decision: a decision
        # closes the item in the statement that stores it, and the new row must
        # already be visible then (the claim is still open in that snapshot).
        " OR (status = 'decided' AND reviewer_may('see_queue', m, queue_id, NULL)"
        "     AND EXISTS (SELECT 1 FROM claims c WHERE c.item_id = items.id"
        f"                 AND c.user_id = {_ME}"
        "                 AND (c.outcome = 'decided' OR c.closed_at IS NULL)))",
        None,
    ),
    (
        "items",
        "UPDATE",
        "reviewer_may('change_item', m, queue_id, claimed_by, NULL, status,"
        "             coalesce(lease_expires_at < now(), false))",
        "reviewer_may('keep_item', m, queue_id, claimed_by)",
    ),
    ("items", "INSERT", None, "reviewer_may('ingest', m, NULL, NULL)"),
    (
        "media",
        "SELECT",
        # Filed in a queue this account may see; an ingesting lead or admin also sees
        # media no item files yet (what it just stored, or finds again by hash).
        "reviewer_may('see_media', m, NULL, NULL, reviewer_media_queues(id))",
        None,
    ),
    ("media", "INSERT", None, "reviewer_may('ingest', m, NULL, NULL)"),
    ("media", "UPDATE", "reviewer_may('ingest', m, NULL, NULL)", "true"),
    ("claims", "SELECT", "reviewer_may('see_team', m, NULL, user_id)", None),
    ("claims", "INSERT", None, "reviewer_may('own', m, NULL, user_id)"),
    (
        "claims",
        "UPDATE",
        "reviewer_may('see_team', m, NULL, user_id)"
        " OR (closed_at IS NULL AND expires_at < now())",
        "true",
    ),
    ("skips", "SELECT", "reviewer_may('see_team', m, NULL, user_id)", None),
    ("skips", "INSERT", None, "reviewer_may('own', m, NULL, user_id)"),
    (
        "decisions",
        "SELECT",
        "reviewer_may('see_team', m, NULL, user_id)"
        # QA re-grades blind: a decision only once its sample carries one's own grade
        # (the re-grade is compared with it in the transaction that stores it).
        " OR EXISTS (SELECT 1 FROM qa_samples s JOIN qa_grades g ON g.sample_id = s.id"
        f"           WHERE s.decision_id = decisions.id AND g.qa_user_id = {_ME})",
        None,
    ),
    (
        "decisions",
        "INSERT",
        None,
        # Only on one's own claim of this very item.
        "reviewer_may('decide', m, NULL, user_id) AND EXISTS (SELECT 1 FROM claims c"
        " WHERE c.id = claim_id AND c.item_id = decisions.item_id"
        " AND c.user_id = decisions.user_id)",
    ),
    ("exposures", "SELECT", "reviewer_may('see_team', m, NULL, user_id)", None),
    ("exposures", "INSERT", None, "reviewer_may('own', m, NULL, user_id)"),
    ("qa_samples", "SELECT", "reviewer_may('qa_sample', m, NULL, moderator_id)", None),
    ("qa_samples", "INSERT", None, "reviewer_may('qa_sample', m, NULL, moderator_id)"),
    (
        "qa_samples",
        "UPDATE",
        "reviewer_may('qa_sample', m, NULL, NULL)",
        "reviewer_may('qa_sample', m, NULL, NULL)",
    ),
    ("qa_grades", "SELECT", "reviewer_may('see_qa_grade', m, NULL, qa_user_id)", None),
    ("qa_grades", "INSERT", None, "reviewer_may('qa_grade', m, NULL, qa_user_id)"),
    (
        "adjudications",
        "SELECT",
        "reviewer_may('override', m, NULL, NULL) OR reviewer_may('own', m, NULL,"
        " (SELECT s.moderator_id FROM qa_samples s WHERE s.id = sample_id))",
        None,
    ),
    (
        "adjudications",
        "INSERT",
        None,
        "reviewer_may('own', m, NULL, lead_id) AND reviewer_may('adjudicate', m, NULL,"
        " (SELECT s.moderator_id FROM qa_samples s WHERE s.id = sample_id))"
        " AND reviewer_may('adjudicate', m, NULL,"
        "  (SELECT g.qa_user_id FROM qa_grades g WHERE g.sample_id = adjudications.sample_id))",
    ),
    (
        "adjudications",
        "UPDATE",
        "reviewer_may('own', m, NULL,"
        " (SELECT s.moderator_id FROM qa_samples s WHERE s.id = sample_id))",
        "true",
    ),
    ("gold_serves", "SELECT", "reviewer_may('see_team', m, NULL, user_id)", None),
    ("gold_serves", "INSERT", None, "reviewer_may('own', m, NULL, user_id)"),
    ("users", "SELECT", "true", None),
    ("users", "INSERT", None, "reviewer_may('manage_users', m, NULL, NULL)"),
    (
        "users",
        "UPDATE",
        "reviewer_may('manage_users', m, NULL, NULL)",
        "reviewer_may('manage_users', m, NULL, NULL)",
    ),
    ("queue_access", "SELECT", "true", None),
    ("queue_access", "INSERT", None, "reviewer_may('manage_users', m, NULL, NULL)"),
    ("queue_access", "DELETE", "reviewer_may('manage_users', m, NULL, NULL)", None),
    # An event names its actor: one's own, or none (a failed sign-in names nobody).
    ("audit_events", "SELECT", "true", None),
    ("audit_events", "INSERT", None, "user_id IS NULL OR reviewer_may('own', m, NULL, user_id)"),
    ("welfare_days", "ALL", "reviewer_may('see_team', m, NULL, user_id)",
     "reviewer_may('own', m, NULL, user_id) OR reviewer_may('override', m, NULL, NULL)"),
    ("welfare_opt_outs", "ALL", "reviewer_may('own', m, NULL, user_id)",
     "reviewer_may('own', m, NULL, user_id)"),
]  # fmt: skip


def _with_account(expr: str) -> str:
    return re.sub(r"\bm,", f"{_M},", expr)


def _policy_sql(table: str, command: str, using: str | None, check: str | None) -> str:
    name = f"{table}_{command.lower()}"
    sql = f"CREATE POLICY {name} ON {table} FOR {command} TO {PERSON}"
    if using is not None:
        sql += f" USING ({_with_account(using)})"
    if check is not None:
        sql += f" WITH CHECK ({_with_account(check)})"
    return sql


def rls_tables() -> list[str]:
    return sorted({t for t, *_ in _POLICIES})


def upgrade() -> None:
    op.add_column("users", sa.Column("db_role", sa.String(length=63), nullable=True))
    op.create_index("ix_users_db_role", "users", ["db_role"], unique=True)
    # The media policy asks "which queues file this media?" on every media row read
    # (one per claim): without this index that is a scan of every item.
    op.create_index("ix_items_media_id", "items", ["media_id", "queue_id"])
    if op.get_bind().dialect.name != "postgresql":
        return
    # The server keeps passwords now (SCRAM, per login role): the workstation-side
    # hashes go, and each person signs in again once an admin has set their password
    # in Admin > Users (the first admin: `reviewer migrate --first-admin`).
    op.execute(sa.text("UPDATE users SET password_hash = NULL"))
    op.execute(sa.text(_ROLES_SQL))
    op.execute(sa.text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
    op.execute(sa.text("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC"))
    for stmt in _FUNCTIONS:
        op.execute(sa.text(stmt))
    for group, grants in _GRANTS.items():
        for grant in grants:
            privileges, _, tables = grant.rpartition(" ON ")
            op.execute(sa.text(f"GRANT {privileges} ON {tables} TO {group}"))
    op.execute(sa.text(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {PERSON}"))
    for table in rls_tables():
        op.execute(sa.text(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"))
    for policy in _POLICIES:
        op.execute(sa.text(_policy_sql(*policy)))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, command, *_ in _POLICIES:
            op.execute(sa.text(f"DROP POLICY IF EXISTS {table}_{command.lower()} ON {table}"))
        for table in rls_tables():
            op.execute(sa.text(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"))
        for group in (PERSON, *GROUPS):
            op.execute(sa.text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {group}"))
            op.execute(sa.text(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {group}"))
        op.execute(sa.text("DROP FUNCTION IF EXISTS reviewer_sync_login(integer, text)"))
        op.execute(sa.text("DROP FUNCTION IF EXISTS reviewer_may"))  # one of that name
        op.execute(sa.text("DROP VIEW IF EXISTS reviewer_account_now"))
        op.execute(sa.text("DROP FUNCTION IF EXISTS reviewer_analyze_items()"))
        op.execute(sa.text("DROP FUNCTION IF EXISTS reviewer_media_queues(bigint)"))
        op.execute(sa.text("DROP TYPE IF EXISTS reviewer_account"))
    op.drop_index("ix_items_media_id", table_name="items")
    op.drop_index("ix_users_db_role", table_name="users")
    op.drop_column("users", "db_role")
