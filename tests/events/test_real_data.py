"""Importers on the real public logs in ../shared/data (skipped where it is absent)."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest

from supportops import Tenant
from tests.conftest import shared_file

INCIDENTS = "incident_event_log/incident_event_log.csv.gz"


def _slice(source: Path, target: Path, rows: int) -> Path:
    """The header and the first ``rows`` data rows, gzipped again."""
    with gzip.open(source, "rt", newline="") as src, gzip.open(target, "wt", newline="") as out:
        for i, line in enumerate(src):
            if i > rows:
                break
            out.write(line)
    return target


@pytest.mark.slow
def test_full_incident_log(tenant: Tenant, backend: str, tmp_path: Path) -> None:
    """141,712 events, 24,918 tickets; a second ingest is all duplicates; rebuild is identical."""
    source = shared_file(INCIDENTS)
    if backend != "sqlite":  # the full log runs once; PostgreSQL gets a slice below
        source = _slice(source, tmp_path / "slice.csv.gz", 6000)
    first = tenant.ingest(source, format="servicenow-incidents")
    expected = (141_712, 24_918) if backend == "sqlite" else (6000, None)
    assert first.accepted == expected[0]
    assert first.rejected == 0
    if expected[1] is not None:
        assert tenant.tickets.count() == expected[1]
    second = tenant.ingest(source, format="servicenow-incidents")
    assert (second.accepted, second.duplicates) == (0, first.accepted)
    before = tenant.tickets.all_rows()
    tenant.events.rebuild()
    assert tenant.tickets.all_rows() == before


def test_incident_state_matches_latest_record(tenant: Tenant, tmp_path: Path) -> None:
    """Each ticket ends as its row with the highest sys_mod_count states it."""
    source = _slice(shared_file(INCIDENTS), tmp_path / "s.csv.gz", 3000)
    tenant.ingest(source, format="servicenow-incidents")
    latest: dict[str, dict[str, str]] = {}
    with gzip.open(source, "rt", newline="") as handle:
        for row in csv.DictReader(handle):
            seen = latest.get(row["number"])
            if seen is None or int(row["sys_mod_count"]) >= int(seen["sys_mod_count"]):
                latest[row["number"]] = row
    assert tenant.tickets.count() == len(latest)
    token_of: dict[str, str] = {}
    for number, row in list(latest.items())[:200]:
        t = tenant.tickets.get(number, with_events=False)
        assert t["status"] == row["incident_state"]
        assert t["group"] == (None if row["assignment_group"] == "?" else row["assignment_group"])
        assert t["priority"] == row["priority"]
        assert t["reassignment_count"] == int(row["reassignment_count"])
        assert t["reopen_count"] == int(row["reopen_count"])
        # the caller is an identity field: stored as a stable pseudonym, never as is
        assert t["subject"] != row["caller_id"]
        assert token_of.setdefault(row["caller_id"], t["subject"]) == t["subject"]


@pytest.mark.slow
def test_bpic2013(tenant: Tenant) -> None:
    report = tenant.ingest(shared_file("bpic2013_incidents/VINST-new.csv.gz"), format="bpic2013")
    assert (report.accepted, report.rejected) == (65_533, 0)
    assert tenant.tickets.count() == 7_554
    statuses = {r["status"] for r in tenant.tickets.list(limit=10000)}
    assert "Completed/Closed" in statuses


def test_banking77_and_bitext(tenant: Tenant, backend: str, tmp_path: Path) -> None:
    """Full files on SQLite; PostgreSQL gets a Banking77 slice (every text goes through PII
    detection, which costs the same on both back-ends)."""
    source = shared_file("banking77/train.csv")
    if backend != "sqlite":
        lines = source.read_text().splitlines(keepends=True)[:1001]
        source = tmp_path / "b77.csv"
        source.write_text("".join(lines))
        report = tenant.ingest(source, format="banking77")
        assert (report.accepted, report.rejected) == (1000, 0)
        assert tenant.ingest(source, format="banking77").duplicates == 1000
        return
    b77 = tenant.ingest(source, format="banking77")
    assert (b77.accepted, b77.rejected) == (10_003, 0)
    bitext = tenant.ingest(shared_file("bitext_customer_support/bitext_customer_support_train.csv"),
                           format="bitext")
    assert (bitext.accepted, bitext.rejected) == (2 * 3_611, 0)
    assert tenant.tickets.count() == 10_003 + 3_611
    again = tenant.ingest(shared_file("banking77/train.csv"), format="banking77")
    assert (again.accepted, again.duplicates) == (0, 10_003)
    row = tenant.tickets.get("bitext-0")
    assert row["status"] == "resolved" and row["category"] == "cancel_order"
