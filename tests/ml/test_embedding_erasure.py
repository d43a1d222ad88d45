"""Embeddings are cached per event, and erasure purges a subject's vectors with the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from supportops import Tenant
from supportops.ml import embedding_cache
from supportops.ml.embeddings import Encoder
from supportops.ml.tables import event_embeddings
from tests.helpers import event, write_jsonl


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> Encoder:
    """The real int8 MiniLM; its export is shared with the other ML test modules."""
    return Encoder("minilm-onnx-int8", cache_dir=tmp_path_factory.getbasetemp() / "encoder-cache")


def _vectors(tenant: Tenant, subject: str | None = None) -> int:
    query = select(func.count()).select_from(event_embeddings).where(
        event_embeddings.c.tenant_id == tenant.id)
    if subject is not None:
        query = query.where(event_embeddings.c.subject == subject)
    with tenant.workspace.db.begin(tenant.id) as conn:
        return int(conn.execute(query).scalar_one())


def test_cached_once_and_purged_by_erasure(tenant: Tenant, encoder: Encoder,
                                           tmp_path: Path) -> None:
    lines = [event("ticket.created", f"{who}-{i}", "2024-01-01T00:00:00Z", subject=who,
                   text=f"my card {i} never arrived, {who} here")
             for who in ("ann", "bob") for i in range(3)]
    tenant.ingest(write_jsonl(tmp_path / "e.jsonl", lines), format="jsonl")
    created = tenant.events.tail(10, "ticket.created")
    ids = [e.id for e in created]
    texts = [e.payload["text"] for e in created]
    subjects = [e.subject for e in created]
    assert embedding_cache.warm(tenant.workspace.db, tenant.ctx, encoder, ids, texts,
                                subjects) == {"cached": 0, "computed": 6}
    encoder.clear_cache()
    assert embedding_cache.warm(tenant.workspace.db, tenant.ctx, encoder, ids, texts,
                                subjects) == {"cached": 6, "computed": 0}
    ann = tenant.privacy.subject_ref("ann")  # rows name subjects by keyed reference
    assert _vectors(tenant, ann) == 3
    tenant.privacy.erase("ann")
    assert _vectors(tenant, ann) == 0
    assert _vectors(tenant) == 3
