"""Small builders shared by tests: native event lines and files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson


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
