"""Outgoing webhooks delivered over real HTTP to a receiver of ours on loopback: signed
(HMAC-SHA256 over ``timestamp.body``), retried with back-off, recorded, pseudonymised."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from supportops.webhooks import verify
from supportops.webhooks.signing import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from tests.api.conftest import World


class Receiver:
    """Records every POST; answers 500 to the first ``fail_first`` tries of each delivery."""

    def __init__(self, fail_first: int = 1) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append({"path": self.path, "body": body,
                                       "headers": dict(self.headers)})
                delivery = self.headers[DELIVERY_HEADER]
                seen = sum(1 for c in receiver.calls
                           if c["headers"][DELIVERY_HEADER] == delivery)
                self.send_response(500 if seen <= receiver.fail_first else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def on(self, path: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["path"] == path]


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("SUPPORTOPS_WEBHOOK_RETRY_SECONDS", "0.2")
    monkeypatch.setenv("SUPPORTOPS_WEBHOOK_MAX_ATTEMPTS", "3")
    found = Receiver()
    yield found
    found.server.shutdown()


def _wait(check: Any, why: Any = lambda: "", seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for deliveries: {why()}"
        time.sleep(0.05)


def _delivered(world: World, tenant: str) -> list[dict[str, Any]]:
    with world.client(tenant, "admin") as api:
        data: list[dict[str, Any]] = api.get("/v1/webhooks/deliveries").json()["data"]
    return data


def test_deliveries_are_signed_retried_recorded_and_pseudonymised(
        world: World, receiver: Receiver) -> None:
    with world.client("acme", "admin") as admin:
        hook = admin.post("/v1/webhooks", json={
            "url": f"{receiver.url}/acme", "event_types": ["ticket.triaged",
                                                          "erasure.completed"]}).json()
        admin.post("/v1/webhooks", json={"url": f"{receiver.url}/acme-alarms",
                                         "event_types": ["alarm.raised"]})
        assert hook["secret"].startswith("whsec_") and "secret" not in str(
            admin.get("/v1/webhooks").json())
    with world.client("globex", "admin") as other:
        other.post("/v1/webhooks", json={"url": f"{receiver.url}/globex",
                                         "event_types": ["ticket.triaged",
                                                         "erasure.completed"]})
    ticket, customer = world.tickets["acme"][2], world.customers["acme"][2]
    with world.client("acme", "agent") as agent:
        triaged = agent.post("/v1/triage", json={"text": "where is my refund",
                                                 "ticket_id": ticket}).json()
    with world.client("acme", "privacy_officer") as dpo:
        erased = dpo.post("/v1/privacy/erase", json={"subject": customer}).json()
    assert "label" in triaged and "subject" in erased, (triaged, erased)
    _wait(lambda: len(receiver.on("/acme")) >= 4,  # two events, each failed once first
          lambda: f"{[c['path'] for c in receiver.calls]} {_delivered(world, 'acme')}")
    calls = receiver.on("/acme")
    assert len(calls) == 4 and not receiver.on("/globex") and not receiver.on("/acme-alarms")
    bodies = []
    for call in calls:
        head = call["headers"]
        assert verify(hook["secret"], head[TIMESTAMP_HEADER], call["body"],
                      head[SIGNATURE_HEADER])
        assert not verify(hook["secret"], head[TIMESTAMP_HEADER], call["body"] + b" ",
                          head[SIGNATURE_HEADER])
        assert not verify("whsec_other", head[TIMESTAMP_HEADER], call["body"],
                          head[SIGNATURE_HEADER])
        bodies.append(json.loads(call["body"]))
    kinds = {b["type"]: b["data"] for b in bodies}
    assert kinds["ticket.triaged"] == {
        "ticket_id": ticket, "model": "triage", "version": "1", "label": triaged["label"],
        "confidence": triaged["confidence"], "abstained": triaged["abstained"]}
    assert kinds["erasure.completed"] == {"subject": erased["subject"], "kind": "customer"}
    for call in calls:
        assert customer.encode() not in call["body"] and b"@example.com" not in call["body"]
    _wait(lambda: all(d["status"] == "delivered" for d in _delivered(world, "acme")))
    records = _delivered(world, "acme")
    assert len(records) == 2
    assert all(d["attempts"] == 2 and d["last_status"] == 200 for d in records)


def test_an_unreachable_receiver_fails_after_the_last_attempt(
        world: World, receiver: Receiver) -> None:
    receiver.fail_first = 100
    with world.client("globex", "admin") as admin:
        admin.post("/v1/webhooks", json={"url": f"{receiver.url}/down",
                                         "event_types": ["ticket.triaged"]})
    with world.client("globex", "agent") as agent:
        agent.post("/v1/triage", json={"text": "lost card", "ticket_id": world.tickets[
            "globex"][0]})
    _wait(lambda: any(d["status"] == "failed" for d in _delivered(world, "globex")))
    failed = [d for d in _delivered(world, "globex") if d["status"] == "failed"]
    assert failed[0]["attempts"] == 3 and len(receiver.on("/down")) == 3
    assert failed[0]["last_status"] == 500 or failed[0]["last_error"]  # or it timed out
    times = [c["headers"][TIMESTAMP_HEADER] for c in receiver.on("/down")]
    assert times == sorted(times)


def test_subscriptions_refuse_bad_input(world: World) -> None:
    with world.client("acme", "admin") as admin:
        bad = admin.post("/v1/webhooks", json={"url": "ftp://x", "event_types":
                                               ["ticket.triaged"]})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "url"
        unknown = admin.post("/v1/webhooks", json={"url": "http://127.0.0.1:1/x",
                                                   "event_types": ["ticket.deleted"]})
        assert unknown.status_code == 422
        assert unknown.json()["error"]["field"].startswith("event_types")
        gone = admin.delete("/v1/webhooks/nope")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
