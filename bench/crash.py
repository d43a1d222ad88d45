"""Crash soak: ``kill -9`` the CLI at random moments during ingestion, then check the log.

Each cycle starts ``supportops ingest`` on the same file, waits until it has committed a
first batch, sleeps a random moment and kills it with SIGKILL. After every kill: no
duplicate, no sequence gap, the projection at the log's head, and (SQLite) ``PRAGMA
integrity_check``. At the end one uninterrupted ingest must bring the log to exactly the
records the file holds (no loss, no duplicate), ``audit verify`` must pass, and
``rebuild`` must give back the very same ticket table. On PostgreSQL: counts and verify.

Input: the ServiceNow incident log when ../shared is there (``--rows`` keeps its first
rows), else a generated file.

    .venv/bin/python bench/crash.py [--cycles 10] [--rows 20000] [--database-url URL] [--json]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from supportops import Workspace
from supportops.events.importers import importer_for
from supportops.events.ingest import Parsed, validated
from supportops.storage.schema import events, tenants, tickets

INCIDENTS = Path(__file__).resolve().parents[2] / "shared/data/incident_event_log/incident_event_log.csv.gz"
EXE = str(Path(sys.executable).with_name("supportops"))
TENANT = "soak"


def prepare_input(folder: Path, rows: int | None, generate: bool) -> tuple[Path, str]:
    """The incident log (its first ``rows`` rows), or a generated native file."""
    if INCIDENTS.exists() and not generate:
        if rows is None:
            return INCIDENTS, "servicenow-incidents"
        out = folder / "incidents.csv"
        with gzip.open(INCIDENTS, "rt", newline="") as src, open(out, "w", newline="") as dst:
            writer = csv.writer(dst)
            for i, row in enumerate(csv.reader(src)):
                if i > rows:
                    break
                writer.writerow(row)
        return out, "servicenow-incidents"
    return generated(folder / "generated.jsonl", rows or 2000), "jsonl"


def generated(path: Path, n: int) -> Path:
    """Tickets with a customer message and a resolution, names and e-mails inside."""
    with open(path, "w") as out:
        for i in range(n):
            tid, at = f"G-{i}", f"2024-03-{1 + i % 28:02d}T{i % 24:02d}:00:00Z"
            for kind, payload in (
                ("ticket.created", {"text": f"Hi, Dana Miller here (dana{i}@example.com): "
                                            f"order {i} never arrived", "priority": "low"}),
                ("message.added", {"author": "agent", "text": f"Looking into order {i}"}),
                ("ticket.resolved", {"resolution": "Reshipped"}),
            ):
                out.write(json.dumps({"type": kind, "ticket_id": tid, "subject": f"c-{i % 97}",
                                      "occurred_at": at, "payload": payload}) + "\n")
    return path


def expected_events(path: Path, fmt: str) -> int:
    """Distinct idempotency keys of the file's good records: what a clean ingest stores."""
    keys = {d.idempotency_key for item in validated(importer_for(fmt)(path))
            if isinstance(item, Parsed) for d in item.drafts}
    return len(keys)


