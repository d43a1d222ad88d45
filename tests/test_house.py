"""The house rules, checked: migrations are frozen history, no room imports the package root
or the workspace, and ``supportops init`` loads none of the heavy optional libraries."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from supportops import Workspace

SRC = Path(__file__).resolve().parents[1] / "src" / "supportops"
MIGRATIONS = sorted((SRC / "storage" / "migrations" / "versions").glob("*.py"))
#: What a migration may import: its tools, never a module of supportops.
MIGRATION_IMPORTS = ("__future__", "typing", "collections", "datetime", "hashlib", "orjson",
                     "alembic", "sqlalchemy")
HEAVY = ("duckdb", "numpy", "pyarrow", "sklearn", "torch", "mlflow", "pandas", "faker",
         "presidio_analyzer", "spacy")
#: Rooms below the workspace, which must not know it.
LOWER_ROOMS = ("events", "privacy", "governance", "storage", "datasets", "ml", "triage",
               "analytics", "monitor")


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports (TYPE_CHECKING blocks included), with the line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("path", MIGRATIONS, ids=lambda p: p.name)
def test_migrations_are_frozen_history(path: Path) -> None:
    """A migration defines its own tables: importing a room's live tables would rewrite what
    an old revision did whenever the room changes (and pull the room's libraries in)."""
    bad = [f"{path.name}:{line} imports {module}" for line, module in _imports(path)
           if not module.startswith(MIGRATION_IMPORTS)]
    assert bad == []


def test_migrations_are_one_line() -> None:
    """One base, one head, each revision standing on the one before: a database is at one
    place on the line, and every file is on it (none left beside it)."""
    from alembic.script import ScriptDirectory

    from supportops.storage.database import MIGRATIONS_DIR

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    line = list(reversed(list(script.walk_revisions())))
    assert script.get_bases() == [line[0].revision] and line[0].down_revision is None
    assert script.get_heads() == [line[-1].revision]
    for before, after in pairwise(line):
        assert after.down_revision == before.revision, after.revision
        assert not after.dependencies and not after.branch_labels, after.revision
    assert sorted(r.module.__file__ or "" for r in line) == [str(p) for p in MIGRATIONS]


def test_no_module_imports_the_package_root() -> None:
    bad = [f"{p.relative_to(SRC)}:{line}" for p in SRC.rglob("*.py") if p.name != "__init__.py"
           or p.parent != SRC for line, module in _imports(p) if module == "supportops"]
    assert bad == []


def test_lower_rooms_do_not_know_the_workspace() -> None:
    bad = [f"{p.relative_to(SRC)}:{line} imports {module}" for room in LOWER_ROOMS
           for p in (SRC / room).rglob("*.py") for line, module in _imports(p)
           if module.startswith(("supportops.workspace", "supportops.cli"))]
    assert bad == []


def test_faker_fixtures_live_under_tests() -> None:
    library = [f"{p.relative_to(SRC)}:{line}" for p in SRC.rglob("*.py")
               if p.name != "demo.py" for line, module in _imports(p) if module == "faker"]
    assert library == []


def test_init_loads_no_heavy_library(tmp_path: Path) -> None:
    """``supportops init`` (the whole CLI imported, as the console script does) and
    ``tenants create`` stay light: no DuckDB, NumPy, PyArrow, scikit-learn, Torch..."""
    script = (
        "import json, sys\n"
        "from typer.main import get_command\n"
        "from supportops.cli.main import app\n"
        "cli = get_command(app)\n"
        f"cli.main(['init', '--workspace', {str(tmp_path / 'ws')!r}], standalone_mode=False)\n"
        f"cli.main(['tenants', 'create', 'acme', '--workspace', {str(tmp_path / 'ws')!r}],"
        " standalone_mode=False)\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, env=_env())
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.pop("SUPPORTOPS_DATABASE_URL", None)
    return env


def test_migrated_schema_matches_the_live_tables(workspace: Workspace) -> None:
    """What the frozen migrations built is what the rooms' live tables declare: a room that
    changes a table ships a migration for it."""
    # every room's tables join the metadata
    import supportops.analytics.sla
    import supportops.datasets.tables
    import supportops.governance.tables
    import supportops.ml.tables
    import supportops.monitor.tables
    import supportops.privacy.tables
    import supportops.webhooks.tables  # noqa: F401
    from supportops.storage.database import VERSION_TABLE
    from supportops.storage.schema import metadata

    with workspace.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = [d for d in compare_metadata(context, metadata)
                if not (d[0] == "remove_table" and d[1].name == VERSION_TABLE)]
    assert diff == []
