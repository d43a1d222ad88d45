"""Datasets: point-in-time snapshots of a tenant's log as Parquet, with digests and exclusions."""
