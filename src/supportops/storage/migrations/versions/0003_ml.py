"""ML: dataset snapshot catalogue and the per-event embedding cache.

Revision ID: 0003_ml
Revises: 0001_foundation
"""

from __future__ import annotations

from supportops.datasets.tables import TABLES as DATASET_TABLES
from supportops.ml.tables import TABLES as ML_TABLES
from supportops.storage import rls

revision = "0003_ml"
down_revision = "0001_foundation"
branch_labels = ("ml",)
depends_on = None

_TABLES = [*DATASET_TABLES, *ML_TABLES]


def upgrade() -> None:
    rls.create_tenant_tables(_TABLES)


def downgrade() -> None:
    rls.drop_tables(_TABLES)
