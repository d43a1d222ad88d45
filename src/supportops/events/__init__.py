"""Events: schemas, the append-only log, idempotent ingestion, importers, projections."""
