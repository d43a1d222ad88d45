"""The tables of the foundation. Later rooms add theirs in their own modules and migrations.

Every tenant-scoped table has a ``tenant_id`` column; on PostgreSQL each one also carries a
row-level-security policy (made by its migration), so a forgotten filter still leaks nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: the same values on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        parsed: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


metadata = MetaData()

def tenant_table(name: str, *columns: Any, **kw: Any) -> Table:
    """Declare a tenant-scoped table: ``tenant_id`` first (its migration adds its row-level
    security policy on PostgreSQL)."""
    return Table(
        name,
        metadata,
        Column("tenant_id", String(64), ForeignKey("tenants.id"), nullable=False),
        *columns,
        **kw,
    )


tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seq", BigInteger, nullable=False, default=0),
)

principals = tenant_table(
    "principals",
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # person | api_key
    Column("role", String(32), nullable=False),
    Column("key_hash", String(64), nullable=True, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled_at", UTCDateTime(), nullable=True),
    Column("scopes", Text, nullable=True),  # added by 0012_server: JSON list, NULL = all
    Column("expires_at", UTCDateTime(), nullable=True),  # added by 0012_server
    UniqueConstraint("tenant_id", "name", name="uq_principals_tenant_name"),
)

events = tenant_table(
    "events",
    Column("seq", BigInteger, nullable=False),
    Column("id", String(36), nullable=False, unique=True),
    Column("subject", String(200), nullable=True),
    Column("ticket_id", String(200), nullable=True),
    Column("type", String(64), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Column("payload", Text, nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("redacted_at", UTCDateTime(), nullable=True),
    Column("payload_hash", String(64), nullable=True),  # added by 0005_integrity
    PrimaryKeyConstraint("tenant_id", "seq", name="pk_events"),
    UniqueConstraint("tenant_id", "idempotency_key", name="uq_events_idempotency"),
    Index("ix_events_ticket", "tenant_id", "ticket_id", "seq"),
    Index("ix_events_subject", "tenant_id", "subject"),
    Index("ix_events_type", "tenant_id", "type"),
)

tickets = tenant_table(
    "tickets",
    Column("ticket_id", String(200), nullable=False),
    Column("subject", String(200), nullable=True),
    Column("status", String(64), nullable=True),
    Column("priority", String(64), nullable=True),
    Column("category", String(200), nullable=True),
    Column("group_name", String(200), nullable=True),
    Column("assignee", String(200), nullable=True),
    Column("channel", String(64), nullable=True),
    Column("subject_line", Text, nullable=True),
    Column("opened_at", UTCDateTime(), nullable=True),
    Column("first_response_at", UTCDateTime(), nullable=True),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("reassignment_count", Integer, nullable=False, default=0),
    Column("reopen_count", Integer, nullable=False, default=0),
    Column("satisfaction", Float, nullable=True),
    Column("attributes", Text, nullable=False, default="{}"),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=True),
    PrimaryKeyConstraint("tenant_id", "ticket_id", name="pk_tickets"),
    Index("ix_tickets_status", "tenant_id", "status"),
    Index("ix_tickets_subject", "tenant_id", "subject"),
)

projection_positions = tenant_table(
    "projection_positions",
    Column("name", String(64), nullable=False),
    Column("position", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "name", name="pk_projection_positions"),
)
