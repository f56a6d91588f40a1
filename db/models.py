"""SQLAlchemy 2 typed models. The schema is owned by the Alembic migrations in
db/migrations; these classes must stay in step with them (a test checks)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Always timezone-aware UTC in Python; timestamptz on PostgreSQL, naive UTC text
    on SQLite (whose text form sorts correctly, which lease expiry relies on)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Stable constraint names so migrations work the same on SQLite (batch mode) and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    # Every row class here maps one plain table (no joins, no selects), so its __table__
    # is a Table: insert/update/delete accept it and the type checker can see that.
    __table__: ClassVar[Table]
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # The primary (most senior) of `roles`, kept for readers that predate roles.
    role: Mapped[str] = mapped_column(String(20), default="moderator")
    created_at: Mapped[datetime]
    # Accounts (migration 0005). No hash: the user cannot sign in.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    roles: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    vetting_status: Mapped[str] = mapped_column(
        String(10), default="pending", server_default=text("'pending'")
    )
    vetted_on: Mapped[date | None] = mapped_column(Date)
    # [{"course": ..., "completed_on": "YYYY-MM-DD"}, ...]
    training: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    # Team mode (migration 0018): the person's own PostgreSQL LOGIN role.
    db_role: Mapped[str | None] = mapped_column(String(63), index=True, unique=True)


class QueueRow(Base):
    __tablename__ = "queues"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    target_minutes: Mapped[int] = mapped_column(Integer, default=24 * 60)
    created_at: Mapped[datetime]
    # Only users granted access in queue_access may claim from a restricted queue.
    restricted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class QueueAccessRow(Base):
    """Who may claim from a restricted queue."""

    __tablename__ = "queue_access"
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    granted_at: Mapped[datetime]


class SecuritySettingsRow(Base):
    """The admin's idle-lock settings: one row (id 1), JSON validated by
    reviewer.accounts.SecuritySettings."""

    __tablename__ = "security_settings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)


class AuditChainRow(Base):
    """The head (last seq and hash) of one writer's audit chain; see db.audit."""

    __tablename__ = "audit_chains"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class MediaRow(Base):
    __tablename__ = "media"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str | None] = mapped_column(String(20))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    unreadable_reason: Mapped[str | None] = mapped_column(Text)
    stored_at: Mapped[datetime]
    # Known-list matching (migration 0007): computed at ingest; None for media ingested before it.
    md5: Mapped[str | None] = mapped_column(String(32), index=True)
    pdq: Mapped[str | None] = mapped_column(String(64))  # hex, as hash lists write it
    pdq_quality: Mapped[int | None] = mapped_column(Integer)
    # "image" or "video" (migration 0010); video details are in media_video.
    kind: Mapped[str] = mapped_column(String(10), default="image", server_default="image")


