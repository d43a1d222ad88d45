"""Benchmark: our PiiDetector against Presidio's default AnalyzerEngine, same process.

Usage::

    .venv/bin/python bench/pii.py [--n 600] [--clean 400] [--seed 0] [--split both]
                                  [--presidio-full] [--errors 0]

Data: ``bench/pii_data.py`` (real ticket sentences from ``../shared/data`` with Faker
entities in 14 locales, plus 4 test-only locales; texts without PII measure false
positives). Settings were chosen on ``--split dev``; ``test`` is reported untouched.

Scoring (direct identifiers: PERSON, STREET_ADDRESS, PHONE_NUMBER, EMAIL_ADDRESS,
CREDIT_CARD, IBAN_CODE, IP_ADDRESS, US_SSN), at the word-token level as the Presidio
evaluation family does: a token (``\\w+``) of a predicted span is a true positive when a
gold span of the same family covers it. Families: PERSON; LOCATION (a street address or
a city: both systems call either LOCATION); PHONE; EMAIL; CARD; IBAN; IP; SSN. A predicted
LOCATION token on a gold city is not a false positive, but city recall is reported apart
and is not in the F2. Predictions of other types (dates, URLs, organisations, bank
account numbers...) are ignored for both systems. F2 = 5PR / (4P + R).

Speed: texts per second over the same texts (PII and clean), one process, BLAS threads
pinned to 1, after a warm-up, both batched (``detect_batch`` / ``BatchAnalyzerEngine``,
batch size 128). Same pipeline scope: we run only spaCy's ``ner``, so Presidio's engine
gets the same spaCy model with only ``ner`` enabled; ``--presidio-full`` adds a row for
Presidio with its whole default spaCy pipeline.
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
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pii_data import DIRECT, FAMILY, Example, make_split, tokens  # noqa: E402
from supportops.privacy.detection import DEFAULT_MODEL, PiiDetector  # noqa: E402

Pred = tuple[int, int, str]
Detect = Callable[[list[str]], list[list[Pred]]]


@dataclass
class Score:
    tp: Counter[str] = field(default_factory=Counter)  # by family
    pred: Counter[str] = field(default_factory=Counter)
    gold_hit: Counter[str] = field(default_factory=Counter)  # by gold type
    gold: Counter[str] = field(default_factory=Counter)
    clean_fp: Counter[str] = field(default_factory=Counter)
    clean_texts: int = 0
    seconds: tuple[float, float] = (0.0, 0.0)
    n_texts: int = 0

    def totals(self) -> tuple[float, float, float]:
        """Precision, recall, F2 over direct identifiers (token level)."""
        tp, pred = sum(self.tp.values()), sum(self.pred.values())
        hit = sum(v for k, v in self.gold_hit.items() if k in DIRECT)
        gold = sum(v for k, v in self.gold.items() if k in DIRECT)
        p, r = tp / pred if pred else 1.0, hit / gold if gold else 1.0
        return p, r, 5 * p * r / (4 * p + r) if p + r else 0.0


def score_one(sc: Score, ex: Example, preds: Sequence[Pred]) -> None:
    gold_tokens: dict[str, set[int]] = {}
    for g in ex.spans:
        gold_tokens.setdefault(FAMILY[g.type], set()).update(tokens(ex.text, g.start, g.end))
    pred_tokens: dict[str, set[int]] = {}
    for start, end, kind in preds:
        if kind in FAMILY and kind != "STREET_ADDRESS":
            pred_tokens.setdefault(FAMILY[kind], set()).update(tokens(ex.text, start, end))
    for fam, toks in pred_tokens.items():
        sc.pred[fam] += len(toks)
        sc.tp[fam] += len(toks & gold_tokens.get(fam, set()))
        if not ex.spans:
            sc.clean_fp[fam] += sum(1 for s, e, k in preds if FAMILY.get(k) == fam)
    for g in ex.spans:
        toks = tokens(ex.text, g.start, g.end)
        sc.gold[g.type] += len(toks)
        sc.gold_hit[g.type] += len(toks & pred_tokens.get(FAMILY[g.type], set()))
    sc.clean_texts += not ex.spans


def evaluate(examples: Sequence[Example], preds: Sequence[Sequence[Pred]],
             seconds: tuple[float, float]) -> Score:
    sc = Score(seconds=seconds, n_texts=len(examples))
    for ex, spans in zip(examples, preds, strict=True):
        score_one(sc, ex, spans)
    return sc


def timed(fn: Detect, texts: list[str]) -> tuple[list[list[Pred]], tuple[float, float]]:
    """Output, (wall seconds, CPU seconds of this process)."""
    fn(texts[:64])  # warm-up
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(texts)
    return out, (time.perf_counter() - wall, time.process_time() - cpu)


def ours() -> Detect:
    detector = PiiDetector(batch_size=128)
    return lambda texts: [[(s.start, s.end, s.type) for s in spans]
                          for spans in detector.detect_batch(texts)]


def presidio_default(*, ner_only: bool) -> Detect:
    """Presidio's default recognisers and NER mapping (conf/default.yaml) on our spaCy model."""
    import presidio_analyzer
    import yaml
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    from supportops.privacy.recognizers import install_offline_tldextract

    install_offline_tldextract()
    conf = Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml"
    config = yaml.safe_load(conf.read_text())
    config["models"][0]["model_name"] = DEFAULT_MODEL
    engine = NlpEngineProvider(nlp_configuration=config).create_engine()
    if ner_only:
        engine.get_nlp("en").select_pipes(enable=["ner"])
    batch = BatchAnalyzerEngine(AnalyzerEngine(nlp_engine=engine))
    return lambda texts: [[(r.start, r.end, r.entity_type) for r in results]
                          for results in batch.analyze_iterator(texts, language="en",
                                                                batch_size=128)]


