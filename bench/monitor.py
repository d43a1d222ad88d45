"""Monitoring on a known shift: false alarms, detection delay, estimated-accuracy error, and
the per-prediction overhead of recording, each beside a baseline run in the same process.

Run: ``nice .venv/bin/python bench/monitor.py [--window 250] [--encoder-cache DIR]``

Protocol (shared data only; Banking77's test file is never read):
1. Banking77's training file: 17 intents drawn with a fixed seed are *unseen*; the other 60
   are carved (per intent) into train / dev / test parts (60/20/20).
2. A model is trained on the train part through the product (``tenant.triage.train``), which
   also stores its reference statistics.
3. Streams, each replayed through ``Tenant.monitor.report`` (the ``monitor report`` path):
   stationary windows of held-out queries of the seen intents, then, from a known window on,
   (A) queries of the unseen intents, or (B) Bitext customer-support questions (another
   domain). The dev streams (dev part, first half of the unseen and Bitext rows) are where
   the default thresholds were chosen; the test streams use the test part and the other
   halves, and are reported once.
4. Figures: input-drift alarms on the stationary windows (goal 0) and windows from the shift
   to the first alarm (goal 0: the first shifted window), beside Evidently's fixed AUC 0.55
   rule on the same scores; the mean absolute error of the estimated accuracy on stationary
   windows (goal <= 3 points), beside the raw mean confidence and the reference accuracy as
   estimates; the p99 latency of a served prediction with and without recording (goal:
   <= 1 ms added).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from protocol import SHARED_DATA, carve, split_rows, write_csv

ARGS = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ARGS.add_argument("--window", type=int, default=250)
ARGS.add_argument("--stationary-windows", type=int, default=6)
ARGS.add_argument("--shift-windows", type=int, default=3)
ARGS.add_argument("--unseen", type=int, default=17, help="intents held out of training")
ARGS.add_argument("--encoder-cache", type=Path, default=None,
                  help="folder with an already built int8 ONNX encoder to copy in")
ARGS.add_argument("--latency-calls", type=int, default=400)
ARGS.add_argument("--seed", type=int, default=0)
ARGS.add_argument("--workdir", type=Path, default=None,
                  help="keep the trained workspace here and reuse it on the next run")


def _banking() -> list[dict[str, str]]:
    with (SHARED_DATA / "banking77" / "train.csv").open() as handle:
        return [{"text": r["text"], "category": r["category"]} for r in csv.DictReader(handle)]


def _bitext() -> list[str]:
    path = SHARED_DATA / "bitext_customer_support" / "bitext_customer_support_train.csv"
    with path.open() as handle:
        return [r["instruction"] for r in csv.DictReader(handle)]


def _parts(seed: int, unseen_n: int) -> dict[str, Any]:
    rows = _banking()
    rng = np.random.default_rng(seed)
    intents = sorted({r["category"] for r in rows})
    unseen = set(rng.choice(intents, unseen_n, replace=False).tolist())
    seen = [r for r in rows if r["category"] not in unseen]
    parts = split_rows(seen, carve(len(seen), [r["category"] for r in seen], (0.2, 0.2), seed))
    for name in ("dev", "test"):  # the file is sorted by intent: a stationary stream is not
        parts[name] = [parts[name][i] for i in rng.permutation(len(parts[name]))]
    other = [r for r in rows if r["category"] in unseen]
    other = [other[i] for i in rng.permutation(len(other))]
    bitext = [{"text": t, "category": "bitext"} for t in _bitext()]
    bitext = [bitext[i] for i in rng.permutation(len(bitext))]
    half_o, half_b = len(other) // 2, len(bitext) // 2
    return {"train": parts["train"], "unseen": sorted(unseen),
            "dev": (parts["dev"], other[:half_o], bitext[:half_b]),
            "test": (parts["test"], other[half_o:], bitext[half_b:])}


def _stream(path: Path, stationary: list[dict[str, str]], shifted: list[dict[str, str]]
            ) -> Path:
    with path.open("wb") as out:
        for i, row in enumerate([*stationary, *shifted]):
            out.write(orjson.dumps({"id": f"s-{i}", "text": row["text"],
                                    "label": row["category"]}) + b"\n")
    return path


def _figures(report: dict[str, Any], model: Any, lines: list[dict[str, str]],
             reference: dict[str, Any], n_stationary: int) -> dict[str, Any]:
    """Our figures and the baselines' on one replayed stream (shift at window n_stationary)."""
    from supportops.monitor.windows import predictions
    from supportops.triage.serving import input_row

    windows = report["windows"]
    pred = predictions(model, [input_row(line) for line in lines])
    w = ARGS.window
    raw = [float(np.mean(pred["confidence"][x["start"]:x["end"]])) for x in windows]
    held = float(reference["held_out_accuracy"])
    stat, shift = windows[:n_stationary], windows[n_stationary:]

    def first(flags: list[bool]) -> int | None:
        return next((i for i, f in enumerate(flags) if f), None)

    def mae(est: list[float]) -> float:
        return round(100 * float(np.mean([abs(e - x["accuracy"])
                                          for e, x in zip(est, stat, strict=False)])), 2)

    ours_mae = mae([x["estimated_accuracy"] for x in stat])
    return {
        "windows": len(windows), "window": w, "shift_at_window": n_stationary,
        "false_alarms_stationary": sum(x["drift"] for x in stat),
        "windows_to_first_alarm": first([x["drift"] for x in shift]),
        "baseline_auc_0.55_false_alarms": sum(x["drift_score"] > 0.55 for x in stat),
        "baseline_auc_0.55_windows_to_first_alarm": first([x["drift_score"] > 0.55
                                                           for x in shift]),
        "label_mix_alarms_stationary": sum(x["label_drift"] for x in stat),
        "label_mix_alarms_shift": sum(x["label_drift"] for x in shift),
        "estimated_accuracy_mae_points": ours_mae,
        "baseline_raw_confidence_mae_points": mae(raw[:n_stationary]),
        "baseline_reference_accuracy_mae_points": mae([held] * n_stationary),
        "mae_ratio_vs_raw_confidence": round(ours_mae / max(mae(raw[:n_stationary]), 1e-9), 3),
        "drift_scores": [x["drift_score"] for x in windows],
        "estimated": [x["estimated_accuracy"] for x in windows],
        "actual": [x["accuracy"] for x in windows],
    }


