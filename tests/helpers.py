"""Small builders shared by tests: native event lines and files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import make_url

if TYPE_CHECKING:
    from supportops import Workspace


def event(kind: str, ticket: str | None, at: str, subject: str | None = "cust-1",
          **payload: Any) -> dict[str, Any]:
    line: dict[str, Any] = {"type": kind, "occurred_at": at, "payload": payload}
    if ticket is not None:
        line["ticket_id"] = ticket
    if subject is not None:
        line["subject"] = subject
    return line


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    """Each item: a dict (encoded) or raw bytes/str written as is."""
    with open(path, "wb") as out:
        for item in lines:
            if isinstance(item, dict):
                out.write(orjson.dumps(item))
            elif isinstance(item, str):
                out.write(item.encode())
            else:
                out.write(item)
            out.write(b"\n")
    return path


def admin_url(ws: Workspace) -> str:
    """The suite's superuser login to a PostgreSQL workspace's database: what a scan of
    everything, or an attacker holding the server, reads with (the application's own login
    sees one tenant at a time)."""
    base = os.environ["SUPPORTOPS_TEST_DATABASE_URL"]
    database = make_url(ws.db.url).database
    return make_url(base).set(database=database).render_as_string(hide_password=False)
