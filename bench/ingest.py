"""Ingestion throughput on the full ServiceNow incident log, next to the physical floor.

Floor: read and parse the same gzipped CSV with the ``csv`` module and ``executemany`` its
rows into a plain SQLite table (no validation, no idempotency, no projection). Ours: the full
``Tenant.ingest`` path into a fresh workspace. Prints both and the ratio floor / ours.

    .venv/bin/python bench/ingest.py [--file PATH]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from supportops import Workspace

DEFAULT = Path(__file__).resolve().parents[2] / "shared/data/incident_event_log/incident_event_log.csv.gz"


def floor(path: Path, folder: Path) -> tuple[float, int]:
    start = time.perf_counter()
    conn = sqlite3.connect(folder / "floor.db")
    conn.execute("PRAGMA journal_mode=WAL")
    with gzip.open(path, "rt", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        cols = ", ".join(f"c{i}" for i in range(len(header)))
        conn.execute(f"CREATE TABLE raw ({cols})")
        marks = ", ".join("?" * len(header))
        rows = list(reader)
    conn.executemany(f"INSERT INTO raw VALUES ({marks})", rows)
    conn.commit()
    conn.close()
    return time.perf_counter() - start, len(rows)


def ours(path: Path, folder: Path) -> tuple[float, int, int]:
    ws = Workspace.init(folder / "ws")
    ws.create_tenant("bench")
    tenant = ws.tenant("bench")
    start = time.perf_counter()
    report = tenant.ingest(path, format="servicenow-incidents")
    elapsed = time.perf_counter() - start
    tickets = tenant.tickets.count()
    ws.close()
    return elapsed, report.accepted, tickets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT)
    args = parser.parse_args()
    if not args.file.exists():
        print(f"skipped: {args.file} is absent (it lives in ../shared/data)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        floor_s, rows = floor(args.file, folder)
        ours_s, accepted, tickets = ours(args.file, folder)
    print(f"floor (csv + sqlite3.executemany): {floor_s:6.2f} s  {rows / floor_s:>9,.0f} rows/s")
    print(f"supportops ingest:                 {ours_s:6.2f} s  {accepted / ours_s:>9,.0f} events/s"
          f"  ({accepted:,} events, {tickets:,} tickets)")
    print(f"ratio floor/ours: {floor_s / ours_s:.3f}  (issue: >= 0.1, goal 0.25)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
