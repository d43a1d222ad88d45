"""Tables of outgoing webhooks (created by migration ``0012_server``).

A delivery's body holds ids, labels and pseudonyms only (never free text or an original
value), so it needs no erasure beyond what the tokens' own erasure already does.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, PrimaryKeyConstraint, String, Text

from supportops.storage.schema import UTCDateTime, tenant_table

webhooks = tenant_table(
    "webhooks",
    Column("id", String(36), nullable=False),
    Column("url", Text, nullable=False),
    Column("event_types", Text, nullable=False),  # JSON list
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled_at", UTCDateTime(), nullable=True),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_webhooks"),
)

webhook_deliveries = tenant_table(
    "webhook_deliveries",
    Column("id", String(36), nullable=False),
    Column("webhook_id", String(36), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=True),
    Column("delivered_at", UTCDateTime(), nullable=True),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_webhook_deliveries"),
    Index("ix_webhook_deliveries_due", "tenant_id", "status", "next_attempt_at"),
)

TABLES = [webhooks, webhook_deliveries]
