"""Erasure reaches dataset snapshots at once: the subject's rows leave the Parquet files."""

from __future__ import annotations

from pathlib import Path

from supportops import Tenant
from supportops.datasets.snapshots import create_snapshot, get_snapshot, list_snapshots
from tests.helpers import event, write_jsonl


def test_erasure_drops_subject_rows_from_snapshot_files(tenant: Tenant, backend: str,
                                                       tmp_path: Path) -> None:
    lines = [event("ticket.created", f"{who}-{i}", "2024-01-01T00:00:00Z", subject=f"cust-{who}",
                   text=f"zq-marker-{who}-{i} printer jam", category="printer")
             for who in ("ann", "bob") for i in range(2)]
    tenant.ingest(write_jsonl(tmp_path / "e.jsonl", lines), format="jsonl")
    snap = create_snapshot(tenant.workspace.db, tenant.ctx, tenant.workspace.artifacts, "s",
                           require="category")
    assert snap.row_count == 4

    tenant.privacy.erase("cust-ann")

    after = get_snapshot(tenant.workspace.db, tenant.ctx, snap.id)
    assert after.state == "redacted" and after.row_count == 2
    assert after.digest == snap.digest  # what models were trained on stays named
    assert after.exclusions["erased_rows"] == 2
    assert {r["ticket_id"] for r in after.read().to_pylist()} == {"bob-0", "bob-1"}
    texts = " ".join(r["text"] for r in after.read().to_pylist())
    assert "zq-marker-ann" not in texts and "zq-marker-bob-0" in texts
    if backend == "sqlite":  # the database file and its WAL hold none of it either
        db_files = [p for p in tenant.workspace.path.glob("supportops.db*") if p.is_file()]
        assert db_files and all(b"zq-marker-ann" not in p.read_bytes() for p in db_files)
    assert [s.state for s in list_snapshots(tenant.workspace.db, tenant.ctx)] == ["redacted"]
