"""Support metrics in DuckDB SQL over a loaded snapshot (``t`` tickets, ``ev`` events).

Definitions (also printed in the report under ``definitions``):

- durations are hours; ``median`` and ``p90`` use linear interpolation between order
  statistics (DuckDB ``quantile_cont``; the same as pandas' default and NumPy's ``linear``);
- resolution time = ``resolved_at - opened_at`` as the ticket's latest state gives them;
  tickets never resolved are left out of resolution figures;
- first-response time = first public agent message - ``opened_at``;
- reopen rate = share of tickets with ``reopen_count > 0``;
- first-contact resolution = resolved, never reopened, never reassigned, and at most one
  public agent reply, over resolved tickets;
- backlog at the end of a period = tickets opened before the period's end and not yet
  resolved (or, if never resolved, closed) by then.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb

PERIODS = ("day", "week", "month")
#: ``--by`` names and the ticket column behind each.
DIMENSIONS = {"priority": "priority", "category": "category", "group": "group_name",
              "channel": "channel", "agent": "assignee"}
NONE_LABEL = "(none)"

_HOURS = "(epoch({end}) - epoch({start})) / 3600.0"
RES_H = _HOURS.format(end="resolved_at", start="opened_at")
FR_H = _HOURS.format(end="first_response_at", start="opened_at")
_STATS = ("count(v) AS count, quantile_cont(v, 0.5) AS median, "
          "quantile_cont(v, 0.9) AS p90, avg(v) AS mean")


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
         ) -> list[dict[str, Any]]:
    """Run a query and return its rows as dicts (column name -> value)."""
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def select_window(con: duckdb.DuckDBPyConnection, start: datetime | None,
                  end: datetime | None) -> None:
    """Table ``sel``: tickets opened in ``[start, end)`` with per-ticket derived figures."""
    con.execute(f"""
        CREATE OR REPLACE TABLE sel AS
        SELECT t.*, {RES_H} AS res_h, {FR_H} AS fr_h,
               COALESCE(a.agent_replies, 0) AS agent_replies
        FROM t LEFT JOIN (
            SELECT ticket_id, count(*) AS agent_replies FROM ev
            WHERE type = 'message.added' AND author = 'agent' AND visibility = 'public'
            GROUP BY ticket_id) a USING (ticket_id)
        WHERE ($1::TIMESTAMP IS NULL OR opened_at >= $1::TIMESTAMP)
          AND ($2::TIMESTAMP IS NULL OR opened_at < $2::TIMESTAMP)
    """, [_naive(start), _naive(end)])


def _naive(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _stats(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("count", "median", "p90", "mean")}


def duration_stats(con: duckdb.DuckDBPyConnection, expr: str, key: str | None = None
                   ) -> dict[str, Any]:
    """count/median/p90/mean of ``expr`` over ``sel`` (nulls left out), overall or by key."""
    if key is None:
        got = rows(con, f"SELECT {_STATS} FROM (SELECT {expr} AS v FROM sel)")
        return _stats(got[0])
    got = rows(con, f"""SELECT COALESCE(k, '{NONE_LABEL}') AS k, {_STATS}
                        FROM (SELECT {key} AS k, {expr} AS v FROM sel) WHERE v IS NOT NULL
                        GROUP BY ALL ORDER BY k""")
    return {r["k"]: _stats(r) for r in got}


def durations(con: duckdb.DuckDBPyConnection, expr: str) -> dict[str, Any]:
    return {"overall": duration_stats(con, expr),
            "by_priority": duration_stats(con, expr, "priority")}


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Volume, reopen rate, reassignments (as the tickets' latest state states them)."""
    head = rows(con, """
        SELECT count(*) AS tickets, count(resolved_at) AS resolved,
               count(*) FILTER (WHERE reopen_count > 0) AS reopened,
               avg(reassignment_count) AS reassign_mean FROM sel""")[0]
    dist = rows(con, """SELECT reassignment_count AS k, count(*) AS n FROM sel
                        GROUP BY ALL ORDER BY k""")
    n = head["tickets"]
    return {
        "tickets": n, "resolved": head["resolved"], "reopened": head["reopened"],
        "reopen_rate": head["reopened"] / n if n else None,
        "reassignments": {"mean": head["reassign_mean"],
                          "distribution": {str(r["k"]): r["n"] for r in dist}},
    }


