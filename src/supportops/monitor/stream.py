"""A replayed stream: JSON Lines of ``{"id", "text"}`` plus an optional ``"label"``, checked
line by line so a bad line is named (line number, field, problem)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from supportops.errors import NotFound, ValidationFailed


def read_stream(path: str | Path) -> list[dict[str, Any]]:
    """Every line of ``path`` as a dict; blank lines are skipped, anything else wrong stops
    with the line and field named."""
    file = Path(path)
    if not file.is_file():
        raise NotFound(f"Stream file {str(file)!r} does not exist; pass a JSON Lines file of "
                       '{"id": ..., "text": ...} lines.')
    lines: list[dict[str, Any]] = []
    with file.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                lines.append(_checked(file, number, raw))
    return lines


def _checked(file: Path, number: int, raw: bytes) -> dict[str, Any]:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise ValidationFailed(f"{file.name}: line {number} is not JSON ({err}).") from None
    if not isinstance(obj, dict):
        raise ValidationFailed(f"{file.name}: line {number} must be a JSON object with 'id' and "
                               f"'text'. Got {type(obj).__name__}.")
    if not isinstance(obj.get("text"), str):
        got = "nothing" if "text" not in obj else type(obj["text"]).__name__
        raise ValidationFailed(f"{file.name}: line {number}: field 'text' must be a string. "
                               f"Got {got}.")
    label = obj.get("label")
    if label is not None and not isinstance(label, str | int):
        raise ValidationFailed(f"{file.name}: line {number}: field 'label' must be a string. "
                               f"Got {type(label).__name__}.")
    return obj
