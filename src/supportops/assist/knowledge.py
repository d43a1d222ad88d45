"""Importers of knowledge: a Bitext CSV and a folder of Markdown or HTML files.

Each article becomes a ``kb_article.published`` draft whose idempotency key names the
article and a digest of its content: loading the same file twice adds nothing, and a changed
article becomes ``kb_article.updated`` (the caller knows which ids exist already).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import orjson

from supportops.errors import ValidationFailed
from supportops.events.importers.common import csv_records
from supportops.events.ingest import ImportItem, Parsed, RecordError
from supportops.events.schemas import EventDraft

FORMATS = ("bitext", "markdown")
_MARKDOWN = (".md", ".markdown")
_HTML = (".html", ".htm")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _./&()'#,-]{0,79}")
Reader = Callable[[Path], Iterator[ImportItem]]


def article(article_id: str, title: str, body: str, at: datetime,
            **codes: str | None) -> EventDraft:
    """A ``kb_article.published`` draft keyed by id and content."""
    payload: dict[str, object] = {"article_id": article_id, "title": title, "body": body}
    payload.update({k: v for k, v in codes.items() if v})
    digest = hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return EventDraft("kb_article.published", at, payload, f"kb:{article_id}:{digest[:32]}")


def read_bitext(path: Path) -> Iterator[ImportItem]:
    """Each row's response is an article (id ``row_id``) with its intent and category; the
    row's customer request (``instruction``) is the article's question."""
    now = datetime.now(UTC)
    for item in csv_records(path, None, required=("row_id", "instruction", "intent",
                                                  "response")):
        if isinstance(item, RecordError):
            yield item
            continue
        number, row = item
        problem = _bitext_problem(row)
        if problem:
            yield RecordError(number, *problem)
            continue
        question = row["instruction"].strip()
        yield Parsed(number, [article(
            row["row_id"].strip(), question, row["response"].strip(), now,
            question=question, intent=row["intent"].strip(),
            category=(row.get("category") or "").strip() or None, language="en")])


def _bitext_problem(row: dict[str, str]) -> tuple[str, str] | None:
    for name in ("row_id", "instruction", "intent", "response"):
        if not (row.get(name) or "").strip():
            return name, "required value is empty"
    if not _ID.fullmatch(row["row_id"].strip()):
        return "row_id", f"not an article id (letters, digits, ' _./-'): {row['row_id'][:40]!r}"
    return None


def read_folder(path: Path) -> Iterator[ImportItem]:
    """Markdown (``# `` heading as title) and HTML (``<title>``) files; id = file name
    without extension."""
    if not path.is_dir():
        raise ValidationFailed(f"--format markdown reads a folder of .md/.html files; "
                               f"{str(path)!r} is not a folder.")
    now = datetime.now(UTC)
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in _MARKDOWN + _HTML)
    for number, file in enumerate(files, start=1):
        if not _ID.fullmatch(file.stem):
            yield RecordError(number, "article_id", f"file name {file.name!r} is not an "
                              "article id (letters, digits, ' _./-', up to 80)")
            continue
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            yield RecordError(number, "file", f"{file.name}: cannot read as UTF-8 ({err})")
            continue
        title, body = (_html(text) if file.suffix.lower() in _HTML else _markdown(text))
        if not body.strip() and not title.strip():
            yield RecordError(number, "body", f"{file.name} is empty")
            continue
        yield Parsed(number, [article(file.stem, title or file.stem, body, now)])


def _markdown(text: str) -> tuple[str, str]:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# "):
            return line[2:].strip(), "\n".join(lines[:i] + lines[i + 1 :]).strip()
    return "", text.strip()


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.title: list[str] = []
        self.body: list[str] = []
        self._where: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._where.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._where:
            while self._where and self._where.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if "script" in self._where or "style" in self._where:
            return
        (self.title if "title" in self._where else self.body).append(data)


def _html(text: str) -> tuple[str, str]:
    parser = _Text()
    parser.feed(text)
    body = re.sub(r"\s+", " ", " ".join(parser.body)).strip()
    return " ".join(parser.title).strip(), body


def reader_for(fmt: str) -> Reader:
    if fmt == "bitext":
        return read_bitext
    if fmt == "markdown":
        return read_folder
    raise ValidationFailed(f"The 'format' of a knowledge base must be one of "
                           f"{', '.join(FORMATS)}. Got {fmt!r} instead.")
