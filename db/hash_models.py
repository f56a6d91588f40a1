"""Tables for known-hash lists, matches and near-duplicate groups (migration 0007).

Kept apart from db/models.py so that feature tables do not crowd the core schema;
they share its Base and naming convention.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base, BigId


class HashListRow(Base):
    """One imported version of a named list. Only one version per name is active."""

    __tablename__ = "hash_lists"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    source_org: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)
    imported_at: Mapped[datetime]
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    file_name: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    entry_count: Mapped[int] = mapped_column(Integer)
    rejected_count: Mapped[int] = mapped_column(Integer)
    __table_args__ = (Unique("name", "version", name="uq_hash_lists_name_version"),)


class HashListEntryRow(Base):
    __tablename__ = "hash_list_entries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("hash_lists.id"), index=True)
    hash_type: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(64))  # lowercase hex
    source: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(20))
    age_band: Mapped[str | None] = mapped_column(String(10))
    quality: Mapped[int | None] = mapped_column(Integer)
    line: Mapped[int] = mapped_column(Integer)
    __table_args__ = (Index("ix_hash_list_entries_value", "hash_type", "value"),)


class HashMatchRow(Base):
    __tablename__ = "hash_matches"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("hash_list_entries.id"))
    kind: Mapped[str] = mapped_column(String(10))  # exact | pdq
    distance: Mapped[int] = mapped_column(Integer)
    matched_at: Mapped[datetime]
    __table_args__ = (Unique("item_id", "entry_id", name="uq_hash_matches_item_entry"),)


class DupGroupRow(Base):
    __tablename__ = "dup_groups"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    representative_item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    created_at: Mapped[datetime]
    max_distance: Mapped[int] = mapped_column(Integer)


class DupMemberRow(Base):
    """An item in a group (the representative is a member too, at distance 0)."""

    __tablename__ = "dup_members"
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("dup_groups.id"), index=True)
    distance: Mapped[int] = mapped_column(Integer)
    joined_at: Mapped[datetime]


class DupGroupFlagRow(Base):
    """A member graded differently from its group: for a lead to look at."""

    __tablename__ = "dup_group_flags"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("dup_groups.id"))
    item_id: Mapped[int] = mapped_column(BigInteger)
    decision_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    flagged_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
