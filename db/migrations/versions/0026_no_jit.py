"""every session of the team database runs without JIT compilation

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 23:25:00

The policies make a person's statements large plans (hundreds of nodes), whose estimated
cost passes PostgreSQL's JIT thresholds; compiling them costs seconds and buys nothing
on rows this few. The application's connections already set `jit=off`
(db/engine.py), but a session opened any other way (psql, a report, the test's raw
connections) did not: `SELECT count(*) FROM media` as a login role over 6 rows took
6,539 ms, 6,518 ms of it JIT, and 0.75 ms with JIT off. Set as the database's default,
it holds for every session, whatever client opens it.

Only the database's owner (or a superuser) may change its defaults; a migration run by
a role that is neither says so and leaves the default alone (the app still sets it).
PostgreSQL only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def _set(action: str) -> str:
    return f"""
    DO $$
    BEGIN
        IF EXISTS (
            SELECT 1 FROM pg_database d
            WHERE d.datname = current_database()
              AND (pg_has_role(current_user, d.datdba, 'USAGE')
                   OR (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user))
        ) THEN
            EXECUTE format('ALTER DATABASE %I {action}', current_database());
        ELSE
            RAISE NOTICE 'not the owner of database %: its jit default is left as it is',
                current_database();
        END IF;
    END
    $$
    """


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(sa.text(_set("SET jit = off")))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(sa.text(_set("RESET jit")))
