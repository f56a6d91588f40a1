"""the policies ask the account's facts of three functions, planned once per session

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 12:40:00

Since 0023 every policy reads each fact of the account it needs (its id, a role, the
queues it may see) as a sub-select of `users` written into the policy: PostgreSQL runs
each at most once per statement, but plans every one of them with the statement, and
sets every one up on each run, run or not. A claim's pick carries some forty of them
through the policies of items and claims. So after anything that invalidates the
cached plans (an autovacuum's analyze of a table they read, a GRANT) every
workstation's backend plans its claim again in the same second, at about 3 ms of
server CPU for the pick alone and 10 ms for a claim and its decision
(docs/BENCHMARKS.md, "Claims under load": the slow bursts at 200 claims/s).

Here each fact is a sub-select of a function call instead:
`(SELECT public.reviewer_me_id())`, `(SELECT public.reviewer_me_is('lead'))`,
`(SELECT public.reviewer_me_queues())`. The sub-select keeps what 0023 chose (an
InitPlan, run at most once per statement and only when the expression gets there);
what is planned with the statement is now a function call, and the functions' own
queries are PL/pgSQL's, planned once per session and kept. The rules (0023's rule book,
with 0025's admin jobs) and every policy's shape are unchanged: only the six fact
expressions are replaced, in every policy that reads one (0023's, 0025's media policy
and its admin jobs' policies).

The account is still re-read from `users` in the statement that asks (the functions
are STABLE: they see the statement's snapshot), by session_user, with a disabled
account having no id, no role and no queue. The functions are SECURITY INVOKER: a
person reads `users` and the view `reviewer_account_now` in them exactly as the
policies did. Their bodies are parsed at run time in the caller's session, so every
name in them is schema-qualified, operators included: a person's search_path or temporary
objects cannot change what they answer (tests/db/test_pg_attacks.py).

Measured and left as it was (docs/BENCHMARKS.md, session 15):
- The items' policy's "decided through one's own claim" sub-select as a function too:
  a moderator's own history (decisions joined with items, newest 200) then called it
  for every decision the moderator ever made, 21 ms became 105 ms at 3,000 decisions.
- reviewer_item_context (0024) reading the facts through these functions: it is
  SECURITY DEFINER, and a PL/pgSQL plan made under one role and search_path is made
  again under another, so every fact was planned afresh on every call, alternately
  for the person and for the owner. These functions are for policies, which run as
  the person.

PostgreSQL only; SQLite has no roles.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.migrate import revision_module

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

PERSON = "reviewer_person"

_ME = "FROM public.users u WHERE u.db_role OPERATOR(pg_catalog.=) session_user AND NOT u.disabled"
_FUNCTIONS = {
    "reviewer_me_id()": f"""
    CREATE FUNCTION public.reviewer_me_id() RETURNS integer
    LANGUAGE plpgsql STABLE
    AS $$
    BEGIN
        RETURN (SELECT u.id {_ME});
    END
    $$
    """,
    "reviewer_me_is(text)": f"""
    CREATE FUNCTION public.reviewer_me_is(p_role text) RETURNS boolean
    LANGUAGE plpgsql STABLE
    AS $$
    BEGIN
        RETURN coalesce(
            (SELECT u.roles::pg_catalog.jsonb OPERATOR(pg_catalog.?) p_role {_ME}), false);
    END
    $$
    """,
    # The view reads as its owner and was parsed when it was created: nothing in it
    # depends on the caller's search_path.
    "reviewer_me_queues()": """
    CREATE FUNCTION public.reviewer_me_queues() RETURNS integer[]
    LANGUAGE plpgsql STABLE
    AS $$
    BEGIN
        RETURN coalesce((SELECT (v.me).queues FROM public.reviewer_account_now v), '{}');
    END
    $$
    """,
}

# The facts as the policies of 0023-0025 read them, and as they read them from here on.
FACTS = {
    "uid": "(SELECT public.reviewer_me_id())",
    "mod": "(SELECT public.reviewer_me_is('moderator'))",
    "qa": "(SELECT public.reviewer_me_is('qa'))",
    "lead": "(SELECT public.reviewer_me_is('lead'))",
    "admin": "(SELECT public.reviewer_me_is('admin'))",
    # coalesce, as before: `x = ANY ((SELECT ...))` would read as ANY over a sub-query.
    "queues": "coalesce((SELECT public.reviewer_me_queues()), '{}')",
}


Policy = tuple[str, str, str, str | None, str | None]  # name, table, command, using, check


def policies_before() -> list[Policy]:
    """Every policy that reads the account, as 0023-0025 left them."""
    r23 = revision_module("0023_cheap_policies.py")
    r25 = revision_module("0025_team_paths.py")
    out: list[Policy] = []
    for table, command, using, check in r23.POLICIES:
        if (table, command) == ("media", "SELECT"):
            using = r25._MEDIA_POLICY  # 0024 and 0025 rewrote it
        out.append((f"{table}_{command.lower()}", table, command, using, check))
    r23.RULES["admin_jobs"] = r25._ADMIN_JOBS
    for table in r25._ADMIN_READS:
        out.append((f"{table}_admin_jobs", table, "SELECT", r23.may("admin_jobs"), None))
    return out


def with_facts(text: str | None, old: dict[str, str], new: dict[str, str]) -> str | None:
    """`text` with every fact expression of `old` replaced by the same fact of `new`."""
    if text is None:
        return None
    for fact, expression in old.items():
        text = text.replace(expression, new[fact])
    return text


def _old_facts() -> dict[str, str]:
    facts: dict[str, str] = revision_module("0023_cheap_policies.py")._POLICY_ACCOUNT
    return facts


def policies_after() -> list[Policy]:
    """policies_before with each fact of the account a function's (FACTS)."""
    old = _old_facts()
    out: list[Policy] = []
    for name, table, command, using, check in policies_before():
        using, check = with_facts(using, old, FACTS), with_facts(check, old, FACTS)
        left = f"{using} {check}"
        if "public.users" in left or "reviewer_account_now" in left:
            raise RuntimeError(f"policy {name} still reads the account itself")
        out.append((name, table, command, using, check))
    return out


def _recreate(policies: list[Policy]) -> list[str]:
    out = []
    for name, table, command, using, check in policies:
        sql = f"CREATE POLICY {name} ON {table} FOR {command} TO {PERSON}"
        if using is not None:
            sql += f" USING ({using})"
        if check is not None:
            sql += f" WITH CHECK ({check})"
        out += [f"DROP POLICY {name} ON {table}", sql]
    return out


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for signature, function in _FUNCTIONS.items():
        op.execute(sa.text(function))
        op.execute(sa.text(f"REVOKE ALL ON FUNCTION public.{signature} FROM PUBLIC"))
        op.execute(sa.text(f"GRANT EXECUTE ON FUNCTION public.{signature} TO {PERSON}"))
    for stmt in _recreate(policies_after()):
        op.execute(sa.text(stmt))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for stmt in _recreate(policies_before()):
        op.execute(sa.text(stmt))
    for signature in _FUNCTIONS:
        op.execute(sa.text(f"DROP FUNCTION public.{signature}"))
