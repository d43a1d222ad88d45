"""The ticket projection: fold semantics by hand, and rebuild reaches the same rows."""

from __future__ import annotations

from pathlib import Path

from supportops import Tenant
from tests.helpers import event, write_jsonl


def _lifecycle(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "life.jsonl", [
        event("ticket.created", "T-1", "2024-03-01T08:00:00Z", text="help", priority="normal",
              channel="email"),
        event("ticket.assigned", "T-1", "2024-03-01T08:05:00Z", group="L1"),
        event("message.added", "T-1", "2024-03-01T08:10:00Z", author="agent",
              visibility="internal", text="note to self"),
        event("ticket.assigned", "T-1", "2024-03-01T09:00:00Z", group="L2", assignee="bo"),
        event("message.added", "T-1", "2024-03-01T09:30:00Z", author="agent", text="fixed?"),
        event("ticket.assigned", "T-1", "2024-03-01T10:00:00Z", group="L1"),
        event("ticket.priority_changed", "T-1", "2024-03-01T10:01:00Z", priority="high"),
        event("ticket.categorized", "T-1", "2024-03-01T10:02:00Z", category="login",
              model="triage", model_version="3", confidence=0.93),
        event("ticket.resolved", "T-1", "2024-03-01T12:00:00Z", resolution="reset"),
        event("ticket.reopened", "T-1", "2024-03-02T08:00:00Z", reason="again"),
        event("ticket.resolved", "T-1", "2024-03-02T09:00:00Z"),
        event("ticket.closed", "T-1", "2024-03-05T09:00:00Z"),
        event("satisfaction.rated", "T-1", "2024-03-05T10:00:00Z", score=4),
        event("ticket.created", "T-2", "2024-03-02T08:00:00Z", subject="cust-2", text="other"),
        event("kb_article.published", None, "2024-03-02T08:00:00Z", subject=None,
              article_id="kb-1", title="Reset", body="Click reset."),
    ])


def test_fold_by_hand(plain_tenant: Tenant, tmp_path: Path) -> None:
    assert plain_tenant.ingest(_lifecycle(tmp_path), format="jsonl").accepted == 15
    t = plain_tenant.tickets.get("T-1")
    assert t["status"] == "closed"
    assert t["group"] == "L1" and t["assignee"] == "bo"
    assert t["reassignment_count"] == 2  # L1 -> L2 -> L1
    assert t["reopen_count"] == 1
    assert t["priority"] == "high" and t["category"] == "login" and t["channel"] == "email"
    assert t["opened_at"].startswith("2024-03-01T08:00")
    assert t["first_response_at"].startswith("2024-03-01T09:30")  # internal note is no reply
    assert t["resolved_at"].startswith("2024-03-02T09:00")
    assert t["closed_at"].startswith("2024-03-05T09:00")
    assert t["satisfaction"] == 4
    assert t["subject"] == "cust-1"
    assert plain_tenant.tickets.count() == 2
    assert plain_tenant.tickets.count(status="closed") == 1


def test_rebuild_reaches_identical_state(tenant: Tenant, tmp_path: Path) -> None:
    tenant.ingest(_lifecycle(tmp_path), format="jsonl", batch_size=3)
    before = tenant.tickets.all_rows()
    assert tenant.events.rebuild() == 2
    assert tenant.tickets.all_rows() == before


def test_events_tail_is_ordered(tenant: Tenant, tmp_path: Path) -> None:
    tenant.ingest(_lifecycle(tmp_path), format="jsonl")
    tail = tenant.events.tail(3)
    assert [e.seq for e in tail] == [13, 14, 15]
    assert tail[-1].type == "kb_article.published"
    assert len({e.hash for e in tenant.events.tail(100)}) == 15
