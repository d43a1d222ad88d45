"""Erasing a customer removes its tickets from both indexes and from every later answer, in
the erasure transaction; the index holds no word of anyone's text (blind terms), also on
PostgreSQL, where the byte scan reads every table as the superuser."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from supportops import Tenant
from supportops.assist.tables import assist_documents
from supportops.events import cipher
from supportops.ml.tables import event_embeddings
from tests.privacy.conftest import PiiData, Scan


def _names(tenant: Tenant, token: str) -> tuple[list[str], str]:
    """How the index names a customer at rest: sealed in the documents (as the log does), by
    keyed reference in the embedding cache. Taken before erasure destroys the key."""
    with tenant.db.begin(tenant.id) as conn:
        forms = cipher.subject_forms(conn, tenant.ctx, token)
    return forms, tenant.privacy.subject_ref(token)


def _index_rows(tenant: Tenant, names: tuple[list[str], str]) -> tuple[int, int]:
    forms, ref = names
    with tenant.db.begin(tenant.id) as conn:
        docs = conn.execute(select(func.count()).select_from(assist_documents).where(
            assist_documents.c.subject.in_(forms))).scalar_one()
        vectors = conn.execute(select(func.count()).select_from(event_embeddings).where(
            event_embeddings.c.subject == ref)).scalar_one()
    return int(docs), int(vectors)


def test_erasure_removes_tickets_from_both_indexes_and_later_answers(
        tenant: Tenant, ingested: PiiData, scan: Scan) -> None:
    gone, kept = ingested.customers[0], ingested.customers[1]
    assert tenant.assist.enable()
    names = _names(tenant, tenant.privacy.subject_token(gone.customer_id))
    assert _index_rows(tenant, names) == (len(gone.tickets), len(gone.tickets))
    question = f"My {gone.markers[0]} was charged twice on my card"
    found = {s["source_id"] for s in tenant.assist.similar(text=question, limit=12)}
    assert found >= set(gone.tickets)  # 12 templated tickets: every one is similar

    tenant.privacy.erase(gone.customer_id)

    assert _index_rows(tenant, names) == (0, 0)
    for text in (question, f"refund for {gone.markers[1]}"):
        answer = tenant.assist.answer(text, limit=10)
        similar = tenant.assist.similar(text=text, limit=20)
        sources = {c["source_id"] for c in answer["citations"]} | {s["source_id"]
                                                                   for s in similar}
        assert not sources & set(gone.tickets)
        assert sources & set(kept.tickets)
    assert scan(gone.values() + gone.markers) == []


def test_the_index_holds_no_word_of_the_texts(tenant: Tenant, ingested: PiiData,
                                              scan: Scan) -> None:
    tenant.assist.enable()
    customer = ingested.customers[2]
    code = customer.markers[0].split()[-1]  # "QZ70020XK": a term of this customer's only
    names = _names(tenant, tenant.privacy.subject_token(customer.customer_id))
    assert _index_rows(tenant, names) == (2, 2)  # indexed...
    assert tenant.assist.similar(text=f"order reference {code} charged twice", limit=1)
    assert scan(customer.values() + customer.markers + [code.lower(), code]) == []  # ...unread


def test_an_agent_may_search_but_not_load(tenant: Tenant, ingested: PiiData,
                                          tmp_path: pytest.TempPathFactory) -> None:
    tenant.principals.create("viewer", "analyst", "person")
    analyst = tenant.workspace.tenant("acme", principal="viewer")
    assert analyst.assist.similar(text="refund", limit=1)
    with pytest.raises(Exception, match="load a knowledge base"):
        analyst.assist.load_kb(tmp_path, "markdown")  # type: ignore[arg-type]
