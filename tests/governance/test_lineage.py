"""Lineage: snapshot -> model -> deployment edges, queries, and erasure's flags."""

from __future__ import annotations

import pytest

from supportops import NotFound, Tenant
from supportops.governance import lineage


@pytest.fixture
def graph(tenant: Tenant) -> Tenant:
    ctx = tenant.ctx
    with tenant.workspace.db.begin("acme") as conn:
        lineage.record_snapshot(conn, ctx, "snap-1", "sha256:aa", 100, ["<CUSTOMER_a>",
                                "<CUSTOMER_b>"], excluded=["<CUSTOMER_c>"], first_seq=1)
        lineage.record_snapshot(conn, ctx, "snap-2", "sha256:bb", 200, ["<CUSTOMER_b>"])
        lineage.record_model(conn, ctx, "triage", "1", "snap-1")
        lineage.record_model(conn, ctx, "triage", "2", "snap-2")
        lineage.record_deployment(conn, ctx, "triage", "1", "champion")
        lineage.record_deployment(conn, ctx, "triage", "1", "champion")  # redeploy: no error
    return tenant


def test_queries_follow_the_edges(graph: Tenant) -> None:
    by_subject = graph.lineage.subject("<CUSTOMER_b>")
    assert [s["id"] for s in by_subject["snapshots"]] == ["snap-1", "snap-2"]
    assert [m["model"] for m in by_subject["models"]] == ["triage@1", "triage@2"]
    snap = graph.lineage.snapshot("snap-1")
    assert snap["excluded"] == ["<CUSTOMER_c>"] and snap["subjects"] == 2
    assert snap["log_position"] == 100 and snap["models"][0]["model"] == "triage@1"
    model = graph.lineage.model("triage", "1")
    assert model["deployments"][0]["target"] == "champion"
    assert model["snapshot"]["digest"] == "sha256:aa"
    with pytest.raises(NotFound, match="triage@9"):
        graph.lineage.model("triage", "9")


def test_flagging_schedules_work_once(graph: Tenant) -> None:
    ctx = graph.ctx
    with graph.workspace.db.begin("acme") as conn:
        first = lineage.flag_subject(conn, ctx, "<CUSTOMER_a>", "erasure")
        again = lineage.flag_subject(conn, ctx, "<CUSTOMER_a>", "erasure")
    assert first.snapshots == ["snap-1"] and first.models == ["triage@1"]
    assert [p["id"] for p in again.pending] == [p["id"] for p in first.pending]
    open_work = graph.lineage.pending()
    assert {(p["action"], p["target"]) for p in open_work} == {
        ("rebuild_snapshot", "snap-1"), ("retrain_model", "triage@1")}
    with graph.workspace.db.begin("acme") as conn:
        for item in open_work:
            lineage.complete(conn, ctx, item["id"])
    assert graph.lineage.pending() == []
    assert graph.lineage.model("triage", "1")["contains_erased_data"] is True
    assert graph.lineage.model("triage", "2")["contains_erased_data"] is False
