"""the team server lets each person do the jobs the permission matrix gives them

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 19:30:00

Journeys run as each person's own login role found paths the services allow and the
server refused (PostgreSQL only; SQLite has no roles):

- Near-duplicate groups. Since 0024 a moderator sees a media row only through an item it
  holds or decided, so the group grid (HashRepo._group joins each member's media for
  the protected thumbnails) lost the pending members. The media policy now also shows
  the media of a member of a near-duplicate group in which this account holds or
  decided a member, both in queues it may see: exactly what the grid shows the
  moderator who graded the representative. (Settling the group then runs the one claim
  lifecycle per member, which the items, claims and decisions policies already allow.)
- Gold. A moderator may not read a gold item (its status is 'gold', and its answer is
  hidden) nor insert items, so the golden set was never served. One SECURITY DEFINER
  function, `reviewer_serve_gold_copy(user, queue, blocked, received_at, expires)`, picks the first
  active gold item the caller has not been served, of a queue the caller may see (and
  the one asked for), inserts its serving copy claimed by the caller and records the
  serve (so each gold item goes to a person once, however it is called); it re-reads
  the account (session_user: enabled, a moderator, the user named) and applies the
  claim rule itself (only the owner role may name another account: set-up and tests).
  It returns only ids: the copy is then the caller's own claimed item, read through
  the ordinary policies. Not a policy: a policy cannot let a role insert an item only
  as a copy of a row it may not read. The embedded database runs the same two steps as
  plain statements (db/qa.py QaRepo._pick_and_copy_gold).
- Admin jobs. Retention (Operation.RETENTION) and the confirmed-hash export are the
  admin's in the permission matrix, and both read everyone's decisions, exposures and
  QA grades; the policies gave other people's rows to leads only, so the admin's plan
  found nothing to dispose of and the export exported nothing. One rule is added to the
  rule book of 0023, `admin_jobs` ("{admin}": what RETENTION allows), expanded into
  reviewer_may (tests/db/test_pg_matrix.py compares it with the matrix) and into one
  extra permissive SELECT policy on each table those jobs read. Reading only: an admin
  still writes no decision and no grade (no INSERT rule changes), and still gets no
  item context beyond what 0024 gives it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.migrate import revision_module

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

PERSON = "reviewer_person"


_R24 = revision_module("0024_item_context_grants.py")
_QUEUES: str = _R24._QUEUES
_UID: str = _R24._UID
# A member `j` of a group this account holds or decided an item of.
_MINE = (
    f"j.claimed_by = {_UID} OR EXISTS (SELECT 1 FROM public.claims c WHERE c.item_id = j.id"
    f" AND c.user_id = {_UID} AND c.outcome = 'decided')"
)
_GROUP_MEDIA = (
    "EXISTS (SELECT 1 FROM items i JOIN dup_members dm ON dm.item_id = i.id"
    " JOIN dup_members mine ON mine.group_id = dm.group_id"
    " JOIN items j ON j.id = mine.item_id"
    f" WHERE i.media_id = media.id AND i.queue_id = ANY ({_QUEUES})"
    f" AND j.queue_id = ANY ({_QUEUES}) AND ({_MINE}))"
)
_MEDIA_POLICY = f"{_R24._MEDIA_POLICY} OR {_GROUP_MEDIA}"

# The rule book of 0023 with the admin's jobs added (see the docstring).
_R23 = revision_module("0023_cheap_policies.py")
_ADMIN_JOBS = "{admin}"
_ADMIN_READS = ("decisions", "exposures", "claims", "qa_samples", "qa_grades", "adjudications")


def _reviewer_may(with_admin_jobs: bool) -> str:
    if with_admin_jobs:
        _R23.RULES["admin_jobs"] = _ADMIN_JOBS
    else:
        _R23.RULES.pop("admin_jobs", None)
    return str(_R23._function_sql())


def _admin_policies() -> list[str]:
    return [
        f"CREATE POLICY {t}_admin_jobs ON {t} FOR SELECT TO {PERSON}"
        f" USING ({_R23.may('admin_jobs')})"
        for t in _ADMIN_READS
    ]


_ME = "FROM public.users u WHERE u.db_role = session_user AND NOT u.disabled"
_SERVE_GOLD = f"""
CREATE FUNCTION reviewer_serve_gold_copy(
    p_user integer, p_queue integer, p_blocked integer[], p_received_at timestamptz,
    p_expires timestamptz
) RETURNS TABLE (gold_id bigint, item_id bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    me integer := (SELECT u.id {_ME} AND u.roles::jsonb ? 'moderator');
    owner boolean := false;
    g record;
    copy_id bigint;
BEGIN
    -- The owner (set-up, tests, the embedded tools) acts for the account it names;
    -- a person's login role only ever for itself.
    IF me IS NULL AND pg_has_role(session_user, (SELECT c.relowner FROM pg_class c
                                   WHERE c.oid = 'public.items'::regclass), 'USAGE') THEN
        me := p_user;
        owner := true;
    END IF;
    IF me IS NULL OR me IS DISTINCT FROM p_user THEN
        RAISE EXCEPTION 'only an enabled moderator is served gold'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT gi.id AS gid, i.* INTO g
    FROM public.gold_items gi JOIN public.items i ON i.id = gi.item_id
    WHERE gi.active AND (p_queue IS NULL OR i.queue_id = p_queue)
      -- a person's own visible queues, re-read here; the gate's refusals besides
      AND (owner OR i.queue_id = ANY ({_QUEUES}))
      AND NOT i.queue_id = ANY (coalesce(p_blocked, '{{}}'))
      AND NOT EXISTS (SELECT 1 FROM public.gold_serves s
                      WHERE s.gold_id = gi.id AND s.user_id = me)
    ORDER BY gi.id LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO public.items (
        queue_id, media_id, dedupe_key, source, priority, imminent_risk, received_at,
        status, claimed_by, lease_expires_at, report_text, reported_accounts, upload_ip,
        upload_time, extra)
    VALUES (
        g.queue_id, g.media_id, 'gold-serve:' || gen_random_uuid(), g.source, g.priority,
        false, p_received_at, 'claimed', me,
        -- a lease, never longer than an ordinary one could be asked for
        least(p_expires, now() + interval '1 day'),
        g.report_text, g.reported_accounts, g.upload_ip, g.upload_time, g.extra)
    RETURNING id INTO copy_id;
    -- The serve is recorded here, not left to the caller: a role calling this in raw
    -- SQL gets each gold item once, as the services do, never a stream of copies.
    INSERT INTO public.gold_serves (gold_id, user_id, item_id, served_at)
    VALUES (g.gid, me, copy_id, now());
    gold_id := g.gid;
    item_id := copy_id;
    RETURN NEXT;
END
$$
"""
_SERVE_GOLD_SIG = "reviewer_serve_gold_copy(integer, integer, integer[], timestamptz, timestamptz)"
_SERVE_GOLD_GRANTS = [
    f"REVOKE ALL ON FUNCTION {_SERVE_GOLD_SIG} FROM PUBLIC",
    f"GRANT EXECUTE ON FUNCTION {_SERVE_GOLD_SIG} TO {PERSON}",
]


def _media_policy(using: str) -> list[str]:
    return [
        "DROP POLICY media_select ON media",
        f"CREATE POLICY media_select ON media FOR SELECT TO {PERSON} USING ({using})",
    ]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for stmt in [
        *_media_policy(_MEDIA_POLICY),
        _SERVE_GOLD,
        *_SERVE_GOLD_GRANTS,
        _reviewer_may(True),
        *_admin_policies(),
    ]:
        op.execute(sa.text(stmt))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for stmt in [
        *(f"DROP POLICY {t}_admin_jobs ON {t}" for t in _ADMIN_READS),
        _reviewer_may(False),
        f"DROP FUNCTION {_SERVE_GOLD_SIG}",
        *_media_policy(_R24._MEDIA_POLICY),
    ]:
        op.execute(sa.text(stmt))
