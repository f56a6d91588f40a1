"""tamper-evident audit chain

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23 10:00:00

Adds the hash chain columns to audit_events, the one-row audit_head that serialises
appends, and on PostgreSQL the triggers and privileges that make audit_events
append-only. Rows written before this migration are left unchained: `reviewer audit
verify` reports them (there are none in practice).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

GENESIS = "0" * 64

# PostgreSQL: triggers refuse UPDATE, DELETE and TRUNCATE on audit_events for every
# role, the owner included; only a superuser (or the owner) disabling them gets past,
# and that is what verify is for. PUBLIC holds none of these privileges by default:
# the REVOKE states the intent and undoes any blanket grant made later by hand.
_PG_UP = [
    """
    CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
    """,
    """
    CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()
    """,
    "REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC",
    # The head only ever moves forward and is never removed: rewinding it would hide a
    # truncated tail from verify.
    """
    CREATE FUNCTION audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.seq >= OLD.seq THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_head only moves forward: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_head_guard BEFORE UPDATE OR DELETE ON audit_head
        FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only()
    """,
    """
    CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
        FOR EACH STATEMENT EXECUTE FUNCTION audit_head_forward_only()
    """,
    "REVOKE DELETE, TRUNCATE ON audit_head FROM PUBLIC",
]

# Once the chain has started (head past 0), every new event must come through
# db.audit.append: a plain INSERT is refused, so a writer that forgets the chain fails
# loudly instead of silently weakening the log. Before that, unchained rows are still
# accepted (verify reports them), so code that predates the chain keeps working until
# it is switched over.
_PG_CHAINED = [
    """
    CREATE FUNCTION audit_events_require_chain() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF (NEW.seq IS NULL OR NEW.prev_hash IS NULL OR NEW.hash IS NULL OR NEW.mac IS NULL)
           AND EXISTS (SELECT 1 FROM audit_head WHERE id = 1 AND seq > 0) THEN
            RAISE EXCEPTION 'audit_events: unchained event refused (use db.audit.append)'
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER audit_events_chained BEFORE INSERT ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_events_require_chain()
    """,
]

_PG_DOWN = [
    "DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_head",
    "DROP TRIGGER IF EXISTS audit_head_guard ON audit_head",
    "DROP FUNCTION IF EXISTS audit_head_forward_only()",
    "DROP TRIGGER IF EXISTS audit_events_chained ON audit_events",
    "DROP FUNCTION IF EXISTS audit_events_require_chain()",
    "DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events",
    "DROP TRIGGER IF EXISTS audit_events_no_update_delete ON audit_events",
    "DROP FUNCTION IF EXISTS audit_events_append_only()",
]

# The same on SQLite. (Anyone who can write the file can drop it: there, verify alone
# protects the log.)
_SQLITE_CHAINED = [
    """
    CREATE TRIGGER audit_events_chained BEFORE INSERT ON audit_events
    WHEN (NEW.seq IS NULL OR NEW.prev_hash IS NULL OR NEW.hash IS NULL OR NEW.mac IS NULL)
         AND (SELECT seq FROM audit_head WHERE id = 1) > 0
    BEGIN
        SELECT RAISE(ABORT, 'audit_events: unchained event refused (use db.audit.append)');
    END
    """,
]
_SQLITE_DOWN = ["DROP TRIGGER IF EXISTS audit_events_chained"]


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
        # A unique index (not a table constraint) so SQLite needs no table copy.
        batch_op.create_index(batch_op.f("ix_audit_events_seq"), ["seq"], unique=True)

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.execute(sa.text(f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS}')"))

    pg = op.get_bind().dialect.name == "postgresql"
    for stmt in (_PG_UP + _PG_CHAINED) if pg else _SQLITE_CHAINED:
        op.execute(sa.text(stmt))


def downgrade() -> None:
    for stmt in _PG_DOWN if op.get_bind().dialect.name == "postgresql" else _SQLITE_DOWN:
        op.execute(sa.text(stmt))
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_seq"))
        batch_op.drop_column("mac")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
