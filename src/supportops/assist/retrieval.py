"""Hybrid retrieval over a tenant's index, held in memory and reloaded only when it changed.

The cache holds the vector matrix and an inverted index of blind term hashes (CSR arrays)
per tenant, loaded once from the database and compared with the index's generation before
each search (one small read), so nothing is rebuilt per query. A search scores BM25 over
the blind terms and cosine over MiniLM vectors (one NumPy matmul), keeps the best
``depth`` of each and fuses the two rankings with reciprocal-rank fusion.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, and_, select

from supportops.assist import terms
from supportops.assist.indexing import blind_hasher
from supportops.assist.tables import assist_documents
from supportops.governance.context import Context
from supportops.ml.tables import event_embeddings

#: Reciprocal-rank fusion's k and the weight of the BM25 ranking (the vector ranking weighs
#: 1), chosen on the dev parts of both benches (``bench/assist.py``): best mean dev figure of
#: Bitext answer@1 and StackFAQ P@1 over k in (5, 20, 60) and weights (0.1, 0.25, 0.5, 1).
RRF_K = 5
LEXICAL_WEIGHT = 0.25
#: From this many documents the vector stage runs in two steps: a PCA projection to
#: ``PROJECTED`` dimensions picks ``CANDIDATES`` rows, which are then scored exactly (a third
#: of the memory traffic of the full matmul; recall measured by ``bench/assist.py``).
TWO_STAGE_FROM = 20_000
PROJECTED = 128
CANDIDATES = 1000
DEPTH = 100
K1, B = 1.2, 0.75
FloatArray = npt.NDArray[np.float32]
_DIM = 384


@dataclass(frozen=True)
class Filters:
    """Narrow a search: kinds ("kb", "ticket"), language, category, date range."""

    kinds: tuple[str, ...] = ()
    language: str | None = None
    category: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def empty(self) -> bool:
        return not (self.kinds or self.language or self.category or self.since or self.until)


@dataclass
class Hit:
    """One fused result: the row in the cache, its fused score, and each ranker's score."""

    row: int
    fused: float
    bm25: float
    cosine: float


@dataclass
class IndexCache:
    """A tenant's index in memory (one per database engine and tenant)."""

    generation: int
    encoder: str
    docs: list[dict[str, Any]] = field(default_factory=list)
    matrix: FloatArray = field(default_factory=lambda: np.zeros((0, _DIM), np.float32))
    terms_: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    starts: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(1, np.int64))
    post_docs: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    post_tf: FloatArray = field(default_factory=lambda: np.zeros(0, np.float32))
    #: Each posting's BM25 contribution, computed once at load (term idf, tf, doc length).
    impact: FloatArray = field(default_factory=lambda: np.zeros(0, np.float32))
    lengths: FloatArray = field(default_factory=lambda: np.zeros(0, np.float32))
    columns: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    rotation: FloatArray | None = None
    projected: FloatArray | None = None

    @property
    def size(self) -> int:
        return len(self.docs)


_DOC_COLUMNS = ("doc_id", "kind", "source_id", "question_event", "answer_event", "subject",
                "language", "category", "intent", "occurred_at")


def load(conn: Connection, ctx: Context, generation: int, encoder: str) -> IndexCache:
    """Read the tenant's documents and vectors into a fresh cache."""
    d, e = assist_documents, event_embeddings
    rows = conn.execute(
        select(*(d.c[c] for c in _DOC_COLUMNS), d.c.length, d.c.terms, e.c.vector)
        .select_from(d.outerjoin(e, and_(e.c.tenant_id == d.c.tenant_id,
                                         e.c.event_id == d.c.question_event,
                                         e.c.encoder == encoder)))
        .where(d.c.tenant_id == ctx.tenant_id).order_by(d.c.seq, d.c.doc_id)).all()
    cache = IndexCache(generation, encoder)
    cache.docs = [{c: getattr(r, c) for c in _DOC_COLUMNS} for r in rows]
    cache.matrix = _matrix([r.vector for r in rows])
    _project(cache)
    cache.lengths = np.asarray([r.length for r in rows], dtype=np.float32)
    _postings(cache, [r.terms for r in rows])
    for name in ("kind", "language", "category"):
        cache.columns[name] = np.asarray([doc[name] or "" for doc in cache.docs], dtype=object)
    cache.columns["occurred_at"] = np.asarray(
        [doc["occurred_at"].timestamp() for doc in cache.docs], dtype=np.float64)
    return cache


