"""Opening input files: gzip by magic bytes, progress by bytes read, bad bytes kept visible.

Text is decoded with ``surrogateescape`` so that a record with invalid UTF-8 can be rejected
on its own (its fields contain lone surrogates) instead of failing the whole file.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from supportops.errors import NotFound, ValidationFailed

_BAD_BYTES = re.compile("[\udc80-\udcff]")


class CountingReader(io.RawIOBase):
    """Wraps the raw file so a progress bar can follow bytes consumed."""

    def __init__(self, raw: BinaryIO, on_read: Callable[[int], None] | None) -> None:
        self._raw = raw
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override,unused-ignore]
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if self._on_read and n:
            self._on_read(n)
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_binary(path: Path, on_read: Callable[[int], None] | None = None) -> BinaryIO:
    """Open ``path`` for binary reading, transparently gunzipping it."""
    if not path.exists():
        raise NotFound(f"Input file {str(path)!r} does not exist.")
    if path.is_dir():
        raise ValidationFailed(f"Input {str(path)!r} is a folder; give a file.")
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller through the wrapper
    head = raw.read(3)
    raw.seek(0)
    counted = io.BufferedReader(CountingReader(raw, on_read), buffer_size=1 << 20)
    if head == b"\x1f\x8b\x08":  # gzip magic and its only compression method, deflate
        return gzip.GzipFile(fileobj=counted, mode="rb")  # type: ignore[return-value]
    return counted


def open_text(path: Path, on_read: Callable[[int], None] | None = None) -> io.TextIOWrapper:
    """Text view for CSV readers: BOM dropped, newlines left to the csv module."""
    return io.TextIOWrapper(open_binary(path, on_read), encoding="utf-8-sig",
                            errors="surrogateescape", newline="")


#: What a truncated or corrupt (gzip) stream raises while being read.
CORRUPT_INPUT = (EOFError, gzip.BadGzipFile, zlib.error)


def has_bad_bytes(value: str) -> bool:
    return _BAD_BYTES.search(value) is not None
