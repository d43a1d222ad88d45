"""GitHub issues (NLBSE'24: bug / feature / question), through the product.

Run: ``.venv/bin/python bench/nlbse.py`` (``--settings none`` for one setting).

Only the shared official *training* file is read (``issues_train.csv``); the official test
split is never used. The file is mapped to the product's ``csv`` ticket format as a user would
(:func:`as_ticket_row`): read with ``escapechar="\\"`` (the file doubles every backslash),
the issue title becomes the subject line, the body the text, the label the ``category``, the
issue's own ``created_at`` the opening time, and the repository a ticket attribute; the file
has no author, so each issue is its own requester. Protocol (bench/protocol.py): train / dev /
test parts carved per (repository, label) with a fixed seed; the setting (sentence encoder or
TF-IDF n-grams alone) is chosen on dev macro-F1; test is scored once. Coverage is the share
the default threshold answers; the baselines (TF-IDF + linear SVM, most frequent label) are
fitted in the same process on the same train part.
"""

from __future__ import annotations

import argparse
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

SOURCE = SHARED_DATA / "nlbse24_issues" / "issues_train.csv"


def as_ticket_row(index: int, row: dict[str, Any]) -> dict[str, str]:
    """One issue as a ``csv`` ticket (the column mapping a user would write)."""
    return {"ticket_id": f"issue-{index}", "customer_id": f"reporter-{index}",
            "created_at": str(row["created_at"]).replace(" ", "T") + "+00:00",
            "subject_line": str(row["title"]), "text": str(row["body"] or " "),
            "category": str(row["label"]), "repo": str(row["repo"])}


def _split() -> dict[str, list[dict[str, str]]]:
    import pandas as pd

    frame = pd.read_csv(SOURCE, escapechar="\\", keep_default_na=False)
    rows = [as_ticket_row(i, r) for i, r in enumerate(frame.to_dict("records"))]
    return split_rows(rows, carve(len(rows), [f"{r['repo']}/{r['category']}" for r in rows],
                                  (0.15, 0.2), ARGS.seed))


def _baselines(split: dict[str, list[dict[str, str]]]) -> dict[str, Any]:
    labelled = {k: ([f"{r['subject_line']}\n{r['text']}" for r in v],
                    [r["category"] for r in v]) for k, v in split.items()}
    x, y = labelled.pop("train")
    return {"tfidf_svm": tfidf_svm_baseline(x, y, labelled),
            "most_frequent": most_frequent_baseline(y, {k: v[1] for k, v in labelled.items()})}


def main() -> int:
    if not SOURCE.exists():
        print(f"SKIP: {SOURCE} is absent; this benchmark needs the shared NLBSE'24 file "
              "(set SUPPORTOPS_SHARED to its parent folder).")
        return 0
    import json

    split = _split()
    print(f"nlbse24 (official train file only): {len(split['train'])} train / "
          f"{len(split['dev'])} dev / {len(split['test'])} test issues (seed {ARGS.seed})",
          flush=True)
    print(json.dumps({"baselines": _baselines(split)}), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        paths = {k: write_csv(Path(tmp) / f"{k}.csv", v) for k, v in split.items()}
        candidates = {f"encoder={e}": {"train": paths["train"], "encoder": e}
                      for e in ARGS.settings.split(",")}
        choose_on_dev(candidates, paths["dev"], paths["test"], "csv", "category", "macro_f1")
    return 0


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="none,minilm-onnx-int8",
                        help="sentence encoders to choose from on dev")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


if __name__ == "__main__":
    ARGS = _args()
    sys.exit(main())
