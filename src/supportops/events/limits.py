"""Limits a record must respect before it reaches the log: no input can sink the rest of its file.

One walk over a draft finds what would crash a later stage or the database: strings longer
than ``MAX_TEXT_CHARS`` (spaCy refuses texts over 1,000,000 characters, and no ticket field
needs more), nesting deeper than ``MAX_DEPTH`` (JSON encoders and recursive code stop near 255),
NUL characters (PostgreSQL refuses them in text, so both back-ends reject them alike), and
values longer than the database columns they are projected into.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from supportops.events.schemas import EventDraft

MAX_TEXT_CHARS = 100_000
MAX_DEPTH = 64
#: Top-level fields stored in columns of bounded width.
COLUMN_CHARS = {"ticket_id": 200, "subject": 200, "idempotency_key": 200}
#: Payload fields (also inside ``state``) projected into ticket columns of bounded width.
PROJECTED_CHARS = {"status": 64, "priority": 64, "channel": 64, "category": 200, "group": 200,
                   "assignee": 200}
_SHOWN_PARTS = 6


def _where(path: tuple[str, ...]) -> str:
    """A field path for messages; deep paths are cut (a 300-deep path would fill the screen)."""
    if len(path) <= _SHOWN_PARTS:
        return ".".join(path)
    return ".".join(path[:_SHOWN_PARTS]) + f"...(+{len(path) - _SHOWN_PARTS} levels)"


def _string_problem(value: str, limit: int = MAX_TEXT_CHARS) -> str | None:
    if "\x00" in value:
        return "contains a NUL character (\\x00), which no text field may hold"
    if len(value) > limit:
        return f"is {len(value):,} characters long; the limit is {limit:,}"
    return None


def _walk(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every (path, node) of a JSON-shaped value, depth first, without recursion."""
    stack: list[tuple[tuple[str, ...], Any]] = [(path, value)]
    while stack:
        where, node = stack.pop()
        yield where, node
        if isinstance(node, dict):
            stack.extend(((*where, str(k)), v) for k, v in node.items())
        elif isinstance(node, list | tuple):
            stack.extend(((*where, str(i)), v) for i, v in enumerate(node))


def payload_problem(payload: Any) -> tuple[str, str] | None:
    """The first field of ``payload`` that breaks a limit, as ``(field, problem)``."""
    if _clearly_within(payload):
        return None
    for where, node in _walk(payload, ("payload",)):
        if len(where) > MAX_DEPTH:
            return _where(where), f"is nested deeper than the limit of {MAX_DEPTH} levels"
        if isinstance(node, str):
            problem = _string_problem(node, _projected_limit(where))
            if problem:
                return _where(where), problem
        elif isinstance(node, dict):
            for key in node:
                if isinstance(key, str) and (problem := _string_problem(key)):
                    return _where(where), f"has a key that {problem}"
    return None


def _clearly_within(payload: Any) -> bool:
    """The fast path (ingest runs this on every record): the encoded payload is short, has no
    escaped NUL, and has fewer brackets than the depth limit; projected fields are short."""
    try:
        body = orjson.dumps(payload)
    except (TypeError, orjson.JSONEncodeError):
        return False
    if len(body) > MAX_TEXT_CHARS or b"\\u0000" in body:
        return False
    if body.count(b"{") + body.count(b"[") > MAX_DEPTH:
        return False
    return isinstance(payload, dict) and not _long_projected(payload)


def _long_projected(payload: dict[str, Any]) -> bool:
    state = payload.get("state")
    for holder in (payload, state) if isinstance(state, dict) else (payload,):
        for key, limit in PROJECTED_CHARS.items():
            value = holder.get(key)
            if isinstance(value, str) and len(value) > limit:
                return True
    return False


def _projected_limit(where: tuple[str, ...]) -> int:
    """Columns the projection writes are narrower than free text."""
    tail = where[1:]
    if tail and tail[-1] in PROJECTED_CHARS and (len(tail) == 1 or tail[:-1] == ("state",)):
        return PROJECTED_CHARS[tail[-1]]
    return MAX_TEXT_CHARS


def draft_problem(draft: EventDraft) -> tuple[str, str] | None:
    """The first field of a draft that breaks a limit, as ``(field, problem)``."""
    for name, limit in COLUMN_CHARS.items():
        value = getattr(draft, name)
        if isinstance(value, str) and (problem := _string_problem(value, limit)):
            return name, problem
    return payload_problem(draft.payload)
