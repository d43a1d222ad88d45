"""Drafted answers: extractive composition, placeholders, confidence and abstention.

The default back-end needs no model: the best source's answer text is the draft, with the
knowledge base's placeholders (``{{Order Number}}``) filled from the ticket's fields where
they are known and left visible where not. Confidence combines how close the best source is
(cosine of MiniLM vectors) with how much the fused list agrees with it (the share of the
top results, weighted by closeness, that give the same intent, or the margin over the
runner-up where articles have no intent); below the tenant's threshold the draft is handed
to a human with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]{1,60}?)\s*\}\}")
#: Below this cosine nothing in the knowledge is about the question.
OUT_OF_SCOPE = 0.2
#: Below this cosine the best source is only loosely related.
MIN_RELEVANCE = 0.35
#: Relevance saturates at this cosine.
FULL_RELEVANCE = 0.7
AGREEMENT_DEPTH = 10
REASONS = ("out of scope", "no relevant source", "conflicting sources", "low confidence")


@dataclass
class Candidate:
    """A fused result with what composition needs about it."""

    source_id: str
    kind: str
    title: str
    answer: str
    fused: float
    cosine: float
    group: str | None


def relevance(cosine: float) -> float:
    return min(1.0, max(0.0, (cosine - OUT_OF_SCOPE) / (FULL_RELEVANCE - OUT_OF_SCOPE)))


def agreement(candidates: Sequence[Candidate]) -> float:
    """How much the fused list backs its first result, in [0, 1]."""
    top = candidates[:AGREEMENT_DEPTH]
    if len(top) < 2:
        return 1.0
    if top[0].group is None:  # articles without intents: the lead over the runner-up
        return 0.5 + min(0.5, max(0.0, (top[0].cosine - top[1].cosine) * 5))
    weights = [relevance(c.cosine) ** 2 for c in top]  # unrelated results do not vote
    total = sum(weights)
    if total <= 0:
        return 0.0
    return sum(w for c, w in zip(top, weights, strict=True) if c.group == top[0].group) / total


def confidence(candidates: Sequence[Candidate]) -> tuple[float, str | None]:
    """Confidence in the first candidate and, when it is weak, why."""
    if not candidates:
        return 0.0, "no relevant source"
    best_cos = max(c.cosine for c in candidates[:3])
    rel, agree = relevance(best_cos), min(1.0, max(0.0, agreement(candidates)))
    conf = round(rel ** 0.5 * agree, 4)
    if best_cos < OUT_OF_SCOPE:
        return conf, "out of scope"
    if best_cos < MIN_RELEVANCE:
        return conf, "no relevant source"
    if agree < 0.5:
        return conf, "conflicting sources"
    return conf, None


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_ALIASES = {"ordernumber": "orderid", "purchaseidanonymized": "orderid",
            "purchasenumber": "orderid", "invoicenumber": "invoiceid", "name": "customername",
            "clientname": "customername", "ticketnumber": "ticketid"}


def fill(template: str, fields: Mapping[str, Any]) -> str:
    """Placeholders replaced by known fields (names compared without case or punctuation);
    unknown ones stay visible for the agent."""
    known = {_norm(k): str(v) for k, v in fields.items() if v not in (None, "")}

    def one(match: re.Match[str]) -> str:
        key = _norm(match.group(1))
        value = known.get(key) or known.get(_ALIASES.get(key, ""))
        return value if value is not None else match.group(0)

    return PLACEHOLDER.sub(one, template)


def handoff(reason: str) -> str:
    return f"Handing this to a human agent: {reason}."
