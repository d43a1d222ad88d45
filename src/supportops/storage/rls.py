"""PostgreSQL row-level security and append-only guards, for migrations.

The application role is not made here: ``supportops init`` provisions it (``provision.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import Table


def create_tenant_tables(tables: Sequence[Table]) -> None:
    """Create tenant-scoped tables, with their row-level-security policies on PostgreSQL."""
    bind = op.get_bind()
    for table in tables:
        table.create(bind)
    if bind.dialect.name == "postgresql":
        for table in tables:
            enable_tenant_rls(table.name)


def drop_tables(tables: Sequence[Table]) -> None:
    bind = op.get_bind()
    for table in reversed(tables):
        table.drop(bind)


def enable_tenant_rls(table: str) -> None:
    """Rows of ``table`` are visible and writable only inside their tenant's transaction."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING (tenant_id = current_setting('supportops.tenant', true)) "
        f"WITH CHECK (tenant_id = current_setting('supportops.tenant', true))"
    )


def append_only_events(dialect: str) -> None:
    """Events are never deleted; an update may only redact (set ``redacted_at``, keep identity)."""
    if dialect == "postgresql":
        op.execute(
            """
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
        )
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION supportops_events_guard()"
        )
        return
    op.execute(
        "CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN "
        "SELECT RAISE(ABORT, 'events are append-only: delete refused'); END"
    )
    op.execute(
        "CREATE TRIGGER events_redact_only BEFORE UPDATE ON events "
        "WHEN NEW.redacted_at IS NULL OR NEW.seq <> OLD.seq OR NEW.id <> OLD.id "
        "OR NEW.hash <> OLD.hash OR NEW.tenant_id <> OLD.tenant_id OR NEW.type <> OLD.type "
        "OR NEW.occurred_at <> OLD.occurred_at BEGIN "
        "SELECT RAISE(ABORT, 'events are append-only: only redaction may update one'); END"
    )
