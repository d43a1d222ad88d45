"""Privacy and governance: keys, vault, policies, erasure reports, audit chain, lineage.

Revision ID: 0002_privacy
Revises: 0001_foundation
"""

from __future__ import annotations

from alembic import op

from supportops.governance import tables as governance_tables
from supportops.privacy import tables as privacy_tables
from supportops.storage import rls

revision = "0002_privacy"
down_revision = "0001_foundation"
branch_labels = ("privacy",)
depends_on = None

_TABLES = [*privacy_tables.TABLES, *governance_tables.TABLES]


def _append_only_audit(dialect: str) -> None:
    """Audit entries are never updated or deleted (``verify`` catches it if forced)."""
    if dialect == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION supportops_audit_guard() RETURNS trigger AS $$
            BEGIN
              RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
            END $$ LANGUAGE plpgsql;
            """
        )
        op.execute(
            "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION supportops_audit_guard()"
        )
        return
    op.execute(
        "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log BEGIN "
        "SELECT RAISE(ABORT, 'audit_log is append-only: delete refused'); END"
    )
    op.execute(
        "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log BEGIN "
        "SELECT RAISE(ABORT, 'audit_log is append-only: update refused'); END"
    )


def upgrade() -> None:
    rls.create_tenant_tables(_TABLES)
    _append_only_audit(op.get_bind().dialect.name)


def downgrade() -> None:
    rls.drop_tables(_TABLES)
