"""Full support report on the ServiceNow incident log and on BPIC 2013, next to a plain-pandas
baseline computing the same core figures in the same process; optionally the adjusted Rand
index of root-cause clusters against Banking77 and Bitext intents.

Ours: ``supportops.analytics.report`` (tenant-scoped read -> Arrow -> DuckDB SQL).
Baseline: the same tenant-scoped rows read with ``pandas.read_sql``, payloads decoded with
orjson, figures (resolution stats by priority, reopen rate, reassignment distribution,
ping-pong, backlog, status paths) computed with pandas groupby. Prints both and the ratio.

    .venv/bin/python bench/analytics.py [--workspace DIR] [--repeat 3] [--ari]

``--workspace`` reuses a folder that already holds the tenants (ingestion is slow and not
what this measures); without it a temporary workspace is filled first.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
from sqlalchemy import select

from supportops import Workspace
from supportops.analytics import report
from supportops.storage.schema import events, tickets

DATA = Path(__file__).resolve().parents[2] / "shared/data"
LOGS = {"incidents": ("incident_event_log/incident_event_log.csv.gz", "servicenow-incidents"),
        "bpic": ("bpic2013_incidents/VINST-new.csv.gz", "bpic2013")}
TEXTS = {"banking77": ("banking77/train.csv", "banking77"),
         "bitext": ("bitext_customer_support/bitext_customer_support_train.csv", "bitext")}


def ensure(ws: Workspace, tenant: str, relative: str, fmt: str) -> bool:
    """Create and fill ``tenant`` unless it holds events already; False if data is absent."""
    path = DATA / relative
    if not path.exists():
        print(f"skipped {tenant}: {path} is absent")
        return False
    if tenant not in {t.id for t in ws.tenants()}:
        ws.create_tenant(tenant)
    handle = ws.tenant(tenant)
    if handle.events.count() == 0:
        began = time.perf_counter()
        handle.ingest(path, format=fmt)
        print(f"ingested {tenant} in {time.perf_counter() - began:.1f} s")
    return True


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, float, float, Any]:
    """Best and median wall seconds, best CPU seconds (all threads; robust on a busy
    machine), and the last result."""
    times, cpu, result = [], [], None
    for _ in range(repeat):
        began, began_cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    return min(times), statistics.median(times), min(cpu), result


# -- the pandas baseline ----------------------------------------------------------------------


def baseline(ws: Workspace, tenant: str) -> dict[str, Any]:
    ctx = ws.tenant(tenant).ctx
    with ws.db.begin(ctx.tenant_id) as conn:
        t = pd.read_sql(select(tickets).where(tickets.c.tenant_id == ctx.tenant_id), conn)
        e = pd.read_sql(select(events.c.ticket_id, events.c.seq, events.c.type,
                               events.c.occurred_at, events.c.payload)
                        .where(events.c.tenant_id == ctx.tenant_id), conn)
    payloads = [orjson.loads(p) for p in e.pop("payload")]
    e["group"] = [(p.get("state") or {}).get("group") or p.get("group") for p in payloads]
    e["status"] = [(p.get("state") or {}).get("status") or p.get("status") for p in payloads]
    for col in ("opened_at", "resolved_at", "closed_at"):
        t[col] = pd.to_datetime(t[col], utc=True).dt.tz_localize(None)
    hours = ((t["resolved_at"] - t["opened_at"]).dt.total_seconds() / 3600).dropna()
    by_priority = hours.groupby(t.loc[hours.index, "priority"]).agg(
        ["count", "median", lambda s: s.quantile(0.9), "mean"])
    e = e.sort_values(["ticket_id", "seq"])
    e["group"] = e.groupby("ticket_id")["group"].ffill()
    g = e.dropna(subset=["group"])
    runs = g[g["group"] != g.groupby("ticket_id")["group"].shift()]
    returns = runs[runs.duplicated(["ticket_id", "group"])]
    e["status"] = e.groupby("ticket_id")["status"].ffill()
    s = e.dropna(subset=["status"])
    s = s[s["status"] != s.groupby("ticket_id")["status"].shift()]
    paths = s.groupby("ticket_id")["status"].agg(" > ".join).value_counts().head(10)
    end = t["resolved_at"].fillna(t["closed_at"]).clip(lower=t["opened_at"])
    months = pd.period_range(t["opened_at"].min(), end.max(), freq="M")
    cuts = [(m + 1).start_time for m in months]
    backlog = [int(((t["opened_at"] < c) & ~(end < c)).sum()) for c in cuts]
    return {"tickets": len(t), "resolution_median": hours.median(),
            "by_priority": by_priority, "reopen_rate": (t["reopen_count"] > 0).mean(),
            "reassignments": t["reassignment_count"].value_counts().to_dict(),
            "ping_pong_returns": len(returns), "paths": paths, "backlog": backlog}


# -- clusters ---------------------------------------------------------------------------------


def ari(ws: Workspace, tenant: str) -> None:
    from sklearn.metrics import adjusted_rand_score

    from supportops.analytics.clusters import clusters, default_embedder

    handle = ws.tenant(tenant)
    truth = {r["ticket_id"]: r["category"] for r in handle.tickets.all_rows()}
    k = len(set(truth.values()))
    began = time.perf_counter()
    embed = default_embedder(ws.artifacts / "encoders")
    print(f"{tenant}: encoder ready in {time.perf_counter() - began:.1f} s")
    for method, options in (("kmeans", {"k": k}), ("hdbscan", {"min_cluster_size": 10})):
        began = time.perf_counter()
        data = clusters(ws.db, handle.ctx, embed, method=method, with_assignments=True,
                        **options)
        elapsed = time.perf_counter() - began
        ids = sorted(data["assignments"])
        score = adjusted_rand_score([truth[i] for i in ids],
                                    [data["assignments"][i] for i in ids])
        kept = [i for i in ids if data["assignments"][i] != -1]
        clean = adjusted_rand_score([truth[i] for i in kept],
                                    [data["assignments"][i] for i in kept]) if kept else 0.0
        print(f"{tenant}: {method:<7} texts {data['texts']}, intents {k}, clusters "
              f"{data['k']}, noise {data.get('noise', 0)}: ARI {score:.3f} (without noise "
              f"{clean:.3f}) ({elapsed:.1f} s)")
        for c in data["clusters"][:5]:
            print(f"    #{c['cluster']:<3} {c['size']:>4}  {c['name']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ari", action="store_true", help="also cluster Banking77 and Bitext")
    parser.add_argument("--only-ari", action="store_true", help="skip the report timings")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.workspace or Path(tmp) / "ws"
        reuse = (folder / "config.json").exists()
        ws = Workspace.open(folder) if reuse else Workspace.init(folder)
        for tenant, (relative, fmt) in LOGS.items():
            if args.only_ari or not ensure(ws, tenant, relative, fmt):
                continue
            ctx = ws.tenant(tenant).ctx
            low, mid, cpu, data = best(lambda c=ctx: report(ws.db, c, period="month",
                                                       by=("group",)), args.repeat)
            b_low, b_mid, b_cpu, base = best(lambda t=tenant: baseline(ws, t), args.repeat)
            assert data["tickets"] == base["tickets"]
            assert data["ping_pong"]["returns"] == base["ping_pong_returns"]
            assert abs(data["resolution_hours"]["overall"]["median"]
                       - base["resolution_median"]) < 1e-9
            assert [p["open"] for p in data["backlog"]] == base["backlog"]
            print(f"{tenant}: {data['tickets']} tickets, {data['log_position']} events | "
                  f"ours {low:.2f} s wall (median {mid:.2f}, cpu {cpu:.2f}; load "
                  f"{data['timing_s']['load']:.2f}, compute {data['timing_s']['compute']:.2f}) | "
                  f"pandas baseline {b_low:.2f} s wall (median {b_mid:.2f}, cpu {b_cpu:.2f}) | "
                  f"baseline/ours {b_low / low:.1f}x wall, {b_cpu / cpu:.1f}x cpu")
        if args.ari or args.only_ari:
            for tenant, (relative, fmt) in TEXTS.items():
                if ensure(ws, tenant, relative, fmt):
                    ari(ws, tenant)
        ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