def first_contact_resolution(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    got = rows(con, """
        SELECT count(*) AS resolved,
               count(*) FILTER (WHERE reopen_count = 0 AND reassignment_count = 0
                                 AND agent_replies <= 1) AS fcr
        FROM sel WHERE resolved_at IS NOT NULL""")[0]
    rate = got["fcr"] / got["resolved"] if got["resolved"] else None
    return {"resolved": got["resolved"], "first_contact": got["fcr"], "rate": rate}


def satisfaction(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    head = rows(con, "SELECT count(satisfaction) AS count, avg(satisfaction) AS mean FROM sel")
    dist = rows(con, """SELECT satisfaction AS k, count(*) AS n FROM sel
                        WHERE satisfaction IS NOT NULL GROUP BY ALL ORDER BY k""")
    return {**head[0], "distribution": {f"{r['k']:g}": r["n"] for r in dist}}


def source_made_sla(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The source system's own SLA verdict (ServiceNow's ``made_sla``), where it has one."""
    got = rows(con, """
        SELECT COALESCE(priority, '(none)') AS k, count(*) AS tickets,
               count(*) FILTER (WHERE lower(made_sla) = 'false') AS breached
        FROM sel WHERE made_sla IS NOT NULL GROUP BY ALL ORDER BY k""")
    if not got:
        return None
    total = sum(r["tickets"] for r in got)
    breached = sum(r["breached"] for r in got)
    return {"overall": {"tickets": total, "breached": breached, "rate": breached / total},
            "by_priority": {r["k"]: {"tickets": r["tickets"], "breached": r["breached"],
                                     "rate": r["breached"] / r["tickets"]} for r in got}}


def period_table(con: duckdb.DuckDBPyConnection, period: str) -> list[dict[str, Any]]:
    """Per period of opening: volume, resolution and first-response figures, reopen rate,
    satisfaction."""
    return rows(con, f"""
        SELECT date_trunc('{period}', opened_at) AS period, count(*) AS opened,
               count(resolved_at) AS resolved,
               quantile_cont(res_h, 0.5) AS resolution_median,
               quantile_cont(res_h, 0.9) AS resolution_p90, avg(res_h) AS resolution_mean,
               quantile_cont(fr_h, 0.5) AS first_response_median,
               quantile_cont(fr_h, 0.9) AS first_response_p90,
               avg(CASE WHEN reopen_count > 0 THEN 1.0 ELSE 0.0 END) AS reopen_rate,
               avg(reassignment_count) AS reassignment_mean,
               avg(satisfaction) AS satisfaction_mean
        FROM sel WHERE opened_at IS NOT NULL GROUP BY ALL ORDER BY period""")


def backlog(con: duckdb.DuckDBPyConnection, period: str, start: datetime | None,
            end: datetime | None) -> list[dict[str, Any]]:
    """Open tickets at the end of each period, from every ticket (older ones included)."""
    got = rows(con, f"""
        WITH life AS (
            SELECT opened_at AS o,
                   CASE WHEN COALESCE(resolved_at, closed_at) IS NOT NULL
                        THEN greatest(COALESCE(resolved_at, closed_at), opened_at) END AS c
            FROM t WHERE opened_at IS NOT NULL),
        span AS (SELECT date_trunc('{period}', min(o)) AS lo,
                        date_trunc('{period}', greatest(max(o), max(c))) AS hi FROM life),
        p AS (SELECT unnest(generate_series(lo, hi, INTERVAL 1 {period})) AS period
              FROM span),
        opened AS (SELECT date_trunc('{period}', o) AS period, count(*) AS n
                   FROM life GROUP BY ALL),
        done AS (SELECT date_trunc('{period}', c) AS period, count(*) AS n
                 FROM life WHERE c IS NOT NULL GROUP BY ALL)
        SELECT p.period, COALESCE(opened.n, 0) AS opened, COALESCE(done.n, 0) AS closed,
               sum(COALESCE(opened.n, 0) - COALESCE(done.n, 0))
                   OVER (ORDER BY p.period) AS open
        FROM p LEFT JOIN opened USING (period) LEFT JOIN done USING (period)
        ORDER BY p.period""")
    lo = _naive(start)
    hi = _naive(end)
    return [r for r in got if (lo is None or r["period"] >= _trunc(con, period, lo))
            and (hi is None or r["period"] < hi)]


def _trunc(con: duckdb.DuckDBPyConnection, period: str, value: datetime) -> datetime:
    got = con.execute(f"SELECT date_trunc('{period}', $1::TIMESTAMP)", [value]).fetchone()
    assert got is not None
    result: datetime = got[0]
    return result


def breakdown(con: duckdb.DuckDBPyConnection, dimension: str, limit: int = 50
              ) -> list[dict[str, Any]]:
    """Figures per value of one dimension (``DIMENSIONS``), largest first."""
    column = DIMENSIONS[dimension]
    return rows(con, f"""
        SELECT COALESCE({column}, '{NONE_LABEL}') AS value, count(*) AS tickets,
               count(resolved_at) AS resolved,
               quantile_cont(res_h, 0.5) AS resolution_median,
               quantile_cont(res_h, 0.9) AS resolution_p90, avg(res_h) AS resolution_mean,
               quantile_cont(fr_h, 0.5) AS first_response_median,
               quantile_cont(fr_h, 0.9) AS first_response_p90,
               avg(fr_h) AS first_response_mean,
               avg(CASE WHEN reopen_count > 0 THEN 1.0 ELSE 0.0 END) AS reopen_rate,
               avg(reassignment_count) AS reassignment_mean,
               avg(CASE WHEN lower(made_sla) = 'false' THEN 1.0
                        WHEN made_sla IS NOT NULL THEN 0.0 END) AS source_sla_breach_rate,
               avg(satisfaction) AS satisfaction_mean
        FROM sel GROUP BY ALL ORDER BY tickets DESC, value LIMIT {int(limit)}""")


def sla_breaches(con: duckdb.DuckDBPyConnection, targets: dict[str, dict[str, float | None]],
                 measure: str, as_of: datetime | None) -> dict[str, Any] | None:
    """Breach rate against the tenant's per-priority targets (``measure``: ``resolution`` or
    ``first_response``). Elapsed time runs to the resolution (first response), else to the
    close, else to the snapshot's last event: a ticket still open past its target breached."""
    wanted = {p: h[f"{measure}_hours"] for p, h in targets.items()
              if h.get(f"{measure}_hours") is not None}
    if not wanted:
        return None
    stop = ("resolved_at, closed_at" if measure == "resolution"
            else "first_response_at, resolved_at, closed_at")
    con.execute("CREATE OR REPLACE TEMP TABLE sla_target (priority VARCHAR, hours DOUBLE)")
    con.executemany("INSERT INTO sla_target VALUES (?, ?)", list(wanted.items()))
    got = rows(con, f"""
        SELECT priority AS k, count(*) AS tickets,
               count(*) FILTER (WHERE elapsed > hours) AS breached
        FROM (SELECT priority, (epoch(COALESCE({stop}, $1::TIMESTAMP))
                                - epoch(opened_at)) / 3600.0 AS elapsed FROM sel
              WHERE opened_at IS NOT NULL)
        JOIN sla_target USING (priority) GROUP BY ALL ORDER BY k""", [_naive(as_of)])
    total = sum(r["tickets"] for r in got)
    breached = sum(r["breached"] for r in got)
    return {"targets_hours": wanted,
            "overall": {"tickets": total, "breached": breached,
                        "rate": breached / total if total else None},
            "by_priority": {r["k"]: {"tickets": r["tickets"], "breached": r["breached"],
                                     "rate": r["breached"] / r["tickets"]} for r in got}}
