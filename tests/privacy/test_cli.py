"""The privacy, audit and lineage commands: thin faces over the library, JSON contracts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from supportops import PermissionDenied, Tenant, ValidationFailed, Workspace
from supportops.cli.main import app
from supportops.governance import lineage

from .conftest import PiiData

Cli = Callable[..., Result]


@pytest.fixture
def cli(workspace: Workspace) -> Cli:
    env = {"SUPPORTOPS_WORKSPACE": str(workspace.path), "SUPPORTOPS_TENANT": "acme"}
    if workspace.db.is_postgres:
        env["SUPPORTOPS_DATABASE_URL"] = workspace.db.url

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, list(args), env=env)

    return invoke


def _json(result: Result) -> dict[str, object]:
    assert result.exit_code == 0, (result.output, result.exception)
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_reveal_as_agent_and_refused_for_analyst(cli: Cli, agent: Tenant,
                                                 ingested: PiiData) -> None:
    customer = ingested.customers[0]
    data = _json(cli("pii", "reveal", customer.tickets[0], "--as", "alice", "--json"))
    assert customer.email in json.dumps(data)
    assert _json(cli("principals", "create", "bob", "--role", "analyst", "--kind", "person",
                     "--json"))["role"] == "analyst"
    refused = cli("pii", "reveal", customer.tickets[0], "--as", "bob")
    assert isinstance(refused.exception, PermissionDenied)
    audit = _json(cli("audit", "list", "--action", "pii.*", "--json"))
    assert [e["action"] for e in audit["data"]] == ["pii.reveal", "pii.reveal.denied"]


def test_erase_then_report_and_lineage(cli: Cli, tenant: Tenant, ingested: PiiData) -> None:
    customer = ingested.customers[0]
    token = tenant.privacy.subject_token(customer.customer_id)
    with tenant.workspace.db.begin("acme") as conn:
        lineage.record_snapshot(conn, tenant.ctx, "snap-1", "sha256:aa", 24, {token})
        lineage.record_model(conn, tenant.ctx, "triage", "1", "snap-1")
    before = _json(cli("lineage", "--subject", customer.customer_id, "--json"))
    assert [s["id"] for s in before["snapshots"]] == ["snap-1"]  # type: ignore[index]
    report = _json(cli("privacy", "erase", customer.customer_id, "--json"))
    assert list(report) == ["subject", "events_redacted", "vault_entries_deleted", "snapshots",
                            "models", "pending", "completed_at"]
    assert report["models"] == ["triage@1"] and report["events_redacted"] == 4
    assert _json(cli("privacy", "report", customer.customer_id, "--json")) == report
    model = _json(cli("lineage", "--model", "triage@1", "--json"))
    assert model["contains_erased_data"] is True
    assert _json(cli("lineage", "--snapshot", "snap-1", "--json"))["state"] == "rebuild"
    assert isinstance(cli("lineage", "--json").exception, ValidationFailed)
    assert cli("audit", "verify").exit_code == 0


def test_opt_out_and_retention_commands(cli: Cli, tenant: Tenant, ingested: PiiData) -> None:
    subject = ingested.customers[1].customer_id
    out = _json(cli("privacy", "opt-out", subject, "--reason", "by e-mail", "--json"))
    listed = _json(cli("privacy", "opted-out", "--json"))
    assert listed["data"] == [out["subject"]]
    _json(cli("privacy", "opt-in", subject, "--json"))
    assert _json(cli("privacy", "opted-out", "--json"))["count"] == 0
    policy = _json(cli("privacy", "retention", "set", "--closed-ticket-days", "30", "--json"))
    assert policy["closed_ticket_pii_days"] == 30
    run = _json(cli("privacy", "enforce-retention", "--json"))
    assert run["tickets_stripped"] == 12
    assert _json(cli("privacy", "enforce-retention", "--json"))["tickets_stripped"] == 0


def test_pii_detect_keeps_the_exact_contract(cli: Cli, tmp_path: Path) -> None:
    texts = [{"id": 1, "text": "Mail jane.doe@example.com or call +44 20 7946 0958."},
             {"id": "b", "text": ""}]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(t) for t in texts) + "\n")
    result = cli("pii", "detect", "--file", str(path), "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == [1, "b"] and lines[1]["spans"] == []
    spans = lines[0]["spans"]
    assert all(set(s) == {"start", "end", "type", "score"} for s in spans)
    email = next(s for s in spans if s["type"] == "EMAIL_ADDRESS")
    assert texts[0]["text"][email["start"] : email["end"]] == "jane.doe@example.com"  # type: ignore[index]


@pytest.mark.parametrize("group", ["pii", "privacy", "privacy retention", "audit"])
def test_every_command_has_help_with_an_example(group: str, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("help does not touch the database")
    import typer.main

    command = typer.main.get_command(app)
    for name in group.split():
        command = command.commands[name]  # type: ignore[attr-defined]
    for sub in command.commands.values():  # type: ignore[attr-defined]
        if hasattr(sub, "commands"):
            continue
        assert "Example: supportops" in (sub.help or ""), sub.name
    lineage_help = typer.main.get_command(app).commands["lineage"].help  # type: ignore[attr-defined]
    assert "Example: supportops lineage" in (lineage_help or "")
