"""ML: dataset snapshot catalogue and the per-event embedding cache.

Revision ID: 0003_ml
Revises: 0001_foundation
"""

from __future__ import annotations

from alembic import op

from supportops.datasets.tables import TABLES as DATASET_TABLES
from supportops.ml.tables import TABLES as ML_TABLES
from supportops.storage import rls

revision = "0003_ml"
down_revision = "0001_foundation"
branch_labels = ("ml",)
depends_on = None

_TABLES = [*DATASET_TABLES, *ML_TABLES]


def upgrade() -> None:
    bind = op.get_bind()
    for table in _TABLES:
        table.create(bind)
    if bind.dialect.name == "postgresql":
        for table in _TABLES:
            rls.enable_tenant_rls(table.name)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(_TABLES):
        table.drop(bind)
