"""audit chains per writer (workstations never queue behind one head row)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 12:00:00

One global chain made every workstation queue behind a single locked head row from its
audit write to COMMIT. Now each writer (a Store) appends to a chain of its own, whose
head lives in `audit_chains`; a chain is opened by an `audit_chain_opened` event in the
root chain (chain 0, head in audit_head), so a chain deleted outright is still found
missing. Existing events are the root chain and keep their hashes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# The head rule of 0003 (only forward, never removed) on the new heads too; the
# function is generic (NEW.id = OLD.id AND NEW.seq >= OLD.seq).
_PG_UP = [
    """
    CREATE TRIGGER audit_chains_guard BEFORE UPDATE OR DELETE ON audit_chains
        FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only()
    """,
    """
    CREATE TRIGGER audit_chains_no_truncate BEFORE TRUNCATE ON audit_chains
        FOR EACH STATEMENT EXECUTE FUNCTION audit_head_forward_only()
    """,
    "REVOKE DELETE, TRUNCATE ON audit_chains FROM PUBLIC",
]


def upgrade() -> None:
    op.create_table(
        "audit_chains",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chains")),
    )
    op.add_column(
        "audit_events",
        sa.Column("chain_id", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    )
    op.drop_index("ix_audit_events_seq", table_name="audit_events")
    op.create_index("ix_audit_events_chain_seq", "audit_events", ["chain_id", "seq"], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        for stmt in _PG_UP:
            op.execute(sa.text(stmt))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text("DROP TRIGGER IF EXISTS audit_chains_no_truncate ON audit_chains"))
        op.execute(sa.text("DROP TRIGGER IF EXISTS audit_chains_guard ON audit_chains"))
    # Only the root chain fits the one-chain schema: other chains' rows must go, and
    # the append-only trigger refuses that on PostgreSQL. Downgrade only a copy.
    op.drop_index("ix_audit_events_chain_seq", table_name="audit_events")
    op.create_index("ix_audit_events_seq", "audit_events", ["seq"], unique=True)
    op.drop_column("audit_events", "chain_id")
    op.drop_table("audit_chains")
