"""Hybrid retrieval over a tenant's index, held in memory and reloaded only when it changed.

The cache holds the vector matrix and an inverted index of blind term hashes (CSR arrays)
per tenant, loaded once from the database and compared with the index's generation before
each search (one small read), so nothing is rebuilt per query. A search scores BM25 over
the blind terms (one gather and ``bincount`` over the query terms' postings, a common
term's capped) and cosine over MiniLM vectors (a projected shortlist above
``TWO_STAGE_FROM`` documents, scored exactly), keeps the best ``depth`` of each and fuses
the two rankings with reciprocal-rank fusion. The matrix products run on one BLAS thread:
they are small, and the cores are shared with the server's other workers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
#: ``PROJECTED`` dimensions picks ``CANDIDATES`` rows, which are then scored exactly (a
#: quarter of the memory traffic of the full matmul). Chosen on queries the bench does not
#: time (Bitext rows 20,000-20,099, the last 100 StackFAQ queries, 100k passages): the
#: cheapest setting with recall@10 >= 0.999 against exact (128/1000: 0.998, 96/2000: 0.997,
#: 96/3000: 0.999); ``bench/assist.py`` reports it on its own queries.
TWO_STAGE_FROM = 20_000
PROJECTED = 96
CANDIDATES = 3000
DEPTH = 100
#: Postings read per query term: a term in more documents than this adds only its
#: ``TERM_CAP`` highest-impact postings (a common term's idf is low, so the rest change
#: little). Chosen on the same untimed queries: BM25 recall@10 against exact 0.954 at
#: 2,000, 0.998 at 5,000, 1.0 at 10,000; ``bench/assist.py`` reports it on its own queries.
TERM_CAP = 10_000
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


class _OneBlasThread:
    """BLAS on one thread while any search runs. Reference-counted, so concurrent searches
    restore the process's own setting only when the last of them leaves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._controller: Any = None
        self._limiter: Any = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                if self._controller is None:
                    from threadpoolctl import ThreadpoolController

                    self._controller = ThreadpoolController()
                self._limiter = self._controller.limit(limits=1, user_api="blas")
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._limiter.restore_original_limits()
                    self._limiter = None

    def pin(self) -> None:
        """One BLAS thread for the rest of the process (a server sets it once warm): counted
        as a search that never ends, so a search that was running when it was set cannot
        restore the setting from before."""
        with self._lock:
            if self._users == 0:
                from threadpoolctl import threadpool_limits

                threadpool_limits(limits=1, user_api="blas")
            self._users += 1


one_blas_thread = _OneBlasThread()


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


