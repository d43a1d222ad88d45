"""The optional answer back-end: any OpenAI-compatible chat-completions endpoint.

Configured by ``SUPPORTOPS_LLM_BASE_URL``, ``SUPPORTOPS_LLM_MODEL`` and
``SUPPORTOPS_LLM_API_KEY`` (Ollama, vLLM, llama.cpp server, hosted APIs). The prompt is
grounded in the retrieved passages, numbered so the reply can cite them (``[1]``). Only
pseudonymised text is ever sent: the question is pseudonymised by the caller and passages are
stored pseudonymised. Timeouts bound each call; connection errors, 429 and 5xx are retried
with exponential back-off. httpx's transport is the one seam (tests pass none: they talk to a
real server on loopback).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from supportops.errors import ConfigError, SupportopsError
from supportops.settings import get as setting

SYSTEM = ("You draft replies for customer-support agents. Answer only from the numbered "
          "sources. Cite each fact with its source number in brackets, like [1]. Keep "
          "placeholders such as <PERSON_1a2b3c> or {{Order Number}} exactly as written. If "
          "the sources do not answer the question, say so in one sentence.")
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class LlmUnavailable(SupportopsError):
    """The endpoint failed after every retry (the caller falls back to extraction)."""

    http_status = 503
    code = "llm_unavailable"


@dataclass
class Passage:
    title: str
    text: str


@dataclass
class ChatBackend:
    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5
    transport: httpx.BaseTransport | None = None

    @property
    def name(self) -> str:
        return f"openai-compatible:{self.model}"

    @classmethod
    def from_settings(cls) -> ChatBackend | None:
        """The configured back-end, or None when no base URL is set."""
        base = setting("llm_base_url")
        if not base:
            return None
        model = setting("llm_model")
        if not model:
            raise ConfigError("Setting 'SUPPORTOPS_LLM_MODEL' is missing, and has no default; "
                              "name the model the endpoint at SUPPORTOPS_LLM_BASE_URL serves.")
        return cls(base.rstrip("/"), model, setting("llm_api_key"))

    def messages(self, question: str, passages: Sequence[Passage]) -> list[dict[str, str]]:
        sources = "\n\n".join(f"[{i}] {p.title}\n{p.text}"
                              for i, p in enumerate(passages, start=1))
        return [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"Question:\n{question}\n\nSources:\n{sources}"}]

    def draft(self, question: str, passages: Sequence[Passage]) -> str:
        """The endpoint's reply to the grounded prompt (retried; raises LlmUnavailable)."""
        body = {"model": self.model, "messages": self.messages(question, passages),
                "temperature": 0}
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        last = "no attempt"
        with httpx.Client(base_url=self.base_url, timeout=self.timeout,
                          transport=self.transport) as client:
            for attempt in range(self.retries + 1):
                if attempt:
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                try:
                    reply = client.post("/chat/completions", json=body, headers=headers)
                except httpx.TransportError as err:
                    last = f"{type(err).__name__}: {err}"
                    continue
                if reply.status_code in RETRY_STATUS:
                    last = f"HTTP {reply.status_code}"
                    continue
                return _content(reply)
        raise LlmUnavailable(f"The answer model at {self.base_url} failed after "
                             f"{self.retries + 1} attempts ({last}).")


def _content(reply: httpx.Response) -> str:
    if reply.status_code >= 400:
        raise LlmUnavailable(f"The answer model refused the request: HTTP {reply.status_code} "
                             f"{reply.text[:200]!r}.")
    try:
        data: Any = reply.json()
        text = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise LlmUnavailable("The answer model's reply is not an OpenAI chat completion "
                             f"(no choices[0].message.content): {reply.text[:200]!r}.") from None
    if not isinstance(text, str) or not text.strip():
        raise LlmUnavailable("The answer model returned an empty reply.")
    return text.strip()
