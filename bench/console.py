"""Console page timings: each page fetched over real HTTP (uvicorn on loopback, signed in
through the sign-in form) next to the same Tenant calls made in process (the baseline), so the
ratio is what the web face adds (routing, session check, templates, HTTP).

    supportops demo --no-serve --workspace /tmp/bench-ws       # once: data and models
    python bench/console.py --workspace /tmp/bench-ws --tenant demo --repeat 10

Warm figures: each page is fetched once first (model loading, the assistant's index and the
PII detector's start-up are one-off costs, reported separately as "first").
"""

from __future__ import annotations

import argparse
import re
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import uvicorn

from supportops import Tenant, Workspace
from supportops.api import create_app
from supportops.web.admin import DELIVERIES
from supportops.web.analytics import charts, headline
from supportops.web.privacy import overview
from supportops.web.tickets import assistance
from supportops.web.triage import queue, ticket_text


def _baselines(tenant: Tenant, ticket: str) -> dict[str, Callable[[], Any]]:
    """What each page asks of the library, called directly."""
    def ticket_calls() -> Any:
        found = tenant.tickets.get(ticket)
        return assistance(tenant, ticket, ticket_text(found))

    def analytics_calls() -> Any:
        report = tenant.analytics.report(period="week")
        return headline(report), charts(report)

    return {"/console/triage": lambda: queue(tenant),
            "/console/tickets": lambda: tenant.tickets.list(limit=51),
            f"/console/tickets/{ticket}": ticket_calls,
            "/console/analytics": analytics_calls,
            "/console/models": tenant.triage.versions,
            "/console/privacy": lambda: overview(tenant),
            "/console/admin": lambda: (tenant.principals.list(), tenant.webhooks.list(),
                                       tenant.webhooks.deliveries(limit=DELIVERIES))}


def _timed(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(first call, median of ``repeat`` warm calls), in milliseconds."""
    start = time.perf_counter()
    call()
    first = (time.perf_counter() - start) * 1000
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        runs.append((time.perf_counter() - start) * 1000)
    return first, statistics.median(runs)


def _serve(ws: Workspace, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(create_app(ws), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


def _client(url: str, key: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=300)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/login").text)
    assert token is not None
    client.post("/console/login", data={"api_key": key, "csrf": token.group(1)})
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    ws = Workspace.init(args.workspace)
    owner = ws.tenant(args.tenant)
    _, key = owner.principals.create(f"bench-{int(time.time())}", "admin")
    assert key is not None
    ticket = owner.tickets.list(limit=1, status="resolved")[0]["ticket_id"]
    in_process = ws.authenticate(key)
    server = _serve(ws, args.port)
    client = _client(f"http://127.0.0.1:{args.port}", key)
    print(f"{'page':32} {'http first':>11} {'http warm':>10} {'in-process':>11} {'ratio':>6}")
    for path, call in _baselines(in_process, ticket).items():
        _, base = _timed(call, args.repeat)

        def fetch(path: str = path) -> None:
            assert client.get(path).status_code == 200, path

        first, warm = _timed(fetch, args.repeat)
        print(f"{path:32} {first:9.1f}ms {warm:8.1f}ms {base:9.1f}ms {warm / base:6.2f}")
    server.should_exit = True


if __name__ == "__main__":
    main()
