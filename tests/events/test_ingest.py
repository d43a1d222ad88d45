"""Ingestion: good records kept, bad ones named, idempotent, strict all-or-nothing."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from supportops import IngestError, Tenant
from tests.helpers import event, write_jsonl

T0 = "2024-05-01T09:00:00Z"


def test_mixed_file_keeps_every_good_record_and_names_every_bad_one(
    tenant: Tenant, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "mixed.jsonl", [
        event("ticket.created", "T-1", T0, text="printer on fire"),           # 1 good
        "{not json",                                                          # 2 malformed
        event("ticket.exploded", "T-1", T0),                                  # 3 unknown type
        event("ticket.created", "T-2", "yesterday", text="x"),                # 4 bad timestamp
        event("message.added", "T-1", T0, author="robot", text="hi"),         # 5 bad field
        b"\xff\xfe{\"type\": 1}",                                             # 6 bad encoding
        event("ticket.status_changed", None, T0, status="open"),              # 7 no ticket id
        event("message.added", "T-1", "2024-05-01T10:00:00Z", author="agent", text="on it"),  # 8
        "",                                                                   # blank: skipped
        event("ticket.resolved", "T-1", "2024-05-01T11:00:00Z"),             # 10 good
    ])
    report = tenant.ingest(path, format="jsonl")
    assert (report.accepted, report.rejected, report.duplicates) == (3, 6, 0)
    named = {(e.record, e.field) for e in report.errors}
    assert named == {(2, "record"), (3, "type"), (4, "occurred_at"), (5, "payload.author"),
                     (6, "record"), (7, "ticket_id")}
    assert all(e.message for e in report.errors)
    ticket = tenant.tickets.get("T-1")
    assert ticket["status"] == "resolved"
    assert ticket["first_response_at"].startswith("2024-05-01T10:00")


def test_reingest_is_idempotent(tenant: Tenant, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [
        event("ticket.created", f"T-{i}", T0, text=f"ticket {i}") for i in range(50)
    ])
    first = tenant.ingest(path, format="jsonl")
    second = tenant.ingest(path, format="jsonl")
    assert (first.accepted, first.duplicates) == (50, 0)
    assert (second.accepted, second.duplicates) == (0, 50)
    assert tenant.events.count() == 50


def test_explicit_idempotency_key_dedupes_across_files(tenant: Tenant, tmp_path: Path) -> None:
    one = event("ticket.created", "T-1", T0, text="a") | {"idempotency_key": "k-1"}
    two = event("ticket.created", "T-1", T0, text="different text") | {"idempotency_key": "k-1"}
    tenant.ingest(write_jsonl(tmp_path / "1.jsonl", [one]), format="jsonl")
    report = tenant.ingest(write_jsonl(tmp_path / "2.jsonl", [two]), format="jsonl")
    assert (report.accepted, report.duplicates) == (0, 1)


def test_strict_refuses_the_whole_file(tenant: Tenant, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "s.jsonl", [
        event("ticket.created", "T-1", T0, text="fine"), "{broken",
    ])
    with pytest.raises(IngestError) as info:
        tenant.ingest(path, format="jsonl", strict=True)
    assert "record 2" in str(info.value)
    assert info.value.report.accepted == 0
    assert tenant.events.count() == 0
    assert tenant.tickets.count() == 0


def test_gzip_and_small_batches(tenant: Tenant, tmp_path: Path) -> None:
    raw = write_jsonl(tmp_path / "g.jsonl", [
        event("ticket.created", f"T-{i}", T0, text="x") for i in range(120)
    ])
    gz = tmp_path / "g.jsonl.gz"
    gz.write_bytes(gzip.compress(raw.read_bytes()))
    report = tenant.ingest(gz, format="jsonl", batch_size=7)
    assert report.accepted == 120
    assert tenant.tickets.count() == 120


CSV_HEADER = "ticket_id,customer_id,created_at,text,customer_email,priority,group,resolved_at,resolution,plan\r\n"


def test_csv_rows_become_ticket_lifecycles(tenant: Tenant, tmp_path: Path) -> None:
    body = (
        "\ufeff" + CSV_HEADER
        + 'A-1,c-1,2024-01-02T10:00:00,"Card declined,\r\nplease help",a@x.io,high,Billing,'
          "2024-01-02T12:30:00+00:00,Retried the charge,gold\r\n"
        + "A-2,c-2,2024-01-03T08:00:00Z,Login broken,,low,Accounts,,,\r\n"
        + "A-3,c-3,03/01/2024,Bad date,,low,Accounts,,,\r\n"
        + "A-4,,2024-01-03T08:00:00Z,No customer,,low,Accounts,,,\r\n"
        + "A-5,c-5,2024-01-03T08:00:00Z,Too few fields\r\n"
        + "A-6,c-6,2024-01-03T09:00:00Z,Resolved before opened,,low,Accounts,2024-01-01T00:00:00Z,,\r\n"
    )
    path = tmp_path / "t.csv"
    path.write_bytes(body.encode("utf-8") + "A-7,c-7,2024-01-03T08:00:00Z,caf\xe9,,,,,,\r\n".encode("latin-1"))
    report = tenant.ingest(path, format="csv")
    assert report.accepted == 3  # A-1 created + resolved, A-2 created
    assert {(e.record, e.field) for e in report.errors} == {
        (3, "created_at"), (4, "customer_id"), (5, "record"), (6, "resolved_at"), (7, "text")}
    a1 = tenant.tickets.get("A-1")
    assert a1["status"] == "resolved"
    assert a1["priority"] == "high" and a1["group"] == "Billing"
    assert a1["attributes"] == {"plan": "gold"}
    assert a1["resolved_at"].startswith("2024-01-02T12:30")
    created = a1["events"][0]["payload"]
    assert created["text"] == "Card declined,\r\nplease help"


def test_csv_without_required_columns_is_named(tenant: Tenant, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("ticket_id,text\nA,b\n")
    report = tenant.ingest(path, format="csv")
    assert report.accepted == 0
    assert report.errors[0].field == "customer_id"


def test_unknown_format_is_a_clear_error(tenant: Tenant, tmp_path: Path) -> None:
    from supportops import ValidationFailed

    with pytest.raises(ValidationFailed, match="'format' must be one of"):
        tenant.ingest(tmp_path / "x", format="xml")