class Soak:
    def __init__(self, root: Path, url: str | None, path: Path, fmt: str, batch: int) -> None:
        self.root, self.url, self.path, self.fmt, self.batch = root, url, path, fmt, batch
        self.ws = Workspace.init(root, database_url=url)
        self.ws.create_tenant(TENANT)
        self.tenant = self.ws.tenant(TENANT)
        self.env = {**os.environ, "SUPPORTOPS_WORKSPACE": str(root)}
        if url:
            self.env["SUPPORTOPS_DATABASE_URL"] = url

    def start(self) -> subprocess.Popen[str]:
        cmd = [EXE, "ingest", str(self.path), "--format", self.fmt, "--tenant", TENANT,
               "--batch-size", str(self.batch), "--json"]
        return subprocess.Popen(cmd, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def count(self) -> int:
        return self.tenant.events.count()

    def cycle(self, rng: random.Random, max_delay: float) -> str:
        """One ingest killed with SIGKILL at a random moment after its first commit."""
        before = self.count()
        proc = self.start()
        while proc.poll() is None and self.count() == before:
            time.sleep(0.05)
        time.sleep(rng.uniform(0, max_delay))
        if proc.poll() is not None:
            proc.communicate()
            return "finished"
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        return "killed"

    def log_problems(self) -> list[str]:
        """No duplicate, no sequence gap, the projection at the log's head."""
        with self.ws.db.begin(TENANT) as conn:
            n, distinct, top = conn.execute(select(
                func.count(), func.count(func.distinct(events.c.idempotency_key)),
                func.coalesce(func.max(events.c.seq), 0)).where(events.c.tenant_id == TENANT)).one()
            last = conn.execute(select(tenants.c.last_seq).where(tenants.c.id == TENANT)).scalar()
        problems = []
        if n != distinct:
            problems.append(f"{n - distinct} duplicated idempotency keys")
        if not n == top == last:
            problems.append(f"sequence: {n} events, highest seq {top}, tenant last_seq {last}")
        return problems

    def integrity(self) -> str:
        if self.url:
            return "n/a (PostgreSQL)"
        conn = sqlite3.connect(self.root / "supportops.db")
        try:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
        finally:
            conn.close()

    def verify(self) -> tuple[int, str]:
        result = subprocess.run([EXE, "audit", "verify", "--tenant", TENANT], env=self.env,
                                capture_output=True, text=True, timeout=600)
        return result.returncode, (result.stdout + result.stderr).strip().splitlines()[-1:][0]

    def ticket_rows(self) -> list[dict[str, Any]]:
        with self.ws.db.begin(TENANT) as conn:
            rows = conn.execute(select(tickets).where(tickets.c.tenant_id == TENANT)
                                .order_by(tickets.c.ticket_id)).mappings().all()
        return [dict(r) for r in rows]


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path, fmt = prepare_input(folder, args.rows, args.generate)
        expected = expected_events(path, fmt)
        soak = Soak(folder / "ws", args.database_url, path, fmt, args.batch_size)
        started = time.perf_counter()
        outcomes: list[str] = []
        problems: list[str] = []
        for i in range(args.cycles):
            outcomes.append(soak.cycle(rng, args.max_delay))
            problems += [f"cycle {i + 1}: {p}" for p in soak.log_problems()]
            if (check := soak.integrity()) not in ("ok", "n/a (PostgreSQL)"):
                problems.append(f"cycle {i + 1}: integrity_check: {check}")
            progress = soak.count()
            print(f"cycle {i + 1}/{args.cycles}: {outcomes[-1]}, {progress}/{expected} events",
                  file=sys.stderr)
        final = soak.start()
        out, err = final.communicate()
        if final.returncode != 0:
            problems.append(f"final ingest exited {final.returncode}: {err.strip()[-300:]}")
        stored = soak.count()
        if stored != expected:
            problems.append(f"{stored} events stored, the file holds {expected}")
        problems += [f"final: {p}" for p in soak.log_problems()]
        verify_rc, verify_line = soak.verify()
        if verify_rc != 0:
            problems.append(f"audit verify exited {verify_rc}: {verify_line}")
        before = soak.ticket_rows()
        soak.tenant.events.rebuild()
        rebuilt = soak.ticket_rows() == before
        if not rebuilt:
            problems.append("rebuild gave a different ticket table")
        integrity = soak.integrity()
        if integrity not in ("ok", "n/a (PostgreSQL)"):
            problems.append(f"integrity_check: {integrity}")
        soak.ws.close()
        return {
            "input": str(path if args.rows is None else f"{path.name} ({args.rows} rows)"),
            "format": fmt, "backend": "postgresql" if args.database_url else "sqlite",
            "cycles": args.cycles, "killed": outcomes.count("killed"),
            "finished_before_kill": outcomes.count("finished"), "expected_events": expected,
            "stored_events": stored, "final_report": json.loads(out) if out.strip() else None,
            "audit_verify": verify_line, "rebuild_equal": rebuilt, "integrity_check": integrity,
            "seconds": round(time.perf_counter() - started, 1), "problems": problems,
            "ok": not problems,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--rows", type=int, default=None,
                        help="keep the first ROWS rows of the incident log (default: all)")
    parser.add_argument("--generate", action="store_true", help="a generated file, not the log")
    parser.add_argument("--batch-size", type=int, default=500,
                        help="records per transaction, so kills land between and inside batches")
    parser.add_argument("--max-delay", type=float, default=3.0,
                        help="seconds after the first commit within which the kill falls")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--json", action="store_true")
    result = run(parser.parse_args(argv))
    if parser.parse_args(argv).json:
        print(json.dumps(result, indent=2, default=str))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
