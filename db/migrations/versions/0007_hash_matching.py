"""known-hash matching, near-duplicate groups

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-24 10:00:00

Media gain their MD5 and PDQ hash (hex) with its quality, computed at ingest. Hash lists
are kept per version (a new import of a list supersedes the active version; old
versions and their entries stay for provenance). Matches link an item to the list
entry it matched. Near-duplicate groups hold pending items within PDQ distance of a
representative; a member graded differently from the group's grade is flagged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.models

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("media") as batch:
        batch.add_column(sa.Column("md5", sa.String(32), nullable=True))
        batch.add_column(sa.Column("pdq", sa.String(64), nullable=True))
        batch.add_column(sa.Column("pdq_quality", sa.Integer(), nullable=True))
    op.create_index("ix_media_md5", "media", ["md5"])

    op.create_table(
        "hash_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("source_org", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("imported_at", When, nullable=False),
        sa.Column("imported_by", sa.Integer(), nullable=True),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("rejected_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["imported_by"], ["users.id"], name=op.f("fk_hash_lists_imported_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hash_lists")),
        sa.UniqueConstraint("name", "version", name="uq_hash_lists_name_version"),
    )
    op.create_table(
        "hash_list_entries",
        sa.Column("id", BigId, nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("hash_type", sa.String(10), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("category", sa.String(20), nullable=True),
        sa.Column("age_band", sa.String(10), nullable=True),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"], ["hash_lists.id"], name=op.f("fk_hash_list_entries_list_id_hash_lists")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hash_list_entries")),
    )
    op.create_index("ix_hash_list_entries_list_id", "hash_list_entries", ["list_id"])
    op.create_index("ix_hash_list_entries_value", "hash_list_entries", ["hash_type", "value"])

    op.create_table(
        "hash_matches",
        sa.Column("id", BigId, nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("matched_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_hash_matches_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["hash_list_entries.id"],
            name=op.f("fk_hash_matches_entry_id_hash_list_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hash_matches")),
        sa.UniqueConstraint("item_id", "entry_id", name="uq_hash_matches_item_entry"),
    )
    op.create_index("ix_hash_matches_item_id", "hash_matches", ["item_id"])

    op.create_table(
        "dup_groups",
        sa.Column("id", BigId, nullable=False),
        sa.Column("representative_item_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("max_distance", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["representative_item_id"],
            ["items.id"],
            name=op.f("fk_dup_groups_representative_item_id_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dup_groups")),
    )
    op.create_table(
        "dup_members",
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("group_id", sa.BigInteger(), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("joined_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_dup_members_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["dup_groups.id"], name=op.f("fk_dup_members_group_id_dup_groups")
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_dup_members")),
    )
    op.create_index("ix_dup_members_group_id", "dup_members", ["group_id"])
    op.create_table(
        "dup_group_flags",
        sa.Column("id", BigId, nullable=False),
        sa.Column("group_id", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("decision_id", sa.BigInteger(), nullable=False),
        sa.Column("flagged_at", When, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("resolved_at", When, nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"], ["dup_groups.id"], name=op.f("fk_dup_group_flags_group_id_dup_groups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dup_group_flags")),
        sa.UniqueConstraint("decision_id", name="uq_dup_group_flags_decision_id"),
    )


def downgrade() -> None:
    op.drop_table("dup_group_flags")
    op.drop_index("ix_dup_members_group_id", table_name="dup_members")
    op.drop_table("dup_members")
    op.drop_table("dup_groups")
    op.drop_index("ix_hash_matches_item_id", table_name="hash_matches")
    op.drop_table("hash_matches")
    op.drop_index("ix_hash_list_entries_value", table_name="hash_list_entries")
    op.drop_index("ix_hash_list_entries_list_id", table_name="hash_list_entries")
    op.drop_table("hash_list_entries")
    op.drop_table("hash_lists")
    op.drop_index("ix_media_md5", table_name="media")
    with op.batch_alter_table("media") as batch:
        batch.drop_column("pdq_quality")
        batch.drop_column("pdq")
        batch.drop_column("md5")
