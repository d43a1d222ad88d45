"""Storage: one SQLAlchemy Core schema over SQLite (embedded) or PostgreSQL (server)."""

from __future__ import annotations

from supportops.storage.database import Database
from supportops.storage.schema import metadata

__all__ = ["Database", "metadata"]
