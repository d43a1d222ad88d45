"""The CLI faces: the report's JSON contract, charts on disk, SLA commands."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from supportops import Tenant
from supportops.cli.main import app

from .helpers import ingest_events, small_log


@pytest.fixture
def ws_path(tenant: Tenant, tmp_path: Path) -> str:
    if tenant.workspace.db.is_postgres:
        pytest.skip("the CLI opens the workspace by folder; covered on SQLite")
    ingest_events(tenant, tmp_path / "small.jsonl", small_log())
    return str(tenant.workspace.path)


def _run(*args: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)  # type: ignore[no-any-return]


def test_report_json_contract(ws_path: str) -> None:
    data = _run("analytics", "report", "--tenant", "acme", "-w", ws_path, "--by", "group",
                "--json")
    assert data["tickets"] == 4
    stats = data["resolution_hours"]["overall"]
    assert set(stats) == {"count", "median", "p90", "mean"}
    assert set(data["resolution_hours"]["by_priority"]) == {"P1", "P2"}
    assert data["reopen_rate"] == 0.25
    assert data["reassignments"]["distribution"] == {"0": 3, "2": 1}
    for key in ("backlog", "top_groups", "ping_pong", "process", "breakdowns", "sentiment"):
        assert key in data
    windowed = _run("analytics", "report", "--tenant", "acme", "-w", ws_path,
                    "--from", "2024-01-05", "--to", "2024-02-01", "--json")
    assert windowed["tickets"] == 2


def test_report_charts(ws_path: str, tmp_path: Path) -> None:
    out = tmp_path / "charts"
    data = _run("analytics", "report", "--tenant", "acme", "-w", ws_path, "--out", str(out),
                "--json")
    files = {Path(p).name for p in data["charts"]}
    assert {"resolution_by_priority.png", "backlog.png", "report.html"} <= files
    page = (out / "report.html").read_text()
    assert "backlog.png" in page and (out / "backlog.png").stat().st_size > 1000


def test_sla_commands(ws_path: str) -> None:
    _run("analytics", "sla", "set", "P1", "--resolution-hours", "8", "--tenant", "acme",
         "-w", ws_path, "--json")
    listed = _run("analytics", "sla", "list", "--tenant", "acme", "-w", ws_path, "--json")
    assert listed["data"] == [{"priority": "P1", "first_response_hours": None,
                               "resolution_hours": 8.0}]
    data = _run("analytics", "report", "--tenant", "acme", "-w", ws_path, "--json")
    assert data["sla"]["resolution"]["overall"]["breached"] == 2
    removed = _run("analytics", "sla", "remove", "P1", "--tenant", "acme", "-w", ws_path,
                   "--json")
    assert removed == {"removed": True}
    assert _run("analytics", "sla", "list", "--tenant", "acme", "-w", ws_path,
                "--json")["data"] == []
    assert _run("analytics", "sla", "remove", "P1", "--tenant", "acme", "-w", ws_path,
                "--json") == {"removed": False}


def test_clusters_command(ws_path: str) -> None:
    """Through ``Tenant.analytics``: the tenant's four ticket texts in two clusters."""
    data = _run("analytics", "clusters", "--tenant", "acme", "-w", ws_path, "--k", "2",
                "--json")
    assert (data["texts"], data["k"], data["tenant"]) == (4, 2, "acme")
    assert sum(c["size"] for c in data["clusters"]) == 4


def test_help_has_examples() -> None:
    for cmd in (["report"], ["clusters"], ["sla", "set"], ["sla", "list"], ["sla", "remove"]):
        result = CliRunner().invoke(app, ["analytics", *cmd, "--help"])
        assert result.exit_code == 0 and "Example: supportops analytics" in result.output
