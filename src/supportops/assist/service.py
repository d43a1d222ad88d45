"""``tenant.assist``: the assistant's facade, which the CLI, the API and the console call.

    acme.assist.load_kb("bitext.csv", "bitext")        # {"articles": n, "added": ...}
    acme.assist.similar(text="my parcel never came")   # [{"source_id": ..., "score": ...}]
    acme.assist.answer("how do I cancel order 123?")   # the CLI's JSON line shape
    acme.assist.feedback(answer_id, verdict="used")
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Connection, func, insert, select, update

from supportops.assist import compose, feedback, indexing, knowledge, retrieval
from supportops.assist import state as state_
from supportops.assist.documents import KB, doc_id
from supportops.assist.llm import ChatBackend, LlmUnavailable, Passage
from supportops.assist.tables import assist_answers, assist_documents, assist_state
from supportops.errors import NotFound, ValidationFailed
from supportops.events import cipher
from supportops.events.ingest import Parsed, ingest
from supportops.events.schemas import EventDraft
from supportops.governance.context import Context, Role
from supportops.privacy.service import Privacy
from supportops.storage import Database
from supportops.storage.schema import events, tickets

READ_ROLES: tuple[Role, ...] = ("admin", "agent", "analyst")
EXTRACTIVE = "extractive"
#: Triage's prediction for a question, used to cross-check the fused list (or None).
Predictor = Callable[[str], dict[str, Any] | None]


@dataclass
class AssistService:
    db: Database
    ctx: Context
    privacy: Privacy | None = None
    predictor: Predictor | None = None
    backend: ChatBackend | None = field(default_factory=ChatBackend.from_settings)
    #: Reciprocal-rank fusion's constant (60 unless a bench measured better).
    rrf_k: int = retrieval.RRF_K
    lexical_weight: float = retrieval.LEXICAL_WEIGHT

    # -- knowledge ------------------------------------------------------------------------------

    def enable(self) -> bool:
        """Index this tenant from now on (catching up with the log once)."""
        return indexing.enable(self.db, self.ctx)

    def load_kb(self, path: str | Path, format: str) -> dict[str, Any]:
        """Load articles (idempotent: the same file twice adds nothing); returns how many
        articles the knowledge base holds and what this file added or changed."""
        self.ctx.require("admin", "agent", action="load a knowledge base")
        read = knowledge.reader_for(format)
        self.enable()
        known = self._kb_ids()
        updated: set[str] = set()

        def typed() -> Any:
            for item in read(Path(path)):
                if isinstance(item, Parsed):
                    for draft in item.drafts:
                        if draft.payload["article_id"] in known:
                            draft.type = "kb_article.updated"
                            updated.add(draft.idempotency_key)
                yield item

        protector = self.privacy.protector() if self.privacy else None
        report = ingest(self.db, self.ctx, typed(), protector=protector)
        changed = min(len(updated), report.accepted)
        return {"articles": self.count_articles(), "added": report.accepted - changed,
                "updated": changed, "unchanged": report.duplicates,
                "rejected": report.rejected, "errors": [e.as_dict() for e in report.errors]}

    def _kb_ids(self) -> set[str]:
        with self.db.begin(self.ctx.tenant_id) as conn:
            return set(conn.execute(select(assist_documents.c.source_id).where(
                assist_documents.c.tenant_id == self.ctx.tenant_id,
                assist_documents.c.kind == KB)).scalars())

    def count_articles(self) -> int:
        with self.db.begin(self.ctx.tenant_id) as conn:
            return int(conn.execute(select(func.count()).select_from(assist_documents).where(
                assist_documents.c.tenant_id == self.ctx.tenant_id,
                assist_documents.c.kind == KB)).scalar_one())

    def set_threshold(self, threshold: float) -> dict[str, Any]:
        """Below this confidence an answer is handed to a human (tenant setting)."""
        self.ctx.require("admin", action="set the assistant's threshold")
        if not 0.0 <= threshold <= 1.0:
            raise ValidationFailed(f"The 'threshold' of the assistant must be in [0, 1]. "
                                   f"Got {threshold} instead.")
        self.enable()
        with self.db.begin(self.ctx.tenant_id) as conn:
            conn.execute(update(assist_state).where(
                assist_state.c.tenant_id == self.ctx.tenant_id).values(threshold=threshold))
        return self.status()

    def status(self) -> dict[str, Any]:
        with self.db.begin(self.ctx.tenant_id) as conn:
            state = state_.read_state(conn, self.ctx)
            docs = {str(kind): int(n) for kind, n in conn.execute(
                select(assist_documents.c.kind, func.count()).where(
                    assist_documents.c.tenant_id == self.ctx.tenant_id)
                .group_by(assist_documents.c.kind)).all()}
        if state is None:
            return {"enabled": False}
        return {"enabled": True, "position": state.position, "generation": state.generation,
                "encoder": state.encoder, "threshold": state.threshold,
                "articles": docs.get("kb", 0), "tickets": docs.get("ticket", 0)}

    # -- search ---------------------------------------------------------------------------------

    def _cache(self, conn: Connection) -> tuple[retrieval.IndexCache, Any]:
        state = state_.read_state(conn, self.ctx)
        if state is None:
            return retrieval.IndexCache(-1, ""), None
        return retrieval.CACHES.get(conn, self.ctx, state.generation, state.encoder), state

    def _query(self, text: str) -> tuple[np.ndarray[Any, Any], Any]:
        """The query's blind term hashes and its vector."""
        with self.db.begin(self.ctx.tenant_id) as conn:
            hashes = retrieval.CACHES.hasher(conn, self.ctx).query(text)
        return hashes, self._encode(text)

    def _encode(self, text: str) -> Any:
        return state_.index_env(self.db).encoder().encode([text])[0]

    def search(self, text: str, *, limit: int = 5, filters: retrieval.Filters | None = None,
               exclude: str | None = None, pseudonymised: bool = False
               ) -> tuple[list[dict[str, Any]], Any]:
        """Fused results for ``text`` (pseudonymised first unless it already is)."""
        self.ctx.require(*READ_ROLES, action="search the knowledge base")
        query = text if pseudonymised else self._pseudonymise([text])[0]
        vec = self._encode(query)
        with self.db.begin(self.ctx.tenant_id) as conn:  # one read: state, cache, key
            cache, state = self._cache(conn)
            hashes = retrieval.CACHES.hasher(conn, self.ctx).query(query)
        if state is None:  # first use: index the tenant (catching up once), then search
            self.enable()
            return self.search(query, limit=limit, filters=filters, exclude=exclude,
                               pseudonymised=True)
        hits = retrieval.search(cache, hashes, vec, filters or retrieval.Filters(),
                                limit + (1 if exclude else 0), rrf_k=self.rrf_k,
                                lexical_weight=self.lexical_weight)
        rows = [dict(cache.docs[h.row], fused=h.fused, cosine=h.cosine, bm25=h.bm25)
                for h in hits if cache.docs[h.row]["doc_id"] != exclude]
        return rows[:limit], state

    def _pseudonymise(self, texts: list[str]) -> list[str]:
        return self.privacy.pseudonymise_texts(texts) if self.privacy and texts else texts

    def similar(self, ticket_id: str | None = None, text: str | None = None, limit: int = 5,
                kind: str | None = None, **narrow: Any) -> list[dict[str, Any]]:
        """Documents like a ticket (its question) or a text, best first; ``kind`` ("kb",
        "ticket") and ``narrow`` (language, category, since, until) filter them."""
        if (ticket_id is None) == (text is None):
            raise ValidationFailed("Give exactly one of 'ticket_id' (--ticket) or 'text' "
                                   "(--text).")
        pseudonymised = False
        if ticket_id is not None:
            text, pseudonymised = self._ticket_text(ticket_id), True
        filters = _filters(kind, **narrow)
        assert text is not None
        rows, _ = self.search(text, limit=limit, filters=filters, pseudonymised=pseudonymised,
                              exclude=doc_id("ticket", ticket_id) if ticket_id else None)
        titles = self._texts([r["question_event"] for r in rows])
        return [{"source_id": r["source_id"], "kind": r["kind"],
                 "title": _title(titles.get(r["question_event"], {})),
                 "score": round(max(0.0, r["cosine"]), 4), "category": r["category"],
                 "intent": r["intent"]} for r in rows]

    def _ticket_text(self, ticket_id: str) -> str:
        with self.db.begin(self.ctx.tenant_id) as conn:
            row = conn.execute(select(events.c.payload).where(
                events.c.tenant_id == self.ctx.tenant_id, events.c.ticket_id == ticket_id,
                events.c.type == "ticket.created", events.c.redacted_at.is_(None))
                .order_by(events.c.seq).limit(1)).scalar()
            if row is None:
                raise NotFound(f"Ticket {ticket_id!r} does not exist in tenant "
                               f"{self.ctx.tenant_id!r} (or was erased).")
            payload = [orjson.loads(row)]
            cipher.open_values(conn, self.ctx, payload)
        p = payload[0]
        return " ".join(t for t in (p.get("subject_line"), p.get("text")) if t)

    def _texts(self, event_ids: list[str | None]) -> dict[str, dict[str, Any]]:
        """Payloads of a few events (opened), by event id."""
        ids = [e for e in dict.fromkeys(event_ids) if e]
        if not ids:
            return {}
        with self.db.begin(self.ctx.tenant_id) as conn:
            rows = conn.execute(select(events.c.id, events.c.payload).where(
                events.c.tenant_id == self.ctx.tenant_id, events.c.id.in_(ids),
                events.c.redacted_at.is_(None))).all()
            payloads = [orjson.loads(r.payload) for r in rows]
            cipher.open_values(conn, self.ctx, payloads)
        return {r.id: p for r, p in zip(rows, payloads, strict=True)}

    # -- answers --------------------------------------------------------------------------------

    def answer(self, text: str, ticket_id: str | None = None, *, limit: int = 3,
               record: bool = True, cross_check: bool = False) -> dict[str, Any]:
        """A drafted reply with its sources (best first), confidence and abstention;
        ``cross_check`` puts sources with triage's predicted intent first."""
        return self.answer_many([text], ticket_id=ticket_id, limit=limit, record=record,
                                cross_check=cross_check)[0]

    def answer_many(self, texts: list[str], ticket_id: str | None = None, *, limit: int = 3,
                    record: bool = True, cross_check: bool = False,
                    **narrow: Any) -> list[dict[str, Any]]:
        """Answers for several questions (pseudonymised in one batch); ``narrow`` filters
        the sources as :meth:`similar` does."""
        self.ctx.require(*READ_ROLES, action="draft answers")
        filters = _filters(**narrow)
        queries = self._pseudonymise(list(texts))
        fields = self._ticket_fields(ticket_id) if ticket_id else {}
        out = [self._answer_one(q, fields, limit, cross_check, filters) for q in queries]
        if record:
            self._record(out, ticket_id)
        return out

    def _answer_one(self, query: str, fields: dict[str, Any], limit: int, cross_check: bool,
                    filters: retrieval.Filters) -> dict[str, Any]:
        rows, state = self.search(query, limit=compose.AGREEMENT_DEPTH, pseudonymised=True,
                                  filters=filters)
        if cross_check:
            rows = self._cross_check(query, rows)
        payloads = self._texts([r["answer_event"] for r in rows[:limit]] +
                               [r["question_event"] for r in rows[:limit]])
        candidates = [_candidate(r, payloads) for r in rows]
        conf, reason = compose.confidence(candidates)
        threshold = float(state.threshold) if state is not None else state_.DEFAULT_THRESHOLD
        if reason is None and conf < threshold:
            reason = "low confidence"
        abstained = reason is not None
        model, draft = self._draft(query, candidates[:limit], fields, abstained, reason)
        return {"answer": draft,
                "citations": [{"source_id": c.source_id, "kind": c.kind, "title": c.title,
                               "score": round(max(0.0, c.cosine), 4)}
                              for c in candidates[:limit]],
                "confidence": conf, "abstained": abstained, "reason": reason,
                "answer_id": str(uuid.uuid4()), "model": model,
                "index_version": _version(state)}

    def _cross_check(self, query: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Where triage predicts an intent the fused list knows, sources with it go first
        (stable otherwise); no model, no change."""
        if self.predictor is None or not rows:
            return rows
        predicted = self.predictor(query)
        label = (predicted or {}).get("label") if predicted else None
        if not label or not any(r["intent"] == label or r["category"] == label for r in rows):
            return rows
        return sorted(rows, key=lambda r: r["intent"] != label and r["category"] != label)

    def _draft(self, query: str, candidates: list[compose.Candidate], fields: dict[str, Any],
               abstained: bool, reason: str | None) -> tuple[str, str]:
        if abstained:
            return EXTRACTIVE, compose.handoff(reason or "low confidence")
        if self.backend is not None:
            try:
                passages = [Passage(c.title, c.answer) for c in candidates]
                return self.backend.name, compose.fill(self.backend.draft(query, passages),
                                                       fields)
            except LlmUnavailable:
                pass  # the extractive draft below still answers
        return EXTRACTIVE, compose.fill(candidates[0].answer, fields)

    def _ticket_fields(self, ticket_id: str) -> dict[str, Any]:
        with self.db.begin(self.ctx.tenant_id) as conn:
            row = conn.execute(select(tickets).where(
                tickets.c.tenant_id == self.ctx.tenant_id,
                tickets.c.ticket_id == ticket_id)).mappings().first()
            if row is None:
                raise NotFound(f"Ticket {ticket_id!r} does not exist in tenant "
                               f"{self.ctx.tenant_id!r}.")
            attrs = [orjson.loads(row["attributes"] or "{}")]
            cipher.open_values(conn, self.ctx, attrs)
        fields: dict[str, Any] = {k: v for k, v in row.items()
                                  if isinstance(v, str) and not v.startswith(cipher.MARK)}
        fields.update({k: v for k, v in attrs[0].items() if isinstance(v, str | int | float)})
        fields.setdefault("group", row["group_name"])
        return fields

    def _record(self, answers: list[dict[str, Any]], ticket_id: str | None) -> None:
        now = datetime.now(UTC)
        rows = [{"tenant_id": self.ctx.tenant_id, "answer_id": a["answer_id"], "created_at": now,
                 "ticket_id": ticket_id, "model": a["model"],
                 "citations": orjson.dumps([f"{c['kind']}:{c['source_id']}"
                                            for c in a["citations"]]).decode(),
                 "index_version": a["index_version"], "confidence": a["confidence"],
                 "abstained": int(a["abstained"])} for a in answers]
        if rows:
            with self.db.begin(self.ctx.tenant_id) as conn:
                conn.execute(insert(assist_answers), rows)

    # -- feedback -------------------------------------------------------------------------------

    def feedback(self, answer_id: str, verdict: str = "used",
                 comment: str | None = None) -> dict[str, Any]:
        """An agent's verdict on a draft, stored as an ``assist.feedback`` event naming the
        sources, model and index version the draft came from."""
        self.ctx.require("admin", "agent", action="give feedback on drafts")
        if verdict not in feedback.VERDICTS:
            raise ValidationFailed(f"The 'verdict' must be one of "
                                   f"{', '.join(feedback.VERDICTS)}. Got {verdict!r} instead.")
        with self.db.begin(self.ctx.tenant_id) as conn:
            row = conn.execute(select(assist_answers).where(
                assist_answers.c.tenant_id == self.ctx.tenant_id,
                assist_answers.c.answer_id == answer_id)).first()
        if row is None:
            raise NotFound(f"Answer {answer_id!r} does not exist in tenant "
                           f"{self.ctx.tenant_id!r}; pass the 'answer_id' a draft returned.")
        payload: dict[str, Any] = {
            "answer_id": answer_id, "verdict": verdict, "model": row.model,
            "sources": orjson.loads(row.citations), "index_version": row.index_version}
        if comment:
            payload["comment"] = comment
        draft = EventDraft(feedback.EVENT, datetime.now(UTC), payload,
                           f"assist-feedback:{answer_id}:{uuid.uuid4().hex}",
                           ticket_id=row.ticket_id)
        protector = self.privacy.protector() if self.privacy else None
        report = ingest(self.db, self.ctx, [Parsed(1, [draft])], protector=protector,
                        strict=True)
        return {"answer_id": answer_id, "verdict": verdict, "recorded": report.accepted,
                "sources": payload["sources"], "model": row.model,
                "index_version": row.index_version}

    def feedback_counts(self) -> dict[str, Any]:
        """Verdicts per cited source and per index version."""
        self.ctx.require(*READ_ROLES, action="read feedback counts")
        with self.db.begin(self.ctx.tenant_id) as conn:
            rows = conn.execute(select(events.c.payload).where(
                events.c.tenant_id == self.ctx.tenant_id, events.c.type == feedback.EVENT,
                events.c.redacted_at.is_(None))).scalars().all()
            payloads = [orjson.loads(r) for r in rows]
            cipher.open_values(conn, self.ctx, payloads)
        return feedback.counts(payloads)


def _filters(kind: str | None = None, **narrow: Any) -> retrieval.Filters:
    if kind not in (None, "kb", "ticket"):
        raise ValidationFailed(f"The 'kind' must be 'kb' or 'ticket'. Got {kind!r} instead.")
    unknown = set(narrow) - {"language", "category", "since", "until"}
    if unknown:
        raise ValidationFailed(f"Unknown filter(s) {', '.join(sorted(unknown))}; filters are "
                               "kind, language, category, since and until.")
    return retrieval.Filters(kinds=(kind,) if kind else (), **narrow)


def _title(payload: dict[str, Any]) -> str:
    return str(payload.get("title") or payload.get("subject_line") or
               payload.get("question") or payload.get("text") or "")[:200]


def _candidate(row: dict[str, Any], payloads: dict[str, dict[str, Any]]) -> compose.Candidate:
    answer = payloads.get(row["answer_event"] or "", {})
    question = payloads.get(row["question_event"], {})
    text = answer.get("body") or answer.get("resolution") or answer.get("text") or ""
    return compose.Candidate(row["source_id"], row["kind"], _title(question), str(text),
                             row["fused"], row["cosine"], row["intent"] or row["category"])


def _version(state: Any) -> str:
    return f"g{state.generation}-p{state.position}" if state is not None else "g0-p0"
