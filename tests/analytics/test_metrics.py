"""Every metric of the report on a four-ticket log, against figures worked out by hand."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from supportops import Tenant, Workspace
from supportops.analytics import SlaTarget, remove_target, report, set_target, targets
from supportops.errors import PermissionDenied, ValidationFailed

from .helpers import ev, ingest_events, small_log

approx = pytest.approx


@pytest.fixture
def acme(tenant: Tenant, tmp_path: Path) -> Tenant:
    ingest_events(tenant, tmp_path / "small.jsonl", small_log())
    return tenant


def _report(t: Tenant, **kw: object) -> dict:  # type: ignore[type-arg]
    return report(t.workspace.db, t.ctx, **kw)  # type: ignore[arg-type]


def test_volume_resolution_and_first_response(acme: Tenant) -> None:
    r = _report(acme)
    assert r["tickets"] == 4 and r["resolved"] == 3
    # resolution hours: T1 10, T2 48 (latest resolution), T4 2; T3 never resolved
    overall = r["resolution_hours"]["overall"]
    assert overall == approx({"count": 3, "median": 10.0, "p90": 10 + 0.8 * 38, "mean": 20.0})
    by = r["resolution_hours"]["by_priority"]
    assert by["P1"] == approx({"count": 1, "median": 10.0, "p90": 10.0, "mean": 10.0})
    assert by["P2"] == approx({"count": 2, "median": 25.0, "p90": 2 + 0.9 * 46, "mean": 25.0})
    fr = r["first_response_hours"]["overall"]
    assert fr == approx({"count": 3, "median": 1.0, "p90": 1.8, "mean": 3.5 / 3})


def test_reopen_reassignment_fcr_satisfaction(acme: Tenant) -> None:
    r = _report(acme)
    assert r["reopen_rate"] == 0.25
    assert r["reassignments"] == {"mean": 0.5, "distribution": {"0": 3, "2": 1}}
    # T1 reassigned, T2 reopened, T4 one reply and clean: 1 of 3 resolved
    assert r["first_contact_resolution"] == {"resolved": 3, "first_contact": 1,
                                             "rate": approx(1 / 3)}
    assert r["satisfaction"] == {"count": 1, "mean": 4.0, "distribution": {"4": 1}}


def test_ping_pong_and_groups(acme: Tenant) -> None:
    r = _report(acme)
    pp = r["ping_pong"]
    assert (pp["tickets"], pp["returns"], pp["group_changes"]) == (1, 1, 2)
    assert pp["top_groups"] == [{"group": "A", "returns": 1, "tickets": 1}]
    volume = {g["group"]: (g["tickets"], g["touched"]) for g in r["top_groups"]["by_volume"]}
    assert volume == {"A": (2, 2), "B": (1, 2), "C": (1, 1)}


def test_backlog_per_day(acme: Tenant) -> None:
    r = _report(acme, period="day")
    curve = {p["period"].day: p["open"] for p in r["backlog"]}
    assert curve == {1: 1, 2: 1, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0, 8: 1}


def test_periods_and_window(acme: Tenant) -> None:
    weeks = _report(acme, period="week")["periods"]
    assert [(w["period"], w["opened"], w["resolved"]) for w in weeks] == [
        (datetime(2024, 1, 1), 2, 2), (datetime(2024, 1, 8), 2, 1)]
    later = _report(acme, start="2024-01-05")
    assert later["tickets"] == 2
    assert later["resolution_hours"]["overall"]["count"] == 1
    assert later["ping_pong"]["tickets"] == 0
    earlier = _report(acme, end="2024-01-05")
    assert earlier["tickets"] == 2 and earlier["reopen_rate"] == 0.5


def test_process_paths(acme: Tenant) -> None:
    proc = _report(acme)["process"]
    status = {p["path"]: (p["tickets"], p["median_hours"]) for p in proc["status_paths"]}
    assert status["new > resolved"] == (2, approx(6.0))  # T1 10 h, T4 2 h
    assert status["new > resolved > reopened > resolved"] == (1, approx(48.0))
    assert status["new"] == (1, 0.0)
    groups = {p["path"]: p["tickets"] for p in proc["group_paths"]}
    assert groups == {"A > B > A": 1, "A": 1, "B": 1, "C": 1}
    moves = {(t["from"], t["to"]): (t["count"], t["median_hours"])
             for t in proc["group_transitions"]}
    assert moves == {("A", "B"): (1, 3.0), ("B", "A"): (1, 1.0)}


def test_sentiment_lexicon(acme: Tenant) -> None:
    s = _report(acme)["sentiment"]
    # broken+terrible -1, thanks+great +1, "not happy" -1 (negated), charged -1
    assert s["method"] == "lexicon" and s["texts"] == 4
    assert s["mean"] == approx(-0.5) and s["negative_share"] == approx(0.75)


def test_sla_targets(acme: Tenant) -> None:
    db, ctx = acme.workspace.db, acme.ctx
    set_target(db, ctx, SlaTarget("P1", first_response_hours=1, resolution_hours=8))
    set_target(db, ctx, SlaTarget("P2", first_response_hours=1, resolution_hours=30))
    assert [t.priority for t in targets(db, ctx)] == ["P1", "P2"]
    sla = _report(acme)["sla"]
    # T1 10 h > 8; T3 open 9 h at the last event > 8; T2 48 > 30; T4 2 < 30
    assert sla["resolution"]["overall"] == {"tickets": 4, "breached": 3, "rate": 0.75}
    assert sla["resolution"]["by_priority"]["P1"]["rate"] == 1.0
    # first response: T1 2 h > 1, T3 none for 9 h; T2 1 h and T4 0.5 h are in time
    assert sla["first_response"]["overall"]["breached"] == 2
    assert sla["source_made_sla"] is None
    assert remove_target(db, ctx, "P2") and not remove_target(db, ctx, "P2")
    with pytest.raises(ValidationFailed, match="positive number of hours"):
        set_target(db, ctx, SlaTarget("P3", resolution_hours=-1))


def test_tenants_and_roles(acme: Tenant, workspace: Workspace, tmp_path: Path) -> None:
    workspace.create_tenant("other")
    other = workspace.tenant("other")
    ingest_events(other, tmp_path / "o.jsonl",
                  [ev("ticket.created", f"O{i}", "2024-02-01T00:00:00Z") for i in range(7)])
    assert _report(acme)["tickets"] == 4 and _report(other)["tickets"] == 7
    acme.principals.create("bob", "agent", kind="person")
    with pytest.raises(PermissionDenied):
        _report(workspace.tenant("acme", principal="bob"))
    with pytest.raises(ValidationFailed, match="period"):
        _report(acme, period="year")
    with pytest.raises(ValidationFailed, match="break a report down"):
        _report(acme, by=("planet",))


def test_breakdowns(acme: Tenant) -> None:
    r = _report(acme, by=("group", "channel", "agent", "category"))
    groups = {g["value"]: g for g in r["breakdowns"]["group"]}
    assert groups["A"]["tickets"] == 2 and groups["A"]["resolution_median"] == 10.0
    channels = {c["value"]: c["tickets"] for c in r["breakdowns"]["channel"]}
    assert channels == {"email": 2, "chat": 2}
    agents = {a["value"]: a["tickets"] for a in r["breakdowns"]["agent"]}
    assert agents.pop("(none)") == 3
    assert list(agents.values()) == [1]  # 'ann', pseudonymised on the way in
