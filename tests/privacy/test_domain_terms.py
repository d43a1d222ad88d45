"""A tenant's domain vocabulary: product names of its published articles are not tokenised
when only the NER model flagged them; people, e-mails and declared values still are."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from supportops import Tenant, Workspace
from supportops.privacy.domain_terms import terms_of
from supportops.privacy.tables import domain_terms
from supportops.privacy.vault import TOKEN_RE
from tests.helpers import event, write_jsonl

from .conftest import Scan

QUESTION = "I cannot open Gmail on my phone"  # the NER model tags "Gmail" as a PERSON
DOCS = "How do I share a file in Google Docs?"  # ... and "Google Docs" as a LOCATION


def _kb(folder: Path, titles: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    for article_id, title in titles.items():
        (folder / f"{article_id}.md").write_text(f"# {title}\n\nOpen settings, then sync.\n")
    return folder


def _load(tenant: Tenant, folder: Path) -> None:
    report = tenant.assist.load_kb(folder, "markdown")
    assert report["rejected"] == 0


def _ticket(tenant: Tenant, tmp_path: Path, text: str) -> str:
    """Ingest one ticket; its stored (pseudonymised) text."""
    line = event("ticket.created", "T-9", "2024-05-01T10:00:00Z", text=text)
    assert tenant.ingest(write_jsonl(tmp_path / "t.jsonl", [line]), "jsonl").accepted == 1
    return str(tenant.tickets.get("T-9")["events"][0]["payload"]["text"])


def test_terms_are_capitalised_words_and_their_phrases() -> None:
    terms = terms_of("Share Google Docs with Gmail's iPhone app, or GitHub")
    assert {"google docs", "google", "docs", "gmail", "iphone", "github"} <= terms
    assert "with" not in terms and "app" not in terms
    assert "docs with" not in terms and "iphone github" not in terms  # runs break at words/","


def test_queries_and_tickets_keep_kb_terms_once_the_kb_is_loaded(
        tenant: Tenant, tmp_path: Path) -> None:
    privacy = tenant.privacy
    before = privacy.pseudonymise_texts([QUESTION, DOCS])
    assert "Gmail" not in before[0] and "Google Docs" not in before[1]  # the model's guesses
    _load(tenant, _kb(tmp_path / "kb", {"gmail": "Export contacts from Gmail",
                                        "docs": "Share a file in Google Docs"}))
    after = privacy.pseudonymise_texts([QUESTION, DOCS])  # the same Privacy: cache refreshed
    assert after == [QUESTION, DOCS]
    assert _ticket(tenant, tmp_path, QUESTION) == QUESTION
    titles = {c["source_id"]: c["title"] for c in tenant.assist.answer(QUESTION)["citations"]}
    assert titles["gmail"] == "Export contacts from Gmail"  # the article's own title too


def test_only_an_admins_articles_add_terms(workspace: Workspace, tenant: Tenant,
                                           tmp_path: Path) -> None:
    """An agent may publish articles, but a term waives detection in every later ticket: an
    agent's title naming a customer must not make that name readable."""
    tenant.principals.create("alice", "agent", "person")
    agent = workspace.tenant("acme", principal="alice")
    _load(agent, _kb(tmp_path / "kb", {"gmail": "Export contacts from Gmail"}))
    assert "Gmail" not in tenant.privacy.pseudonymise_texts([QUESTION])[0]
    _load(tenant, _kb(tmp_path / "kb", {"gmail": "Export all contacts from Gmail"}))
    assert tenant.privacy.pseudonymise_texts([QUESTION])[0] == QUESTION
    _kb(tmp_path / "kb", {"gmail": "Export contacts from the Gmail app"})  # the agent's update
    _load(agent, tmp_path / "kb")
    assert "Gmail" not in tenant.privacy.pseudonymise_texts([QUESTION])[0]  # old terms gone


def test_people_emails_and_pattern_finds_are_still_tokenised(
        tenant: Tenant, tmp_path: Path) -> None:
    _load(tenant, _kb(tmp_path / "kb", {"gmail": "Export contacts from Gmail"}))
    text = "Maria Gonzalez cannot sync Gmail; write to Support@Gmail.com about Gmail"
    out = tenant.privacy.pseudonymise_texts([text])[0]
    assert "Maria" not in out and "Gonzalez" not in out
    assert "Support@" not in out  # an e-mail holding a term is a pattern's find: tokenised
    assert out.count("Gmail") == 2
    assert {m.group(1) for m in TOKEN_RE.finditer(out)} == {"PERSON", "EMAIL_ADDRESS"}
    stored = _ticket(tenant, tmp_path, text)
    assert "Maria" not in stored and "Support@" not in stored and "Gmail" in stored
    # a term that a pattern recogniser (a name before a phone number) found is not waived
    called = tenant.privacy.pseudonymise_texts(["Call Gmail on +44 20 7946 0958"])[0]
    assert "Gmail" not in called and "7946" not in called


def test_a_longer_guess_than_the_term_is_tokenised(tenant: Tenant, tmp_path: Path) -> None:
    _load(tenant, _kb(tmp_path / "kb", {"gmail": "Export contacts from Gmail"}))
    out = tenant.privacy.pseudonymise_texts(["Maria Gonzalez cannot sync her phone"])[0]
    assert "Maria" not in out  # "Maria" is no term of the vocabulary


def test_an_updated_article_replaces_its_terms(tenant: Tenant, tmp_path: Path) -> None:
    folder = _kb(tmp_path / "kb", {"gmail": "Export contacts from Gmail"})
    _load(tenant, folder)
    assert tenant.privacy.pseudonymise_texts([QUESTION]) == [QUESTION]
    _kb(folder, {"gmail": "Export contacts from your phone"})
    assert tenant.assist.load_kb(folder, "markdown")["updated"] == 1
    assert "Gmail" not in tenant.privacy.pseudonymise_texts([QUESTION])[0]


def test_the_vocabulary_is_kept_as_keyed_hashes_per_tenant(
        workspace: Workspace, tenant: Tenant, tmp_path: Path, scan: Scan) -> None:
    workspace.create_tenant("globex")
    _load(tenant, _kb(tmp_path / "kb", {"gmail": "Export contacts from Gmail"}))
    with tenant.db.begin(tenant.id) as conn:
        rows = conn.execute(select(domain_terms.c.tenant_id, domain_terms.c.term)).all()
    assert rows and {r.tenant_id for r in rows} == {"acme"}
    assert not any("gmail" in r.term.lower() for r in rows)
    assert scan(["Export contacts from Gmail"]) == []
    other = workspace.tenant("globex").privacy.pseudonymise_texts([QUESTION])[0]
    assert "Gmail" not in other  # acme's articles do not speak for globex


@pytest.mark.parametrize("title", ["Export contacts from gmail"])
def test_only_capitalised_words_enter(tenant: Tenant, tmp_path: Path, title: str) -> None:
    _load(tenant, _kb(tmp_path / "kb", {"gmail": title}))
    assert "Gmail" not in tenant.privacy.pseudonymise_texts([QUESTION])[0]
