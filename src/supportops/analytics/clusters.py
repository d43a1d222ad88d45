"""Root-cause clusters: embed ticket texts, cluster them, name each cluster by c-TF-IDF,
and follow its size per period to flag emerging problems.

The embedder is a seam (``Embed``: texts -> unit rows); ``default_embedder`` uses the ML
room's MiniLM ``Encoder`` and tests may pass any function. Texts come from each ticket's
``ticket.created`` payload (pseudonymised text in production).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from supportops.analytics import metrics
from supportops.analytics.loading import Snapshot, load
from supportops.analytics.report import READ_ROLES, as_datetime
from supportops.errors import ValidationFailed
from supportops.governance.context import Context
from supportops.storage import Database

Embed = Callable[[Sequence[str]], npt.NDArray[np.float32]]
METHODS = ("kmeans", "hdbscan")
NOISE = -1


def default_embedder(cache_dir: Path | None = None) -> Embed:
    """MiniLM sentence embeddings: the ONNX int8 encoder when a cache folder is given (built
    once, then fast), else the reference PyTorch model."""
    from supportops.ml.embeddings import Encoder

    if cache_dir is None:
        return Encoder(kind="minilm").encode
    return Encoder(kind="minilm-onnx-int8", cache_dir=cache_dir).encode


def default_k(n: int) -> int:
    """A rule of thumb, ``sqrt(n / 2)``, within ``[2, n]``."""
    return max(2, min(n, round(math.sqrt(n / 2))))


def assign(vectors: npt.NDArray[np.float32], method: str = "kmeans", k: int | None = None,
           min_cluster_size: int = 10, seed: int = 0) -> npt.NDArray[np.int64]:
    """Cluster labels per row (``-1``: HDBSCAN noise)."""
    n = len(vectors)
    if method == "kmeans":
        from sklearn.cluster import KMeans

        clusters = min(k or default_k(n), n)
        model = KMeans(n_clusters=clusters, n_init=3, random_state=seed)
        return np.asarray(model.fit_predict(vectors), dtype=np.int64)
    from sklearn.cluster import HDBSCAN

    labels = HDBSCAN(min_cluster_size=min_cluster_size, copy=True).fit_predict(
        reduce(vectors, seed=seed))
    return np.asarray(labels, dtype=np.int64)


def reduce(vectors: npt.NDArray[np.float32], dims: int = 32, seed: int = 0
           ) -> npt.NDArray[np.float32]:
    """PCA to a few dozen dimensions: density clustering is slow and weak in 384."""
    if vectors.shape[1] <= dims or len(vectors) <= dims:
        return vectors
    from sklearn.decomposition import PCA

    return np.asarray(PCA(n_components=dims, random_state=seed).fit_transform(vectors),
                      dtype=np.float32)


_CONTRACTION = re.compile(r"n't\b|'(?:s|re|ve|ll|d|m)\b")


def _plain_words(text: str) -> str:
    """Lower-case without contractions ("hasn't" -> "has"), so their stems don't name
    clusters."""
    text = text.lower().replace("\u2019", "'").replace("won't", "will").replace("can't", "can")
    return _CONTRACTION.sub("", text)


def distinctive_terms(texts: Sequence[str], labels: Sequence[int], n_terms: int = 5
                      ) -> dict[int, list[str]]:
    """c-TF-IDF: a cluster's term frequency (normalised by its length) weighted by
    ``log(1 + A / f_t)``, A the mean words per cluster and ``f_t`` the term's total count."""
    from sklearn.feature_extraction.text import CountVectorizer

    ids = sorted({int(c) for c in labels if c != NOISE})
    if not ids:
        return {}
    docs = [" ".join(t for t, c in zip(texts, labels, strict=True) if c == cid) for cid in ids]
    vectorizer = CountVectorizer(stop_words="english", preprocessor=_plain_words,
                                 token_pattern=r"(?u)\b[a-z][a-z]+\b")
    try:
        counts = vectorizer.fit_transform(docs).toarray().astype(np.float64)
    except ValueError:  # nothing but stop words
        return {cid: [] for cid in ids}
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    idf = np.log(1.0 + counts.sum(axis=1).mean() / np.maximum(counts.sum(axis=0), 1.0))
    scores = tf * idf
    vocab = vectorizer.get_feature_names_out()
    return {cid: [str(vocab[j]) for j in np.argsort(-scores[i])[:n_terms] if scores[i, j] > 0]
            for i, cid in enumerate(ids)}


def _texts(snap: Snapshot) -> list[tuple[str, datetime, str, str | None]]:
    cur = snap.con.execute("""
        SELECT ev.ticket_id, COALESCE(sel.opened_at, ev.ts), ev.text, sel.category
        FROM ev JOIN sel USING (ticket_id)
        WHERE ev.type = 'ticket.created' AND ev.text IS NOT NULL AND trim(ev.text) <> ''
        ORDER BY ev.seq""")
    return [(r[0], r[1], r[2], r[3]) for r in cur.fetchall()]


