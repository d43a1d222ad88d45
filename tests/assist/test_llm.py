"""The OpenAI-compatible back-end, end to end over real HTTP on loopback: a grounded prompt
with numbered sources, retries with back-off, fallback to extraction, and no original
personal value ever sent (only pseudonymised text leaves the workspace)."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportops import ConfigError, Tenant
from supportops.assist.llm import ChatBackend, LlmUnavailable, Passage
from tests.helpers import event, write_jsonl

from .kb import write_bitext
from .llm_server import chat_server

NAME, EMAIL, PHONE = "Margaret Okonkwo-Lindqvist", "m.okonkwo@example.org", "+44 20 7946 0321"


@pytest.fixture
def kb(tenant: Tenant, tmp_path: Path) -> Tenant:
    tenant.assist.load_kb(write_bitext(tmp_path / "kb.csv"), "bitext")
    tenant.ingest(write_jsonl(tmp_path / "t.jsonl", [event(
        "ticket.created", "T-7", "2024-02-01T09:00:00Z", subject="cust-77",
        text=f"Hi, I am {NAME}. Please cancel my order, call {PHONE} or mail {EMAIL}.",
        customer={"name": NAME, "email": EMAIL, "phone": PHONE},
        attributes={"order_number": "A-9911"})]), "jsonl")
    return tenant


def test_grounded_prompt_over_http_with_citations_and_key(kb: Tenant,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    with chat_server() as server:
        monkeypatch.setenv("SUPPORTOPS_LLM_BASE_URL", server.url)
        monkeypatch.setenv("SUPPORTOPS_LLM_MODEL", "local-test-model")
        monkeypatch.setenv("SUPPORTOPS_LLM_API_KEY", "sk-test-123")
        server.reply = "Open {{Order Number}} in your history and press Cancel [1]."
        answer = kb.assist.answer("How do I cancel my order?", ticket_id="T-7")
    assert answer["model"] == "openai-compatible:local-test-model"
    assert answer["answer"] == "Open A-9911 in your history and press Cancel [1]."
    (request,) = server.requests()
    assert request["model"] == "local-test-model"
    system, user = request["messages"]
    assert system["role"] == "system" and "[1]" in system["content"]
    assert user["content"].startswith("Question:\nHow do I cancel my order?")
    assert "[1] " in user["content"] and "[2] " in user["content"]
    assert answer["citations"][0]["title"] in user["content"]
    assert server.headers[0]["Authorization"] == "Bearer sk-test-123"


def test_no_original_personal_value_is_ever_sent(kb: Tenant,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with chat_server() as server:
        monkeypatch.setenv("SUPPORTOPS_LLM_BASE_URL", server.url)
        monkeypatch.setenv("SUPPORTOPS_LLM_MODEL", "m")
        question = (f"This is {NAME} ({EMAIL}, {PHONE}): I want to cancel the order I "
                    "placed yesterday, how?")
        kb.assist.answer(question, ticket_id="T-7")
        kb.assist.answer_many([question, f"{NAME} forgot the password, call {PHONE}"])
    sent = b"\n".join(server.bodies).lower()
    assert len(server.bodies) == 3
    for value in (NAME, *NAME.split(), EMAIL, PHONE, PHONE.replace(" ", "")):
        assert value.lower().encode() not in sent, value
    assert b"<person_" in sent and b"<email_address_" in sent


def test_retries_with_back_off_then_answers(kb: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    with chat_server() as server:
        server.fail_first = 2
        backend = ChatBackend(server.url, "m", retries=3, backoff=0.01)
        assert backend.draft("q", [Passage("t", "x")]) == server.reply
        assert len(server.bodies) == 3


def test_unavailable_endpoint_falls_back_to_extraction(kb: Tenant,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    with chat_server() as server:
        server.fail_first = 100
        backend = ChatBackend(server.url, "m", retries=1, backoff=0.01, timeout=2)
        with pytest.raises(LlmUnavailable, match="after 2 attempts \\(HTTP 503\\)"):
            backend.draft("q", [Passage("t", "x")])
        assist = kb.assist
        assist.backend = backend
        answer = assist.answer("How do I cancel my order?")
    assert answer["model"] == "extractive" and "cancel" in answer["answer"].lower()
    refused = ChatBackend("http://127.0.0.1:9", "m", retries=0, timeout=1)
    with pytest.raises(LlmUnavailable, match="ConnectError"):
        refused.draft("q", [])


def test_a_base_url_without_a_model_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTOPS_LLM_BASE_URL", "http://127.0.0.1:1/v1")
    monkeypatch.delenv("SUPPORTOPS_LLM_MODEL", raising=False)
    with pytest.raises(ConfigError, match="SUPPORTOPS_LLM_MODEL"):
        ChatBackend.from_settings()
