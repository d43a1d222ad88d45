"""Process view of the event log: group and status sequences per ticket, ping-pong, paths.

Each event's group and status are "as of after the event": the source's own statement
(``payload.state``) when the log carries one, else what the event sets, carried forward
over events that say nothing. Consecutive repeats collapse into one *run*; a ticket
*ping-pongs* when a run enters a group the ticket had already left.
"""

from __future__ import annotations

from typing import Any

import duckdb

from supportops.analytics.metrics import rows

_RUNS_SQL = """
CREATE OR REPLACE TABLE runs AS
WITH carried AS (
    SELECT ev.ticket_id, ev.seq, ev.ts,
           last_value(group_set IGNORE NULLS) OVER w AS grp,
           last_value(status_set IGNORE NULLS) OVER w AS status
    FROM ev SEMI JOIN sel USING (ticket_id)
    WINDOW w AS (PARTITION BY ev.ticket_id ORDER BY ev.seq
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)),
marked AS (
    SELECT *, lag(grp) OVER w AS prev_grp, lag(status) OVER w AS prev_status,
           max(ts) OVER (PARTITION BY ticket_id) AS last_at
    FROM carried WINDOW w AS (PARTITION BY ticket_id ORDER BY seq))
SELECT ticket_id, seq, ts, last_at, 'group' AS kind, grp AS value FROM marked
WHERE grp IS NOT NULL AND grp IS DISTINCT FROM prev_grp
UNION ALL
SELECT ticket_id, seq, ts, last_at, 'status' AS kind, status AS value FROM marked
WHERE status IS NOT NULL AND status IS DISTINCT FROM prev_status
"""

_STEPS_SQL = """
CREATE OR REPLACE TABLE steps AS
SELECT *, row_number() OVER w AS step,
       lead(value) OVER w AS next_value, lead(ts) OVER w AS next_at,
       count(*) OVER (PARTITION BY ticket_id, kind, value ORDER BY seq
                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) > 0 AS is_return
FROM runs WINDOW w AS (PARTITION BY ticket_id, kind ORDER BY seq)
"""


def build(con: duckdb.DuckDBPyConnection) -> None:
    """Tables ``runs`` and ``steps`` for the selected tickets (``sel``)."""
    con.execute(_RUNS_SQL)
    con.execute(_STEPS_SQL)


def ping_pong(con: duckdb.DuckDBPyConnection, tickets: int, top: int = 10) -> dict[str, Any]:
    """Tickets that returned to a group they left, and the groups most returned to."""
    head = rows(con, """
        SELECT count(DISTINCT ticket_id) AS tickets, count(*) AS returns FROM steps
        WHERE kind = 'group' AND is_return""")[0]
    changes = rows(con, """
        SELECT count(*) AS changes FROM steps WHERE kind = 'group' AND step > 1""")[0]
    groups = rows(con, f"""
        SELECT value AS "group", count(*) AS returns, count(DISTINCT ticket_id) AS tickets
        FROM steps WHERE kind = 'group' AND is_return
        GROUP BY ALL ORDER BY returns DESC, tickets DESC, "group" LIMIT {int(top)}""")
    return {"tickets": head["tickets"], "returns": head["returns"],
            "rate": head["tickets"] / tickets if tickets else None,
            "group_changes": changes["changes"],
            "group_changes_mean": changes["changes"] / tickets if tickets else None,
            "top_groups": groups}


def top_groups_by_volume(con: duckdb.DuckDBPyConnection, top: int = 10) -> list[dict[str, Any]]:
    """Groups by tickets they hold last (``tickets``), with tickets that ever passed
    through them (``touched``)."""
    return rows(con, f"""
        WITH final AS (SELECT group_name AS "group", count(*) AS tickets FROM sel
                       WHERE group_name IS NOT NULL GROUP BY ALL),
             touched AS (SELECT value AS "group", count(DISTINCT ticket_id) AS touched
                         FROM steps WHERE kind = 'group' GROUP BY ALL)
        SELECT "group", tickets, COALESCE(touched, 0) AS touched
        FROM final LEFT JOIN touched USING ("group")
        ORDER BY tickets DESC, "group" LIMIT {int(top)}""")


def paths(con: duckdb.DuckDBPyConnection, kind: str, top: int = 10) -> list[dict[str, Any]]:
    """Most common sequences of ``kind`` (status or group) runs, with the median hours from
    the first run's start to the last run's start, and to the ticket's last event."""
    return rows(con, f"""
        SELECT path, count(*) AS tickets, quantile_cont(hours, 0.5) AS median_hours,
               quantile_cont(total, 0.5) AS median_total_hours
        FROM (SELECT ticket_id, string_agg(value, ' > ' ORDER BY step) AS path,
                     (epoch(max(ts)) - epoch(min(ts))) / 3600.0 AS hours,
                     (epoch(any_value(last_at)) - epoch(min(ts))) / 3600.0 AS total
              FROM steps WHERE kind = '{kind}' GROUP BY ticket_id)
        GROUP BY path ORDER BY tickets DESC, path LIMIT {int(top)}""")


def transitions(con: duckdb.DuckDBPyConnection, kind: str, top: int = 20
                ) -> list[dict[str, Any]]:
    """Directly-follows pairs of runs, with the median hours spent in the first."""
    return rows(con, f"""
        SELECT value AS "from", next_value AS "to", count(*) AS count,
               quantile_cont((epoch(next_at) - epoch(ts)) / 3600.0, 0.5) AS median_hours
        FROM steps WHERE kind = '{kind}' AND next_value IS NOT NULL
        GROUP BY ALL ORDER BY count DESC, "from", "to" LIMIT {int(top)}""")


def process_view(con: duckdb.DuckDBPyConnection, top: int = 10) -> dict[str, Any]:
    return {"status_paths": paths(con, "status", top), "group_paths": paths(con, "group", top),
            "status_transitions": transitions(con, "status", 2 * top),
            "group_transitions": transitions(con, "group", 2 * top)}
