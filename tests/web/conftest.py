"""One live console per test module: a real workspace (SQLite file) with a generated
workload, a trained triage model, principals of several roles in two tenants, and uvicorn
serving on loopback in a thread. Tests talk to it over real HTTP (httpx) or a real browser."""

from __future__ import annotations

import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from tests.conftest import PG_URL, _create_pg_database, _drop_pg_database

from supportops import Workspace

pytest.importorskip("fastapi", reason="the console needs the server extra")
uvicorn = pytest.importorskip("uvicorn", reason="the console needs the server extra")
pytest.importorskip("faker", reason="the generated workload needs the demo extra")

#: The assistant's encoder files, shared with tests/assist (the int8 export takes a while).
ENCODERS = Path(tempfile.gettempdir()) / "supportops-test-encoders"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


@dataclass
class Live:
    """The running console and what the tests know about its data."""

    url: str
    workspace: Workspace
    keys: dict[str, str]
    #: Every e-mail address in the generated source file (none may reach a page unrevealed).
    emails: set[str] = field(default_factory=set)
    #: ticket id -> customer id, from the source file.
    customers: dict[str, str] = field(default_factory=dict)
    #: ticket id -> e-mail addresses in its opening text, from the source file.
    ticket_emails: dict[str, set[str]] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _app(ws: Workspace):  # type: ignore[no-untyped-def]
    """The REST API with its console when installed, else the console alone."""
    try:
        from supportops.api import create_app
    except ImportError:
        from supportops.web import console_app

        return console_app(ws)
    return create_app(ws)


def _source_facts(live: Live, source: Path) -> None:
    import orjson

    for line in source.read_bytes().splitlines():
        event = orjson.loads(line)
        text = event["payload"].get("text") or ""
        customer = event["payload"].get("customer") or {}
        live.emails.update(EMAIL.findall(text))
        if customer.get("email"):
            live.emails.add(customer["email"])
        if event["type"] == "ticket.created":
            live.customers[event["ticket_id"]] = event["subject"]
            live.ticket_emails[event["ticket_id"]] = set(EMAIL.findall(text))


def _populate(root: Path, database_url: str | None) -> Live:
    from supportops.demo import generate, write_kb

    ws = Workspace.init(root / "ws", database_url=database_url)
    ws.create_tenant("acme")
    ws.create_tenant("other")
    owner = ws.tenant("acme")
    source = generate(root / "events.jsonl", tickets=120, seed=11)
    owner.ingest(source, "jsonl")
    owner.triage.train("triage", "category", encoder="none")
    owner.assist.load_kb(write_kb(root / "kb"), "markdown")
    keys = {role: owner.principals.create(f"web-{role}", role)[1] or ""
            for role in ("admin", "agent", "analyst", "privacy_officer", "ml_engineer")}
    keys["other_admin"] = ws.tenant("other").principals.create("web-admin", "admin")[1] or ""
    live = Live("", ws, keys)
    _source_facts(live, source)
    return live


@pytest.fixture(scope="module")
def console_backend() -> str:
    """The back-end of a module's console; a module overrides it to run on both."""
    return "sqlite"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, console_backend: str) -> Iterator[Live]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SUPPORTOPS_ENCODER_CACHE", str(ENCODERS))
        env.delenv("SUPPORTOPS_LLM_BASE_URL", raising=False)
        if console_backend == "sqlite":
            yield from _serve(tmp_path_factory.mktemp("console"), None)
            return
        assert PG_URL
        url, name = _create_pg_database(PG_URL)
        try:
            yield from _serve(tmp_path_factory.mktemp("console"), url)
        finally:
            _drop_pg_database(PG_URL, name)


def _serve(root: Path, database_url: str | None) -> Iterator[Live]:
    data = _populate(root, database_url)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(_app(data.workspace), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
        time.sleep(0.05)
    data.url = f"http://127.0.0.1:{port}"
    try:
        yield data
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        data.workspace.close()


def sign_in(live: Live, role: str) -> httpx.Client:
    """An httpx client holding a console session for ``role``'s key."""
    client = httpx.Client(base_url=live.url, timeout=120)
    page = client.get("/console/login")
    token = csrf_of(page.text)
    answer = client.post("/console/login", data={"api_key": live.keys[role], "csrf": token})
    assert answer.status_code == 303, answer.text
    return client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)
