"""The in-memory ranker against independent computations: BM25 over blind terms equals
BM25 over the words (Lucene's idf), fusion is reciprocal-rank, filters narrow."""

from __future__ import annotations

import math
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
    lexical = np.argsort(-retrieval.bm25(cache, q), kind="stable")
    lexical = [int(r) for r in lexical if retrieval.bm25(cache, q)[r] > 0]
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


def test_two_stage_vectors_find_the_exact_top(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retrieval, "TWO_STAGE_FROM", 100)
    monkeypatch.setattr(retrieval, "PROJECTED", 16)
    monkeypatch.setattr(retrieval, "CANDIDATES", 200)
    rng = np.random.default_rng(3)
    m = (rng.standard_normal((3000, 16)) @ rng.standard_normal((16, 32))
         + 0.01 * rng.standard_normal((3000, 32))).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    cache = IndexCache(1, "enc", docs=[{}] * 3000, matrix=m)
    retrieval._project(cache)
    assert cache.projected is not None and cache.projected.shape == (3000, 16)
    for q in m[rng.choice(3000, 5, replace=False)]:
        exact = np.argsort(-(m @ q))[:10].tolist()
        ours = retrieval.cosines(cache, q)
        assert np.argsort(-ours)[:10].tolist() == exact
        np.testing.assert_allclose(ours[exact], (m @ q)[exact], rtol=1e-5)
