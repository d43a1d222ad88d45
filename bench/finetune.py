"""Does fine-tuning the sentence encoder, within the training budget, lift Banking77 triage?

Run: ``.venv/bin/python bench/finetune.py`` (about 10 minutes on 2 cores; needs ../shared).

Why a bench: issue 10 asks for 0.94 top-1 on Banking77 with training (ingest included) inside
10 minutes on 2 cores, and earlier notes named fine-tuning all-MiniLM-L6-v2 as the lever left.
The product trains on a frozen encoder: ``TextClassifier`` fuses its sentence embedding with
TF-IDF word and char n-grams in one linear SVM. This bench fine-tunes the same encoder (mean
pooling, a linear head, cross-entropy, AdamW with warm-up and linear decay, as SetFit's and
the usual classification recipes do) on the train part for ``--epochs`` epochs and compares,
on the dev part, the candidates a product could ship:

- ``frozen fusion``: the product's classifier on the frozen encoder (the baseline);
- ``tuned head``: the fine-tuned encoder with its own linear head;
- ``tuned fusion``: the product's classifier on the fine-tuned encoder's embeddings;
- ``frozen + tuned``: the two fusions' probabilities averaged (an ensemble).

Protocol (as bench/triage.py, same carve and seed): train / dev / test parts of the shared
train file only; every candidate is fitted on train and scored on dev; the dev-best candidate
alone is then scored on test, once. The encoder here is PyTorch fp32 for every candidate, so
the comparison isolates fine-tuning (the product serves an int8 ONNX export of the frozen
model). Fine-tuning time is printed beside the budget.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: Logit scale on cosine-normalised embeddings: the head then learns on the unit sphere the
#: frozen classifier sees, and a scale near 20 is the usual temperature for that.
LOGIT_SCALE = 20.0


class TorchEncoder:
    """Mean-pooled, L2-normalised embeddings from a (possibly fine-tuned) MiniLM, cached by
    text: each candidate encodes the same dev texts, and encoding is the slow part."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self.model, self.tokenizer = model, tokenizer
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, batch: Sequence[str]) -> Any:
        import torch

        tokens = self.tokenizer(list(batch), padding=True, truncation=True, max_length=64,
                                return_tensors="pt")
        hidden = self.model(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(missing), 64):
                batch = missing[start:start + 64]
                for text, vector in zip(batch, self.embed(batch).numpy(), strict=True):
                    self._cache[text] = vector
        return np.stack([self._cache[t] for t in texts]).astype(np.float32)


