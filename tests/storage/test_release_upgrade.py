"""Workspaces of the releases with the branched migration history upgrade in place.

Those releases kept one version row per branch head; the history is one line now. The fixture
is made honestly: each release's own sources (``git archive`` of its commit) run ``supportops
init``, ``tenants create`` and ``ingest`` in a subprocess, so the database holds exactly what
that release left. This release's ``Workspace.init`` must then stamp it at its place on the
line, run the rest, keep the data, and end with the schema a fresh workspace has: the live
tables, and the same triggers, policies and guard functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, make_url, text

from supportops import ConfigError, Workspace
from supportops.storage.branched import BRANCHED_PARENTS, single_revision
from supportops.storage.database import MIGRATIONS_DIR, VERSION_TABLE
from supportops.workspace import DB_FILE
from tests.conftest import BACKENDS, PG_URL, _create_pg_database, _drop_pg_database
from tests.privacy.conftest import PiiData, make_csv
from tests.releases import release_cli, release_sources

#: Each release with the branched history, and the version rows its ``init`` leaves.
RELEASES = {
    "463a568": {"0002_privacy", "0003_ml", "0004_analytics"},
    "4536969": {"0003_ml", "0004_analytics", "0005_integrity", "0006_boundary",
                "0010_subjects", "0011_assist", "0012_server", "0013_monitor",
                "0014_domain_terms"},
}
LINE = [r.revision for r in reversed(list(ScriptDirectory(str(MIGRATIONS_DIR))
                                          .walk_revisions()))]






def _owner_url(ws: Path, url: str | None) -> str:
    """A login that sees every row and the catalogue (the suite's superuser on PostgreSQL)."""
    return url or f"sqlite:///{ws / DB_FILE}"


def _query(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(tuple(row) for row in conn.execute(text(sql)))
    finally:
        engine.dispose()


def _versions(url: str) -> set[str]:
    return {row[0] for row in _query(url, f"SELECT version_num FROM {VERSION_TABLE}")}


@pytest.fixture(params=[(r, b) for r in RELEASES for b in BACKENDS],
                ids=lambda p: f"{p[0]}-{p[1]}")
def released(request: pytest.FixtureRequest,
             tmp_path: Path) -> Iterator[tuple[str, Path, str | None, PiiData]]:
    """(release, workspace path, admin database URL, data) of a workspace a release wrote."""
    commit, backend = request.param
    src = release_sources(commit, tmp_path / "release")
    url = name = None
    if backend == "postgresql":
        assert PG_URL
        url, name = _create_pg_database(PG_URL)
    data = make_csv(tmp_path / "tickets.csv", n_customers=3, tickets_each=2, seed=11)
    ws = tmp_path / "ws"
    try:
        release_cli(src, ws, url, "init")
        release_cli(src, ws, url, "tenants", "create", "acme")
        assert "accepted 12" in release_cli(src, ws, url, "ingest", str(data.path), "--format", "csv",
                                     "--tenant", "acme")
        yield commit, ws, url, data
    finally:
        if name is not None:
            assert PG_URL
            _drop_pg_database(PG_URL, name)


def test_a_release_workspace_upgrades_in_place(
        released: tuple[str, Path, str | None, PiiData], tmp_path: Path) -> None:
    commit, path, url, data = released
    assert _versions(_owner_url(path, url)) == RELEASES[commit]
    with Workspace.init(path, database_url=url) as ws:
        acme = ws.tenant("acme")
        assert acme.audit.verify().ok
        customer = data.customers[0]
        ticket = acme.tickets.get(customer.tickets[0])
        assert customer.markers[0] in str(ticket["events"])
        again = acme.ingest(data.path, "csv")
        assert (again.accepted, again.duplicates) == (0, 12)
        with ws.db.engine.connect() as conn:
            assert _schema_diff(conn) == []
    assert _versions(_owner_url(path, url)) == {LINE[-1]}
    with Workspace.open(path) as ws:  # opens as it is: nothing left to migrate
        assert ws.tenant("acme").tickets.get(customer.tickets[0])["ticket_id"]
    fresh_url = fresh_name = None
    if url is not None:
        assert PG_URL
        fresh_url, fresh_name = _create_pg_database(PG_URL)
    try:
        Workspace.init(tmp_path / "fresh", database_url=fresh_url).close()
        fresh = _guards(_owner_url(tmp_path / "fresh", fresh_url))
        assert _guards(_owner_url(path, url)) == fresh
    finally:
        if fresh_name is not None:
            assert PG_URL
            _drop_pg_database(PG_URL, fresh_name)


def _schema_diff(conn: Any) -> list[Any]:
    """What the live tables declare and the database lacks or holds beyond them."""
    import supportops.analytics.sla
    import supportops.datasets.tables
    import supportops.governance.tables
    import supportops.ml.tables
    import supportops.monitor.tables
    import supportops.privacy.tables
    import supportops.webhooks.tables  # noqa: F401
    from supportops.storage.schema import metadata

    context = MigrationContext.configure(conn, opts={"compare_type": False})
    return [d for d in compare_metadata(context, metadata)
            if not (d[0] == "remove_table" and d[1].name == VERSION_TABLE)]


_SQLITE_GUARDS = "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"
_PG_GUARDS = (
    "SELECT tablename, policyname, cmd, qual, with_check FROM pg_policies "
    "WHERE schemaname = 'public'",
    "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger "
    "WHERE NOT tgisinternal",
    "SELECT proname, prosrc FROM pg_proc WHERE pronamespace = 'public'::regnamespace",
    "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
    "WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'",
)


def _guards(url: str) -> list[list[tuple[Any, ...]]]:
    """Triggers, and on PostgreSQL row-level security, policies and guard functions."""
    if make_url(url).get_backend_name() != "postgresql":
        return [_query(url, _SQLITE_GUARDS)]
    return [_query(url, sql) for sql in _PG_GUARDS]


@pytest.mark.parametrize("commit", RELEASES)
def test_each_release_stands_at_one_place_on_the_line(commit: str) -> None:
    """A release's heads are stamped at the revision that ran the same migrations."""
    heads = RELEASES[commit]
    revision = single_revision(heads, LINE)
    assert set(LINE[:LINE.index(revision) + 1]) == {
        r for h in heads for r in _ancestry(h)}


def _ancestry(revision: str) -> set[str]:
    return {revision}.union(*(_ancestry(p) for p in BRANCHED_PARENTS[revision]))


def test_the_line_keeps_every_branched_revision() -> None:
    """The branched revisions, ids unchanged, are the line's first part."""
    assert sorted(LINE[:len(BRANCHED_PARENTS)]) == sorted(BRANCHED_PARENTS)


@pytest.mark.parametrize("heads", [
    {"0002_privacy", "0003_ml", "0004_analytics", "0006_boundary"},  # between releases
    {"0003_ml", "0004_analytics", "0099_unknown"},
])
def test_a_set_no_release_left_is_refused_by_name(heads: set[str]) -> None:
    with pytest.raises(ConfigError, match="no release of supportops"):
        single_revision(heads, LINE)