class ItemRow(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queues.id"))
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"))
    # Re-running an ingest must not duplicate items: one row per dedupe key.
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(20))
    priority: Mapped[int] = mapped_column(Integer)
    imminent_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime]
    # pending -> claimed -> decided; claimed -> pending on skip, release or lease expiry.
    status: Mapped[str] = mapped_column(String(10), default="pending")
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claim_id: Mapped[int | None] = mapped_column(BigInteger)
    lease_expires_at: Mapped[datetime | None]
    report_text: Mapped[str] = mapped_column(Text, default="")
    reported_accounts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    upload_ip: Mapped[str | None] = mapped_column(String(64))
    upload_time: Mapped[datetime | None]
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Retention (migration 0009): when it was reported (first referral
    # exported), when erasure was asked for, and what has been disposed of.
    reported_at: Mapped[datetime | None]
    erasure_requested_at: Mapped[datetime | None]
    media_disposed_at: Mapped[datetime | None]
    personal_data_disposed_at: Mapped[datetime | None]
    # What the item is expected to be before anyone grades it (a Severity value; issue
    # 5, migration 0011): from the manifest, a graded known-list match or a graded
    # near-duplicate. Claims pass by suspected Category A after N A decisions in a row.
    suspected_category: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (
        # Claims from one queue walk this index: next pending item by priority, then age
        # (migration 0013). Pending rows only: a decision does not touch it.
        Index(
            "ix_items_queue_pending",
            "queue_id",
            "priority",
            "received_at",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        # Claims across all queues walk this one (migration 0004): no sort of every
        # pending row.
        Index(
            "ix_items_pending",
            "priority",
            "received_at",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        # The media policy's "which queues file this media?" (migration 0018).
        Index("ix_items_media_id", "media_id", "queue_id"),
        Index(
            "ix_items_lease",
            "lease_expires_at",
            postgresql_where=text("status = 'claimed'"),
            sqlite_where=text("status = 'claimed'"),
        ),
    )


class ClaimRow(Base):
    __tablename__ = "claims"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    # decided, skipped, released, expired
    outcome: Mapped[str | None] = mapped_column(String(10))


class SkipRow(Base):
    """A moderator skipped this item; their next claims pass it by."""

    __tablename__ = "skips"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(30))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]
    __table_args__ = (Index("ix_skips_user_item", "user_id", "item_id"),)


class DecisionRow(Base):
    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Generated by the workstation, so a retried submit after a dropped connection
    # is recognised instead of stored twice.
    client_token: Mapped[str] = mapped_column(String(36), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    decided_at: Mapped[datetime]
    severity: Mapped[str] = mapped_column(String(20))
    csea_related: Mapped[bool] = mapped_column(Boolean, default=False)
    not_assessable_reason: Mapped[str | None] = mapped_column(String(30))
    age_band: Mapped[str | None] = mapped_column(String(10))
    age_confidence: Mapped[str | None] = mapped_column(String(10))
    production_context: Mapped[str | None] = mapped_column(String(20))
    actions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    # Migration 0017: reviewer.grading.GradeBasis; only "assessed" counts towards the
    # independent grades an export needs.
    basis: Mapped[str] = mapped_column(String(12), default="assessed", server_default="assessed")


class ExposureRow(Base):
    """What one moderator saw of one item during one claim: the exposure ledger."""

    __tablename__ = "exposures"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), unique=True)
    recorded_at: Mapped[datetime]
    seconds_revealed: Mapped[float] = mapped_column(Float, default=0.0)
    reveal_count: Mapped[int] = mapped_column(Integer, default=0)
    max_area_fraction: Mapped[float] = mapped_column(Float, default=0.0)
    full_unprotected: Mapped[bool] = mapped_column(Boolean, default=False)
    # Migration 0006: how much and how little protected (see reviewer.model.Exposure).
    area_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    min_blur_step: Mapped[int | None] = mapped_column(Integer)
    colour_shown: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    least_mode: Mapped[str] = mapped_column(
        String(10), default="protected", server_default="protected"
    )
    # Migration 0022: seconds the flat-tone view was shown instead of the blur.
    stylised_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class AuditRow(Base):
    """Append-only record of who did what, when."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(40))
    item_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The hash chains (migration 0003; one per writer since 0012): written only
    # by db.audit. Chain 0 is the root chain, whose head is audit_head.
    chain_id: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
    mac: Mapped[str | None] = mapped_column(String(64))
    # The writer's Ed25519 signature of its chain up to this event, on some events (0015).
    sig: Mapped[str | None] = mapped_column(String(128))
    __table_args__ = (Index("ix_audit_events_chain_seq", "chain_id", "seq", unique=True),)


class AuditHeadRow(Base):
    """The root audit chain's last seq and hash: one row (id 1)."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)


# -- QA sampling, golden set, adjudication (migration 0008) ---------------------------


class _GradingColumns:
    """The grading fields of a decision, repeated wherever a grade is recorded."""

    severity: Mapped[str] = mapped_column(String(20))
    csea_related: Mapped[bool] = mapped_column(Boolean, default=False)
    not_assessable_reason: Mapped[str | None] = mapped_column(String(30))
    age_band: Mapped[str | None] = mapped_column(String(10))
    age_confidence: Mapped[str | None] = mapped_column(String(10))
    production_context: Mapped[str | None] = mapped_column(String(20))


