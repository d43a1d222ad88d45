"""Foundation: tenants, principals, the event log and the ticket projection.

Revision ID: 0001_foundation
Revises: (none: the first revision)

Frozen history: the tables, triggers and policies are written out here as they were at this
revision, so that later changes to the live definitions never rewrite what this step did.
The application role is not created here: ``supportops init`` provisions it (see
``storage/provision.py`` and ``storage/postgres_roles.sql``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None

_md = sa.MetaData()


def _tenant_table(name: str, *columns: Any) -> sa.Table:
    return sa.Table(name, _md, sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"),
                                         nullable=False), *columns)


_tenants = sa.Table(
    "tenants", _md,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
)
_principals = _tenant_table(
    "principals",
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=True, unique=True),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("disabled_at", sa.DateTime(), nullable=True),
    sa.UniqueConstraint("tenant_id", "name", name="uq_principals_tenant_name"),
)
_events = _tenant_table(
    "events",
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("id", sa.String(36), nullable=False, unique=True),
    sa.Column("subject", sa.String(200), nullable=True),
    sa.Column("ticket_id", sa.String(200), nullable=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("occurred_at", sa.DateTime(), nullable=False),
    sa.Column("recorded_at", sa.DateTime(), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("idempotency_key", sa.String(200), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("redacted_at", sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint("tenant_id", "seq", name="pk_events"),
    sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_events_idempotency"),
    sa.Index("ix_events_ticket", "tenant_id", "ticket_id", "seq"),
    sa.Index("ix_events_subject", "tenant_id", "subject"),
    sa.Index("ix_events_type", "tenant_id", "type"),
)
_tickets = _tenant_table(
    "tickets",
    sa.Column("ticket_id", sa.String(200), nullable=False),
    sa.Column("subject", sa.String(200), nullable=True),
    sa.Column("status", sa.String(64), nullable=True),
    sa.Column("priority", sa.String(64), nullable=True),
    sa.Column("category", sa.String(200), nullable=True),
    sa.Column("group_name", sa.String(200), nullable=True),
    sa.Column("assignee", sa.String(200), nullable=True),
    sa.Column("channel", sa.String(64), nullable=True),
    sa.Column("subject_line", sa.Text, nullable=True),
    sa.Column("opened_at", sa.DateTime(), nullable=True),
    sa.Column("first_response_at", sa.DateTime(), nullable=True),
    sa.Column("resolved_at", sa.DateTime(), nullable=True),
    sa.Column("closed_at", sa.DateTime(), nullable=True),
    sa.Column("reassignment_count", sa.Integer, nullable=False),
    sa.Column("reopen_count", sa.Integer, nullable=False),
    sa.Column("satisfaction", sa.Float, nullable=True),
    sa.Column("attributes", sa.Text, nullable=False),
    sa.Column("first_seq", sa.BigInteger, nullable=False),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint("tenant_id", "ticket_id", name="pk_tickets"),
    sa.Index("ix_tickets_status", "tenant_id", "status"),
    sa.Index("ix_tickets_subject", "tenant_id", "subject"),
)
_projection_positions = _tenant_table(
    "projection_positions",
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "name", name="pk_projection_positions"),
)
_TABLES = [_tenants, _principals, _events, _tickets, _projection_positions]

_PG_GUARD = """
CREATE OR REPLACE FUNCTION supportops_events_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'events are append-only: delete refused';
  END IF;
  IF NEW.redacted_at IS NULL OR NEW.seq <> OLD.seq OR NEW.id <> OLD.id
     OR NEW.hash <> OLD.hash OR NEW.tenant_id <> OLD.tenant_id
     OR NEW.type <> OLD.type OR NEW.occurred_at <> OLD.occurred_at THEN
    RAISE EXCEPTION 'events are append-only: only redaction may update one';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
"""
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN "
    "SELECT RAISE(ABORT, 'events are append-only: delete refused'); END",
    "CREATE TRIGGER events_redact_only BEFORE UPDATE ON events "
    "WHEN NEW.redacted_at IS NULL OR NEW.seq <> OLD.seq OR NEW.id <> OLD.id "
    "OR NEW.hash <> OLD.hash OR NEW.tenant_id <> OLD.tenant_id OR NEW.type <> OLD.type "
    "OR NEW.occurred_at <> OLD.occurred_at BEGIN "
    "SELECT RAISE(ABORT, 'events are append-only: only redaction may update one'); END",
)


def _append_only_events(dialect: str) -> None:
    if dialect != "postgresql":
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)
        return
    op.execute(_PG_GUARD)
    op.execute("CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
               "FOR EACH ROW EXECUTE FUNCTION supportops_events_guard()")


def _tenant_rls(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING (tenant_id = current_setting('supportops.tenant', true)) "
        f"WITH CHECK (tenant_id = current_setting('supportops.tenant', true))"
    )


def upgrade() -> None:
    bind = op.get_bind()
    for table in _TABLES:
        table.create(bind)
    _append_only_events(bind.dialect.name)
    if bind.dialect.name == "postgresql":
        for name in ("principals", "events", "tickets", "projection_positions"):
            _tenant_rls(name)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(_TABLES):
        table.drop(bind)
