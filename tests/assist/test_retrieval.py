"""The in-memory ranker against independent computations: BM25 over blind terms equals
BM25 over the words (Lucene's idf), fusion is reciprocal-rank, filters narrow."""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pytest

from supportops.assist import retrieval, terms
from supportops.assist.retrieval import Filters, IndexCache

DOCS = ["cancel my order please", "where is my refund", "refund for a cancelled order",
        "change the delivery address", "order never arrived, refund it"]


def _cache(docs: list[str], vectors: np.ndarray) -> tuple[IndexCache, terms.BlindHasher]:
    hasher = terms.BlindHasher(b"k" * 32)
    counted = [hasher.counts(d) for d in docs]
    cache = IndexCache(1, "enc")
    cache.docs = [{"doc_id": f"kb:{i}", "kind": "kb" if i % 2 else "ticket"}
                  for i in range(len(docs))]
    cache.lengths = np.asarray([tf.sum() for _, tf in counted], dtype=np.float32)
    retrieval._postings(cache, [terms.pack(h, tf) for h, tf in counted])
    cache.matrix = vectors.astype(np.float32)
    cache.columns = {"kind": np.asarray([d["kind"] for d in cache.docs], dtype=object),
                     "language": np.asarray([""] * len(docs), dtype=object),
                     "category": np.asarray(["ORDER", "REFUND", "REFUND", "SHIP", "ORDER"],
                                            dtype=object),
                     "occurred_at": np.asarray([datetime(2024, 1, 1 + i, tzinfo=UTC).timestamp()
                                                for i in range(len(docs))])}
    return cache, hasher


def _reference_bm25(docs: list[str], query: str) -> list[float]:
    bags = [Counter(terms.words(d)) for d in docs]
    avgdl = sum(sum(b.values()) for b in bags) / len(bags)
    out = []
    for bag in bags:
        score = 0.0
        for term in set(terms.words(query)):
            df = sum(1 for b in bags if term in b)
            if not df or term not in bag:
                continue
            idf = math.log(1 + (len(bags) - df + 0.5) / (df + 0.5))
            tf, dl = bag[term], sum(bag.values())
            score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / avgdl))
        out.append(score)
    return out


def test_blind_bm25_equals_bm25_over_words() -> None:
    cache, hasher = _cache(DOCS, np.eye(len(DOCS), 4))
    for query in ("refund my order", "delivery address", "nothing matches here"):
        ours = retrieval.bm25(cache, hasher.query(query))
        np.testing.assert_allclose(ours, _reference_bm25(DOCS, query), rtol=1e-5)


def test_fusion_is_reciprocal_rank_and_filters_narrow() -> None:
    vectors = np.zeros((len(DOCS), 4), dtype=np.float32)
    vectors[:, 0] = [0.1, 0.9, 0.2, 0.0, 0.5]
    cache, hasher = _cache(DOCS, vectors)
    query_vec = np.asarray([1, 0, 0, 0], dtype=np.float32)
    q = hasher.query("refund order")
    hits = retrieval.search(cache, q, query_vec, limit=5, rrf_k=60, lexical_weight=1.0)
    order = np.argsort(-retrieval.bm25(cache, q), kind="stable")
    lexical = [int(r) for r in order if retrieval.bm25(cache, q)[r] > 0]
    vector = [int(r) for r in np.argsort(-(vectors @ query_vec), kind="stable")]
    expected = {r: 1 / (61 + lexical.index(r)) if r in lexical else 0.0 for r in range(5)}
    for r in range(5):
        expected[r] += 1 / (61 + vector.index(r))
    assert [h.row for h in hits] == sorted(expected, key=lambda r: (-expected[r], r))
    assert [round(h.fused, 6) for h in hits] == [round(expected[h.row], 6) for h in hits]
    tickets = retrieval.search(cache, q, query_vec, Filters(kinds=("ticket",)))
    assert {cache.docs[h.row]["kind"] for h in tickets} == {"ticket"}
    refunds = retrieval.search(cache, q, query_vec, Filters(category="REFUND"))
    assert sorted(h.row for h in refunds) == [1, 2]
    recent = retrieval.search(cache, q, query_vec, Filters(since=datetime(2024, 1, 4,
                                                                          tzinfo=UTC)))
    assert sorted(h.row for h in recent) == [3, 4]
    assert retrieval.search(IndexCache(0, "enc"), q, query_vec) == []


def test_blind_terms_are_keyed_and_tokens_count_by_kind() -> None:
    a, b = terms.BlindHasher(b"a" * 32), terms.BlindHasher(b"b" * 32)
    assert a.term("refund") != b.term("refund")  # another tenant, other hashes
    assert terms.words("Mail <EMAIL_ADDRESS_1f3a9c> about the Refunds") == [
        "mail", "about", "refund", "tok:email_address", "tok:<email_address_1f3a9c>"]
    hashes, tf = a.counts("refund refund order")
    assert sorted(tf.tolist()) == [1, 2]
    assert terms.unpack(terms.pack(hashes, tf))[0].tolist() == hashes.tolist()


