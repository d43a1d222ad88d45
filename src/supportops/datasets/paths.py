"""Paths stored in the database are relative to the workspace, so a workspace folder can be
copied or moved and still find (and erase) its own files, never the original's.

The workspace binds its folder to its database engine (each pooled connection carries it in
``conn.info``), so code that only holds a connection (erasure hooks) resolves paths too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event

ROOT_KEY = "supportops.workspace"
#: A legacy absolute path is re-rooted at its last ``/artifacts/`` part.
_ARTIFACTS = "artifacts"


def bind_workspace(engine: Engine, root: Path) -> None:
    """Every connection of ``engine`` knows the workspace folder ``root``."""
    folder = str(root.resolve())

    @event.listens_for(engine, "connect")
    def _remember(_dbapi_conn: Any, record: Any) -> None:
        record.info[ROOT_KEY] = folder


def workspace_of(conn: Connection) -> Path | None:
    root = conn.info.get(ROOT_KEY)
    return Path(root) if root else None


def to_stored(conn: Connection, path: Path) -> str:
    """``path`` as stored: relative to the workspace when it lies inside it."""
    root = workspace_of(conn)
    if root is not None:
        try:
            return path.resolve().relative_to(root).as_posix()
        except ValueError:
            pass
    return str(path)


def resolve(conn: Connection, stored: str) -> Path:
    """A stored path as a path of this workspace (legacy absolute paths re-rooted here)."""
    root = workspace_of(conn)
    path = Path(stored)
    if root is None:
        return path
    if not path.is_absolute():
        return root / path
    parts = path.parts
    if _ARTIFACTS in parts:
        cut = len(parts) - 1 - parts[::-1].index(_ARTIFACTS)
        return root.joinpath(*parts[cut:])
    return path
