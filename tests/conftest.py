"""Fixtures: every test gets a fresh workspace on a real SQLite file and, when
``SUPPORTOPS_TEST_DATABASE_URL`` is set (CI), the same tests run again on a fresh PostgreSQL
database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from supportops import Tenant, Workspace

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PG_URL = os.environ.get("SUPPORTOPS_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def shared_file(relative: str) -> Path:
    """A file of ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"needs ../shared/data/{relative} (absent in a fresh clone; present in CI)")
    return path


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    if not PG_URL:
        pytest.skip("SUPPORTOPS_TEST_DATABASE_URL is not set")
    return PG_URL


def _create_pg_database(base_url: str) -> tuple[str, str]:
    url = make_url(base_url)
    name = f"so_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False), name


def _drop_pg_database(base_url: str, name: str) -> None:
    admin = create_engine(make_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str) -> Iterator[str | None]:
    """``None`` for the embedded SQLite; a fresh PostgreSQL database otherwise."""
    if backend == "sqlite":
        yield None
        return
    assert PG_URL
    url, name = _create_pg_database(PG_URL)
    try:
        yield url
    finally:
        _drop_pg_database(PG_URL, name)


@pytest.fixture
def workspace(tmp_path: Path, database_url: str | None) -> Iterator[Workspace]:
    ws = Workspace.init(tmp_path / "ws", database_url=database_url)
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture
def tenant(workspace: Workspace) -> Tenant:
    """Tenant ``acme``, acting as the workspace owner (admin)."""
    workspace.create_tenant("acme", "Acme Corp")
    return workspace.tenant("acme")


@pytest.fixture
def plain_tenant(workspace: Workspace) -> Tenant:
    """Tenant ``plain`` with pseudonymisation switched off through its seam: for tests of the
    events room on its own (fold semantics), where tokens would hide what is being checked."""
    workspace.privacy_factory = None
    workspace.create_tenant("plain")
    return workspace.tenant("plain")
