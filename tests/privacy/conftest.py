"""Fixtures of the privacy tests: a Faker-made ticket CSV full of personal data, and a byte
scan of everything a workspace holds (files on SQLite, every table on PostgreSQL)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from faker import Faker
from sqlalchemy import create_engine, text

from supportops import Tenant, Workspace
from supportops.storage.schema import metadata
from tests.helpers import admin_url


@dataclass
class Customer:
    customer_id: str
    name: str
    email: str
    phone: str
    card: str
    iban: str
    tickets: list[str] = field(default_factory=list)
    markers: list[str] = field(default_factory=list)  # non-personal phrases of its texts

    def values(self) -> list[str]:
        return [self.customer_id, self.name, self.email, self.phone, self.card, self.iban]


@dataclass
class PiiData:
    path: Path
    customers: list[Customer]


def make_csv(path: Path, n_customers: int = 6, tickets_each: int = 2, seed: int = 7) -> PiiData:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    customers: list[Customer] = []
    rows = []
    for c in range(n_customers):
        cust = Customer(f"CUST-{seed}-{c:04d}-{fake.lexify('????').upper()}", fake.name(),
                        fake.unique.email(), fake.phone_number(), fake.credit_card_number(),
                        fake.iban())
        customers.append(cust)
        for t in range(tickets_each):
            ticket = f"T{seed}-{c:03d}-{t}"
            marker = f"order reference QZ{seed}{c:03d}{t}XK"
            cust.tickets.append(ticket)
            cust.markers.append(marker)
            first = cust.name.split()[0]
            rows.append({
                "ticket_id": ticket, "customer_id": cust.customer_id,
                "created_at": f"2021-0{1 + t}-1{c % 10}T09:30:00Z",
                "text": (f"Hello, this is {cust.name}. My {marker} was charged twice on card "
                         f"{cust.card}. Call me on {cust.phone} or write to {cust.email}. "
                         f"Please refund to IBAN {cust.iban}. Thanks, {first}"),
                "customer_name": cust.name, "customer_email": cust.email,
                "customer_phone": cust.phone, "iban": cust.iban, "status": "closed",
                "resolved_at": f"2021-0{1 + t}-2{c % 10}T10:00:00Z",
                "resolution": f"Refund sent to {cust.name} ({cust.email}) for {marker}.",
            })
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return PiiData(path, customers)


@pytest.fixture
def pii_data(tmp_path: Path) -> PiiData:
    """A CSV outside the workspace folder (the input itself is not at rest in the workspace)."""
    return make_csv(tmp_path / "tickets_with_pii.csv")


@pytest.fixture
def ingested(tenant: Tenant, pii_data: PiiData) -> PiiData:
    report = tenant.ingest(pii_data.path, "csv")
    assert report.rejected == 0, report.as_dict()
    return pii_data


@pytest.fixture
def agent(workspace: Workspace, tenant: Tenant) -> Tenant:
    tenant.principals.create("alice", "agent", "person")
    return workspace.tenant("acme", principal="alice")


def _files(root: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def _tables(url: str) -> bytes:
    engine = create_engine(url)  # the owner: bypasses row-level security
    chunks: list[bytes] = []
    try:
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                for row in conn.execute(text(f"SELECT * FROM {table.name}")):
                    chunks.extend(v if isinstance(v, bytes) else str(v).encode() for v in row)
    finally:
        engine.dispose()
    return b"\n".join(chunks)


Scan = Callable[[list[str]], list[str]]


@pytest.fixture
def scan(workspace: Workspace) -> Scan:
    """Which of ``values`` appear anywhere the workspace keeps data (bytes, UTF-8)."""

    def run(values: list[str]) -> list[str]:
        workspace.db.checkpoint()
        haystack = _files(workspace.path)
        if workspace.db.is_postgres:
            haystack += _tables(admin_url(workspace))
        return [v for v in values if v.encode() in haystack]

    return run
