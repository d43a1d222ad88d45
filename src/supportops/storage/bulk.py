"""Bulk inserts on the ingest hot path, straight to the driver's ``executemany``.

SQLAlchemy's per-row parameter processing costs more than SQLite's insert itself on large logs;
here rows become tuples once, and ``UTCDateTime`` values are converted exactly as that type
stores them, so rows written either way read back the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table

from supportops.storage.schema import UTCDateTime


@lru_cache(maxsize=65536)
def _sqlite_datetime(value: datetime) -> str:
    v = value.astimezone(UTC) if value.tzinfo else value
    return (f"{v.year:04d}-{v.month:02d}-{v.day:02d} {v.hour:02d}:{v.minute:02d}:"
            f"{v.second:02d}.{v.microsecond:06d}")


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with identical keys) into ``table`` in one executemany."""
    if not rows:
        return
    columns = list(rows[0])
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    convert: Callable[[datetime], Any] = _sqlite_datetime if sqlite else _naive_utc
    timed = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, UTCDateTime)]
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
           f"VALUES ({', '.join([mark] * len(columns))})")
    data = []
    for row in rows:
        values = [row[c] for c in columns]
        for i in timed:
            if values[i] is not None:
                values[i] = convert(values[i])
        data.append(tuple(values))
    conn.exec_driver_sql(sql, data)
