"""Endava helpdesk tickets: the business service from the ticket text, through the product.

Run: ``.venv/bin/python bench/endava.py`` (``--encoders none`` for one setting).

The shared file (``endava_it_tickets_train.csv``) is mapped to the product's ``csv`` ticket
format the way a user would map their own export (see :func:`as_ticket_row`): ``row_id`` is
the ticket id, ``title`` the subject line, ``body`` the text and ``business_service`` (the
assignment target of the original project) the ``category``; the export has no requester and
no dates, so each ticket is its own requester and all share one import stamp (the product then
splits by class, not by time). Protocol (bench/protocol.py): train / dev / test parts carved
per business service with a fixed seed; the encoder is chosen on dev; test is scored once.
Services with fewer than three tickets stay in train: the product keeps them and names them as
too rare to evaluate.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from protocol import (
    SHARED_DATA,
    carve,
    choose_on_dev,
    most_frequent_baseline,
    split_rows,
    tfidf_svm_baseline,
    write_csv,
)

SOURCE = SHARED_DATA / "endava_it_tickets" / "endava_it_tickets_train.csv"


def as_ticket_row(row: dict[str, str]) -> dict[str, str]:
    """One export row as a ``csv`` ticket (the column mapping a user would write)."""
    return {"ticket_id": f"endava-{row['row_id']}", "customer_id": f"requester-{row['row_id']}",
            "created_at": "2017-01-01T00:00:00+00:00", "subject_line": row["title"],
            "text": row["body"], "category": row["business_service"]}


def _parts(folder: Path) -> tuple[dict[str, Path], dict[str, list[dict[str, str]]]]:
    with SOURCE.open(newline="") as handle:
        rows = [as_ticket_row(r) for r in csv.DictReader(handle)]
    if ARGS.sample:
        rows = rows[: ARGS.sample]
    split = split_rows(rows, carve(len(rows), [r["category"] for r in rows], (0.15, 0.2),
                                   ARGS.seed))
    return {k: write_csv(folder / f"{k}.csv", v) for k, v in split.items()}, split


def _text(row: dict[str, str]) -> str:
    return f"{row['subject_line']}\n{row['text']}"


def _baselines(split: dict[str, list[dict[str, str]]]) -> dict[str, Any]:
    labelled = {k: ([_text(r) for r in v], [r["category"] for r in v]) for k, v in split.items()}
    x, y = labelled.pop("train")
    return {"tfidf_svm": tfidf_svm_baseline(x, y, labelled),
            "most_frequent": most_frequent_baseline(y, {k: v[1] for k, v in labelled.items()})}


def main() -> int:
    if not SOURCE.exists():
        print(f"SKIP: {SOURCE} is absent; this benchmark needs the shared Endava tickets "
              "(set SUPPORTOPS_SHARED to its parent folder).")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        paths, split = _parts(Path(tmp))
        services = {r["category"] for r in split["train"]}
        print(f"endava: {len(split['train'])} train / {len(split['dev'])} dev / "
              f"{len(split['test'])} test tickets, {len(services)} business services "
              f"(seed {ARGS.seed})", flush=True)
        print(json.dumps({"baselines": _baselines(split)}), flush=True)
        candidates = {f"encoder={e}": {"train": paths["train"], "encoder": e}
                      for e in ARGS.encoders.split(",")}
        choose_on_dev(candidates, paths["dev"], paths["test"], "csv", "category", "accuracy")
    return 0


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", default="none,minilm-onnx-int8")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sample", type=int, default=0, help="first N rows only (exploring)")
    return parser.parse_args()


if __name__ == "__main__":
    ARGS = _args()
    sys.exit(main())