def _matrix(blobs: list[bytes | None]) -> FloatArray:
    out = np.zeros((len(blobs), _DIM), dtype=np.float32)
    for i, blob in enumerate(blobs):
        if blob is not None:
            out[i] = np.frombuffer(blob, dtype=np.float32)
    return out


def _project(cache: IndexCache) -> None:
    """The PCA rotation of a large matrix and its first ``PROJECTED`` columns."""
    if cache.size < TWO_STAGE_FROM:
        return
    sample = cache.matrix[:: max(1, cache.size // 25_000)].astype(np.float64)
    _, vectors = np.linalg.eigh(np.cov((sample - sample.mean(0)).T))
    cache.rotation = np.ascontiguousarray(vectors[:, ::-1][:, :PROJECTED], dtype=np.float32)
    cache.projected = np.ascontiguousarray(cache.matrix @ cache.rotation)


def cosines(cache: IndexCache, query_vec: FloatArray,
            keep: npt.NDArray[np.bool_] | None = None) -> FloatArray:
    """Cosine of every row (exact), or, for a large index, exact for the candidates the
    projection picks and -1 elsewhere."""
    if cache.projected is None or cache.rotation is None:
        return np.asarray(cache.matrix @ query_vec, dtype=np.float32)
    approx = cache.projected @ (query_vec @ cache.rotation)
    if keep is not None:
        approx = np.where(keep, approx, -np.inf).astype(np.float32)
    pick = np.argpartition(-approx, CANDIDATES)[:CANDIDATES]
    out = np.full(cache.size, -1.0, dtype=np.float32)
    out[pick] = cache.matrix[pick] @ query_vec
    return out


def _postings(cache: IndexCache, blobs: list[bytes]) -> None:
    """Invert the documents' blind terms into sorted CSR arrays (term -> docs, counts)."""
    parts = [terms.unpack(b) for b in blobs]
    if not parts:
        return
    hashes = np.concatenate([h for h, _ in parts])
    tf = np.concatenate([t for _, t in parts]).astype(np.float32)
    docs = np.repeat(np.arange(len(parts), dtype=np.int32), [len(h) for h, _ in parts])
    order = np.argsort(hashes, kind="stable")
    hashes, cache.post_tf, cache.post_docs = hashes[order], tf[order], docs[order]
    cache.terms_, first = np.unique(hashes, return_index=True)
    cache.starts = np.append(first, len(hashes)).astype(np.int64)
    df = np.diff(cache.starts).astype(np.float64)
    idf = np.log(1.0 + (len(parts) - df + 0.5) / (df + 0.5))
    avgdl = float(cache.lengths.mean()) or 1.0
    norm = K1 * (1 - B + B * cache.lengths / avgdl)
    tf_, docs_ = cache.post_tf, cache.post_docs
    cache.impact = (np.repeat(idf, np.diff(cache.starts)) * tf_ * (K1 + 1)
                    / (tf_ + norm[docs_])).astype(np.float32)


def bm25(cache: IndexCache, query: npt.NDArray[np.int64]) -> FloatArray:
    """BM25 of every document for the query's distinct term hashes."""
    scores = np.zeros(cache.size, dtype=np.float32)
    if cache.size == 0 or len(query) == 0:
        return scores
    at = np.searchsorted(cache.terms_, query)
    for i, term in zip(at.tolist(), query.tolist(), strict=True):
        if i >= len(cache.terms_) or cache.terms_[i] != term:
            continue
        lo, hi = cache.starts[i], cache.starts[i + 1]
        scores[cache.post_docs[lo:hi]] += cache.impact[lo:hi]  # docs are distinct per term
    return scores


def mask(cache: IndexCache, filters: Filters) -> npt.NDArray[np.bool_] | None:
    """Rows that pass the filters (None: all do)."""
    if filters.empty() or cache.size == 0:
        return None
    keep = np.ones(cache.size, dtype=bool)
    if filters.kinds:
        keep &= np.isin(cache.columns["kind"], list(filters.kinds))
    if filters.language:
        keep &= cache.columns["language"] == filters.language
    if filters.category:
        keep &= cache.columns["category"] == filters.category
    if filters.since:
        keep &= cache.columns["occurred_at"] >= filters.since.timestamp()
    if filters.until:
        keep &= cache.columns["occurred_at"] < filters.until.timestamp()
    return keep


def _top(scores: FloatArray, depth: int, keep: npt.NDArray[np.bool_] | None,
         positive: bool) -> npt.NDArray[np.intp]:
    """Rows of the ``depth`` best scores, best first (ties keep row order); ``positive``:
    only rows scoring above zero (BM25 ranks only documents sharing a term)."""
    rows = np.flatnonzero(scores > 0) if positive else None
    if keep is not None:
        rows = np.flatnonzero(keep) if rows is None else rows[keep[rows]]
    sub = scores if rows is None else scores[rows]
    depth = min(depth, len(sub))
    if depth == 0:
        return np.zeros(0, dtype=np.intp)
    part = np.argpartition(-sub, depth - 1)[:depth] if depth < len(sub) else np.arange(len(sub))
    part = part[np.lexsort((part, -sub[part]))]
    return part if rows is None else rows[part]


def search(cache: IndexCache, query_terms: npt.NDArray[np.int64], query_vec: FloatArray | None,
           filters: Filters = Filters(), limit: int = 10, depth: int = DEPTH,
           rrf_k: int = RRF_K, lexical_weight: float = LEXICAL_WEIGHT) -> list[Hit]:
    """Fuse the BM25 and vector rankings (weighted reciprocal-rank fusion), best first."""
    if cache.size == 0:
        return []
    keep = mask(cache, filters)
    lexical = bm25(cache, query_terms)
    cosine = (cosines(cache, query_vec, keep) if query_vec is not None
              else np.zeros(cache.size, dtype=np.float32))
    fused: dict[int, float] = {}
    for weight, ranking in ((lexical_weight, _top(lexical, depth, keep, True)),
                            (1.0, _top(cosine, depth, keep, query_vec is None))):
        for rank, row in enumerate(ranking.tolist()):
            fused[row] = fused.get(row, 0.0) + weight / (rrf_k + rank + 1)
    best = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    if query_vec is not None and cache.projected is not None:  # lexical-only rows: exact
        rows = [row for row, _ in best]
        cosine[rows] = cache.matrix[rows] @ query_vec
    return [Hit(row, score, float(lexical[row]), float(cosine[row])) for row, score in best]


class CacheRegistry:
    """Caches per (engine, tenant); a cache is replaced when the index's generation moved."""

    def __init__(self) -> None:
        self._caches: dict[tuple[int, str], IndexCache] = {}
        self._hashers: dict[tuple[int, str], terms.BlindHasher] = {}
        self._lock = threading.Lock()

    def get(self, conn: Connection, ctx: Context, generation: int, encoder: str) -> IndexCache:
        key = (id(conn.engine), ctx.tenant_id)
        cache = self._caches.get(key)
        if cache is not None and cache.generation == generation and cache.encoder == encoder:
            return cache
        with self._lock:
            fresh = load(conn, ctx, generation, encoder)
            self._caches[key] = fresh
        return fresh

    def hasher(self, conn: Connection, ctx: Context) -> terms.BlindHasher:
        """The tenant's blind-term hasher, keyed once per process (its key never changes)."""
        key = (id(conn.engine), ctx.tenant_id)
        found = self._hashers.get(key)
        if found is None:
            found = self._hashers[key] = blind_hasher(conn, ctx)
        return found


CACHES = CacheRegistry()
