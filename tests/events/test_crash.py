"""The crash soak, short: ``kill -9`` during ingestion loses and duplicates nothing (bench/crash.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "crash.py"


def test_kill_9_during_ingestion_loses_and_duplicates_nothing(database_url: str | None) -> None:
    cmd = [sys.executable, str(BENCH), "--cycles", "2", "--rows", "300", "--generate",
           "--batch-size", "40", "--max-delay", "1.0", "--json"]
    if database_url:
        cmd += ["--database-url", database_url]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    summary = json.loads(result.stdout)
    assert result.returncode == 0 and summary["ok"], summary["problems"]
    assert summary["stored_events"] == summary["expected_events"] == 900
    assert summary["killed"] + summary["finished_before_kill"] == 2
    assert summary["rebuild_equal"] and summary["audit_verify"]
    if database_url is None:
        assert summary["integrity_check"] == "ok"
