"""The monitor room's rows: reference statistics per model version, one record per served
prediction, and per-tenant thresholds. None holds text or vectors: a prediction names its
input's embedding by event id (the vector stays in ``event_embeddings``, where erasure
purges it), and reference statistics are aggregates over at least k subjects."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    PrimaryKeyConstraint,
    String,
    Text,
)

from supportops.storage.schema import UTCDateTime, tenant_table

model_references = tenant_table(
    "model_references",
    Column("name", String(200), nullable=False),
    Column("version", String(32), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("stats", Text, nullable=False),
    PrimaryKeyConstraint("tenant_id", "name", "version", name="pk_model_references"),
)

prediction_records = tenant_table(
    "prediction_records",
    Column("id", String(36), nullable=False),
    Column("name", String(200), nullable=False),
    Column("version", String(32), nullable=False),
    Column("alias", String(16), nullable=False),
    Column("ticket_id", String(200), nullable=True),
    Column("subject", String(200), nullable=True),
    Column("embedding_id", String(36), nullable=True),
    Column("label", String(200), nullable=True),
    Column("confidence", Float, nullable=False),
    Column("abstained", Boolean, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_prediction_records"),
    Index("ix_prediction_records_model", "tenant_id", "name", "version", "created_at"),
)

monitor_thresholds = tenant_table(
    "monitor_thresholds",
    Column("key", String(64), nullable=False),
    Column("value", Float, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("tenant_id", "key", name="pk_monitor_thresholds"),
)

TABLES = [model_references, prediction_records, monitor_thresholds]
