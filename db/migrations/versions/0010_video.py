"""video and livestream captures

Revision ID: 0010
Revises: 0003
Create Date: 2026-11-24 10:00:00

- media.kind: "image" (every existing row) or "video";
- media_video: what a readable video is (container, codec, duration, fps, audio,
  keyframe times), one row per video media;
- video_keyframes: the PDQ of each keyframe, so near-duplicate and known-list matching
  work per frame;
- video_segments: per-segment grades, staged under the decision's client token just
  before the decision is stored (a segment belongs to the decision with that token).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.models

revision = "0010"
down_revision = "0006"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=10), nullable=False, server_default="image")
        )
    op.create_table(
        "media_video",
        sa.Column("media_id", _BIG_ID, nullable=False),
        sa.Column("container", sa.String(length=16), nullable=False),
        sa.Column("codec", sa.String(length=32), nullable=False),
        sa.Column("rotation", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("fps", sa.Float(), nullable=True),
        sa.Column("frame_count_estimate", sa.BigInteger(), nullable=False),
        sa.Column("has_audio", sa.Boolean(), nullable=False),
        sa.Column("keyframe_times", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_media_video_media_id_media")
        ),
        sa.PrimaryKeyConstraint("media_id", name=op.f("pk_media_video")),
    )
    op.create_table(
        "video_keyframes",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("media_id", _BIG_ID, nullable=False),
        sa.Column("time_s", sa.Float(), nullable=False),
        sa.Column("pdq", sa.String(length=64), nullable=False),
        sa.Column("pdq_quality", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_video_keyframes_media_id_media")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_keyframes")),
    )
    op.create_index(
        op.f("ix_video_keyframes_media_id"), "video_keyframes", ["media_id"], unique=False
    )
    op.create_table(
        "video_segments",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("client_token", sa.String(length=36), nullable=False),
        sa.Column("item_id", _BIG_ID, nullable=False),
        sa.Column("claim_id", _BIG_ID, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("staged_at", db.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "start_s >= 0 AND end_s > start_s", name=op.f("ck_video_segments_range")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_video_segments_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_video_segments_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_video_segments_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_segments")),
    )
    op.create_index(
        op.f("ix_video_segments_client_token"), "video_segments", ["client_token"], unique=False
    )
    op.create_index(op.f("ix_video_segments_item_id"), "video_segments", ["item_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_video_segments_item_id"), table_name="video_segments")
    op.drop_index(op.f("ix_video_segments_client_token"), table_name="video_segments")
    op.drop_table("video_segments")
    op.drop_index(op.f("ix_video_keyframes_media_id"), table_name="video_keyframes")
    op.drop_table("video_keyframes")
    op.drop_table("media_video")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_column("kind")