def _best_rows(scores: FloatArray, n: int) -> npt.NDArray[np.intp]:
    """Rows of the ``n`` highest scores, in no order. A strided sample's quantile bounds
    them first, so the whole array is compared once rather than partitioned (a large
    ``argpartition`` costs more than the projection's matmul); the result is the same."""
    if n >= len(scores):
        return np.arange(len(scores))
    step = 8
    sample = scores[::step]
    ahead = min(len(sample) - 1, 2 * n // step)  # a margin: the sample is not the whole
    bound = np.partition(sample, len(sample) - 1 - ahead)[len(sample) - 1 - ahead]
    rows = np.flatnonzero(scores >= bound)
    if len(rows) < n:
        return np.argpartition(-scores, n - 1)[:n]
    return rows[np.argpartition(-scores[rows], n - 1)[:n]]


def _shortlist(cache: IndexCache, query_vec: FloatArray,
               keep: npt.NDArray[np.bool_] | None) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """Rows a large index scores exactly (the projection's best ``CANDIDATES`` that pass
    the filters) and their exact cosines."""
    assert cache.projected is not None and cache.rotation is not None
    approx = cache.projected @ (query_vec @ cache.rotation)
    if keep is not None:
        approx[~keep] = -np.inf
    pick = np.sort(_best_rows(approx, CANDIDATES))  # ties keep row order, as when exact
    if keep is not None:
        pick = pick[keep[pick]]
    return pick, np.asarray(cache.matrix[pick] @ query_vec, dtype=np.float32)


def vector_top(cache: IndexCache, query_vec: FloatArray, depth: int = DEPTH,
               keep: npt.NDArray[np.bool_] | None = None, exact: bool = False
               ) -> npt.NDArray[np.intp]:
    """Rows of the ``depth`` best cosines, best first: of every row (``exact``, or a small
    index), else of the projection's shortlist, scored exactly."""
    if exact or cache.projected is None:
        return _top(np.asarray(cache.matrix @ query_vec, dtype=np.float32), depth, keep, False)
    pick, scores = _shortlist(cache, query_vec, keep)
    order = _top(scores, depth, None, False)
    return pick[order]


def _postings(cache: IndexCache, blobs: list[bytes]) -> None:
    """Invert the documents' blind terms into CSR arrays (term -> docs, counts), each
    term's postings in falling order of BM25 impact (so a capped read keeps the best)."""
    parts = [terms.unpack(b) for b in blobs]
    if not parts:
        return
    hashes = np.concatenate([h for h, _ in parts])
    tf = np.concatenate([t for _, t in parts]).astype(np.float32)
    docs = np.repeat(np.arange(len(parts), dtype=np.int32), [len(h) for h, _ in parts])
    order = np.argsort(hashes, kind="stable")
    hashes, tf, docs = hashes[order], tf[order], docs[order]
    cache.terms_, first = np.unique(hashes, return_index=True)
    cache.starts = np.append(first, len(hashes)).astype(np.int64)
    df = np.diff(cache.starts).astype(np.float64)
    idf = np.log(1.0 + (len(parts) - df + 0.5) / (df + 0.5))
    avgdl = float(cache.lengths.mean()) or 1.0
    norm = K1 * (1 - B + B * cache.lengths / avgdl)
    impact = (np.repeat(idf, np.diff(cache.starts)) * tf * (K1 + 1)
              / (tf + norm[docs])).astype(np.float32)
    by_impact = np.lexsort((docs, -impact, hashes))  # per term: best first, ties by row
    cache.post_docs, cache.post_tf, cache.impact = docs[by_impact], tf[by_impact], impact[by_impact]


def _spans(cache: IndexCache, query: npt.NDArray[np.int64],
           cap: int | None) -> npt.NDArray[np.int64]:
    """Positions in the postings of the query's known terms, at most ``cap`` per term."""
    if cache.size == 0 or len(query) == 0 or len(cache.terms_) == 0:
        return np.zeros(0, dtype=np.int64)
    at = np.minimum(np.searchsorted(cache.terms_, query), len(cache.terms_) - 1)
    at = at[cache.terms_[at] == query]
    lo, hi = cache.starts[at], cache.starts[at + 1]
    if cap is not None:
        hi = np.minimum(hi, lo + cap)
    lengths = hi - lo
    ends = np.cumsum(lengths)
    starts: npt.NDArray[np.int64] = np.repeat(lo - (ends - lengths), lengths)
    return np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) + starts


def bm25(cache: IndexCache, query: npt.NDArray[np.int64],
         cap: int | None = TERM_CAP) -> FloatArray:
    """BM25 of every document for the query's distinct term hashes; a term found in more
    than ``cap`` documents adds its ``cap`` best postings only (None: exact)."""
    at = _spans(cache, query, cap)
    if len(at) == 0:
        return np.zeros(cache.size, dtype=np.float32)
    return np.bincount(cache.post_docs[at], weights=cache.impact[at],
                       minlength=cache.size).astype(np.float32)


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
           rrf_k: int = RRF_K, lexical_weight: float = LEXICAL_WEIGHT,
           exact: bool = False) -> list[Hit]:
    """Fuse the BM25 and vector rankings (weighted reciprocal-rank fusion), best first;
    ``exact``: every posting and every row's cosine (what the shortcuts are measured by)."""
    if cache.size == 0:
        return []
    keep = mask(cache, filters)
    with one_blas_thread():
        lexical = bm25(cache, query_terms, None if exact else TERM_CAP)
        vector = (vector_top(cache, query_vec, depth, keep, exact) if query_vec is not None
                  else np.zeros(0, dtype=np.intp))
        fused: dict[int, float] = {}
        for weight, ranking in ((lexical_weight, _top(lexical, depth, keep, True)),
                                (1.0, vector)):
            for rank, row in enumerate(ranking.tolist()):
                fused[row] = fused.get(row, 0.0) + weight / (rrf_k + rank + 1)
        best = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        rows = [row for row, _ in best]
        cosine = (cache.matrix[rows] @ query_vec if query_vec is not None
                  else np.zeros(len(rows), dtype=np.float32))
    return [Hit(row, score, float(lexical[row]), float(c))
            for (row, score), c in zip(best, cosine.tolist(), strict=True)]


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
