"""row-level security the planner can inline: the rule book expanded into each policy

Revision ID: 0023
Revises: 0018
Create Date: 2026-12-06 18:10:00

Migration 0018 made every policy call `reviewer_may(op, me, ...)`, a PL/pgSQL function,
with `me` a sub-select of the view reviewer_account_now. Measured as a person's login
role (tests/bench/profile_claims_pg.py), that more than doubled the server's work per
claim and decision: each policy reference is its own InitPlan computing the whole
account (roles, the array of visible queues), and each row pays a PL/pgSQL call with a
composite argument. A SQL function cannot be inlined with a sub-select argument used
more than once, so the function could not simply become SQL.

Here the rule book is written once, in `RULES` below (per rule, an SQL expression over
the account's facts and the row's), and expanded twice from it:
- into `reviewer_may`'s body (same signature as 0018, so tests/db/test_pg_matrix.py
  still compares it with the permission matrix), and
- into every policy, with each fact of the account its own small uncorrelated
  sub-select (its id, one role, the visible queues), which PostgreSQL runs at most once
  per statement and only when the expression reaches it, and the row's facts as plain
  column references. A policy is then an ordinary expression of the statement: no
  function call per row, no account computed that the rule does not ask for.

The rules are those of 0018, unchanged, with one addition: the sampling outbox
(qa_sampling_due) gets row-level security, so a person may delete a waiting row of
their OWN decision only once its sample is taken (a moderator could otherwise drop the
row of a decision that must be sampled); anyone's other rows they work off as before.

PostgreSQL only; SQLite has no roles.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.migrate import revision_module

revision = "0023"
down_revision = "0018"
branch_labels = None
depends_on = None

PERSON = "reviewer_person"

# The rule book: "may this account do `op` to a row". Placeholders: the account's facts
# {uid} {mod} {qa} {lead} {admin} {queues}; the row's facts {queue} {subject} {queues_of}
# {state} {stale} (see reviewer_may's parameters). An unknown or disabled account has
# no id, no role and no queue, so every rule says no.
RULES: dict[str, str] = {
    # a queue this account may see (restricted ones only with queue_access)
    "see_queue": "{queue} = ANY ({queues})",
    # An item (subject: its holder; state: its status; stale: its lease ran out). Any
    # item of a visible queue to QA, leads and admins; to a moderator only one it may
    # claim next, holds, or may put back (a stale lease); decided ones through its own
    # claim (in the policy: a query).
    "see_item": "{queue} = ANY ({queues}) AND ({subject} = {uid} OR ({state} = 'pending' AND {mod})"
    " OR ({state} = 'claimed' AND {stale}) OR {qa} OR {lead} OR {admin})",
    # Change an item: claim a pending one, close one's own, put back a stale one; leads
    # override, leads and admins ingest and dispose.
    "change_item": "({state} = 'pending' AND {queue} = ANY ({queues}) AND {mod})"
    " OR {subject} = {uid} OR ({state} = 'claimed' AND {stale}) OR {lead} OR {admin}",
    # What an item may become: held by oneself or by nobody (a lead may reassign), in a
    # visible queue.
    "keep_item": "{queue} = ANY ({queues}) AND ({subject} IS NULL OR {subject} = {uid} OR {lead})",
    # a row about this person (claims, skips, exposures, welfare)
    "own": "{subject} = {uid}",
    # another person's decisions, claims and exposures: leads only
    "see_team": "{subject} = {uid} OR {lead}",
    "decide": "{subject} = {uid} AND {mod}",
    "qa_sample": "{subject} = {uid} OR {qa} OR {lead}",
    # QA grades: never to moderators
    "see_qa_grade": "{lead} OR ({qa} AND {subject} = {uid})",
    "qa_grade": "{qa} AND {subject} = {uid}",
    # subject: the moderator whose decision is adjudicated, or the QA reviewer whose
    # grade disputes it (none yet: NULL)
    "adjudicate": "{lead} AND {subject} IS DISTINCT FROM {uid}",
    "override": "{lead}",
    "ingest": "{lead} OR {admin}",
    # a media row, by the queues its items are in (none yet: being ingested)
    "see_media": "{queues} && {queues_of}"
    " OR (cardinality({queues_of}) = 0 AND ({lead} OR {admin}))",
    "manage_users": "{admin}",
}  # fmt: skip

_ME = "FROM public.users u WHERE u.db_role = session_user AND NOT u.disabled"
# The account's facts in a policy: each an uncorrelated sub-select (an InitPlan, run
# once per statement at most, and only if the expression gets that far).
_POLICY_ACCOUNT = {
    "uid": f"(SELECT u.id {_ME})",
    "mod": f"coalesce((SELECT u.roles::jsonb ? 'moderator' {_ME}), false)",
    "qa": f"coalesce((SELECT u.roles::jsonb ? 'qa' {_ME}), false)",
    "lead": f"coalesce((SELECT u.roles::jsonb ? 'lead' {_ME}), false)",
    "admin": f"coalesce((SELECT u.roles::jsonb ? 'admin' {_ME}), false)",
    "queues": "coalesce((SELECT (v.me).queues FROM public.reviewer_account_now v), '{}')",
}
# ... and in reviewer_may, from its composite argument.
_FUNCTION_ACCOUNT = {
    "uid": "me.user_id",
    "mod": "me.moderator",
    "qa": "me.qa",
    "lead": "me.lead",
    "admin": "me.admin",
    "queues": "me.queues",
}
_FUNCTION_ROW = {
    "queue": "p_queue",
    "subject": "p_subject",
    "queues_of": "p_queues",
    "state": "p_state",
    "stale": "p_stale",
}


def rule(name: str, account: dict[str, str], row: dict[str, str]) -> str:
    """RULES[name] with every placeholder replaced (each in brackets), bracketed."""
    facts = {k: f"({v})" for k, v in {**account, **row}.items()}
    return f"({RULES[name].format(**facts)})"


def may(
    name: str,
    queue: str = "NULL",
    subject: str = "NULL",
    queues_of: str = "NULL",
    state: str = "NULL",
    stale: str = "false",
) -> str:
    """A policy's expansion of one rule for the row's facts given as SQL."""
    row = dict(queue=queue, subject=subject, queues_of=queues_of, state=state, stale=stale)
    return f"coalesce({rule(name, _POLICY_ACCOUNT, row)}, false)"


def _function_sql() -> str:
    branches = "\n".join(
        f"            WHEN '{name}' THEN {rule(name, _FUNCTION_ACCOUNT, _FUNCTION_ROW)}"
        for name in RULES
    )
    return f"""
    CREATE OR REPLACE FUNCTION reviewer_may(
        op text, me reviewer_account, p_queue integer, p_subject integer,
        p_queues integer[] DEFAULT NULL, p_state text DEFAULT NULL,
        p_stale boolean DEFAULT false
    ) RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE COST 1
    AS $$
    BEGIN
        RETURN coalesce(CASE op
{branches}
        END, false);
    END
    $$
    """


_ITEM = dict(
    queue="queue_id",
    subject="claimed_by",
    state="status",
    stale="coalesce(lease_expires_at < now(), false)",
)
_UID = _POLICY_ACCOUNT["uid"]
_SAMPLE_MODERATOR = "(SELECT s.moderator_id FROM qa_samples s WHERE s.id = sample_id)"

# (table, command, USING, WITH CHECK): the policies of 0018, each call of reviewer_may
# expanded in place.
POLICIES: list[tuple[str, str, str | None, str | None]] = [
    (
        "items",
        "SELECT",
        may("see_item", **_ITEM)
        # Decided through one's own claim. The claim, not the decision: a decision
        # closes the item in the statement that stores it, and the new row must
        # already be visible then (the claim is still open in that snapshot).
        + " OR (status = 'decided' AND " + may("see_queue", queue="queue_id")
        + " AND EXISTS (SELECT 1 FROM claims c WHERE c.item_id = items.id"
        f" AND c.user_id = {_UID} AND (c.outcome = 'decided' OR c.closed_at IS NULL)))",
        None,
    ),
    (
        "items",
        "UPDATE",
        may("change_item", **_ITEM),
        may("keep_item", queue="queue_id", subject="claimed_by"),
    ),
    ("items", "INSERT", None, may("ingest")),
    (
        "media",
        "SELECT",
        # Filed in a queue this account may see; an ingesting lead or admin also sees
        # media no item files yet (what it just stored, or finds again by hash).
        "EXISTS (SELECT 1 FROM items i WHERE i.media_id = media.id) OR "
        + may("see_media", queues_of="reviewer_media_queues(id)"),
        None,
    ),
    ("media", "INSERT", None, may("ingest")),
    ("media", "UPDATE", may("ingest"), "true"),
    ("claims", "SELECT", may("see_team", subject="user_id"), None),
    ("claims", "INSERT", None, may("own", subject="user_id")),
    (
        "claims",
        "UPDATE",
        may("see_team", subject="user_id") + " OR (closed_at IS NULL AND expires_at < now())",
        "true",
    ),
    ("skips", "SELECT", may("see_team", subject="user_id"), None),
    ("skips", "INSERT", None, may("own", subject="user_id")),
    (
        "decisions",
        "SELECT",
        may("see_team", subject="user_id")
        # QA re-grades blind: a decision only once its sample carries one's own grade.
        + " OR EXISTS (SELECT 1 FROM qa_samples s JOIN qa_grades g ON g.sample_id = s.id"
        f" WHERE s.decision_id = decisions.id AND g.qa_user_id = {_UID})",
        None,
    ),
    (
        "decisions",
        "INSERT",
        None,
        # Only on one's own claim of this very item.
        may("decide", subject="user_id") + " AND EXISTS (SELECT 1 FROM claims c"
        " WHERE c.id = claim_id AND c.item_id = decisions.item_id"
        " AND c.user_id = decisions.user_id)",
    ),
    ("exposures", "SELECT", may("see_team", subject="user_id"), None),
    ("exposures", "INSERT", None, may("own", subject="user_id")),
    ("qa_samples", "SELECT", may("qa_sample", subject="moderator_id"), None),
    ("qa_samples", "INSERT", None, may("qa_sample", subject="moderator_id")),
    ("qa_samples", "UPDATE", may("qa_sample"), may("qa_sample")),
    ("qa_grades", "SELECT", may("see_qa_grade", subject="qa_user_id"), None),
    ("qa_grades", "INSERT", None, may("qa_grade", subject="qa_user_id")),
    (
        "adjudications",
        "SELECT",
        may("override") + " OR " + may("own", subject=_SAMPLE_MODERATOR),
        None,
    ),
    (
        "adjudications",
        "INSERT",
        None,
        may("own", subject="lead_id") + " AND " + may("adjudicate", subject=_SAMPLE_MODERATOR)
        + " AND " + may("adjudicate", subject="(SELECT g.qa_user_id FROM qa_grades g"
                        " WHERE g.sample_id = adjudications.sample_id)"),
    ),
    ("adjudications", "UPDATE", may("own", subject=_SAMPLE_MODERATOR), "true"),
    ("gold_serves", "SELECT", may("see_team", subject="user_id"), None),
    ("gold_serves", "INSERT", None, may("own", subject="user_id")),
    ("users", "SELECT", "true", None),
    ("users", "INSERT", None, may("manage_users")),
    ("users", "UPDATE", may("manage_users"), may("manage_users")),
    ("queue_access", "SELECT", "true", None),
    ("queue_access", "INSERT", None, may("manage_users")),
    ("queue_access", "DELETE", may("manage_users"), None),
    # An event names its actor: one's own, or none (a failed sign-in names nobody).
    ("audit_events", "SELECT", "true", None),
    ("audit_events", "INSERT", None, "user_id IS NULL OR " + may("own", subject="user_id")),
    ("welfare_days", "ALL", may("see_team", subject="user_id"),
     may("own", subject="user_id") + " OR " + may("override")),
    ("welfare_opt_outs", "ALL", may("own", subject="user_id"), may("own", subject="user_id")),
    # The sampling outbox: filled by a trigger in the decider's transaction, worked off
    # by whoever submits next. A row of one's own decision goes only once its sample is
    # taken: nobody drops the row of a decision the policy must sample.
    ("qa_sampling_due", "SELECT", "true", None),
    ("qa_sampling_due", "INSERT", None, "true"),
    ("qa_sampling_due", "UPDATE", "true", "true"),  # SELECT ... FOR UPDATE
    (
        "qa_sampling_due",
        "DELETE",
        "EXISTS (SELECT 1 FROM qa_samples s WHERE s.decision_id = qa_sampling_due.decision_id)"
        " OR NOT EXISTS (SELECT 1 FROM decisions d WHERE d.id = qa_sampling_due.decision_id"
        f" AND d.user_id = {_UID})",
        None,
    ),
]  # fmt: skip

# 0018's policies, to drop (by the names it gave them: table_command).
_OLD = [
    ("items", "SELECT"), ("items", "UPDATE"), ("items", "INSERT"), ("media", "SELECT"),
    ("media", "INSERT"), ("media", "UPDATE"), ("claims", "SELECT"), ("claims", "INSERT"),
    ("claims", "UPDATE"), ("skips", "SELECT"), ("skips", "INSERT"), ("decisions", "SELECT"),
    ("decisions", "INSERT"), ("exposures", "SELECT"), ("exposures", "INSERT"),
    ("qa_samples", "SELECT"), ("qa_samples", "INSERT"), ("qa_samples", "UPDATE"),
    ("qa_grades", "SELECT"), ("qa_grades", "INSERT"), ("adjudications", "SELECT"),
    ("adjudications", "INSERT"), ("adjudications", "UPDATE"), ("gold_serves", "SELECT"),
    ("gold_serves", "INSERT"), ("users", "SELECT"), ("users", "INSERT"), ("users", "UPDATE"),
    ("queue_access", "SELECT"), ("queue_access", "INSERT"), ("queue_access", "DELETE"),
    ("audit_events", "SELECT"), ("audit_events", "INSERT"), ("welfare_days", "ALL"),
    ("welfare_opt_outs", "ALL"),
]  # fmt: skip


def _policy_sql(table: str, command: str, using: str | None, check: str | None) -> str:
    sql = f"CREATE POLICY {table}_{command.lower()} ON {table} FOR {command} TO {PERSON}"
    if using is not None:
        sql += f" USING ({using})"
    if check is not None:
        sql += f" WITH CHECK ({check})"
    return sql


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(sa.text(_function_sql()))
    for table, command in _OLD:
        op.execute(sa.text(f"DROP POLICY IF EXISTS {table}_{command.lower()} ON {table}"))
    op.execute(sa.text("ALTER TABLE qa_sampling_due ENABLE ROW LEVEL SECURITY"))
    for policy in POLICIES:
        op.execute(sa.text(_policy_sql(*policy)))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    old = revision_module("0018_pg_login_roles.py")  # its policies and function text
    for table, command, *_ in POLICIES:
        op.execute(sa.text(f"DROP POLICY IF EXISTS {table}_{command.lower()} ON {table}"))
    op.execute(sa.text("ALTER TABLE qa_sampling_due DISABLE ROW LEVEL SECURITY"))
    function = next(f for f in old._FUNCTIONS if "FUNCTION reviewer_may(" in f)
    op.execute(sa.text(function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")))
    for policy in old._POLICIES:
        op.execute(sa.text(old._policy_sql(*policy)))
