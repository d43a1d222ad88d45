"""Derived ML rows kept beside the log, so that erasure purges them in the same transaction."""

from __future__ import annotations

from sqlalchemy import Column, Integer, LargeBinary, PrimaryKeyConstraint, String

from supportops.storage.schema import tenant_table

event_embeddings = tenant_table(
    "event_embeddings",
    Column("event_id", String(36), nullable=False),
    Column("encoder", String(200), nullable=False),
    Column("subject", String(200), nullable=True),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),
    PrimaryKeyConstraint("tenant_id", "event_id", "encoder", name="pk_event_embeddings"),
)

TABLES = [event_embeddings]
