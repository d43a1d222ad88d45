"""Knowledge in, answers out: loading is idempotent, articles update, answers cite their
sources, fill placeholders, abstain with a reason; similar tickets; feedback events."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from supportops import NotFound, Tenant, ValidationFailed, Workspace
from tests.helpers import event, write_jsonl

from .kb import ARTICLES, write_bitext


@pytest.fixture
def kb(tenant: Tenant, tmp_path: Path) -> Tenant:
    result = tenant.assist.load_kb(write_bitext(tmp_path / "kb.csv"), "bitext")
    assert result["articles"] == len(ARTICLES) and result["added"] == len(ARTICLES)
    return tenant


def test_loading_twice_adds_nothing_and_a_changed_article_is_updated(
        kb: Tenant, tmp_path: Path) -> None:
    again = kb.assist.load_kb(tmp_path / "kb.csv", "bitext")
    assert again == {"articles": len(ARTICLES), "added": 0, "updated": 0,
                     "unchanged": len(ARTICLES), "rejected": 0, "errors": []}
    changed = [(*a[:4], a[4] + " Orders that shipped cannot be cancelled.")
               if a[0] == "10" else a for a in ARTICLES]
    result = kb.assist.load_kb(write_bitext(tmp_path / "kb2.csv", changed), "bitext")
    assert (result["articles"], result["added"], result["updated"]) == (len(ARTICLES), 0, 1)
    assert [e.type for e in kb.events.tail(1)] == ["kb_article.updated"]
    answer = kb.assist.answer("can I cancel my order")
    assert "shipped cannot be cancelled" in answer["answer"] or \
        answer["citations"][0]["source_id"] == "11"


def test_markdown_and_html_folder(tenant: Tenant, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "reset-password.md").write_text(
        "# Resetting your password\n\nUse the Forgot password link on the sign-in page.\n")
    (folder / "returns.html").write_text(
        "<html><head><title>Returning an item</title></head><body><p>Print the return label "
        "and drop the parcel at any post office within 30 days.</p></body></html>")
    (folder / "notes.txt").write_text("not an article")
    result = tenant.assist.load_kb(folder, "markdown")
    assert (result["articles"], result["rejected"]) == (2, 0)
    hits = tenant.assist.similar(text="how do I send a parcel back", limit=2)
    assert hits[0]["source_id"] == "returns" and hits[0]["title"] == "Returning an item"
    answer = tenant.assist.answer("I forgot my password, how can I reset it?")
    assert answer["citations"][0] == {"source_id": "reset-password", "kind": "kb",
                                      "title": "Resetting your password",
                                      "score": answer["citations"][0]["score"]}
    with pytest.raises(ValidationFailed, match="not a folder"):
        tenant.assist.load_kb(folder / "notes.txt", "markdown")
    with pytest.raises(ValidationFailed, match="'format'"):
        tenant.assist.load_kb(folder, "pdf")


def test_bad_rows_are_named_and_good_ones_kept(tenant: Tenant, tmp_path: Path) -> None:
    rows = [*ARTICLES[:2], ("12", "", "cancel_order", "ORDER", "text"),
            ("13", "question", "cancel_order", "ORDER", "")]
    result = tenant.assist.load_kb(write_bitext(tmp_path / "bad.csv", rows), "bitext")
    assert (result["articles"], result["rejected"]) == (2, 2)
    assert [(e["record"], e["field"]) for e in result["errors"]] == [(3, "instruction"),
                                                                     (4, "response")]


def test_answer_cites_best_source_first_and_fills_placeholders(kb: Tenant,
                                                               tmp_path: Path) -> None:
    kb.ingest(write_jsonl(tmp_path / "t.jsonl", [event(
        "ticket.created", "T-9", "2024-03-01T10:00:00Z", text="please cancel my order",
        attributes={"order_number": "A-77"})]), "jsonl")
    answer = kb.assist.answer("How do I cancel my order?", ticket_id="T-9")
    assert set(answer) >= {"answer", "citations", "confidence", "abstained"}
    assert answer["abstained"] is False and 0.5 <= answer["confidence"] <= 1
    first = answer["citations"][0]
    assert (first["kind"], first["source_id"]) == ("kb", "10") or first["source_id"] == "11"
    assert "A-77" in answer["answer"] and "{{Order Number}}" not in answer["answer"]
    assert "{{Order History}}" in answer["answer"] or first["source_id"] == "11"
    assert all(0 <= c["score"] <= 1 for c in answer["citations"])


def test_out_of_scope_abstains_with_reason_and_lists_sources(kb: Tenant) -> None:
    answer = kb.assist.answer("What will the weather be like in Lisbon on Sunday?")
    assert answer["abstained"] is True
    assert answer["reason"] in ("out of scope", "no relevant source")
    assert answer["citations"] and answer["answer"].startswith("Handing this to a human")


def test_tenant_threshold_hands_over_below_it(kb: Tenant) -> None:
    kb.assist.set_threshold(1.0)
    answer = kb.assist.answer("where is my refund")
    assert answer["abstained"] and answer["reason"] == "low confidence"
    with pytest.raises(ValidationFailed, match=r"Got 1\.5 instead"):
        kb.assist.set_threshold(1.5)


def test_resolved_tickets_are_indexed_in_the_append_transaction(kb: Tenant,
                                                                tmp_path: Path) -> None:
    before = kb.assist.status()
    kb.ingest(write_jsonl(tmp_path / "t.jsonl", [
        event("ticket.created", "T-1", "2024-01-01T10:00:00Z",
              text="The mobile app crashes when I open the camera scanner"),
        event("ticket.resolved", "T-1", "2024-01-02T10:00:00Z",
              resolution="Update the app to 4.2; the scanner crash is fixed there."),
        event("ticket.created", "T-2", "2024-01-03T10:00:00Z",
              text="Scanner in the app closes itself right after launch"),
    ]), "jsonl")
    after = kb.assist.status()
    assert after["tickets"] == 1 and after["generation"] > before["generation"]
    assert after["position"] == kb.events.count()
    hits = kb.assist.similar(ticket_id="T-2", limit=3)
    assert hits[0]["source_id"] == "T-1" and hits[0]["kind"] == "ticket"
    assert all(h["source_id"] != "T-2" for h in hits)
    answer = kb.assist.answer("the app crashes when scanning")
    assert answer["citations"][0]["source_id"] == "T-1"
    assert answer["abstained"] is False and "4.2" in answer["answer"], answer
    with pytest.raises(NotFound, match="T-404"):
        kb.assist.similar(ticket_id="T-404")
    with pytest.raises(ValidationFailed, match="exactly one"):
        kb.assist.similar()


def test_catch_up_indexes_what_the_log_held_before(tenant: Tenant, tmp_path: Path) -> None:
    tenant.ingest(write_jsonl(tmp_path / "t.jsonl", [
        event("ticket.created", "T-5", "2024-01-01T10:00:00Z", text="invoice shows wrong VAT"),
        event("message.added", "T-5", "2024-01-01T11:00:00Z", author="agent",
              text="We corrected the VAT rate and re-issued the invoice."),
        event("ticket.resolved", "T-5", "2024-01-01T12:00:00Z"),
    ]), "jsonl")
    assert tenant.assist.status() == {"enabled": False}
    hits = tenant.assist.similar(text="the VAT on my invoice is wrong")
    assert [h["source_id"] for h in hits] == ["T-5"]
    answer = tenant.assist.answer("VAT on my invoice is wrong")
    assert answer["abstained"] is False and "re-issued the invoice" in answer["answer"], answer


def test_feedback_is_an_event_counted_per_source_and_version(kb: Tenant) -> None:
    answer = kb.assist.answer("where is my refund")
    done = kb.assist.feedback(answer["answer_id"], "used")
    kb.assist.feedback(answer["answer_id"], "edited", comment="shortened it")
    assert done["recorded"] == 1 and done["index_version"] == answer["index_version"]
    assert done["model"] == "extractive"
    counts = kb.assist.feedback_counts()
    first = f"kb:{answer['citations'][0]['source_id']}"
    assert counts["by_source"][first] == {"used": 1, "edited": 1}
    assert counts["by_version"][answer["index_version"]] == {"used": 1, "edited": 1}
    assert [e.type for e in kb.events.tail(2)] == ["assist.feedback"] * 2
    with pytest.raises(ValidationFailed, match="'verdict'"):
        kb.assist.feedback(answer["answer_id"], "liked")
    with pytest.raises(NotFound, match="answer_id"):
        kb.assist.feedback("00000000-0000-0000-0000-000000000000", "used")


def test_tenants_never_see_each_others_knowledge(kb: Tenant, workspace: Workspace) -> None:
    workspace.create_tenant("other")
    other = workspace.tenant("other")
    assert other.assist.similar(text="how do I cancel my order") == []
    answer = other.assist.answer("how do I cancel my order")
    assert answer["abstained"] and answer["citations"] == []


def test_filters_by_kind_category_language_and_date(kb: Tenant, tmp_path: Path) -> None:
    kb.ingest(write_jsonl(tmp_path / "t.jsonl", [
        event("ticket.created", "T-3", "2023-05-01T10:00:00Z", text="where is my refund",
              category="REFUND"),
        event("ticket.resolved", "T-3", "2023-05-02T10:00:00Z",
              resolution="The refund was sent on Monday."),
    ]), "jsonl")
    assert {h["kind"] for h in kb.assist.similar(text="refund", kind="ticket")} == {"ticket"}
    assert {h["kind"] for h in kb.assist.similar(text="refund", kind="kb")} == {"kb"}
    assert {h["category"] for h in kb.assist.similar(text="refund",
                                                     category="REFUND")} == {"REFUND"}
    assert all(h["kind"] == "kb" for h in kb.assist.similar(text="refund", language="en"))
    old = kb.assist.similar(text="refund", until=datetime(2024, 1, 1, tzinfo=UTC))
    assert [h["source_id"] for h in old] == ["T-3"]
    answer = kb.assist.answer_many(["where is my refund"], category="ORDER")[0]
    assert {c["source_id"] for c in answer["citations"]} <= {"10", "11"}
    with pytest.raises(ValidationFailed, match="'kind'"):
        kb.assist.similar(text="refund", kind="faq")
