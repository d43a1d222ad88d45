"""Time of the whole ``supportops train triage`` command on a fresh workspace, ingest included.

Run: ``.venv/bin/python bench/train_time.py`` (needs ../shared/data; prints SKIP without it).

Why a bench: issue 10 sets a budget of 10 minutes for ``train triage --data train.csv
--format banking77`` on 2 cores, and the figure must come from the command a user runs, not
from ``fit`` alone: a fresh workspace, the encoder export, ingestion with pseudonymisation,
snapshot, embedding, fit, threshold, out-of-scope detector, registry. The CLI runs in a child
process; the bench prints its wall time and the CPU seconds it used (user + system, all its
threads). On a machine shared with other jobs the wall time stretches with the load, while
the CPU seconds do not: on an otherwise idle machine the wall time is about the CPU seconds
divided by the threads that ran at once, plus I/O waits. The baseline in the same process is
the same command with ``--encoder none`` (TF-IDF n-grams only); the ratio is ours / budget.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SHARED = Path(os.environ.get("SUPPORTOPS_SHARED", Path(__file__).resolve().parents[2] / "shared"))
DATA = SHARED / "data" / "banking77" / "train.csv"
BUDGET_S = 600.0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cli(data: Path, encoder: str) -> dict[str, Any]:
    """One ``train triage`` in a fresh workspace: wall and CPU seconds, and its metrics."""
    root = Path(tempfile.mkdtemp(prefix="supportops-train-time-"))
    exe, where = str(Path(sys.executable).with_name("supportops")), ["--workspace", str(root / "ws")]
    for setup in (["init"], ["tenants", "create", "acme"]):  # made first, outside the timing
        subprocess.run([exe, *setup, *where], capture_output=True, check=True)
    command = [exe, "train", "triage", *where, "--tenant", "acme", "--data", str(data),
               "--format", "banking77", "--target", "category", "--name", "intents",
               "--encoder", encoder, "--json"]
    load, cpu, started = os.getloadavg()[0], _children_cpu(), time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    finally:
        wall = time.perf_counter() - started
        shutil.rmtree(root, ignore_errors=True)
    if done.returncode:
        raise SystemExit(f"train triage failed ({done.returncode}): {done.stderr[-2000:]}")
    metrics = json.loads(done.stdout.strip().splitlines()[-1])["metrics"]
    return {"encoder": encoder, "wall_s": round(wall, 1),
            "cpu_s": round(_children_cpu() - cpu, 1),
            "loadavg_start": round(load, 2), "loadavg_end": round(os.getloadavg()[0], 2),
            "internal_test_accuracy": round(float(metrics["accuracy"]), 4),
            "coverage": round(float(metrics["coverage"]), 4),
            "fit_s": metrics["train_seconds"]}


def main() -> int:
    if not DATA.exists():
        print(f"SKIP: {DATA} is absent; this benchmark needs the shared Banking77 data "
              "(set SUPPORTOPS_SHARED to its parent folder).")
        return 0
    print(f"cores={os.cpu_count()}; budget {BUDGET_S:.0f} s on 2 cores", flush=True)
    ours = run_cli(DATA, ARGS.encoder)
    print("ours", json.dumps(ours), flush=True)
    if ARGS.baseline:
        print("baseline", json.dumps(run_cli(DATA, "none")), flush=True)
    print(json.dumps({"wall_over_budget": round(ours["wall_s"] / BUDGET_S, 3),
                      "cpu_over_budget": round(ours["cpu_s"] / BUDGET_S, 3),
                      "within_budget": ours["wall_s"] <= BUDGET_S}), flush=True)
    return 0


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="minilm-onnx-int8")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false",
                        help="skip the --encoder none run")
    return parser.parse_args()


if __name__ == "__main__":
    ARGS = _args()
    sys.exit(main())