class QaSampleRow(Base):
    """A decision sent to blind QA re-grading, and where it stands."""

    __tablename__ = "qa_samples"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    moderator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # reviewer.sampling.SampleReason values.
    reason: Mapped[str] = mapped_column(String(20))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sampled_at: Mapped[datetime]
    # pending -> claimed -> agreed | disputed -> adjudicated; claimed -> pending on
    # release, skip or lease expiry.
    status: Mapped[str] = mapped_column(String(12), default="pending")
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    lease_expires_at: Mapped[datetime | None]
    __table_args__ = (Index("ix_qa_samples_status", "status", "sampled_at"),)


class QaSamplingDueRow(Base):
    """A decision not yet put to the QA sampler: the outbox of sampling.

    A trigger (migration 0014) adds the row in the transaction that inserts the
    decision, whatever path inserted it, so a crash after the decision commits cannot
    lose its sampling; db.qa.QaRepo.sample_due puts it to the sampler and deletes the
    row in one transaction, idempotently (qa_samples.decision_id is unique). No foreign
    key: the row lives milliseconds, and costs the hot path as little as possible."""

    __tablename__ = "qa_sampling_due"
    decision_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)


class QaGradeRow(_GradingColumns, Base):
    """The blind re-grade of one sample (one per sample)."""

    __tablename__ = "qa_grades"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("qa_samples.id"), unique=True)
    qa_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The QA reviewer's claim: the exposure ledger row of this re-grade hangs off it.
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    client_token: Mapped[str] = mapped_column(String(36), unique=True)
    actions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    graded_at: Mapped[datetime]


class GoldItemRow(_GradingColumns, Base):
    """A pre-graded synthetic item with a known answer, mixed into moderators' queues."""

    __tablename__ = "gold_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), unique=True)
    marked_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    marked_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class GoldServeRow(Base):
    """One serving of a gold item: a fresh item row (same media and context) claimed by
    one moderator, so that it flows through the ordinary claim and decision path."""

    __tablename__ = "gold_serves"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    gold_id: Mapped[int] = mapped_column(ForeignKey("gold_items.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), unique=True)
    served_at: Mapped[datetime]
    __table_args__ = (Index("ix_gold_serves_user_gold", "user_id", "gold_id"),)


class AdjudicationRow(_GradingColumns, Base):
    """A lead's final grade on a disputed sample, with the reason given to the moderator."""

    __tablename__ = "adjudications"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("qa_samples.id"), unique=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime]
    seen_by_moderator_at: Mapped[datetime | None]


class QaSettingRow(Base):
    """Admin-configurable QA settings (sampling policy, gold rate), one row per key."""

    __tablename__ = "qa_settings"
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime]
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ReferralRow(Base):
    """A stored referral package. `package` is the JSON (uk) or XML
    (cybertip) text; it and `summary` are nulled when the personal data is disposed of."""

    __tablename__ = "referrals"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reference: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    item_ids: Mapped[list[Any]] = mapped_column(JSON)
    decision_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    complete: Mapped[bool] = mapped_column(Boolean)
    missing: Mapped[list[Any] | None] = mapped_column(JSON)
    urgent: Mapped[bool] = mapped_column(Boolean)
    package: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    exported_at: Mapped[datetime | None]
    disposed_at: Mapped[datetime | None]
    # Migration 0016: where it goes, how urgent, when due (reviewer.destinations).
    destination: Mapped[str] = mapped_column(String(10))
    priority: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime | None]
    incident_type: Mapped[str | None] = mapped_column(String(40))
    __table_args__ = (
        CheckConstraint("kind IN ('uk', 'cybertip')", name="kind"),
        CheckConstraint("destination IN ('nca', 'ncmec')", name="destination"),
        CheckConstraint("priority BETWEEN 1 AND 3", name="priority"),
        Index("ix_referrals_urgent_created", "urgent", "created_at"),
    )


