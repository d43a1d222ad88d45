"""Cross-tenant and cross-role probes: every endpoint of the OpenAPI document, called with
another tenant's ids by every role of this tenant, and by each role that must not pass.

The expected roles are written out here, independently of the routes' own declarations; a
new endpoint fails ``test_every_endpoint_is_probed`` until it is added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from supportops.governance.context import ROLES
from tests.api.conftest import World
from tests.helpers import event

ALL = set(ROLES)


@dataclass(frozen=True)
class Probe:
    method: str
    path: str  # template: {ticket}, {customer}, {snapshot}, {principal}, {webhook}, {tenant},
    # {priority}
    roles: set[str]  # the roles that may pass (an empty set: workspace admin only)
    body: Callable[[dict[str, str]], Any] | None = None
    params: Callable[[dict[str, str]], dict[str, str]] | None = None
    owned: bool = False  # the request names a thing of one tenant: another tenant gets 4xx


PROBES = [
    Probe("POST", "/v1/events", {"admin", "agent"}, body=lambda i: event(
        "ticket.created", i["written"], "2024-03-01T10:00:00Z", subject="probe-writer",
        text="probe")),
    Probe("POST", "/v1/events/batch", {"admin", "agent"}, body=lambda i: {"events": [event(
        "message.added", i["written"], "2024-03-01T10:00:00Z", subject="probe-writer",
        text="probe")]}),
    Probe("GET", "/v1/tickets", {"admin", "agent", "analyst", "privacy_officer"},
          params=lambda i: {"limit": "1000"}),
    Probe("GET", "/v1/tickets/{ticket}", {"admin", "agent", "analyst", "privacy_officer"},
          owned=True),
    Probe("POST", "/v1/triage", {"admin", "agent", "ml_engineer"}, owned=True,
          body=lambda i: {"text": "my card is lost", "ticket_id": i["ticket"]}),
    Probe("POST", "/v1/triage/{ticket}/accept", {"admin", "agent"}, owned=True,
          body=lambda i: {"final": "card_lost"}),
    Probe("POST", "/v1/triage/{ticket}/correct", {"admin", "agent"}, owned=True,
          body=lambda i: {"final": "refund"}),
    Probe("GET", "/v1/assist/similar", {"admin", "agent"}, owned=True,
          params=lambda i: {"ticket_id": i["ticket"]}),
    Probe("POST", "/v1/assist/answer", {"admin", "agent"}, owned=True,
          body=lambda i: {"text": "my card is lost", "ticket_id": i["ticket"]}),
    Probe("POST", "/v1/assist/feedback", {"admin", "agent"}, owned=True,
          body=lambda i: {"answer_id": i["answer"]}),
    Probe("GET", "/v1/analytics/report", {"admin", "analyst", "ml_engineer"}),
    Probe("GET", "/v1/analytics/clusters", {"admin", "analyst", "ml_engineer"},
          params=lambda i: {"k": "3"}),
    Probe("GET", "/v1/analytics/sla", {"admin", "analyst", "ml_engineer"}),
    # a priority is a name in the caller's own namespace: the admin sets its own target of
    # that name (and removes it again below); the victim's is untouched
    Probe("PUT", "/v1/analytics/sla/{priority}", {"admin"},
          body=lambda i: {"resolution_hours": 1}),
    Probe("DELETE", "/v1/analytics/sla/{priority}", {"admin"}),
    Probe("GET", "/v1/datasets", {"admin", "ml_engineer"}),
    Probe("POST", "/v1/datasets", {"admin", "ml_engineer"}, body=lambda i: {"name": "probe"}),
    Probe("GET", "/v1/datasets/{snapshot}", {"admin", "ml_engineer"}, owned=True),
    Probe("GET", "/v1/models", {"admin", "ml_engineer"}),
    Probe("GET", "/v1/models/{model}/versions/2", {"admin", "ml_engineer"}, owned=True),
    Probe("GET", "/v1/models/{model}/compare", {"admin", "ml_engineer"}, owned=True,
          params=lambda i: {"a": "1", "b": "2"}),
    Probe("GET", "/v1/models/{model}/significance", {"admin", "ml_engineer"}, owned=True,
          params=lambda i: {"challenger": "2"}),
    Probe("POST", "/v1/models/{model}/promote", {"admin", "ml_engineer"}, owned=True,
          body=lambda i: {"version": "2"}),
    Probe("POST", "/v1/models/{model}/rollback", {"admin", "ml_engineer"}, owned=True),
    Probe("GET", "/v1/monitor/status", {"admin", "ml_engineer", "analyst"},
          params=lambda i: {"name": i["model"]}),
    Probe("POST", "/v1/monitor/{model}/check", {"admin", "ml_engineer"}),
    Probe("POST", "/v1/privacy/opt-out", {"admin", "privacy_officer", "agent"},
          body=lambda i: {"subject": i["customer"]}),
    Probe("POST", "/v1/privacy/opt-in", {"admin", "privacy_officer", "agent"},
          body=lambda i: {"subject": i["customer"]}),
    Probe("GET", "/v1/privacy/opted-out", {"admin", "privacy_officer"}),
    # a customer id is a name in the caller's own namespace: opting it out above made an
    # event of the caller's own, which erasure may then erase (the victim is untouched)
    Probe("POST", "/v1/privacy/erase", {"admin", "privacy_officer"},
          body=lambda i: {"subject": i["customer"]}),
    Probe("GET", "/v1/privacy/reports", {"admin", "privacy_officer"},
          params=lambda i: {"subject": i["customer"]}),
    Probe("GET", "/v1/privacy/reveal/{ticket}", {"agent", "privacy_officer"}, owned=True),
    Probe("GET", "/v1/audit", {"admin", "privacy_officer"},
          params=lambda i: {"subject": i["customer"]}),
    Probe("GET", "/v1/audit/verify", {"admin", "privacy_officer"}),
    Probe("GET", "/v1/lineage", {"admin", "privacy_officer", "ml_engineer"}, owned=True,
          params=lambda i: {"snapshot": i["snapshot"]}),
    Probe("GET", "/v1/principals", {"admin"}),
    Probe("POST", "/v1/principals", {"admin"},
          body=lambda i: {"name": f"probe-{i['principal']}", "role": "admin"}),
    Probe("PATCH", "/v1/principals/{principal}", {"admin"}, owned=True,
          body=lambda i: {"role": "admin"}),
    Probe("POST", "/v1/principals/{principal}/disable", {"admin"}, owned=True),
    Probe("POST", "/v1/principals/{principal}/rotate", {"admin"}, owned=True),
    Probe("GET", "/v1/webhooks", {"admin"}),
    Probe("POST", "/v1/webhooks", {"admin"},
          body=lambda i: {"url": "http://127.0.0.1:9/probe", "event_types": ["alarm.raised"]}),
    Probe("GET", "/v1/webhooks/deliveries", {"admin"},
          params=lambda i: {"webhook_id": i["webhook"]}),
    Probe("DELETE", "/v1/webhooks/{webhook}", {"admin"}, owned=True),
    Probe("GET", "/v1/tenants", set()),
    Probe("POST", "/v1/tenants", set(), body=lambda i: {"id": "probe-tenant"}),
    Probe("POST", "/v1/tenants/{tenant}/principals", set(), owned=True,
          body=lambda i: {"name": "intruder", "role": "admin"}),
]
OPEN = {("GET", "/v1/health"), ("GET", "/v1/version")}


@dataclass
class Victim:
    ids: dict[str, str]
    secrets: list[str]  # strings that must never reach another tenant's caller
    key: str  # the victim's own admin key, to check nothing changed


@pytest.fixture(scope="module")
def victim(world: World) -> Victim:
    """Globex, with one of everything that a path can name."""
    owner = world.workspace.tenant("globex")
    owner.triage.train("triage", "category", encoder="none")  # a version 2
    snapshot = owner.datasets.create("globex-only").id
    owner.principals.create("globex-only-bot", "agent")
    hook = owner.webhooks.subscribe("http://127.0.0.1:9/globex", ["alarm.raised"])["id"]
    customer = world.customers["globex"][1]
    ticket = world.tickets["globex"][1]
    written = world.tickets["globex"][0]  # events may name it: they make the caller's own
    answer = owner.assist.answer("how do I get a refund")["answer_id"]
    owner.analytics.set_sla_target("P-globex", first_response_hours=2, resolution_hours=24)
    secrets_extra = [answer]
    ids = {"ticket": ticket, "answer": answer, "written": written, "customer": customer, "snapshot": snapshot, "model": "triage",
           "principal": "globex-only-bot", "webhook": hook, "tenant": "globex",
           "priority": "P-globex"}
    secrets = [*(t for t in world.tickets["globex"] if t != written), snapshot, hook, owner.privacy.subject_token(customer),
               f"{customer}@example.com", "globex-only", "P-globex", *secrets_extra]
    return Victim(ids, secrets, world.keys["globex"]["admin"])


def _call(client: httpx.Client, probe: Probe, ids: dict[str, str]) -> httpx.Response:
    path = probe.path.format(**ids)
    return client.request(probe.method, path,
                          json=probe.body(ids) if probe.body else None,
                          params=probe.params(ids) if probe.params else None)


def _served(world: World) -> set[tuple[str, str]]:
    spec = httpx.get(f"{world.url}/openapi.json").json()
    return {(m.upper(), p) for p, item in spec["paths"].items() for m in item}


def _probes(world: World) -> list[Probe]:
    """The probes of served endpoints (triage feedback is served once the monitor room
    gives ``tenant.triage.feedback``)."""
    served = _served(world)
    return [p for p in PROBES if (p.method, _template(p.path)) in served]


def test_every_endpoint_is_probed(world: World) -> None:
    templates = {(p.method, _template(p.path)) for p in PROBES}
    missing = _served(world) - OPEN - templates
    assert not missing, f"probe every endpoint: {sorted(missing)}"
    assert len(_probes(world)) >= len(PROBES) - 2


def _template(path: str) -> str:
    return (path.replace("{ticket}", "{ticket_id}").replace("{snapshot}", "{snapshot_id}")
            .replace("{principal}", "{name}").replace("{model}", "{name}")
            .replace("{webhook}", "{webhook_id}").replace("{tenant}", "{tenant_id}")
            .replace("/versions/2", "/versions/{version}"))


@pytest.mark.parametrize("role", ROLES)
def test_no_role_of_one_tenant_reaches_another(world: World, victim: Victim, role: str
                                               ) -> None:
    before = _state(world, victim)
    assert [t["priority"] for t in before["sla"]] == ["P-globex"]  # something to protect
    with world.client("acme", role) as intruder:
        for probe in _probes(world):
            response = _call(intruder, probe, victim.ids)
            where = f"{role} {probe.method} {probe.path}: {response.status_code}"
            assert response.status_code < 500, where
            asked = str(response.request.url) + response.request.content.decode()
            for secret in victim.secrets:  # an id the caller sent may be echoed, no other
                if secret not in asked:
                    assert secret not in response.text, f"{where} leaked {secret!r}"
            if probe.owned:
                assert response.status_code in (401, 403, 404, 422), where
    assert _state(world, victim) == before


def _state(world: World, victim: Victim) -> dict[str, Any]:
    """What a probe could have changed in the victim's tenant."""
    with world.client("globex", "admin") as own:
        return {
            "tickets": own.get("/v1/tickets", params={"limit": 1000}).json()["count"],
            "principals": sorted((p["name"], p["role"], p["disabled_at"])
                                 for p in own.get("/v1/principals").json()["data"]),
            "webhooks": own.get("/v1/webhooks").json()["data"],
            "models": [(m["version"], m["aliases"]) for m in own.get("/v1/models").json()["data"]],
            "ticket": own.get(f"/v1/tickets/{victim.ids['ticket']}").json()["events"],
            "opted_out": own.get("/v1/privacy/opted-out").json()["data"],
            "sla": own.get("/v1/analytics/sla").json()["data"],
            "audit": own.get("/v1/audit/verify").json()["ok"],
            "key_works": httpx.get(f"{world.url}/v1/tickets", headers={
                "Authorization": f"Bearer {world.keys['globex']['agent']}"}).status_code,
        }


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_where_it_may_not_pass(world: World, victim: Victim, role: str
                                                    ) -> None:
    own = {**victim.ids, "ticket": world.tickets["acme"][5], "tenant": "acme",
           "customer": world.customers["acme"][0], "principal": "agent-key"}
    with world.client("acme", role) as caller:
        for probe in _probes(world):
            if role in probe.roles:
                continue
            response = _call(caller, probe, own)
            assert response.status_code == 403, f"{role} {probe.method} {probe.path}: " \
                f"{response.status_code} {response.text[:200]}"
            assert response.json()["error"]["code"] == "permission_denied"


def test_workspace_admin_key_acts_in_no_tenant(world: World, victim: Victim) -> None:
    admin = httpx.Client(base_url=world.url,
                         headers={"Authorization": f"Bearer {world.admin_key}"})
    for probe in _probes(world):
        if not probe.roles:
            continue
        response = _call(admin, probe, victim.ids)
        assert response.status_code == 401, f"{probe.method} {probe.path}"
        assert all(secret not in response.text for secret in victim.secrets)
