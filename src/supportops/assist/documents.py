"""What the assistant searches: knowledge-base articles and resolved tickets as documents.

An article is its own event (title, question, body). A resolved ticket is the customer's
question (the ``ticket.created`` subject line and text) and the agent's resolution (the
``ticket.resolved`` text, else the last public agent reply), pseudonymised as stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, select

from supportops.assist.state import INDEXED_TYPES, KB_TYPES
from supportops.events import cipher
from supportops.events.cipher import MARK
from supportops.events.schemas import Event
from supportops.governance.context import Context
from supportops.storage.schema import events, tickets

KB, TICKET = "kb", "ticket"
LEAD_CHARS = 300


@dataclass
class Document:
    """One searchable unit; ``question`` is what its vector embeds."""

    doc_id: str
    kind: str
    source_id: str
    question_event: str
    answer_event: str | None
    seq: int
    subject: str | None
    occurred_at: datetime
    title: str
    question: str
    answer: str
    language: str | None = None
    category: str | None = None
    intent: str | None = None

    @property
    def search_text(self) -> str:
        """Title and question weigh twice the body: they say what the answer is about."""
        head = " ".join(dict.fromkeys(t for t in (self.title, self.question) if t))
        return f"{head} {head} {self.answer}"

    @property
    def vector_texts(self) -> tuple[str, ...]:
        """What the document's vector embeds: its title and question, and the same with
        the answer's lead (combined by ``indexing``); the answer alone when untitled."""
        head = " ".join(dict.fromkeys(t for t in (self.title, self.question) if t))
        if not head:
            return (self.answer[:500],)
        return (head, f"{head} {self.answer[:LEAD_CHARS]}")


def doc_id(kind: str, source_id: str) -> str:
    return f"{kind}:{source_id}"


def from_article(ev: Event) -> Document:
    p = ev.payload
    return Document(
        doc_id(KB, p["article_id"]), KB, p["article_id"], ev.id, ev.id, ev.seq, ev.subject,
        ev.occurred_at, p.get("title") or "", p.get("question") or "", p.get("body") or "",
        _code(p.get("language")), _code(p.get("category")), _code(p.get("intent")))


def _code(value: Any) -> str | None:
    """A code as stored; one that failed its check is sealed and never filtered on."""
    if not isinstance(value, str) or not value or value.startswith(MARK):
        return None
    return value[:100]


def from_resolutions(conn: Connection, ctx: Context, resolved: Sequence[Event]) -> list[Document]:
    """Documents of resolved tickets (those with a question and an answer text)."""
    ids = list(dict.fromkeys(e.ticket_id for e in resolved if e.ticket_id))
    if not ids:
        return []
    created = _ticket_events(conn, ctx, ids, ("ticket.created",))
    replies = _ticket_events(conn, ctx, ids, ("message.added",))
    categories = dict(conn.execute(select(tickets.c.ticket_id, tickets.c.category).where(
        tickets.c.tenant_id == ctx.tenant_id, tickets.c.ticket_id.in_(ids))).all())
    docs: dict[str, Document] = {}
    for ev in resolved:
        doc = _ticket_doc(ev, created, replies, categories)
        if doc is not None:
            docs[doc.doc_id] = doc
    return list(docs.values())


def _ticket_doc(ev: Event, created: dict[str, list[Event]], replies: dict[str, list[Event]],
                categories: dict[str, str | None]) -> Document | None:
    tid = ev.ticket_id or ""
    first = created[tid][0] if created.get(tid) else None
    answer, answer_event = ev.payload.get("resolution"), ev.id
    if not answer:
        answer, answer_event = _last_reply(replies.get(tid, []), ev.id)
    if first is None or not answer:
        return None
    p = first.payload
    question = " ".join(t for t in (p.get("subject_line"), p.get("text")) if t)
    if not question.strip():
        return None
    attrs = p.get("attributes") or {}
    return Document(doc_id(TICKET, tid), TICKET, tid, first.id, answer_event, ev.seq,
                    first.subject,
                    ev.occurred_at, p.get("subject_line") or "", question, answer,
                    _code(attrs.get("language")), _code(categories.get(tid)))


def _last_reply(messages: list[Event], default: str) -> tuple[str, str]:
    """The last public agent reply and its event (the resolution of many exports)."""
    public = [m for m in messages if m.payload.get("author") == "agent"
              and m.payload.get("visibility", "public") == "public"]
    if not public:
        return "", default
    return str(public[-1].payload.get("text") or ""), public[-1].id


def _ticket_events(conn: Connection, ctx: Context, ids: list[str],
                   types: tuple[str, ...]) -> dict[str, list[Event]]:
    """The tickets' events of ``types`` (not redacted), payloads opened, oldest first."""
    rows: list[Any] = []
    for i in range(0, len(ids), 1000):
        rows.extend(conn.execute(select(events).where(
            events.c.tenant_id == ctx.tenant_id, events.c.ticket_id.in_(ids[i : i + 1000]),
            events.c.type.in_(types), events.c.redacted_at.is_(None))
            .order_by(events.c.seq)).all())
    payloads = [orjson.loads(r.payload) for r in rows]
    cipher.open_values(conn, ctx, payloads)
    out: dict[str, list[Event]] = {}
    for r, p in zip(rows, payloads, strict=True):
        out.setdefault(r.ticket_id, []).append(Event(
            r.tenant_id, r.seq, r.id, r.type, r.occurred_at, r.recorded_at, p,
            r.idempotency_key, r.hash, r.ticket_id, r.subject))
    return out


def opened(conn: Connection, ctx: Context, batch: Sequence[Event]) -> list[Event]:
    """Copies of the batch's relevant events with their payloads decrypted."""
    relevant = [e for e in batch if e.type in INDEXED_TYPES]
    payloads = [orjson.loads(orjson.dumps(e.payload)) for e in relevant]
    cipher.open_values(conn, ctx, payloads)
    return [Event(e.tenant_id, e.seq, e.id, e.type, e.occurred_at, e.recorded_at, p,
                  e.idempotency_key, e.hash, e.ticket_id, e.subject)
            for e, p in zip(relevant, payloads, strict=True)]


def from_events(conn: Connection, ctx: Context, batch: Sequence[Event]) -> list[Document]:
    """Documents of a batch of opened events (articles and resolved tickets)."""
    docs = [from_article(e) for e in batch if e.type in KB_TYPES and e.redacted_at is None]
    resolved = [e for e in batch if e.type == "ticket.resolved" and e.redacted_at is None]
    return docs + from_resolutions(conn, ctx, resolved)
