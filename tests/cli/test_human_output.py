"""What people read: ``monitor status`` and friends print tables, not Python dicts, while
``--json`` stays the library's result."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from supportops import Tenant
from supportops.cli.main import app
from tests.helpers import write_jsonl

WORDS = {
    "billing": ["invoice", "charged twice", "refund", "payment failed", "billing address"],
    "access": ["password reset", "cannot log in", "account locked", "two factor", "sign in"],
    "network": ["vpn drops", "wifi slow", "no internet", "proxy error", "dns lookup"],
}
OPENERS = ["", "hello, ", "urgent: ", "please help, ", "hi team, ", "good morning, "]


def _train_file(path: Path) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "category"])
        writer.writerows((f"{o}{w} issue since monday", label)
                         for label, words in WORDS.items() for o in OPENERS for w in words)
    return path


def test_monitor_status_is_tables_for_people_and_the_result_for_scripts(
        tenant: Tenant, tmp_path: Path) -> None:
    ws = tenant.workspace
    env = {"SUPPORTOPS_WORKSPACE": str(ws.path), "SUPPORTOPS_TENANT": "acme"}
    if ws.db.is_postgres:
        env["SUPPORTOPS_DATABASE_URL"] = ws.db.url

    def cli(*args: str) -> str:
        done = CliRunner().invoke(app, list(args), env=env)
        assert done.exit_code == 0, done.output
        return done.stdout

    cli("train", "triage", "--data", str(_train_file(tmp_path / "desk.csv")), "--format",
        "banking77", "--target", "category", "--name", "desk", "--encoder", "none")
    texts = write_jsonl(tmp_path / "new.jsonl", [{"id": i, "text": f"{w} again"} for i, w in
                                                 enumerate(("refund", "vpn drops", "sign in"))])
    assert len(cli("predict", "triage", "--name", "desk", "--file", str(texts),
                   "--json").splitlines()) == 3

    human = cli("monitor", "status")
    assert "desk: live figures per version" in human and "Alarm thresholds" in human
    assert "{" not in human  # no printed Python dict
    status = json.loads(cli("monitor", "status", "--json"))
    assert set(status) == {"models", "thresholds", "assistant"}
    (model,) = status["models"]
    assert (model["model"], model["champion"]) == ("desk", "1")
    assert model["versions"]["1"]["served"] == 3, status
    listed = cli("models", "list")
    assert "desk" in listed and "champion" in listed and "{" not in listed
