"""Tenant key rotation (``supportops keys rotate --tenant T``): subject keys re-wrapped under a
fresh key-encryption key, content untouched and still readable, erasure still shreds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from supportops import PermissionDenied, Tenant, Workspace
from supportops.cli.main import app
from supportops.privacy.keys import open_sealed, subject_kek, subject_key_aad
from supportops.privacy.tables import subject_keys, tenant_keys, vault
from supportops.storage.schema import events
from tests.helpers import event, write_jsonl

from .conftest import PiiData, Scan, make_csv


def _state(tenant: Tenant) -> dict[str, Any]:
    """Wrapped keys, vault ciphertexts and stored payloads, as bytes at rest."""
    with tenant.workspace.db.begin(tenant.id) as conn:
        return {
            "tenant_key": conn.execute(select(tenant_keys.c.wrapped_key).where(
                tenant_keys.c.tenant_id == tenant.id)).scalar_one(),
            "subject_keys": dict(conn.execute(select(
                subject_keys.c.subject, subject_keys.c.wrapped_key).where(
                subject_keys.c.tenant_id == tenant.id)).tuples().all()),
            "vault": list(conn.execute(select(vault.c.ciphertext).where(
                vault.c.tenant_id == tenant.id).order_by(vault.c.token)).scalars()),
            "payloads": list(conn.execute(select(events.c.payload).where(
                events.c.tenant_id == tenant.id).order_by(events.c.seq)).scalars()),
        }


def _rotate(ws: Workspace, *args: str) -> dict[str, Any]:
    env = {"SUPPORTOPS_WORKSPACE": str(ws.path)}
    if ws.db.is_postgres:
        env["SUPPORTOPS_DATABASE_URL"] = ws.db.url
    result = CliRunner().invoke(app, ["keys", "rotate", *args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = orjson.loads(result.output)
    return out


def test_rotation_rewraps_subject_keys_and_keeps_content(
        workspace: Workspace, tenant: Tenant, agent: Tenant, ingested: PiiData,
        tmp_path: Path, scan: Scan) -> None:
    first, second = ingested.customers[0], ingested.customers[1]
    token = tenant.privacy.subject_token(first.customer_id)
    before = _state(tenant)
    with workspace.db.begin(tenant.id) as conn:
        old_key = tenant.privacy.room.provider.unwrap(tenant.id, conn.execute(select(
            tenant_keys.c.wrapped_key)).scalar_one())

    done = _rotate(workspace, "--tenant", "acme")

    after = _state(tenant)
    assert done["subject_keys_rewrapped"] == len(before["subject_keys"]) > 0
    assert after["vault"] == before["vault"] and after["payloads"] == before["payloads"]
    assert after["tenant_key"] != before["tenant_key"]
    old_keys, new_keys = before["subject_keys"], after["subject_keys"]
    assert set(new_keys) == set(old_keys)
    for ref, wrapped in new_keys.items():  # same subject key, new wrapping
        aad = subject_key_aad(tenant.id, ref)
        assert wrapped != old_keys[ref]
        with pytest.raises(Exception):  # noqa: B017 - AES-GCM's InvalidTag
            open_sealed(subject_kek(old_key), wrapped, aad)
        assert open_sealed(subject_kek(old_key), old_keys[ref], aad) is not None
    # written before: still readable; tokens stable; reveal works
    assert tenant.privacy.subject_token(first.customer_id) == token
    text = tenant.tickets.get(first.tickets[0])["events"][0]["payload"]["text"]
    assert first.markers[0] in text
    assert tenant.tickets.list(subject=token)[0]["subject"] == token
    assert first.email in str(agent.privacy.reveal(first.tickets[0])["events"])
    # written after: under the new key, beside the old
    more = make_csv(tmp_path / "more.csv", n_customers=2, tickets_each=1, seed=11)
    assert tenant.ingest(more.path, "csv").rejected == 0
    assert more.customers[0].markers[0] in str(tenant.tickets.get(more.customers[0].tickets[0]))
    # erasure still shreds content written before the rotation
    tenant.privacy.erase(first.customer_id)
    assert scan(first.values() + first.markers) == []
    assert second.markers[0] in str(tenant.tickets.get(second.tickets[0]))
    (entry,) = tenant.audit.list(action="key.rotate")
    assert entry.details == {"key": "tenant", "rewrapped": "subject",
                             "subject_keys": done["subject_keys_rewrapped"]}
    assert tenant.audit.verify().ok


def test_rotating_twice_and_other_tenants(workspace: Workspace, tenant: Tenant,
                                          ingested: PiiData, tmp_path: Path) -> None:
    workspace.create_tenant("beta")
    beta = workspace.tenant("beta")
    beta.ingest(write_jsonl(tmp_path / "b.jsonl", [event(
        "ticket.created", "B-1", "2024-01-01T00:00:00Z", subject="cust-b",
        text="beta's own words about quokka-lattice")]), "jsonl")
    beta_keys = _state(beta)["subject_keys"]
    tenant.privacy.rotate_key()
    tenant.privacy.rotate_key()  # the wrapping half is drawn again; content still reads
    customer = ingested.customers[2]
    assert customer.markers[0] in str(tenant.tickets.get(customer.tickets[0]))
    assert _state(beta)["subject_keys"] == beta_keys  # one tenant's rotation is its own
    assert "quokka-lattice" in str(beta.tickets.get("B-1"))


def test_only_an_admin_rotates(agent: Tenant) -> None:
    with pytest.raises(PermissionDenied):
        agent.privacy.rotate_key()


def test_say_what_to_rotate(workspace: Workspace) -> None:
    result = CliRunner().invoke(app, ["keys", "rotate", "--master", "--tenant", "acme"],
                                env={"SUPPORTOPS_WORKSPACE": str(workspace.path)})
    assert result.exit_code == 2 and "one of them" in result.output
