"""Bad input never costs good input: huge, deep, binary and malformed records are rejected on
their own (record, field, problem); files that cannot be read at all are refused whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from supportops import IngestError, Tenant, Workspace
from supportops.events.limits import MAX_DEPTH, MAX_TEXT_CHARS
from tests.helpers import event, write_jsonl

T0 = "2024-05-01T09:00:00Z"
CSV_HEADER = "ticket_id,customer_id,created_at,text\n"
EXE = str(Path(sys.executable).with_name("supportops"))


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


def good(i: int) -> dict[str, Any]:
    return event("ticket.created", f"G-{i}", T0, text=f"good ticket {i}")


def test_huge_deep_and_nul_records_are_rejected_alone(tenant: Tenant, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [
        good(1),
        event("ticket.created", "L-1", T0, text="word " * 200_001),             # 2: 1,000,005 chars
        good(3),
        json.dumps(event("ticket.created", "D-1", T0, attributes=nested(300))),  # 4: 300 deep
        event("ticket.created", "N-1", T0, text="nul \x00 inside"),             # 5: NUL in text
        event("ticket.created", "N\x00-2", T0, text="nul in the ticket id"),    # 6: NUL in id
        event("ticket.created", "P-1", T0, text="x", priority="p" * 65),        # 7: wider than column
        event("ticket.created", "K-1", T0, attributes={"k\x00": "v"}),          # 8: NUL in a key
        good(9),
    ])
    report = tenant.ingest(path, format="jsonl")
    assert (report.accepted, report.rejected, report.duplicates) == (3, 6, 0)
    errors = {e.record: e for e in report.errors}
    assert errors[2].field == "payload.text" and f"{MAX_TEXT_CHARS:,}" in errors[2].message
    assert errors[4].field.startswith("payload.attributes.a") and str(MAX_DEPTH) in errors[4].message
    assert errors[5].field == "payload.text" and "NUL" in errors[5].message
    assert errors[6].field == "ticket_id" and "NUL" in errors[6].message
    assert errors[7].field == "payload.priority" and "64" in errors[7].message
    assert errors[8].field == "payload.attributes" and "NUL" in errors[8].message
    assert {t["ticket_id"] for t in tenant.tickets.list()} == {"G-1", "G-3", "G-9"}


def test_a_long_csv_field_is_rejected_naming_the_limit(tenant: Tenant, tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text(CSV_HEADER + f"A,c,{T0},fine\nB,c,{T0},{'y' * 1_000_001}\nC,c,{T0},fine\n")
    report = tenant.ingest(path, format="csv")
    assert report.accepted == 2
    (err,) = report.errors
    assert (err.record, err.field) == (2, "payload.text") and "100,000" in err.message


@pytest.mark.parametrize("bad_line", [1, 3, 6])
def test_an_unterminated_quote_costs_its_own_line_only(
    plain_tenant: Tenant, tmp_path: Path, bad_line: int
) -> None:
    rows = [f"Q{i},c,{T0},ticket {i}" for i in range(1, 7)]
    rows[bad_line - 1] = f'Q{bad_line},c,{T0},"never closed'
    rows.append(f'Q7,c,{T0},"a quoted, legit\nmulti-line text"')  # still fine after it
    path = tmp_path / "q.csv"
    path.write_text(CSV_HEADER + "\n".join(rows) + "\n")
    report = plain_tenant.ingest(path, format="csv")
    assert report.accepted == 6, report.as_dict()
    (err,) = report.errors
    assert err.record == bad_line and "unterminated" in err.message
    kept = {t["ticket_id"] for t in plain_tenant.tickets.list()}
    assert kept == {f"Q{i}" for i in range(1, 8)} - {f"Q{bad_line}"}
    assert plain_tenant.tickets.get("Q7", with_events=True)["events"][0]["payload"]["text"] == \
        "a quoted, legit\nmulti-line text"


def test_a_quote_closed_lines_later_does_not_swallow_them(plain_tenant: Tenant, tmp_path: Path) -> None:
    path = tmp_path / "q2.csv"
    path.write_text(CSV_HEADER + f'A,c,{T0},"opened\nB,c,{T0},plain\nC,c,{T0},"closed" here\n'
                    f"D,c,{T0},last\n")
    report = plain_tenant.ingest(path, format="csv")
    assert report.errors[0].record == 1
    assert {"B", "D"} <= {t["ticket_id"] for t in plain_tenant.tickets.list()}


def test_duplicated_header_refuses_the_file_naming_the_column(tenant: Tenant, tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text(f"ticket_id,customer_id,created_at,text,priority,text\nA,c,{T0},a,low,b\n")
    with pytest.raises(IngestError, match=r"'text' twice \(columns 4 and 6\)"):
        tenant.ingest(path, format="csv")
    assert tenant.events.count() == 0


@pytest.mark.parametrize(("name", "content", "fmt"), [
    ("empty.jsonl", b"", "jsonl"), ("blank.jsonl", b"\n  \n", "jsonl"), ("empty.csv", b"", "csv"),
    ("header.csv", CSV_HEADER.encode(), "csv"), ("empty.csv", b"", "banking77"),
])
def test_an_empty_file_is_an_error(tenant: Tenant, tmp_path: Path, name: str, content: bytes,
                                   fmt: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IngestError, match="holds no records"):
        tenant.ingest(path, format=fmt)


def test_a_record_the_database_refuses_costs_only_itself(tenant: Tenant, tmp_path: Path) -> None:
    """A count beyond a 32-bit column passes validation; PostgreSQL refuses it when the
    projection writes it. The record is rejected with one line, its neighbours are kept."""
    huge = {"state": {"reassignment_count": 2**40}}
    path = write_jsonl(tmp_path / "db.jsonl", [
        good(1), event("ticket.updated", "G-1", "2024-05-01T10:00:00Z", **huge), good(2),
    ])
    report = tenant.ingest(path, format="jsonl")
    assert {t["ticket_id"] for t in tenant.tickets.list()} == {"G-1", "G-2"}
    assert report.accepted + report.rejected == 3
    for err in report.errors:
        assert err.record == 2 and err.message.startswith("unexpected error")
        assert "\n" not in err.message and str(2**40) not in err.message


def test_nothing_of_a_payload_reaches_the_error_text(tenant: Tenant, tmp_path: Path) -> None:
    secret = "wire money to account 12345"
    path = write_jsonl(tmp_path / "s.jsonl", [
        event("ticket.created", "S-1", T0, text=secret + "\x00"),
    ])
    report = tenant.ingest(path, format="jsonl")
    assert report.rejected == 1
    assert secret not in orjson.dumps(report.as_dict()).decode()


def test_the_cli_keeps_good_records_and_refuses_unreadable_files_in_one_line(
    workspace: Workspace, database_url: str | None, tmp_path: Path
) -> None:
    workspace.create_tenant("acme")
    env = {**os.environ, "SUPPORTOPS_WORKSPACE": str(workspace.path)}
    if database_url:
        env["SUPPORTOPS_DATABASE_URL"] = database_url

    def ingest(path: Path, fmt: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([EXE, "ingest", str(path), "--format", fmt, "--tenant", "acme",
                               "--json"], env=env, capture_output=True, text=True, timeout=300)

    mixed = write_jsonl(tmp_path / "mixed.jsonl", [
        good(1), event("ticket.created", "L", T0, text="z" * 1_000_001),
        json.dumps(event("ticket.created", "D", T0, attributes=nested(300))),
        event("ticket.created", "N", T0, text="a\x00b"), good(5),
    ])
    quoted = tmp_path / "q.csv"
    quoted.write_text(CSV_HEADER + f'A,c,{T0},one\nB,c,{T0},"two\nC,c,{T0},three\n')
    dup = tmp_path / "dup.csv"
    dup.write_text(f"ticket_id,customer_id,created_at,text,text\nX,c,{T0},a,b\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")

    done = ingest(mixed, "jsonl")
    assert done.returncode == 0 and "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert (report["accepted"], report["rejected"]) == (2, 3)
    assert [e["record"] for e in report["errors"]] == [2, 3, 4]
    done = ingest(quoted, "csv")
    assert done.returncode == 0 and json.loads(done.stdout)["accepted"] == 2
    for path, fmt, says in ((dup, "csv", "'text' twice"), (empty, "jsonl", "holds no records")):
        refused = ingest(path, fmt)
        assert refused.returncode == 2 and says in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
