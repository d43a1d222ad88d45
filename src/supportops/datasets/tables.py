"""The catalogue of dataset snapshots (the Parquet files live under the workspace)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, PrimaryKeyConstraint, String, Text

from supportops.storage.schema import UTCDateTime, tenant_table

dataset_snapshots = tenant_table(
    "dataset_snapshots",
    Column("id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("log_position", BigInteger, nullable=False),
    Column("as_of", UTCDateTime(), nullable=True),
    Column("filters", Text, nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("path", Text, nullable=False),
    Column("exclusions", Text, nullable=False),
    Column("state", String(16), nullable=False),  # current | rebuilt | deleted
    Column("replaced_by", String(64), nullable=True),
    PrimaryKeyConstraint("tenant_id", "id", name="pk_dataset_snapshots"),
)

TABLES = [dataset_snapshots]
