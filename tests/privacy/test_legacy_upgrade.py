"""A workspace written by the previous release is upgraded in place by ``supportops init``.

The fixture is made honestly: the previous release's sources (``git archive`` of the commit
before this round's work) run ``supportops init``, ``tenants create`` and ``ingest`` in a
subprocess, so the database holds what that release wrote (subject keys and vault rows named
by token, content and subjects in clear, idempotency keys as the input made them). Then this
release's ``Workspace.init`` upgrades it; reads, reveal, idempotent re-ingest, erasure and the
byte scan must all hold afterwards, on both back-ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from supportops import Workspace
from tests.conftest import BACKENDS, PG_URL, _create_pg_database, _drop_pg_database
from tests.helpers import admin_url
from tests.releases import release_cli, release_sources

from .conftest import PiiData, _files, _tables, make_csv

PREVIOUS_RELEASE = "463a5688"






@pytest.fixture(params=BACKENDS)
def legacy(request: pytest.FixtureRequest,
           tmp_path: Path) -> Iterator[tuple[Path, str | None, PiiData]]:
    """(workspace path, database URL, data) of a workspace the previous release wrote."""
    src = release_sources(PREVIOUS_RELEASE, tmp_path / "previous")
    url = name = None
    if request.param == "postgresql":
        assert PG_URL
        url, name = _create_pg_database(PG_URL)
    data = make_csv(tmp_path / "tickets.csv", n_customers=4, tickets_each=2, seed=5)
    ws = tmp_path / "ws"
    try:
        release_cli(src, ws, url, "init")
        release_cli(src, ws, url, "tenants", "create", "acme")
        assert "accepted 16" in release_cli(src, ws, url, "ingest", str(data.path), "--format",
                                        "csv", "--tenant", "acme")
        yield ws, url, data
    finally:
        if name is not None:
            assert PG_URL
            _drop_pg_database(PG_URL, name)


def _held(ws: Workspace, values: list[str]) -> list[str]:
    """Which values are anywhere the workspace keeps data (files; every table on PostgreSQL)."""
    ws.db.checkpoint()
    haystack = _files(ws.path).lower()
    if ws.db.is_postgres:
        haystack += _tables(admin_url(ws)).lower()
    return [v for v in values if v.lower().encode() in haystack]


def test_previous_release_workspace_is_upgraded_in_place(
        legacy: tuple[Path, str | None, PiiData]) -> None:
    path, url, data = legacy
    gone, kept = data.customers[0], data.customers[1]
    with Workspace.init(path, database_url=url) as ws:
        acme = ws.tenant("acme")
        check = acme.audit.verify()
        assert check.ok, check.problem
        (upgrade,) = acme.audit.list(action="privacy.upgrade")
        assert upgrade.details["events"] == 16 and upgrade.details["tickets_rebuilt"] == 8
        assert upgrade.details["vault_entries"] > 0 and upgrade.details["subject_keys"] >= 4
        # content is sealed at rest now, and reads as before
        assert _held(ws, [c.markers[0] for c in data.customers]) == []
        text = acme.tickets.get(kept.tickets[0])["events"][0]["payload"]["text"]
        assert kept.markers[0] in text
        token = acme.privacy.subject_token(kept.customer_id)
        assert acme.tickets.get(kept.tickets[0])["subject"] == token
        acme.principals.create("alice", "agent", "person")
        revealed = ws.tenant("acme", principal="alice").privacy.reveal(kept.tickets[0])
        assert kept.email in str(revealed["events"])
        again = acme.ingest(data.path, "csv")  # idempotency keys were keyed in place
        assert (again.accepted, again.duplicates) == (0, 16)
        # erasure reaches what the old release wrote
        gone_token = acme.privacy.subject_token(gone.customer_id)
        report = acme.privacy.erase(gone.customer_id)
        assert report["events_redacted"] == 4 and report["vault_entries_deleted"] >= 5
        assert _held(ws, [*gone.values(), *gone.markers]) == []
        assert _held(ws, [gone_token[-17:-1]]) == []  # its token's hex, in any form
        assert kept.markers[0] in str(acme.tickets.get(kept.tickets[0]))
        assert acme.audit.verify().ok


def test_a_current_workspace_is_left_as_it_is(tmp_path: Path) -> None:
    """``init`` on a workspace of this release changes nothing and audits no upgrade."""
    with Workspace.init(tmp_path / "ws") as ws:
        ws.create_tenant("acme")
        make = make_csv(tmp_path / "t.csv", n_customers=1, tickets_each=1)
        ws.tenant("acme").ingest(make.path, "csv")
    with Workspace.init(tmp_path / "ws") as ws:
        assert ws.tenant("acme").audit.list(action="privacy.upgrade") == []
        assert ws.tenant("acme").audit.verify().ok
