"""Agents' verdicts on drafts (used, edited, rejected) as events, counted per article and
per index version; a later monitoring room reads the same events."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from supportops.events import classification
from supportops.events.catalogue import EventType
from supportops.events.classification import LABEL, Code

Verdict = Literal["used", "edited", "rejected"]
VERDICTS: tuple[Verdict, ...] = ("used", "edited", "rejected")
EVENT = "assist.feedback"


class AssistFeedback(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    answer_id: str = Field(min_length=1)
    verdict: Verdict
    sources: list[str] = Field(default_factory=list)
    model: str = Field(min_length=1)
    index_version: str = Field(min_length=1)
    comment: str | None = None


#: The assistant's event type (the composition root joins it into the catalogue).
EVENT_TYPES: tuple[EventType, ...] = (EventType(EVENT, AssistFeedback, classes={
    "answer_id": Code(re.compile(r"[0-9a-f-]{36}")),
    "verdict": Code(vocabulary=frozenset(VERDICTS)),
    "sources[]": Code(re.compile(r"(kb|ticket):[A-Za-z0-9 _./&()'#,:-]{1,200}"),
                      max_digits=None),
    "model": Code(re.compile(r"[A-Za-z0-9@/:._ -]{1,200}"), max_digits=None),
    "index_version": LABEL, "comment": classification.FREE}),)


def counts(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    """Verdicts per cited source (``kind:id``) and per index version."""
    by_source: dict[str, Counter[str]] = {}
    by_version: dict[str, Counter[str]] = {}
    for p in payloads:
        if "verdict" not in p:
            continue  # a redacted event
        for source in p.get("sources", []):
            by_source.setdefault(source, Counter())[p["verdict"]] += 1
        by_version.setdefault(p["index_version"], Counter())[p["verdict"]] += 1
    return {"by_source": {k: dict(v) for k, v in sorted(by_source.items())},
            "by_version": {k: dict(v) for k, v in sorted(by_version.items())},
            "total": len(payloads)}
