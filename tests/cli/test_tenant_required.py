"""Every tenant-scoped command names its tenant, and no command makes a workspace or a tenant
on the way: a typo in --tenant is a one-line error, never a new empty tenant."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer.main

from supportops.cli.main import app
from tests.cli.test_cli import _commands

EXE = str(Path(sys.executable).with_name("supportops"))
#: The two commands whose --tenant may be left out, and why: ``demo`` makes its own tenant
#: (making one is its job); ``keys rotate`` rotates the master key or one tenant's key.
OPTIONAL_TENANT = {"demo", "keys rotate"}


def test_every_tenant_scoped_command_requires_the_tenant() -> None:
    group = typer.main.get_group(app)
    scoped = {name: param for name, cmd in _commands(group) for param in cmd.params
              if param.name == "tenant"}
    assert {"train triage", "predict triage", "models list", "monitor run",
            "assist load-kb", "triage feedback", "datasets create"} <= set(scoped)
    optional = {name for name, param in scoped.items() if not param.required}
    assert optional == OPTIONAL_TENANT
    no_env = {name for name, param in scoped.items() if name not in OPTIONAL_TENANT
              and getattr(param, "envvar", None) != "SUPPORTOPS_TENANT"}
    assert no_env == set()
    examples = {name: (cmd.help or "").split("Example:")[1:] for name, cmd in _commands(group)
                if name in scoped and name not in OPTIONAL_TENANT}
    assert {name for name, said in examples.items() if any("--tenant" not in e for e in said)
            } == set()  # a help example that runs as written


def _run(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUPPORTOPS_WORKSPACE": str(ws)}
    env.pop("SUPPORTOPS_TENANT", None)
    env.pop("SUPPORTOPS_DATABASE_URL", None)
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=120)


def _tenants(ws: Path) -> list[Any]:
    listed = _run(ws, "tenants", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return [t["id"] for t in json.loads(listed.stdout)["data"]]


def test_a_missing_tenant_option_is_a_usage_error(tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    data.write_text("text,category\nwhere is my card,card_arrival\n")
    done = _run(tmp_path / "ws", "train", "triage", "--data", str(data), "--format",
                "banking77", "--target", "category", "--name", "intents")
    assert done.returncode == 2 and "--tenant" in done.stderr
    assert not (tmp_path / "ws").exists()


UNKNOWN_TENANT = [
    ("models", "list"),
    ("monitor", "status"),
    ("datasets", "create", "--name", "weekly"),
    ("assist", "load-kb", "--file", "kb.csv", "--format", "bitext"),
    ("triage", "feedback", "T-1", "--final", "refund"),
]


def test_an_unknown_tenant_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert _run(ws, "init").returncode == 0
    for args in UNKNOWN_TENANT:
        done = _run(ws, *args, "--tenant", "acme")
        assert done.returncode == 2 and "Traceback" not in done.stderr, args
        assert done.stderr.strip().splitlines() == [
            "Error: Tenant 'acme' does not exist. Create it with 'supportops tenants create "
            "acme'."], args
    assert _tenants(ws) == []


def test_no_workspace_is_made_by_a_tenant_command(tmp_path: Path) -> None:
    done = _run(tmp_path / "none", "models", "list", "--tenant", "acme")
    assert done.returncode == 2 and "supportops init" in done.stderr
    assert not (tmp_path / "none").exists()