def _low_rank_vectors(monkeypatch: pytest.MonkeyPatch, seed: int
                      ) -> tuple[np.ndarray, np.random.Generator]:
    """3,000 unit vectors (and the generator that drew them) near a 16-dimensional subspace, with the two-stage search switched on
    at this small size, so the shortlist has something to lose."""
    monkeypatch.setattr(retrieval, "TWO_STAGE_FROM", 100)
    monkeypatch.setattr(retrieval, "PROJECTED", 16)
    monkeypatch.setattr(retrieval, "CANDIDATES", 200)
    rng = np.random.default_rng(seed)
    m = (rng.standard_normal((3000, 16)) @ rng.standard_normal((16, 32))
         + 0.01 * rng.standard_normal((3000, 32))).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return m, rng


def test_two_stage_vectors_find_the_exact_top(monkeypatch: pytest.MonkeyPatch) -> None:
    m, rng = _low_rank_vectors(monkeypatch, 3)
    cache = IndexCache(1, "enc", docs=[{}] * 3000, matrix=m)
    retrieval._project(cache)
    assert cache.projected is not None and cache.projected.shape == (3000, 16)
    for q in m[rng.choice(3000, 5, replace=False)]:
        exact = np.argsort(-(m @ q))[:10].tolist()
        assert retrieval.vector_top(cache, q, 10).tolist() == exact
        pick, scores = retrieval._shortlist(cache, q, None)  # rows in order, cosines exact
        np.testing.assert_allclose(scores[np.searchsorted(pick, exact)], (m @ q)[exact],
                                   rtol=1e-5)


def test_capped_postings_keep_each_terms_best_documents() -> None:
    docs = [f"refund {'order ' * (i % 4)}item{i}" for i in range(40)]
    hasher = terms.BlindHasher(b"k" * 32)
    counted = [hasher.counts(d) for d in docs]
    cache = IndexCache(1, "enc", docs=[{}] * 40,
                       lengths=np.asarray([tf.sum() for _, tf in counted], dtype=np.float32))
    retrieval._postings(cache, [terms.pack(h, tf) for h, tf in counted])
    q = hasher.query("refund order")
    exact = retrieval.bm25(cache, q, None)
    np.testing.assert_allclose(exact, _reference_bm25(docs, "refund order"), rtol=1e-5)
    capped = retrieval.bm25(cache, q, 5)
    refund_impacts = retrieval.bm25(cache, hasher.query("refund"), None)
    order_impacts = retrieval.bm25(cache, hasher.query("order"), None)
    best = {t: set(np.argsort(-s, kind="stable")[:5].tolist())
            for t, s in (("refund", refund_impacts), ("order", order_impacts))}
    expected = np.asarray([(refund_impacts[r] if r in best["refund"] else 0.0)
                           + (order_impacts[r] if r in best["order"] else 0.0)
                           for r in range(40)], dtype=np.float32)
    np.testing.assert_allclose(capped, expected, rtol=1e-5)
    assert (capped <= exact + 1e-6).all() and (capped < exact - 1e-6).any()
    assert np.array_equal(retrieval.bm25(cache, q, 1000), exact)


def test_search_runs_on_one_blas_thread_and_restores_the_setting() -> None:
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    with retrieval.one_blas_thread():
        with retrieval.one_blas_thread():  # a concurrent search
            assert set(blas_threads()) <= {1}
        assert set(blas_threads()) <= {1}  # the other search still runs
    assert blas_threads() == before


def test_server_limit_set_during_a_search_outlives_it() -> None:
    """The server pins BLAS to one thread once warm; a search that was running then must
    not restore the two threads it saw on entry (run apart: the pin lasts the process)."""
    code = """
from threadpoolctl import threadpool_info, threadpool_limits
from supportops.api.batching import one_thread_for_numerics
from supportops.assist import retrieval
threadpool_limits(limits=2, user_api="blas")
with retrieval.one_blas_thread():
    one_thread_for_numerics()
with retrieval.one_blas_thread():
    pass
print(sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "[1]", done.stderr


def test_shortlist_with_filters_ranks_only_kept_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    m, rng = _low_rank_vectors(monkeypatch, 5)
    kinds = np.asarray(["kb" if i % 3 else "ticket" for i in range(3000)], dtype=object)
    cache = IndexCache(1, "enc", docs=[{}] * 3000, matrix=m, columns={"kind": kinds})
    retrieval._project(cache)
    empty = np.zeros(0, dtype=np.int64)
    for q in m[rng.choice(3000, 5, replace=False)]:
        scores = np.where(kinds == "ticket", m @ q, -np.inf)
        exact = np.argsort(-scores, kind="stable")[:10].tolist()
        hits = retrieval.search(cache, empty, q, Filters(kinds=("ticket",)), limit=10)
        assert [h.row for h in hits] == exact
        assert [h.row for h in retrieval.search(cache, empty, q, Filters(kinds=("ticket",)),
                                                limit=10, exact=True)] == exact
        np.testing.assert_allclose([h.cosine for h in hits], (m @ q)[exact], rtol=1e-5)


def test_best_rows_are_the_top_n() -> None:
    rng = np.random.default_rng(7)
    for scores in (rng.standard_normal(50_000).astype(np.float32),
                   np.sort(rng.standard_normal(50_000)).astype(np.float32),  # a biased sample
                   np.where(rng.random(50_000) < 0.99, -np.inf, 1.0).astype(np.float32)):
        for n in (1, 300, 3000):
            ours = retrieval._best_rows(scores, n)
            assert len(ours) == n == len(set(ours.tolist()))
            assert np.sort(scores[ours]).tolist() == np.sort(scores)[-n:].tolist()
    assert sorted(retrieval._best_rows(np.ones(5, dtype=np.float32), 9).tolist()) == [0, 1, 2, 3, 4]
