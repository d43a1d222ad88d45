"""Cost of sealed content (free text encrypted at rest, decrypted in batches on read).

Times, in one process: ingesting the ServiceNow incident log, the analytics report on it, and
on Banking77 the ingest, snapshot and training of a triage model. Run it once with this
tree's sources and once with an older tree's to compare (the same machine, one after the
other)::

    PYTHONPATH=src .venv/bin/python bench/content_cost.py [--banking N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from supportops import Workspace

DATA = Path(__file__).resolve().parents[2] / "shared/data"


def _timed(label: str, work: object) -> object:
    start = time.perf_counter()
    result = work() if callable(work) else work
    print(f"{label:<38} {time.perf_counter() - start:7.2f} s", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--banking", type=int, default=3000, help="Banking77 rows to use")
    args = parser.parse_args()
    incidents = DATA / "incident_event_log/incident_event_log.csv.gz"
    banking = DATA / "banking77/train.csv"
    if not incidents.exists() or not banking.exists():
        print("skipped: ../shared/data is absent")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.init(Path(tmp) / "ws")
        ws.create_tenant("log")
        log_tenant = ws.tenant("log")
        _timed("ingest incident log", lambda: log_tenant.ingest(incidents, "servicenow-incidents"))
        _timed("analytics report (incident log)", lambda: log_tenant.analytics.report())
        _timed("analytics report again (warm)", lambda: log_tenant.analytics.report())
        subset = Path(tmp) / "banking.csv"
        subset.write_text("".join(banking.open().readlines()[: args.banking + 1]))
        ws.create_tenant("bank")
        bank = ws.tenant("bank")
        seen: set[str] = set()
        _timed(f"ingest Banking77 ({args.banking} rows)",
               lambda: bank.ingest(subset, "banking77", seen_tickets=seen))
        _timed("snapshot + train triage (category)",
               lambda: bank.triage.train("intents", "category", ticket_ids=seen,
                                                encoder="none"))
        ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
