"""How a command prints its result, written once: a command hands its result to :func:`show`
(one JSON document) or :func:`lines` (JSON Lines) with a way to render it for people, so the
JSON a script reads is exactly the library's result and only the human side differs.

    show(result, as_json, lambda r: f"Tenant {r['id']} created.")
    show_list(rows, as_json, lambda r: table(("id", "name"), ((x["id"], x["name"]) for x in r)))
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from typing import TypeVar

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from supportops.cli.common import emit_json, emit_jsonl

T = TypeVar("T")
#: What a human renderer returns: a line (Rich markup allowed), a table, or several of them.
Human = str | Table | Sequence[str | Table]
console = Console()


def show(data: T, as_json: bool, human: Callable[[T], Human]) -> None:
    """``data`` as one JSON document, or ``human(data)`` for people. ``human`` runs only when
    people read, so it may format what the JSON leaves raw (and never costs a script)."""
    if as_json:
        emit_json(data)
        return
    out = human(data)
    for item in [out] if isinstance(out, str | Table) else out:
        console.print(item, soft_wrap=isinstance(item, str))


def show_list(rows: list[T], as_json: bool, human: Callable[[list[T]], Human]) -> None:
    """A listing: the ``{"data": [...], "count": n}`` envelope every list command (and every
    list route of the API) returns, or ``human(rows)`` for people."""
    show({"data": rows, "count": len(rows)}, as_json, lambda envelope: human(rows))


@contextlib.contextmanager
def lines(as_json: bool, human: Callable[[T], str]) -> Iterator[Callable[[T], None]]:
    """A writer of records printed as they come, one a line: JSON Lines for machines, or
    ``human(record)`` as plain text (no markup, nothing held back for a table: a stream of a
    million lines stays a stream); flushed once at the end."""
    def person(record: T) -> None:
        sys.stdout.write(human(record) + "\n")

    try:
        yield emit_jsonl if as_json else person
    finally:
        sys.stdout.flush()


def table(columns: Sequence[str], rows: Iterable[Sequence[object]],
          title: str | None = None) -> Table:
    """A table of ``rows``; cells are shown as text (``None`` as blank, never as markup) and
    fold onto a second line rather than lose characters to an ellipsis (ids get copied)."""
    grid = Table(title=title)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(Text("" if cell is None else str(cell)) for cell in row))
    return grid


def fields(data: Mapping[str, object], skip: Container[str] = ()) -> list[str]:
    """One ``key: value`` line per field, the key in bold, the value verbatim."""
    return [f"[bold]{key}[/]: {escape(str(value))}" for key, value in data.items()
            if key not in skip]
