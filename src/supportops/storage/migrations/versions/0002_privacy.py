"""Privacy and governance: keys, vault, policies, erasure reports, audit chain, lineage.

Revision ID: 0002_privacy
Revises: 0001_foundation

Frozen history: the tables are written out here as they were at this revision.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002_privacy"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

_md = sa.MetaData()
sa.Table("tenants", _md, sa.Column("id", sa.String(64), primary_key=True))  # referenced only


def _tenant_table(name: str, *columns: Any) -> sa.Table:
    return sa.Table(name, _md, sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"),
                                         nullable=False), *columns)


def _key(*names: str, name: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("tenant_id", *names, name=name)


_TABLES = [
    _tenant_table("tenant_keys", sa.Column("provider", sa.String(64), nullable=False),
                  sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
                  sa.Column("created_at", sa.DateTime(), nullable=False),
                  _key(name="pk_tenant_keys")),
    _tenant_table("subject_keys", sa.Column("subject", sa.String(200), nullable=False),
                  sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
                  sa.Column("created_at", sa.DateTime(), nullable=False),
                  _key("subject", name="pk_subject_keys")),
    _tenant_table("vault", sa.Column("subject", sa.String(200), nullable=False),
                  sa.Column("token", sa.String(80), nullable=False),
                  sa.Column("ciphertext", sa.LargeBinary, nullable=False),
                  sa.Column("created_at", sa.DateTime(), nullable=False),
                  _key("subject", "token", name="pk_vault"),
                  sa.Index("ix_vault_token", "tenant_id", "token")),
    _tenant_table("privacy_policies", sa.Column("message_body_days", sa.Integer, nullable=True),
                  sa.Column("closed_ticket_pii_days", sa.Integer, nullable=True),
                  sa.Column("retrain", sa.String(32), nullable=False),
                  sa.Column("updated_at", sa.DateTime(), nullable=False),
                  _key(name="pk_privacy_policies")),
    _tenant_table("erasure_reports", sa.Column("subject", sa.String(200), nullable=False),
                  sa.Column("completed_at", sa.DateTime(), nullable=False),
                  sa.Column("report", sa.Text, nullable=False),
                  _key("subject", "completed_at", name="pk_erasure_reports")),
    _tenant_table("audit_log", sa.Column("seq", sa.BigInteger, nullable=False),
                  sa.Column("at", sa.DateTime(), nullable=False),
                  sa.Column("actor", sa.String(64), nullable=False),
                  sa.Column("role", sa.String(32), nullable=False),
                  sa.Column("action", sa.String(64), nullable=False),
                  sa.Column("subject", sa.String(200), nullable=True),
                  sa.Column("details", sa.Text, nullable=False),
                  sa.Column("prev_hash", sa.String(64), nullable=False),
                  sa.Column("hash", sa.String(64), nullable=False),
                  _key("seq", name="pk_audit_log"),
                  sa.Index("ix_audit_action", "tenant_id", "action"),
                  sa.Index("ix_audit_subject", "tenant_id", "subject")),
    _tenant_table("audit_heads", sa.Column("seq", sa.BigInteger, nullable=False),
                  sa.Column("hash", sa.String(64), nullable=False),
                  _key(name="pk_audit_heads")),
    _tenant_table("lineage_snapshots", sa.Column("snapshot_id", sa.String(200), nullable=False),
                  sa.Column("digest", sa.String(128), nullable=False),
                  sa.Column("log_position", sa.BigInteger, nullable=False),
                  sa.Column("first_seq", sa.BigInteger, nullable=True),
                  sa.Column("excluded", sa.Text, nullable=False),
                  sa.Column("subject_count", sa.Integer, nullable=False),
                  sa.Column("state", sa.String(32), nullable=False),
                  sa.Column("state_reason", sa.Text, nullable=True),
                  sa.Column("created_at", sa.DateTime(), nullable=False),
                  _key("snapshot_id", name="pk_lineage_snapshots")),
    _tenant_table("lineage_snapshot_subjects",
                  sa.Column("snapshot_id", sa.String(200), nullable=False),
                  sa.Column("subject", sa.String(200), nullable=False),
                  _key("snapshot_id", "subject", name="pk_lineage_snap_subj"),
                  sa.Index("ix_lineage_subject", "tenant_id", "subject")),
    _tenant_table("lineage_models", sa.Column("model_name", sa.String(200), nullable=False),
                  sa.Column("version", sa.String(64), nullable=False),
                  sa.Column("snapshot_id", sa.String(200), nullable=False),
                  sa.Column("contains_erased_data", sa.Boolean, nullable=False),
                  sa.Column("flag_reason", sa.Text, nullable=True),
                  sa.Column("created_at", sa.DateTime(), nullable=False),
                  _key("model_name", "version", name="pk_lineage_models"),
                  sa.Index("ix_lineage_models_snapshot", "tenant_id", "snapshot_id")),
    _tenant_table("lineage_deployments", sa.Column("model_name", sa.String(200), nullable=False),
                  sa.Column("version", sa.String(64), nullable=False),
                  sa.Column("target", sa.String(200), nullable=False),
                  sa.Column("deployed_at", sa.DateTime(), nullable=False),
                  _key("model_name", "version", "target", name="pk_lineage_deployments")),
    _tenant_table("lineage_pending", sa.Column("id", sa.String(36), nullable=False),
                  sa.Column("action", sa.String(32), nullable=False),
                  sa.Column("target", sa.String(300), nullable=False),
                  sa.Column("reason", sa.Text, nullable=False),
                  sa.Column("created_at", sa.DateTime(), nullable=False),
                  sa.Column("done_at", sa.DateTime(), nullable=True),
                  _key("id", name="pk_lineage_pending"),
                  sa.Index("ix_lineage_pending_open", "tenant_id", "done_at")),
]


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
    if bind.dialect.name == "postgresql":
        for table in _TABLES:
            _tenant_rls(table.name)
    _append_only_audit(bind.dialect.name)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(_TABLES):
        table.drop(bind)