def trend(snap: Snapshot, ticket_ids: Sequence[str], labels: Sequence[int], period: str
          ) -> dict[int, list[dict[str, Any]]]:
    """Tickets per cluster per period of opening (DuckDB over the assignments)."""
    con = snap.con
    con.execute("CREATE OR REPLACE TEMP TABLE assignment (ticket_id VARCHAR, cluster BIGINT)")
    con.executemany("INSERT INTO assignment VALUES (?, ?)",
                    list(zip(ticket_ids, (int(c) for c in labels), strict=True)))
    got = metrics.rows(con, f"""
        SELECT cluster, date_trunc('{period}', COALESCE(sel.opened_at, first_ts)) AS period,
               count(*) AS tickets
        FROM assignment JOIN sel USING (ticket_id)
        LEFT JOIN (SELECT ticket_id, min(ts) AS first_ts FROM ev GROUP BY ALL) f
             USING (ticket_id)
        GROUP BY ALL ORDER BY cluster, period""")
    out: dict[int, list[dict[str, Any]]] = {}
    for r in got:
        out.setdefault(int(r["cluster"]), []).append(
            {"period": r["period"], "tickets": r["tickets"]})
    return out


def emerging(series: list[dict[str, Any]], current: Any, previous: Any, min_size: int,
             growth: float) -> tuple[int, int, bool]:
    """This period's and last period's counts, and whether the cluster grows fast: at least
    ``min_size`` tickets now and ``growth`` times last period's (an absent cluster counts 1;
    with no earlier period at all, nothing is emerging)."""
    by_period = {s["period"]: s["tickets"] for s in series}
    now, before = by_period.get(current, 0), by_period.get(previous, 0)
    if previous is None:  # one period of history: nothing to grow from
        return now, before, False
    return now, before, now >= min_size and now >= growth * max(before, 1)


def check_options(method: str, k: int | None, period: str = "week") -> None:
    """Refuse an unknown method or period, or a k below 2, before any text is loaded or
    embedded (the period also becomes part of a DuckDB statement: closed vocabulary only)."""
    if period not in metrics.PERIODS:
        raise ValidationFailed(
            f"The 'period' of clusters must be one of {', '.join(metrics.PERIODS)}. "
            f"Got {period!r} instead.")
    if method not in METHODS:
        raise ValidationFailed(
            f"The 'method' of clustering must be one of {', '.join(METHODS)}. Got {method!r}.")
    if k is not None and k < 2:
        raise ValidationFailed(f"The 'k' of k-means must be at least 2. Got {k!r} instead.")


def summarise(snap: Snapshot, embed: Embed, *, method: str = "kmeans", k: int | None = None,
              period: str = "week", top: int = 20, min_cluster_size: int = 10,
              emerging_min: int = 5, emerging_growth: float = 2.0, seed: int = 0
              ) -> dict[str, Any]:
    """Clusters of the selected tickets' texts (``sel`` must exist: see
    ``metrics.select_window``), with ``assignments`` (ticket id -> cluster) for evaluation."""
    check_options(method, k, period)
    rows = _texts(snap)
    if len(rows) < 2:
        return {"texts": len(rows), "method": method, "clusters": [], "assignments": {}}
    ticket_ids, _, texts, _ = zip(*rows, strict=True)
    labels = assign(embed(list(texts)), method, k, min_cluster_size, seed)
    names = distinctive_terms(texts, labels.tolist())
    series = trend(snap, ticket_ids, labels.tolist(), period)
    periods = sorted({s["period"] for ss in series.values() for s in ss})
    current = periods[-1] if periods else None
    previous = periods[-2] if len(periods) > 1 else None
    out: list[dict[str, Any]] = []
    for cid, terms in names.items():
        now, before, flag = emerging(series.get(cid, []), current, previous, emerging_min,
                                     emerging_growth)
        out.append({"cluster": cid, "name": " / ".join(terms[:3]), "terms": terms,
                    "size": int((labels == cid).sum()), "this_period": now,
                    "last_period": before, "emerging": flag, "trend": series.get(cid, [])})
    out.sort(key=lambda c: (-c["emerging"], -c["size"], c["cluster"]))
    return {"texts": len(texts), "method": method, "k": len(names),
            "noise": int((labels == NOISE).sum()), "period": period,
            "current_period": current, "clusters": out[:top],
            "assignments": dict(zip(ticket_ids, (int(c) for c in labels), strict=True))}


def clusters(db: Database, ctx: Context, embed: Embed, *,
             start: date | datetime | str | None = None,
             end: date | datetime | str | None = None, with_assignments: bool = False,
             **options: Any) -> dict[str, Any]:
    """Root-cause clusters of the tenant's tickets opened in ``[start, end)``."""
    ctx.require(*READ_ROLES, action="read analytics clusters")
    check_options(options.get("method", "kmeans"), options.get("k"),
                  options.get("period", "week"))
    lo, hi = as_datetime(start), as_datetime(end)
    snap = load(db, ctx, lo, hi)
    try:
        metrics.select_window(snap.con, lo, hi)
        data = summarise(snap, embed, **options)
    finally:
        snap.con.close()
    if not with_assignments:
        data.pop("assignments")
    data["tenant"] = ctx.tenant_id
    data["log_position"] = snap.log_position
    return data
