"""Concurrent ingests into one tenant: both succeed, the later one counts duplicates, totals are
right, and nothing (no traceback, no payload) reaches stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from supportops import Workspace
from tests.helpers import event, write_jsonl

EXE = str(Path(sys.executable).with_name("supportops"))
SECRET = "zebra-umbrella"


def _file(tmp_path: Path, n: int) -> Path:
    return write_jsonl(tmp_path / "same.jsonl", [
        event("ticket.created", f"T-{i}", "2024-05-01T09:00:00Z", subject=f"cust-{i % 17}",
              text=f"ticket {i}: {SECRET} printer jammed") for i in range(n)
    ])


def test_two_cli_ingests_of_one_file_at_once(
    workspace: Workspace, database_url: str | None, tmp_path: Path
) -> None:
    workspace.create_tenant("acme")  # no tenant key yet: both processes race to create it
    n = 300
    path = _file(tmp_path, n)
    env = {**os.environ, "SUPPORTOPS_WORKSPACE": str(workspace.path)}
    if database_url:
        env["SUPPORTOPS_DATABASE_URL"] = database_url
    cmd = [EXE, "ingest", str(path), "--format", "jsonl", "--tenant", "acme", "--json"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for proc, (_, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err and SECRET not in err and "Error" not in err
    reports = [json.loads(out) for out, _ in outs]
    assert sum(r["accepted"] for r in reports) == n
    assert sum(r["duplicates"] for r in reports) == n
    assert all(r["rejected"] == 0 for r in reports)
    tenant = workspace.tenant("acme")
    assert tenant.events.count() == n
    assert tenant.tickets.count() == n


def test_two_ingests_in_small_batches_race_on_every_batch(
    workspace: Workspace, database_url: str | None, tmp_path: Path
) -> None:
    """Two handles (own engines), started together, batches of 7: they collide on idempotency
    keys over and over; each collision is retried with the other's records as duplicates."""
    workspace.privacy_factory = None
    workspace.create_tenant("plain")
    n = 700
    path = _file(tmp_path, n)
    start = threading.Barrier(2)
    reports: list[tuple[int, int, int]] = []
    failures: list[BaseException] = []

    def run() -> None:
        ws = Workspace.open(workspace.path, database_url)
        ws.privacy_factory = None
        try:
            start.wait()
            r = ws.tenant("plain").ingest(path, format="jsonl", batch_size=7)
            reports.append((r.accepted, r.duplicates, r.rejected))
        except BaseException as err:  # reported below, with the other thread's outcome
            failures.append(err)
        finally:
            ws.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not failures, failures
    assert sum(a for a, _, _ in reports) == n and sum(d for _, d, _ in reports) == n
    assert all(rejected == 0 for _, _, rejected in reports)
    assert workspace.tenant("plain").events.count() == n
