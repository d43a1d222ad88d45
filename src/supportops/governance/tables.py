"""Tables of the audit chain and of lineage (created by migration ``0002_privacy``).

Lineage stores subject *tokens* (pseudonyms), never original identifiers, so it survives
erasure and can still answer "which snapshots held this subject".
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
)

from supportops.storage.schema import UTCDateTime, tenant_table

audit_log = tenant_table(
    "audit_log",
    Column("seq", BigInteger, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(200), nullable=True),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    PrimaryKeyConstraint("tenant_id", "seq", name="pk_audit_log"),
    Index("ix_audit_action", "tenant_id", "action"),
    Index("ix_audit_subject", "tenant_id", "subject"),
)

#: The newest entry of each tenant's chain, so that removing the last entries shows too.
audit_heads = tenant_table(
    "audit_heads",
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    PrimaryKeyConstraint("tenant_id", name="pk_audit_heads"),
)

lineage_snapshots = tenant_table(
    "lineage_snapshots",
    Column("snapshot_id", String(200), nullable=False),
    Column("digest", String(128), nullable=False),
    Column("log_position", BigInteger, nullable=False),
    Column("first_seq", BigInteger, nullable=True),
    Column("excluded", Text, nullable=False, default="[]"),
    Column("subject_count", Integer, nullable=False, default=0),
    Column("state", String(32), nullable=False, default="current"),  # current|rebuild|deleted
    Column("state_reason", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", "snapshot_id", name="pk_lineage_snapshots"),
)

lineage_snapshot_subjects = tenant_table(
    "lineage_snapshot_subjects",
    Column("snapshot_id", String(200), nullable=False),
    Column("subject", String(200), nullable=False),
    PrimaryKeyConstraint("tenant_id", "snapshot_id", "subject", name="pk_lineage_snap_subj"),
    Index("ix_lineage_subject", "tenant_id", "subject"),
)

lineage_models = tenant_table(
    "lineage_models",
    Column("model_name", String(200), nullable=False),
    Column("version", String(64), nullable=False),
    Column("snapshot_id", String(200), nullable=False),
    Column("contains_erased_data", Boolean, nullable=False, default=False),
    Column("flag_reason", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", "model_name", "version", name="pk_lineage_models"),
    Index("ix_lineage_models_snapshot", "tenant_id", "snapshot_id"),
)

lineage_deployments = tenant_table(
    "lineage_deployments",
    Column("model_name", String(200), nullable=False),
    Column("version", String(64), nullable=False),
    Column("target", String(200), nullable=False),
    Column("deployed_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", "model_name", "version", "target",
                         name="pk_lineage_deployments"),
)

#: Work that erasure scheduled for higher rooms (rebuild a snapshot, retrain a model).
lineage_pending = tenant_table(
    "lineage_pending",
    Column("id", String(36), nullable=False),
    Column("action", String(32), nullable=False),  # rebuild_snapshot | retrain_model
    Column("target", String(300), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("done_at", UTCDateTime(), nullable=True),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_lineage_pending"),
    Index("ix_lineage_pending_open", "tenant_id", "done_at"),
)

TABLES = [audit_log, audit_heads, lineage_snapshots, lineage_snapshot_subjects, lineage_models,
          lineage_deployments, lineage_pending]
