"""Boundary: the tenants directory under row-level security.

Revision ID: 0006_boundary
Revises: 0005_integrity

A tenant transaction (``supportops.tenant`` set) sees and updates its own ``tenants`` row only;
a workspace-level transaction (``supportops.scope = 'workspace'``, no tenant) may list the
directory and create tenants, and sees no tenant's data in any other table.
"""

from __future__ import annotations

from alembic import op

revision = "0006_boundary"
down_revision = "0005_integrity"
branch_labels = None
depends_on = None

_OWN_ROW = "id = current_setting('supportops.tenant', true)"
_WORKSPACE = "current_setting('supportops.scope', true) = 'workspace'"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE tenants ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE tenants FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_own_row ON tenants USING ({_OWN_ROW}) WITH CHECK ({_OWN_ROW})")
    op.execute(f"CREATE POLICY workspace_directory_read ON tenants FOR SELECT USING ({_WORKSPACE})")
    op.execute(f"CREATE POLICY workspace_directory_create ON tenants FOR INSERT "
               f"WITH CHECK ({_WORKSPACE})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for policy in ("tenant_own_row", "workspace_directory_read", "workspace_directory_create"):
        op.execute(f"DROP POLICY {policy} ON tenants")
    op.execute("ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE tenants DISABLE ROW LEVEL SECURITY")