def report(name: str, sc: Score) -> None:
    p, r, f2 = sc.totals()
    wall, cpu = sc.seconds
    print(f"  {name:<26} P={p:.3f} R={r:.3f} F2={f2:.3f}  "
          f"{sc.n_texts / wall:6.1f} texts/s wall, {sc.n_texts / cpu:6.1f} texts/CPU-s")
    recall = {k: sc.gold_hit[k] / sc.gold[k] for k in sorted(sc.gold)}
    precision = {k: sc.tp[k] / sc.pred[k] for k in sorted(sc.pred)}
    print("      recall by type:    " + ", ".join(f"{k}={v:.2f}" for k, v in recall.items()))
    print("      precision by family: " + ", ".join(f"{k}={v:.2f}" for k, v in precision.items()))
    per_k = {k: 1000 * v / max(1, sc.clean_texts) for k, v in sorted(sc.clean_fp.items())}
    print(f"      false positives per 1k clean texts: {sum(per_k.values()):.1f} "
          + "(" + ", ".join(f"{k}={v:.1f}" for k, v in per_k.items()) + ")")


def show_errors(examples: Sequence[Example], preds: Sequence[Sequence[Pred]], n: int) -> None:
    shown = 0
    for ex, spans in zip(examples, preds, strict=True):
        gold = [(ex.text[g.start:g.end], g.type) for g in ex.spans
                if not any(FAMILY.get(k) == FAMILY[g.type] and s < g.end and g.start < e
                           and (s, e) == (g.start, g.end) for s, e, k in spans)]
        fp = [(ex.text[s:e], k) for s, e, k in spans if k in FAMILY
              and not any(FAMILY[g.type] == FAMILY[k] and (s, e) == (g.start, g.end)
                          for g in ex.spans)]
        if (gold or fp) and shown < n:
            shown += 1
            print(f"  TEXT {ex.text!r} [{ex.locale}]\n    MISSED/PARTIAL {gold}\n    EXTRA {fp}")


def run_split(split: str, args: argparse.Namespace, systems: dict[str, Detect]) -> None:
    examples = make_split(split, args.n, args.clean, seed=args.seed)
    texts = [ex.text for ex in examples]
    print(f"split={split}: {len(texts)} texts ({args.clean} without PII), "
          f"{sum(len(e.spans) for e in examples)} gold spans, seed={args.seed}")
    rows = {}
    for name, fn in systems.items():
        preds, seconds = timed(fn, texts)
        rows[name] = evaluate(examples, preds, seconds)
        report(name, rows[name])
        if name == "ours" and args.errors:
            show_errors(examples, preds, args.errors)
    a, b = rows["ours"], rows["presidio default (ner)"]
    print(f"  F2 ours - presidio: {a.totals()[2] - b.totals()[2]:+.3f}; speed ratio ours/presidio:"
          f" {b.seconds[0] / a.seconds[0]:.2f}x wall, {b.seconds[1] / a.seconds[1]:.2f}x CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=600, help="texts with PII per split")
    parser.add_argument("--clean", type=int, default=400, help="texts without PII per split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", choices=["dev", "test", "both"], default="both")
    parser.add_argument("--presidio-full", action="store_true")
    parser.add_argument("--errors", type=int, default=0, help="print N texts ours got wrong")
    args = parser.parse_args()
    systems: dict[str, Detect] = {"ours": ours(),
                                  "presidio default (ner)": presidio_default(ner_only=True)}
    if args.presidio_full:
        systems["presidio default (full)"] = presidio_default(ner_only=False)
    print(f"{os.cpu_count()} cpus, 1 process, spaCy model {DEFAULT_MODEL}")
    for split in ("dev", "test") if args.split == "both" else (args.split,):
        run_split(split, args, systems)


if __name__ == "__main__":
    main()
