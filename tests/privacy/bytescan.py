"""A scan of every byte of a folder for values, opening what hides bytes from a plain search:
gzip, zip, zlib streams (anywhere in a file), pickles (every string and bytes argument; the
raw bytes are scanned too) and Parquet (every value, read back). Matches are
case-insensitive and in UTF-8, UTF-16 and UTF-32 (NumPy keeps strings as UTF-32)."""

from __future__ import annotations

import gzip
import io
import pickletools
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

_ZLIB_SECOND = (0x01, 0x5E, 0x9C, 0xDA)
_MAX_DEPTH = 4
_MAX_OUT = 200 * 1024 * 1024


def variants(value: str) -> list[bytes]:
    low = value.lower()
    return [low.encode(), low.encode("utf-16-le"), low.encode("utf-32-le")]


def _zlib_streams(data: bytes) -> Iterator[bytes]:
    start = data.find(b"\x78")
    while start != -1 and start + 1 < len(data):
        if data[start + 1] in _ZLIB_SECOND:
            try:
                out = zlib.decompressobj().decompress(data[start:], _MAX_OUT)
            except zlib.error:
                out = b""
            if out:
                yield out
        start = data.find(b"\x78", start + 1)


def _gzip_members(data: bytes) -> Iterator[bytes]:
    start = data.find(b"\x1f\x8b\x08")
    while start != -1:
        try:
            out = gzip.GzipFile(fileobj=io.BytesIO(data[start:])).read(_MAX_OUT)
        except (OSError, EOFError, zlib.error):
            out = b""
        if out:
            yield out
        start = data.find(b"\x1f\x8b\x08", start + 1)


def _zip_members(data: bytes) -> Iterator[bytes]:
    if b"PK\x03\x04" not in data:
        return
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                yield archive.read(name)
    except (zipfile.BadZipFile, OSError, ValueError):
        return


def _pickle_args(data: bytes) -> Iterator[bytes]:
    if data[:1] != b"\x80":
        return
    chunks: list[bytes] = []
    try:
        for _op, arg, _pos in pickletools.genops(io.BytesIO(data)):
            if isinstance(arg, str):
                chunks.append(arg.encode("utf-8", "surrogatepass"))
            elif isinstance(arg, (bytes, bytearray)):
                yield bytes(arg)
    except Exception:  # a truncated or foreign pickle: what was read so far still counts
        pass
    yield b"\n".join(chunks)


def _parquet_values(data: bytes) -> Iterator[bytes]:
    if not data.startswith(b"PAR1"):
        return
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    for column in table.columns:
        yield "\n".join(str(v) for v in column.to_pylist()).encode()


def blobs(data: bytes, depth: int = 0) -> Iterator[bytes]:
    """``data`` and everything decoded from it, recursively."""
    yield data
    if depth >= _MAX_DEPTH:
        return
    for opener in (_gzip_members, _zip_members, _zlib_streams, _pickle_args, _parquet_values):
        for inner in opener(data):
            if inner and inner != data:
                yield from blobs(inner, depth + 1)


def scan_bytes(data: bytes, values: Iterable[str]) -> set[str]:
    """Which ``values`` occur in ``data`` or anything decoded from it."""
    wanted = {v: variants(v) for v in values}
    found: set[str] = set()
    for blob in blobs(data):
        low = blob.lower()
        found.update(v for v, forms in wanted.items()
                     if v not in found and any(f in low for f in forms))
    return found


def scan_files(files: Iterable[Path], values: list[str]) -> dict[str, list[str]]:
    """``{value: [files holding it]}`` for the values found anywhere."""
    hits: dict[str, list[str]] = {}
    for path in files:
        for value in scan_bytes(path.read_bytes(), values):
            hits.setdefault(value, []).append(str(path))
    return hits


def scan_tree(root: Path, values: list[str]) -> dict[str, list[str]]:
    return scan_files(sorted(p for p in root.rglob("*") if p.is_file()), values)
