"""Build small native JSONL logs for analytics tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from supportops import Tenant


def ev(kind: str, ticket: str, at: str, **payload: Any) -> dict[str, Any]:
    return {"type": kind, "ticket_id": ticket, "occurred_at": at, "payload": payload}


def ingest_events(tenant: Tenant, path: Path, events: list[dict[str, Any]]) -> None:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    report = tenant.ingest(path, format="jsonl")
    assert report.rejected == 0, report.errors


def small_log() -> list[dict[str, Any]]:
    """Four tickets whose every figure is computed by hand in test_metrics.py."""
    d = "2024-01-0"
    return [
        ev("ticket.created", "T1", f"{d}1T00:00:00Z", text="my card is broken, terrible",
           priority="P1", group="A", category="card", channel="email"),
        ev("message.added", "T1", f"{d}1T02:00:00Z", author="agent", text="On it."),
        ev("ticket.assigned", "T1", f"{d}1T03:00:00Z", group="B"),
        ev("ticket.assigned", "T1", f"{d}1T04:00:00Z", group="A", assignee="ann"),
        ev("ticket.resolved", "T1", f"{d}1T10:00:00Z"),
        ev("ticket.created", "T2", f"{d}1T12:00:00Z", text="thanks, great service",
           priority="P2", group="B", category="billing", channel="chat"),
        ev("message.added", "T2", f"{d}1T13:00:00Z", author="agent", text="Glad to help."),
        ev("ticket.resolved", "T2", f"{d}2T12:00:00Z"),
        ev("ticket.reopened", "T2", f"{d}3T00:00:00Z"),
        ev("ticket.resolved", "T2", f"{d}3T12:00:00Z"),
        ev("ticket.created", "T3", f"{d}8T00:00:00Z", text="I am not happy",
           priority="P1", group="A", category="card", channel="email"),
        ev("ticket.created", "T4", f"{d}8T06:00:00Z", text="I was charged twice",
           priority="P2", group="C", category="billing", channel="chat"),
        ev("message.added", "T4", f"{d}8T06:30:00Z", author="agent", text="Refunded."),
        ev("ticket.resolved", "T4", f"{d}8T08:00:00Z"),
        ev("satisfaction.rated", "T4", f"{d}8T09:00:00Z", score=4),
    ]