class LegalHoldRow(Base):
    """A preservation order on one item: while not lifted, nothing of it is disposed."""

    __tablename__ = "legal_holds"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    placed_at: Mapped[datetime]
    lifted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lifted_at: Mapped[datetime | None]
    lift_reason: Mapped[str | None] = mapped_column(Text)


class ReportingSettingsRow(Base):
    """Who reports (the referral's reporter block) and the retention periods; one row."""

    __tablename__ = "reporting_settings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(60))
    report_hold_days: Mapped[int] = mapped_column(Integer)
    non_illegal_dispose_days: Mapped[int] = mapped_column(Integer)
    # Migration 0016: the per-destination table (reviewer.destinations); NULL = defaults.
    destination_rules: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_by: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime | None]
    __table_args__ = (
        CheckConstraint("id = 1", name="one_row"),
        CheckConstraint("report_hold_days >= 90", name="report_hold_min"),
        CheckConstraint("non_illegal_dispose_days >= 0", name="dispose_days_min"),
    )


# --- Welfare (migration 0006) ----------------------------------------------------------


class WelfareDayRow(Base):
    """One moderator's welfare counters for one day (wellbeing.policy.DayTotals), so a
    restart resets no cap and no break."""

    __tablename__ = "welfare_days"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    day: Mapped[date] = mapped_column(Date)
    shift_started_at: Mapped[datetime | None]
    shift_ended: Mapped[bool] = mapped_column(Boolean, default=False)
    active_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    ab_revealed_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    revealed_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    since_last_break_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    consecutive_a: Mapped[int] = mapped_column(Integer, default=0)
    breaks_taken: Mapped[int] = mapped_column(Integer, default=0)
    breaks_overridden: Mapped[int] = mapped_column(Integer, default=0)
    break_started_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    __table_args__ = (Index("ix_welfare_days_user_day", "user_id", "day", unique=True),)


class WelfareSettingsRow(Base):
    """The admin's welfare settings (wellbeing.settings.WelfareSettings) as one JSON row."""

    __tablename__ = "welfare_settings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime]
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)


class WelfareOptOutRow(Base):
    """A moderator's opt-outs (wellbeing.policy.OptOuts.to_dict)."""

    __tablename__ = "welfare_opt_outs"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime]


class SupportRequestRow(Base):
    """How many check-ins asked for support on a day. Deliberately no user and no
    answers: check-ins are private to the moderator; leads see only this count."""

    __tablename__ = "welfare_support_requests"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)


class MediaVideoRow(Base):
    """What a readable video is (migration 0010): one row per video media."""

    __tablename__ = "media_video"
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"), primary_key=True)
    container: Mapped[str] = mapped_column(String(16))
    codec: Mapped[str] = mapped_column(String(32))
    rotation: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)
    fps: Mapped[float | None] = mapped_column(Float)
    frame_count_estimate: Mapped[int] = mapped_column(BigInteger)
    has_audio: Mapped[bool] = mapped_column(Boolean)
    keyframe_times: Mapped[list[Any]] = mapped_column(JSON)


class VideoKeyframeRow(Base):
    """The PDQ of one keyframe of a video: matching works per frame."""

    __tablename__ = "video_keyframes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    media_id: Mapped[int] = mapped_column(BigId, ForeignKey("media.id"), index=True)
    time_s: Mapped[float] = mapped_column(Float)
    pdq: Mapped[str] = mapped_column(String(64))
    pdq_quality: Mapped[int] = mapped_column(Integer)


class VideoSegmentRow(Base):
    """A graded time range of a video, belonging to the decision with the same
    client_token (staged just before that decision is stored)."""

    __tablename__ = "video_segments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_token: Mapped[str] = mapped_column(String(36), index=True)
    item_id: Mapped[int] = mapped_column(BigId, ForeignKey("items.id"), index=True)
    claim_id: Mapped[int] = mapped_column(BigId, ForeignKey("claims.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    severity: Mapped[str] = mapped_column(String(20))
    staged_at: Mapped[datetime]
    __table_args__ = (CheckConstraint("start_s >= 0 AND end_s > start_s", name="range"),)
