"""The 100,000-document corpus of the assistant's latency bench, built from the shared data.

Passages are sentences (four words or more, deduplicated, in a fixed order) of the Bitext
responses and requests, the NLBSE'24 training issues, the Endava training tickets,
Banking77's training queries and the StackFAQ threads; a long sentence is cut into windows
of 12 words every 6 words. No test file of any data set is read.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from protocol import SHARED_DATA

SIZE = 100_000
_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
_WINDOW = 12


def _csv(path: Path, *fields: str) -> Iterator[str]:
    csv.field_size_limit(sys.maxsize)
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for name in fields:
                yield row.get(name) or ""


def _texts() -> Iterator[str]:
    yield from _csv(SHARED_DATA / "bitext_customer_support/bitext_customer_support_train.csv",
                    "instruction", "response")
    yield from _csv(SHARED_DATA / "nlbse24_issues/issues_train.csv", "title", "body")
    yield from _csv(SHARED_DATA / "endava_it_tickets/endava_it_tickets_train.csv",
                    "title", "body")
    yield from _csv(SHARED_DATA / "banking77/train.csv", "text")
    with (SHARED_DATA / "stackfaq/stackfaq_threads.jsonl").open() as handle:
        for line in handle:
            thread = json.loads(line)
            yield thread["question"]
            yield from thread["answers"]


def passages(size: int = SIZE) -> list[str]:
    """``size`` distinct passages (fewer if the data holds fewer)."""
    seen: dict[str, None] = {}
    for text in _texts():
        for sentence in _SPLIT.split(text):
            words = sentence.split()
            for i in range(0, max(1, len(words) - _WINDOW // 2), _WINDOW // 2):
                chunk = " ".join(words[i : i + _WINDOW])
                if len(chunk.split()) >= 4:
                    seen.setdefault(chunk, None)
                    if len(seen) >= size:
                        return list(seen)
    return list(seen)


if __name__ == "__main__":
    print(len(passages()))
