"""One live server per test module over a world of two tenants, a principal of every role in
each, tickets and a trained triage model in each; on SQLite and, when configured, PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from supportops import Workspace
from supportops.api import create_app
from supportops.governance.context import ROLES
from tests.api.live import serving
from tests.clock import ManualClock
from tests.conftest import BACKENDS, PG_URL, _create_pg_database, _drop_pg_database
from tests.helpers import event, write_jsonl

TOPICS = {
    "card_lost": ["I lost my card yesterday", "my card is lost, please block it",
                  "I cannot find my card anywhere", "card lost on the train",
                  "please freeze my lost card"],
    "refund": ["I want a refund for my order", "please refund the double charge",
               "where is my refund", "refund has not arrived yet", "how long does a refund take"],
    "login": ["I cannot log in to the app", "my password does not work to log in",
              "login fails with an error", "locked out of my account login",
              "the app rejects my login"],
}
GREETINGS = ["", "hi, ", "hello, ", "urgent: "]
TENANTS = {"acme": "A", "globex": "G"}


@dataclass
class World:
    url: str
    workspace: Workspace
    clock: ManualClock  # the key check's: moved by tests, never by itself
    keys: dict[str, dict[str, str]] = field(default_factory=dict)  # tenant -> role -> key
    tickets: dict[str, list[str]] = field(default_factory=dict)  # tenant -> ticket ids
    customers: dict[str, list[str]] = field(default_factory=dict)
    admin_key: str = ""

    def client(self, tenant: str | None = None, role: str = "admin") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[tenant][role]}"} if tenant else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def _populate(ws: Workspace, tmp: Path, world: World) -> None:
    for tenant_id, prefix in TENANTS.items():
        ws.create_tenant(tenant_id)
        owner = ws.tenant(tenant_id)
        customers = [f"{prefix}-cust-{i}" for i in range(4)]
        lines = [event("ticket.created", f"{prefix}-{topic}-{i}", f"2024-01-01T10:{i:02d}:00Z",
                       subject=customers[i % 4], text=text, category=topic, channel="chat",
                       customer={"email": f"{customers[i % 4]}@example.com"})
                 for topic, texts in TOPICS.items()
                 for i, text in enumerate(f"{g}{t}" for g in GREETINGS for t in texts)]
        owner.ingest(write_jsonl(tmp / f"{tenant_id}.jsonl", lines), "jsonl")
        owner.triage.train("triage", "category", encoder="none")
        world.tickets[tenant_id] = [line["ticket_id"] for line in lines]
        world.customers[tenant_id] = customers
        world.keys[tenant_id] = {}
        for role in ROLES:
            _, key = owner.principals.create(f"{role}-key", role)
            assert key is not None
            world.keys[tenant_id][role] = key
    world.admin_key = ws.create_admin_key()


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("api")
    url = name = None
    if request.param == "postgresql":
        assert PG_URL
        url, name = _create_pg_database(PG_URL)
    ws = Workspace.init(tmp / "ws", database_url=url)
    try:
        clock = ManualClock()
        with serving(create_app(ws, webhook_interval=0.1, clock=clock)) as base:
            world = World(base, ws, clock)
            _populate(ws, tmp, world)
            yield world
    finally:
        ws.close()
        if name is not None:
            assert PG_URL
            _drop_pg_database(PG_URL, name)