def fine_tune(encoder: TorchEncoder, texts: list[str], labels: list[str]) -> tuple[Any, float]:
    """Fine-tune ``encoder`` in place with a linear head; returns (head, seconds)."""
    import torch

    classes = sorted(set(labels))
    index = {c: i for i, c in enumerate(classes)}
    y = torch.tensor([index[c] for c in labels])
    head = torch.nn.Linear(encoder.model.config.hidden_size, len(classes))
    batch = ARGS.batch_size
    steps = ARGS.epochs * -(-len(texts) // batch)
    optimiser = torch.optim.AdamW([{"params": encoder.model.parameters(), "lr": ARGS.lr},
                                   {"params": head.parameters(), "lr": ARGS.head_lr}],
                                  weight_decay=0.01)
    warmup = max(1, int(0.06 * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (steps - s) / steps))
    order = np.arange(len(texts))
    rng = np.random.default_rng(ARGS.seed)
    started = time.perf_counter()
    for epoch in range(ARGS.epochs):
        encoder.model.train()
        rng.shuffle(order)
        for start in range(0, len(order), batch):
            rows = order[start:start + batch]
            logits = head(encoder.embed([texts[i] for i in rows])) * LOGIT_SCALE
            loss = torch.nn.functional.cross_entropy(logits, y[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        print(f"  epoch {epoch + 1}/{ARGS.epochs}: {time.perf_counter() - started:.0f} s, "
              f"last batch loss {loss.item():.3f}", flush=True)
    head.classes_ = np.asarray(classes, dtype=object)
    return head, time.perf_counter() - started


def head_proba(head: Any, encoder: TorchEncoder, texts: Sequence[str]) -> np.ndarray:
    import torch

    with torch.inference_mode():
        logits = head(torch.from_numpy(encoder.encode(texts))) * LOGIT_SCALE
        return np.asarray(torch.softmax(logits, dim=-1).numpy(), dtype=np.float64)


def main() -> int:
    import triage as triage_bench

    if not (triage_bench.DATA / "train.csv").exists():
        print(f"SKIP: {triage_bench.DATA / 'train.csv'} is absent; this benchmark needs the "
              "shared Banking77 data (set SUPPORTOPS_SHARED to its parent folder).")
        return 0
    import torch
    from transformers import AutoModel, AutoTokenizer

    from supportops.ml.embeddings import model_dir
    from supportops.ml.estimators import TextClassifier

    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(ARGS.seed)
    triage_bench.ARGS = argparse.Namespace(seed=ARGS.seed, dev_size=ARGS.dev_size)
    parts = triage_bench._load()
    (x_tr, y_tr), (x_dev, y_dev), (x_te, y_te) = parts["train"], parts["dev"], parts["test"]
    print(f"banking77: {len(x_tr)}/{len(x_dev)}/{len(x_te)} train/dev/test (seed {ARGS.seed}); "
          f"cores={os.cpu_count()} loadavg_start={os.getloadavg()[0]:.2f}", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir()))
    frozen = TorchEncoder(AutoModel.from_pretrained(str(model_dir())), tokenizer)
    tuned = TorchEncoder(AutoModel.from_pretrained(str(model_dir())), tokenizer)
    frozen_fusion = TextClassifier(frozen, C=ARGS.C).fit(x_tr, y_tr)
    head, seconds = fine_tune(tuned, x_tr, y_tr)
    print(f"fine-tuning: {seconds:.0f} s for {ARGS.epochs} epochs over {len(x_tr)} texts "
          f"({seconds / 600:.2f} of the 600 s budget, before ingest and the final fit)",
          flush=True)
    tuned_fusion = TextClassifier(tuned, C=ARGS.C).fit(x_tr, y_tr)
    classes = frozen_fusion.classes_
    assert list(classes) == list(head.classes_) == list(tuned_fusion.classes_)
    candidates: dict[str, Any] = {
        "frozen fusion": frozen_fusion.predict_proba,
        "tuned head": lambda texts: head_proba(head, tuned, texts),
        "tuned fusion": tuned_fusion.predict_proba,
        "frozen + tuned": lambda texts: (frozen_fusion.predict_proba(texts)
                                         + tuned_fusion.predict_proba(texts)) / 2,
    }
    dev = {}
    for name, proba in candidates.items():
        dev[name] = float(np.mean(classes[proba(x_dev).argmax(axis=1)] == np.asarray(y_dev)))
        print(f"dev top-1 {name:15s} {dev[name]:.4f}", flush=True)
    best = max(dev, key=lambda n: dev[n])
    test = float(np.mean(classes[candidates[best](x_te).argmax(axis=1)] == np.asarray(y_te)))
    baseline = dev["frozen fusion"]
    print(f"chosen on dev: {best}; test top-1 {test:.4f} (scored once); best dev gain over the "
          f"frozen baseline: {dev[best] - baseline:+.4f}; loadavg_end={os.getloadavg()[0]:.2f}")
    return 0


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=8e-5, help="encoder learning rate")
    parser.add_argument("--head-lr", type=float, default=2e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--C", type=float, default=0.5, help="the fusion SVM's C")
    parser.add_argument("--dev-size", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


if __name__ == "__main__":
    ARGS = _args()
    sys.exit(main())
