"""accounts, roles, vetting, training, per-queue access, idle-lock settings

Revision ID: 0005
Revises: 0010
Create Date: 2026-11-23 14:00:00

Users gain a password (argon2id hash), a set of roles (JSON list; `users.role` stays as
the primary, most senior role for older readers), a disabled flag, a vetting status and
date, and training records. Queues gain `restricted`; `queue_access` says who may claim
from a restricted queue. `security_settings` is the one-row table of the admin's idle
lock settings. Existing users keep their role as their only role and have no password:
they cannot sign in until an admin sets one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.models

revision = "0005"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch copy: on SQLite a copy of users would have to drop
    # the table every other table's foreign keys point at.
    op.add_column("users", sa.Column("password_hash", sa.String(length=255), nullable=True))
    op.add_column(
        "users", sa.Column("roles", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
    )
    op.add_column(
        "users", sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column(
        "users",
        sa.Column(
            "vetting_status",
            sa.String(length=10),
            nullable=False,
            server_default=sa.text("'pending'"),
        ),
    )
    op.add_column("users", sa.Column("vetted_on", sa.Date(), nullable=True))
    op.add_column(
        "users", sa.Column("training", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
    )

    # Every existing user's role becomes their one role.
    users = sa.table(
        "users",
        sa.column("id", sa.Integer),
        sa.column("role", sa.String),
        sa.column("roles", sa.JSON),
    )
    bind = op.get_bind()
    for uid, role in bind.execute(sa.select(users.c.id, users.c.role)).all():
        bind.execute(sa.update(users).where(users.c.id == uid).values(roles=[role or "moderator"]))

    op.add_column(
        "queues",
        sa.Column("restricted", sa.Boolean(), nullable=False, server_default=sa.false()),
    )

    op.create_table(
        "queue_access",
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("granted_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["queues.id"], name=op.f("fk_queue_access_queue_id_queues")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_queue_access_user_id_users")
        ),
        sa.PrimaryKeyConstraint("queue_id", "user_id", name=op.f("pk_queue_access")),
    )
    op.create_index(op.f("ix_queue_access_user_id"), "queue_access", ["user_id"])

    op.create_table(
        "security_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_security_settings_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_settings")),
    )
    op.execute(sa.text("INSERT INTO security_settings (id, settings) VALUES (1, '{}')"))


def downgrade() -> None:
    op.drop_table("security_settings")
    op.drop_index(op.f("ix_queue_access_user_id"), table_name="queue_access")
    op.drop_table("queue_access")
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of users would have to drop the
    # table that every other table's foreign keys point at.
    op.execute(sa.text("ALTER TABLE queues DROP COLUMN restricted"))
    for column in ("training", "vetted_on", "vetting_status", "disabled", "roles", "password_hash"):
        op.execute(sa.text(f"ALTER TABLE users DROP COLUMN {column}"))