def _latency(tenant: Any, texts: list[str]) -> dict[str, Any]:
    """p99 of one served prediction without and with the recorder, interleaved on disjoint
    texts (no encoder-cache hits), plus the hook's own cost."""
    from supportops.triage.serving import TriageServer

    server = TriageServer(tenant.triage.service, "bench")
    server.predict_one("warm up")
    recorder = tenant.prediction_recorder()
    plain, monitored, hook = [], [], []
    for i in range(0, min(len(texts), 2 * ARGS.latency_calls) - 1, 2):
        server.observer = None
        t0 = time.perf_counter()
        server.predict_one(texts[i])
        plain.append(time.perf_counter() - t0)
        server.observer = recorder.observe
        t0 = time.perf_counter()
        server.predict_one(texts[i + 1])
        monitored.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        recorder.observe("bench", server.version, [{"id": None, "text": "x"}],
                         [{"text": "x", "open_fields": {}}],
                         [{"label": None, "confidence": 0.5, "abstained": True}], 0.0)
        hook.append(time.perf_counter() - t0)
    recorder.flush()
    recorded = len(tenant.monitor.status("bench")["models"][0]["versions"]) and \
        tenant.monitor.status("bench")["models"][0]["versions"]["1"]["served"]
    p99 = {k: round(1000 * float(np.percentile(v, 99)), 3)
           for k, v in (("plain", plain), ("monitored", monitored), ("hook", hook))}
    return {"calls": len(plain), "p99_ms_without_recording": p99["plain"],
            "p99_ms_with_recording": p99["monitored"],
            "p99_ms_added": round(p99["monitored"] - p99["plain"], 3),
            "p99_ms_of_the_hook_itself": p99["hook"], "predictions_recorded": recorded,
            "p50_ms_without_recording": round(1000 * float(np.median(plain)), 3),
            "p50_ms_with_recording": round(1000 * float(np.median(monitored)), 3)}


def main() -> None:
    parts = _parts(ARGS.seed, ARGS.unseen)
    root = ARGS.workdir or Path(tempfile.mkdtemp(prefix="supportops-bench-monitor-"))
    try:
        tenant = _trained(root, parts)
        model, version = tenant.triage.service.load("bench")
        reference = tenant.monitor.reference("bench", version)
        n_stat, n_shift, w = ARGS.stationary_windows, ARGS.shift_windows, ARGS.window
        for split in ("dev", "test"):
            stationary, unseen, bitext = parts[split]
            stat = stationary[: n_stat * w]
            for shift_name, shifted in (("unseen_intents", unseen), ("bitext", bitext)):
                lines = [*stat, *shifted[: n_shift * w]]
                path = _stream(root / f"{split}-{shift_name}.jsonl", stat,
                               shifted[: n_shift * w])
                t0 = time.perf_counter()
                report = tenant.monitor.report("bench", path, w)
                out = _figures(report, model, lines, reference, n_stat)
                print(json.dumps({"split": split, "shift": shift_name,
                                  "report_s": round(time.perf_counter() - t0, 1), **out}),
                      flush=True)
        print(json.dumps({"latency": _latency(tenant, [r["text"] for r in parts["test"][0]])}),
              flush=True)
        tenant.workspace.close()
    finally:
        if ARGS.workdir is None:
            shutil.rmtree(root, ignore_errors=True)


def _trained(root: Path, parts: dict[str, Any]) -> Any:
    """The tenant with the model trained on the train part (reused from ``--workdir``)."""
    from supportops import Workspace

    fresh = not (root / "ws").exists()
    ws = Workspace.init(root / "ws")
    tenant = ws.tenant("bench") if not fresh else None
    if tenant is None:
        if ARGS.encoder_cache:
            shutil.copytree(ARGS.encoder_cache, root / "ws" / "artifacts" / "encoders")
        ws.create_tenant("bench")
        tenant = ws.tenant("bench")
        started = time.perf_counter()
        trained = tenant.triage.train("bench", "category", format="banking77",
                                      data=write_csv(root / "train.csv", parts["train"]))
        print(json.dumps({"trained_s": round(time.perf_counter() - started, 1),
                          "train_rows": len(parts["train"]), "unseen_intents": parts["unseen"],
                          "held_out_accuracy": trained["metrics"]["accuracy"]}), flush=True)
    return tenant


if __name__ == "__main__":
    ARGS = ARGS.parse_args()  # type: ignore[assignment]
    main()
