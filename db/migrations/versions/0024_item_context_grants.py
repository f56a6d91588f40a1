"""a moderator reads an item's report context and media only while holding it or once
having decided it

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 18:40:00

Until here a moderator's login role could read, in raw SQL, the report text, reported
accounts, upload IP and time, and extra context of every PENDING item of the queues it
may see (the claim picker has to see pending rows to pick one), and every media row
filed in those queues. Row-level security cannot hide some columns of a row it shows,
so (PostgreSQL only):

- Column-level grants: everyone (reviewer_person) may read only what picking, leasing
  and the item's state need (`PICKER` below); the context columns (`CONTEXT`) only QA,
  leads and admins, whose rules let them read any item of a queue they may see.
- The media policy: a moderator sees a media row only through an item it holds or
  decided; QA, leads and admins as before (by the queues that file it).
- A moderator gets an item's context and media through ONE function,
  `reviewer_item_context(item)`: SECURITY DEFINER because a policy cannot give some
  columns to some rows; it re-reads the account (session_user) and answers only for an
  item of a visible queue that the account holds or decided (or for QA, leads and
  admins). It is VOLATILE so that, called from the claim statement for the row the
  statement has just leased, it sees that lease (a volatile function's queries see the
  calling statement's own changes so far).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

PERSON = "reviewer_person"
PICKER = (
    "id, queue_id, media_id, source, priority, imminent_risk, received_at, status,"
    " claimed_by, claim_id, lease_expires_at, suspected_category, reported_at,"
    " erasure_requested_at, media_disposed_at, personal_data_disposed_at"
)
CONTEXT = "dedupe_key, report_text, reported_accounts, upload_ip, upload_time, extra"
_ME = "FROM public.users u WHERE u.db_role = session_user AND NOT u.disabled"
_UID = f"(SELECT u.id {_ME})"
_ROLE = "coalesce((SELECT u.roles::jsonb ? '{role}' " + _ME + "), false)"
_QUEUES = "coalesce((SELECT (v.me).queues FROM public.reviewer_account_now v), '{}')"
_WORKS_QUEUES = " OR ".join(_ROLE.format(role=r) for r in ("qa", "lead", "admin"))
# An item this account holds, or decided through its own claim.
_HELD_OR_DECIDED = (
    f"i.claimed_by = {_UID} OR EXISTS (SELECT 1 FROM public.claims c WHERE c.item_id = i.id"
    f" AND c.user_id = {_UID} AND c.outcome = 'decided')"
)

_FUNCTION = f"""
CREATE FUNCTION reviewer_item_context(p_item bigint) RETURNS TABLE (
    report_text text, reported_accounts json, upload_ip varchar, upload_time timestamptz,
    extra json, sha256 varchar, size_bytes bigint, format varchar, width integer,
    height integer, unreadable_reason text
) LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    -- PL/pgSQL, not SQL: its query's plan is kept for the session (a SQL function's is
    -- planned again on every claim).
    RETURN QUERY
    SELECT i.report_text, i.reported_accounts, i.upload_ip, i.upload_time, i.extra,
           m.sha256, m.size_bytes, m.format, m.width, m.height, m.unreadable_reason
    FROM public.items i JOIN public.media m ON m.id = i.media_id
    WHERE i.id = p_item AND (
        -- whoever may read the columns anyway (the owner; QA, leads and admins, whose
        -- policy on items keeps them to the queues they may see)
        has_column_privilege(session_user, 'public.items', 'report_text', 'SELECT')
        OR (i.queue_id = ANY ({_QUEUES}) AND ({_WORKS_QUEUES} OR {_HELD_OR_DECIDED})));
END
$$
"""

_MEDIA_POLICY = (
    "EXISTS (SELECT 1 FROM items i WHERE i.media_id = media.id AND i.queue_id = ANY "
    f"({_QUEUES}) AND ({_HELD_OR_DECIDED}))"
    f" OR (({_WORKS_QUEUES}) AND ({_QUEUES} && reviewer_media_queues(id)"
    f" OR (cardinality(reviewer_media_queues(id)) = 0"
    f" AND ({_ROLE.format(role='lead')} OR {_ROLE.format(role='admin')}))))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for stmt in (
        f"REVOKE SELECT ON items FROM {PERSON}",
        f"GRANT SELECT ({PICKER}) ON items TO {PERSON}",
        "GRANT SELECT ON items TO reviewer_qa, reviewer_lead, reviewer_admin",
        _FUNCTION,
        "REVOKE ALL ON FUNCTION reviewer_item_context(bigint) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION reviewer_item_context(bigint) TO {PERSON}",
        "DROP POLICY media_select ON media",
        f"CREATE POLICY media_select ON media FOR SELECT TO {PERSON} USING ({_MEDIA_POLICY})",
    ):
        op.execute(sa.text(stmt))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for stmt in (
        "DROP POLICY media_select ON media",
        # 0023's media policy, restated.
        f"CREATE POLICY media_select ON media FOR SELECT TO {PERSON} USING ("
        f"EXISTS (SELECT 1 FROM items i WHERE i.media_id = media.id) OR ({_QUEUES} &&"
        " reviewer_media_queues(id)) OR (cardinality(reviewer_media_queues(id)) = 0 AND"
        f" ({_ROLE.format(role='lead')} OR {_ROLE.format(role='admin')})))",
        "DROP FUNCTION reviewer_item_context(bigint)",
        "REVOKE SELECT ON items FROM reviewer_qa, reviewer_lead, reviewer_admin",
        f"REVOKE SELECT ({PICKER}) ON items FROM {PERSON}",
        f"GRANT SELECT ON items TO {PERSON}",
    ):
        op.execute(sa.text(stmt))
