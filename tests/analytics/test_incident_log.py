"""The report on the real ServiceNow incident log against an independent pandas computation
on the raw CSV (the latest record of an incident: greatest sys_mod_count, ties by file order).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from supportops import Workspace
from supportops.analytics import report

from ..conftest import shared_file

approx = pytest.approx


def _raw(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, na_values=["?"], keep_default_na=False, low_memory=False)
    df["pos"] = np.arange(len(df))
    for col in ("opened_at", "resolved_at", "closed_at"):
        df[col] = pd.to_datetime(df[col], format="%d/%m/%Y %H:%M")
    return df


def _latest(df: pd.DataFrame) -> pd.DataFrame:
    ordered = df.sort_values(["number", "sys_mod_count", "pos"], kind="stable")
    return ordered.groupby("number").tail(1).set_index("number")


def _ping_pong(df: pd.DataFrame) -> tuple[int, int, pd.Series]:
    """Returns to a group left before, from each incident's rows in file order."""
    seq = df[["number", "assignment_group"]].copy()
    seq["group"] = seq.groupby("number")["assignment_group"].ffill()
    seq = seq.dropna(subset=["group"])
    runs = seq[seq["group"] != seq.groupby("number")["group"].shift()]
    is_return = runs.duplicated(["number", "group"])
    returns = runs[is_return]
    return returns["number"].nunique(), len(returns), returns["group"].value_counts()


def _stats(hours: pd.Series) -> dict[str, float]:
    return {"count": len(hours), "median": hours.median(), "p90": hours.quantile(0.9),
            "mean": hours.mean()}


@pytest.mark.slow
def test_report_matches_pandas(tmp_path: Path) -> None:
    path = shared_file("incident_event_log/incident_event_log.csv.gz")
    raw = _raw(path)
    last = _latest(raw)
    with Workspace.init(tmp_path / "ws") as ws:
        ws.create_tenant("acme")
        acme = ws.tenant("acme")
        acme.ingest(path, format="servicenow-incidents")
        r = report(ws.db, acme.ctx, period="month", top=10)

    assert r["tickets"] == len(last) == 24918
    hours = ((last["resolved_at"] - last["opened_at"]).dt.total_seconds() / 3600).dropna()
    assert r["resolution_hours"]["overall"] == approx(_stats(hours))
    by = r["resolution_hours"]["by_priority"]
    assert set(by) == {"1 - Critical", "2 - High", "3 - Moderate", "4 - Low"}
    for name, group in hours.groupby(last.loc[hours.index, "priority"]):
        assert by[name] == approx(_stats(group)), name

    assert r["reopen_rate"] == approx((last["reopen_count"] > 0).mean())
    dist = last["reassignment_count"].value_counts()
    assert r["reassignments"]["distribution"] == {str(k): int(v) for k, v in dist.items()}
    assert r["reassignments"]["mean"] == approx(last["reassignment_count"].mean())

    made = r["sla"]["source_made_sla"]["overall"]
    assert made["breached"] == int((~last["made_sla"].astype(bool)).sum())

    volume = last["assignment_group"].value_counts()
    top = [(g["group"], g["tickets"]) for g in r["top_groups"]["by_volume"]]
    assert [n for _, n in top] == volume.head(10).tolist()
    assert all(volume[g] == n for g, n in top)

    tickets, returns, per_group = _ping_pong(raw)
    assert (r["ping_pong"]["tickets"], r["ping_pong"]["returns"]) == (tickets, returns)
    for g in r["top_groups"]["by_ping_pong"]:
        assert g["returns"] == per_group[g["group"]]

    # backlog at each month's end: opened before it, not yet resolved (else closed) by then
    end = last["resolved_at"].fillna(last["closed_at"])
    for point in r["backlog"]:
        cut = pd.Timestamp(point["period"]) + pd.offsets.MonthBegin(1)
        expected = ((last["opened_at"] < cut) & ~(end.clip(lower=last["opened_at"]) < cut)).sum()
        assert point["open"] == expected, point["period"]
