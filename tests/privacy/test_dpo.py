"""What a data-protection officer also asks for: subject-access export, master key rotation."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from supportops import ConfigError, PermissionDenied, Workspace
from supportops.cli.main import app
from supportops.privacy import rotation
from supportops.privacy.keys import KEY_FILE, LocalKeyProvider, master_key
from supportops.privacy.tables import tenant_keys, vault
from tests.helpers import event, write_jsonl

PEOPLE = {
    "cust-1": ("Ann Quartzfield", "ann.quartzfield@example.org"),
    "cust-2": ("Bob Zebrawski", "bob.zebrawski@example.net"),
}


@pytest.fixture
def filled(workspace: Workspace, tmp_path: Path) -> Workspace:
    """Tenants acme and beta, each with two customers' tickets; an agent ``alice`` in acme."""
    for tid in ("acme", "beta"):
        workspace.create_tenant(tid)
        lines = []
        for cust, (name, email) in PEOPLE.items():
            lines += [
                event("ticket.created", f"{cust}-T", "2024-01-01T00:00:00Z", subject=cust,
                      customer={"name": name, "email": email}, priority="high",
                      text=f"Hello, this is {name}; mail me at {email}"),
                event("ticket.status_changed", f"{cust}-T", "2024-01-02T00:00:00Z",
                      subject=cust, status="resolved"),
            ]
        report = workspace.tenant(tid).ingest(write_jsonl(tmp_path / f"{tid}.jsonl", lines))
        assert report.rejected == 0
    workspace.tenant("acme").principals.create("alice", "agent", "person")
    workspace.tenant("acme").principals.create("ann", "analyst", "person")
    return workspace


def _env(ws: Workspace) -> dict[str, str]:
    env = {"SUPPORTOPS_WORKSPACE": str(ws.path)}
    if ws.db.is_postgres:
        env["SUPPORTOPS_DATABASE_URL"] = ws.db.url
    return env


# -- subject-access export ------------------------------------------------------------------


def test_export_holds_the_subjects_records_revealed_and_nothing_else(
        filled: Workspace, tmp_path: Path) -> None:
    alice = filled.tenant("acme", principal="alice")
    out = tmp_path / "export" / "cust-1.json"
    summary = alice.privacy.export("cust-1", out)
    assert (summary["events"], summary["tickets"]) == (2, 1)
    assert out.stat().st_mode & 0o077 == 0
    document = json.loads(out.read_text())
    text = out.read_text()
    assert "ann.quartzfield@example.org" in text and "Ann Quartzfield" in text
    assert "Zebrawski" not in text and "zebrawski" not in text
    assert document["subject"] == {"id": "cust-1", "token": summary["subject"]}
    assert [e["type"] for e in document["events"]] == ["ticket.created",
                                                      "ticket.status_changed"]
    assert document["events"][0]["payload"]["customer"]["email"] == "ann.quartzfield@example.org"
    assert document["tickets"][0]["ticket_id"] == "cust-1-T"
    exported = [e for e in filled.tenant("acme").audit.list() if e.action == "privacy.export"]
    ref = filled.tenant("acme").privacy.subject_ref(summary["subject"])
    assert len(exported) == 1 and exported[0].subject == ref  # keyed, never the token
    assert "quartzfield" not in json.dumps(exported[0].details).lower()


def test_export_is_refused_to_roles_that_may_not_reveal(filled: Workspace,
                                                        tmp_path: Path) -> None:
    analyst = filled.tenant("acme", principal="ann")
    with pytest.raises(PermissionDenied, match="may not export"):
        analyst.privacy.export("cust-1", tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()
    owner = filled.tenant("acme")
    assert [e.action for e in owner.audit.list()].count("privacy.export.denied") == 1


def test_export_from_the_cli(filled: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "c2.json"
    result = CliRunner().invoke(app, ["privacy", "export", "cust-2", "--tenant", "acme", "--as",
                                      "alice", "--out", str(out), "--json"], env=_env(filled))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["events"] == 2
    assert "bob.zebrawski@example.net" in out.read_text()


# -- master key rotation --------------------------------------------------------------------


def _keys_and_vault(ws: Workspace) -> tuple[dict[str, bytes], dict[str, list[bytes]]]:
    wrapped, sealed = {}, {}
    for tid in ("acme", "beta"):
        with ws.db.begin(tid) as conn:
            wrapped[tid] = conn.execute(select(tenant_keys.c.wrapped_key)
                                        .where(tenant_keys.c.tenant_id == tid)).scalar_one()
            sealed[tid] = list(conn.execute(select(vault.c.ciphertext)
                                            .where(vault.c.tenant_id == tid)
                                            .order_by(vault.c.subject, vault.c.token)).scalars())
    return wrapped, sealed


def test_master_rotation_rewraps_tenant_keys_only(filled: Workspace) -> None:
    acme = filled.tenant("acme")
    token = acme.privacy.subject_token("cust-1")
    old_master = master_key(filled.path)
    wrapped, sealed = _keys_and_vault(filled)
    result = CliRunner().invoke(app, ["keys", "rotate", "--master", "--json"], env=_env(filled))
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.output)["rewrapped"] == 2
    new_wrapped, new_sealed = _keys_and_vault(filled)
    assert new_sealed == sealed  # content is not re-encrypted
    assert all(new_wrapped[t] != wrapped[t] for t in wrapped)
    assert master_key(filled.path) != old_master
    assert not rotation._next_path(filled.path).exists()
    with pytest.raises(ConfigError, match="cannot be unwrapped"):
        LocalKeyProvider(old_master).unwrap("acme", new_wrapped["acme"])
    assert acme.privacy.subject_token("cust-1") == token  # tokens stay stable
    revealed = filled.tenant("acme", principal="alice").privacy.reveal("cust-1-T")
    assert revealed["events"][0]["payload"]["customer"]["email"] == "ann.quartzfield@example.org"
    assert [e.action for e in acme.audit.list()].count("key.rotate") == 1
    assert acme.audit.verify().ok


def test_an_interrupted_rotation_is_finished_by_running_it_again(filled: Workspace) -> None:
    old = LocalKeyProvider(master_key(filled.path))
    new = LocalKeyProvider(rotation._new_key(filled.path, from_env=False))
    rotation._rewrap(filled.db, old, new, filled.audit_sealer)  # committed; the process dies before the rename
    assert (filled.path / KEY_FILE).read_bytes() != rotation._next_path(filled.path).read_bytes()
    filled.rotate_master_key()
    revealed = filled.tenant("acme", principal="alice").privacy.reveal("cust-2-T")
    assert revealed["events"][0]["payload"]["customer"]["name"] == "Bob Zebrawski"


def test_rotation_with_an_environment_key_needs_the_new_one(
        filled: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTOPS_MASTER_KEY", "A" * 43 + "=")
    with pytest.raises(ConfigError, match="SUPPORTOPS_NEW_MASTER_KEY"):
        filled.rotate_master_key()
