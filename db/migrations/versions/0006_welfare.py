"""welfare engine: least protection in the exposure ledger, welfare tables

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-24 10:00:00

- exposures: area_seconds, min_blur_step, colour_shown, least_mode (existing rows get
  the defaults: nothing recorded beyond what the columns of 0001 held);
- welfare_days: one moderator's counters for a day, so a restart resets no cap;
- welfare_settings: the admin's settings as one JSON row;
- welfare_opt_outs: per-moderator opt-outs;
- welfare_support_requests: per-day count of check-ins asking for support (no user).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.models

revision = "0006"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("area_seconds", sa.Float(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("min_blur_step", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("colour_shown", sa.Boolean(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column(
                "least_mode", sa.String(length=10), nullable=False, server_default="protected"
            )
        )

    op.create_table(
        "welfare_days",
        sa.Column("id", _ID, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("shift_started_at", db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("shift_ended", sa.Boolean(), nullable=False),
        sa.Column("active_seconds", sa.Float(), nullable=False),
        sa.Column("ab_revealed_seconds", sa.Float(), nullable=False),
        sa.Column("revealed_seconds", sa.Float(), nullable=False),
        sa.Column("since_last_break_seconds", sa.Float(), nullable=False),
        sa.Column("consecutive_a", sa.Integer(), nullable=False),
        sa.Column("breaks_taken", sa.Integer(), nullable=False),
        sa.Column("breaks_overridden", sa.Integer(), nullable=False),
        sa.Column("break_started_at", db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_welfare_days_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_welfare_days")),
    )
    with op.batch_alter_table("welfare_days", schema=None) as batch_op:
        batch_op.create_index("ix_welfare_days_user_day", ["user_id", "day"], unique=True)

    op.create_table(
        "welfare_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_welfare_settings_one_row")),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_welfare_settings_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_welfare_settings")),
    )
    op.create_table(
        "welfare_opt_outs",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_welfare_opt_outs_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_welfare_opt_outs")),
    )
    op.create_table(
        "welfare_support_requests",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_welfare_support_requests")),
    )


def downgrade() -> None:
    op.drop_table("welfare_support_requests")
    op.drop_table("welfare_opt_outs")
    op.drop_table("welfare_settings")
    with op.batch_alter_table("welfare_days", schema=None) as batch_op:
        batch_op.drop_index("ix_welfare_days_user_day")
    op.drop_table("welfare_days")
    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.drop_column("least_mode")
        batch_op.drop_column("colour_shown")
        batch_op.drop_column("min_blur_step")
        batch_op.drop_column("area_seconds")
