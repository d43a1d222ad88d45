"""The CLI as a user meets it: real processes, JSON contracts, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from supportops.cli.main import app
from tests.helpers import event, write_jsonl

EXE = str(Path(sys.executable).with_name("supportops"))


def run(*args: str, workspace: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUPPORTOPS_WORKSPACE": str(workspace)}
    env.pop("SUPPORTOPS_TENANT", None)
    result = subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_ingest_count_and_tail_contract(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run("init", workspace=ws)
    run("tenants", "create", "acme", workspace=ws)
    path = write_jsonl(tmp_path / "e.jsonl", [
        event("ticket.created", "T-1", "2024-01-01T00:00:00Z", text="hello"),
        "{oops",
    ])
    out = json.loads(run("ingest", str(path), "--format", "jsonl", "--tenant", "acme", "--json",
                         workspace=ws).stdout)
    assert out == {"accepted": 1, "duplicates": 0, "rejected": 1,
                   "errors": [{"record": 2, "field": "record", "message": out["errors"][0]["message"]}]}
    again = json.loads(run("ingest", str(path), "--tenant", "acme", "--json", workspace=ws).stdout)
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    assert json.loads(run("tickets", "count", "--tenant", "acme", "--json",
                          workspace=ws).stdout) == {"count": 1}
    tail = json.loads(run("events", "tail", "--tenant", "acme", "--json", workspace=ws).stdout)
    assert tail["count"] == 1 and tail["data"][0]["type"] == "ticket.created"
    shown = json.loads(run("tickets", "show", "T-1", "--tenant", "acme", "--json",
                           workspace=ws).stdout)
    assert shown["ticket_id"] == "T-1" and len(shown["events"]) == 1
    rebuilt = json.loads(run("rebuild", "--tenant", "acme", "--json", workspace=ws).stdout)
    assert rebuilt == {"tickets": 1}


def test_init_json_names_the_workspace_and_its_database(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    out = json.loads(run("init", "--json", workspace=ws).stdout)
    assert out == {"workspace": str(ws), "database": f"sqlite:///{ws / 'supportops.db'}",
                   "backend": "sqlite"}


def test_strict_failure_exits_nonzero_with_one_line(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run("init", workspace=ws)
    run("tenants", "create", "acme", workspace=ws)
    path = write_jsonl(tmp_path / "e.jsonl", [event("ticket.created", "T-1",
                                                    "2024-01-01T00:00:00Z"), "{oops"])
    result = run("ingest", str(path), "--tenant", "acme", "--strict", workspace=ws, check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "record 2" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [
    ("tickets", "count", "--tenant", "ghost"),
    ("ingest", "/no/such/file.csv", "--format", "csv", "--tenant", "acme"),
    ("ingest", "x", "--format", "xml", "--tenant", "acme"),
    ("tenants", "create", "Bad Id!"),
    ("principals", "create", "p", "--role", "king", "--tenant", "acme"),
    ("pii", "detect", "--file", "/no/such/texts.jsonl", "--json"),
])
def test_user_errors_are_one_clear_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    ws = tmp_path / "ws"
    run("init", workspace=ws)
    run("tenants", "create", "acme", workspace=ws)
    result = run(*args, workspace=ws, check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("Error")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [("tickets", "count"), ("no-such-command",),
                                  ("ingest", "--tenant", "acme")])
def test_usage_errors_exit_2_without_a_traceback(tmp_path: Path, args: tuple[str, ...]) -> None:
    ws = tmp_path / "ws"
    run("init", workspace=ws)
    result = run(*args, workspace=ws, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.strip()


def test_missing_workspace_says_what_to_do(tmp_path: Path) -> None:
    result = run("tenants", "list", workspace=tmp_path / "none", check=False)
    assert result.returncode == 2 and "supportops init" in result.stderr


def test_principal_key_is_printed_once_and_stored_hashed(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run("init", workspace=ws)
    run("tenants", "create", "acme", workspace=ws)
    created = json.loads(run("principals", "create", "bot", "--role", "agent", "--tenant", "acme",
                             "--json", workspace=ws).stdout)
    key = created["api_key"]
    assert key.startswith("so_acme_")
    listed = run("principals", "list", "--tenant", "acme", "--json", workspace=ws).stdout
    assert key not in listed and json.loads(listed)["count"] == 1
    assert key.encode() not in b"".join(p.read_bytes() for p in ws.rglob("*") if p.is_file())


def _commands(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):  # a command group
            out.extend(_commands(cmd, f"{prefix}{name} "))
        else:
            out.append((prefix + name, cmd))
    return out


def test_every_command_has_help_with_an_example() -> None:
    commands = _commands(typer.main.get_group(app))
    assert len(commands) >= 10
    missing = [name for name, cmd in commands if "Example:" not in (cmd.help or "")]
    assert not missing, f"commands without an example in their help: {missing}"


def test_demo_runs_on_a_fresh_workspace(tmp_path: Path) -> None:
    out = json.loads(run("demo", "--tickets", "40", "--json", "--no-serve", workspace=tmp_path / "d").stdout)
    assert out["tickets"] == 40 and out["ingest"]["rejected"] == 0
