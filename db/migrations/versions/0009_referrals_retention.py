"""referrals to authorities and retention

Revision ID: 0009
Revises: 0003
Create Date: 2026-11-24 10:00:00

Adds to items the retention timestamps (reported_at, erasure_requested_at,
media_disposed_at, personal_data_disposed_at); the referrals table (stored packages);
legal_holds (preservation orders that block disposal); and the one-row
reporting_settings (who reports, and the retention periods).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Nullable columns only: SQLite adds them with ALTER TABLE, no table copy.
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reported_at", _TS, nullable=True))
        batch_op.add_column(sa.Column("erasure_requested_at", _TS, nullable=True))
        batch_op.add_column(sa.Column("media_disposed_at", _TS, nullable=True))
        batch_op.add_column(sa.Column("personal_data_disposed_at", _TS, nullable=True))

    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "referrals",
        sa.Column("id", big_id, nullable=False),
        sa.Column("reference", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("decision_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("missing", sa.JSON(), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("package", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("exported_at", _TS, nullable=True),
        sa.Column("disposed_at", _TS, nullable=True),
        sa.CheckConstraint("kind IN ('uk', 'cybertip')", name=op.f("ck_referrals_kind")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_referrals_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("reference", name=op.f("uq_referrals_reference")),
    )
    op.create_index("ix_referrals_urgent_created", "referrals", ["urgent", "created_at"])

    op.create_table(
        "legal_holds",
        sa.Column("id", big_id, nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_by", sa.Integer(), nullable=True),
        sa.Column("placed_at", _TS, nullable=False),
        sa.Column("lifted_by", sa.Integer(), nullable=True),
        sa.Column("lifted_at", _TS, nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_legal_holds_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["placed_by"], ["users.id"], name=op.f("fk_legal_holds_placed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["lifted_by"], ["users.id"], name=op.f("fk_legal_holds_lifted_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_index(op.f("ix_legal_holds_item_id"), "legal_holds", ["item_id"])

    op.create_table(
        "reporting_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("contact_email", sa.String(length=200), nullable=False),
        sa.Column("contact_phone", sa.String(length=60), nullable=True),
        sa.Column("report_hold_days", sa.Integer(), nullable=False),
        sa.Column("non_illegal_dispose_days", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", _TS, nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_reporting_settings_one_row")),
        sa.CheckConstraint(
            "report_hold_days >= 90", name=op.f("ck_reporting_settings_report_hold_min")
        ),
        sa.CheckConstraint(
            "non_illegal_dispose_days >= 0",
            name=op.f("ck_reporting_settings_dispose_days_min"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporting_settings")),
    )
    op.execute(
        sa.text(
            "INSERT INTO reporting_settings (id, organisation, contact_name, contact_email,"
            " report_hold_days, non_illegal_dispose_days) VALUES (1, '', '', '', 90, 30)"
        )
    )


def downgrade() -> None:
    op.drop_table("reporting_settings")
    op.drop_index(op.f("ix_legal_holds_item_id"), table_name="legal_holds")
    op.drop_table("legal_holds")
    op.drop_index("ix_referrals_urgent_created", table_name="referrals")
    op.drop_table("referrals")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("personal_data_disposed_at")
        batch_op.drop_column("media_disposed_at")
        batch_op.drop_column("erasure_requested_at")
        batch_op.drop_column("reported_at")
