"""Embed the latency corpus once and keep the vectors in a file under /tmp (not the repo).

Embedding 100,000 passages with MiniLM takes many minutes on a shared 2-core machine; the
latency bench seeds the product's encoder with these vectors (``Encoder.remember``) so that
indexing does not embed them again. The file is named by a digest of the passages and the
encoder, so a changed corpus or encoder is embedded afresh.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from assist_corpus import passages

ENCODERS = Path(os.environ.get("SUPPORTOPS_ENCODER_CACHE",
                               Path(tempfile.gettempdir()) / "supportops-test-encoders"))


def vectors_file(texts: list[str], encoder_name: str) -> Path:
    digest = hashlib.sha256("\x1e".join([encoder_name, *texts]).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"supportops-assist-bench-{digest}.npy"


def embed(texts: list[str]) -> np.ndarray:
    """Vectors of ``texts[i][:500]`` (what the index embeds for an untitled article)."""
    from supportops.ml.embeddings import Encoder

    encoder = Encoder("minilm-onnx-int8", ENCODERS, cache_size=0)
    path = vectors_file(texts, encoder.name)
    if path.exists():
        return np.load(path)
    out = np.empty((len(texts), encoder.dim), dtype=np.float32)
    start = time.perf_counter()
    for i in range(0, len(texts), 2000):
        out[i : i + 2000] = encoder.encode([t[:500] for t in texts[i : i + 2000]])
        print(f"embedded {i + 2000} in {time.perf_counter() - start:.0f} s", flush=True)
    np.save(path.with_suffix(".partial.npy"), out)
    path.with_suffix(".partial.npy").replace(path)
    return out


if __name__ == "__main__":
    print(embed(passages()).shape)
