"""Subject-access export: everything the tenant holds about one data subject, readable.

``supportops privacy export SUBJECT --tenant T --out FILE`` gathers the subject's events and
tickets with original values restored from the vault, and the records derived from them
(lineage of snapshots and models, opt-out state, erasure reports, embedding rows, audit
entries naming the subject). Only roles that may reveal personal data may export; every
export, and every refusal, is audited (counts only: the audit chain holds no content).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Row, select

from supportops.errors import PermissionDenied
from supportops.events import cipher
from supportops.governance import audit
from supportops.governance.context import Context
from supportops.governance.tables import (
    audit_log,
    lineage_models,
    lineage_snapshot_subjects,
)
from supportops.privacy import vault
from supportops.privacy.erasure import subject_token
from supportops.privacy.keys import Keyring
from supportops.privacy.optout import OPTED_IN, OPTED_OUT
from supportops.privacy.reveal import REVEAL_ROLES, substitute, tokens_in
from supportops.privacy.sealed_subjects import customer_ref, subject_where
from supportops.privacy.tables import erasure_reports
from supportops.storage import Database
from supportops.storage.schema import events, tickets

#: Ticket columns that may carry tokens of the subject's values.
_TICKET_TEXT = ("subject_line", "assignee", "attributes")


def export_subject(db: Database, ctx: Context, keyring: Keyring, subject: str,
                   out: Path) -> dict[str, Any]:
    """Write the subject's export to ``out`` (owner-only file); returns its summary."""
    try:
        ctx.require(*REVEAL_ROLES, action="export a data subject's records")
    except PermissionDenied:
        audit.record(db, ctx, "privacy.export.denied", details={"subject_given": True})
        raise
    with db.begin(ctx.tenant_id) as conn:
        token = subject_token(conn, keyring, subject)
        document = _gather(conn, ctx, keyring, token)
        document["subject"] = {"id": subject, "token": token}
        summary = _summary(document)
        audit.record(conn, ctx, "privacy.export", subject=customer_ref(conn, keyring, token),
                     details=summary)
        _write(out, document)
    return {**summary, "subject": token, "out": str(out)}


def _gather(conn: Connection, ctx: Context, keyring: Keyring, token: str) -> dict[str, Any]:
    event_rows = _rows(conn, select(events).where(
        events.c.tenant_id == ctx.tenant_id, subject_where(conn, keyring, token))
        .order_by(events.c.seq))
    ticket_rows = _rows(conn, select(tickets).where(
        tickets.c.tenant_id == ctx.tenant_id,
        tickets.c.subject.in_(cipher.subject_forms(conn, ctx, token)))
        .order_by(tickets.c.ticket_id))
    keyring.load(conn)
    payloads = [orjson.loads(row.payload) for row in event_rows]
    texts = [_ticket_text(row) for row in ticket_rows]
    cipher.open_values(conn, ctx, payloads)  # content at rest is sealed: opened in one batch
    cipher.open_values(conn, ctx, texts)
    originals = _originals(conn, keyring, token, payloads, texts)
    return {
        "exported_at": datetime.now(UTC).isoformat(),
        "tenant": ctx.tenant_id,
        "events": [_event(r, p, originals) for r, p in zip(event_rows, payloads, strict=True)],
        "tickets": [_ticket(r, t, originals) for r, t in zip(ticket_rows, texts, strict=True)],
        "derived": _derived(conn, ctx, token, customer_ref(conn, keyring, token)),
    }


def _rows(conn: Connection, stmt: Any) -> list[Row[Any]]:
    return list(conn.execute(stmt).all())


def _originals(conn: Connection, keyring: Keyring, token: str, payloads: list[Any],
               texts: list[dict[str, Any]]) -> dict[str, str]:
    """The vaulted originals of every token the subject's records hold (its own id too)."""
    wanted: set[str] = {token}
    tokens_in(payloads, wanted)
    tokens_in(texts, wanted)
    return vault.fetch(conn, keyring, wanted)


def _event(row: Row[Any], payload: Any, originals: dict[str, str]) -> dict[str, Any]:
    return {"seq": row.seq, "id": row.id, "type": row.type, "ticket_id": row.ticket_id,
            "occurred_at": row.occurred_at.isoformat(),
            "redacted": row.redacted_at is not None,
            "payload": substitute(payload, originals)}


def _ticket_text(row: Row[Any]) -> dict[str, Any]:
    """The ticket's columns that may hold sealed content or tokens, attributes parsed."""
    text = {c: getattr(row, c) for c in _TICKET_TEXT}
    text["attributes"] = orjson.loads(row.attributes or "{}")
    return text


def _ticket(row: Row[Any], text: dict[str, Any], originals: dict[str, str]) -> dict[str, Any]:
    data = {k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in row._asdict().items() if k not in ("tenant_id", "subject")}
    data.update(text)
    return {k: substitute(v, originals) for k, v in data.items()}


def _derived(conn: Connection, ctx: Context, token: str, ref: str) -> dict[str, Any]:
    """What was derived from the subject's records: lineage, erasure reports, audit (these
    two name it by its reference; by its token before references)."""
    names = [ref, token]
    snapshots = sorted(conn.execute(select(lineage_snapshot_subjects.c.snapshot_id).where(
        lineage_snapshot_subjects.c.tenant_id == ctx.tenant_id,
        lineage_snapshot_subjects.c.subject.in_(names))).scalars())
    models = conn.execute(select(lineage_models.c.model_name, lineage_models.c.version,
                                 lineage_models.c.contains_erased_data).where(
        lineage_models.c.tenant_id == ctx.tenant_id,
        lineage_models.c.snapshot_id.in_(snapshots))).all() if snapshots else []
    reports = conn.execute(select(erasure_reports.c.report).where(
        erasure_reports.c.tenant_id == ctx.tenant_id, erasure_reports.c.subject.in_(names))
    ).scalars().all()
    entries = conn.execute(select(audit_log.c.seq, audit_log.c.at, audit_log.c.action,
                                  audit_log.c.actor).where(
        audit_log.c.tenant_id == ctx.tenant_id, audit_log.c.subject.in_(names))
        .order_by(audit_log.c.seq)).all()
    return {
        "dataset_snapshots": snapshots,
        "models": [{"name": m.model_name, "version": m.version,
                    "contains_erased_data": bool(m.contains_erased_data)} for m in models],
        "erasure_reports": [orjson.loads(r) for r in reports],
        "audit_entries": [{"seq": e.seq, "at": e.at.isoformat(), "action": e.action,
                           "actor": e.actor} for e in entries],
        "opted_out": _opted_out(entries),
    }


def _opted_out(entries: Sequence[Any]) -> bool | None:
    """The newest opt-out decision in the audit trail (``None``: never decided)."""
    state = None
    for entry in entries:
        if entry.action in (OPTED_OUT, OPTED_IN):
            state = entry.action == OPTED_OUT
    return state


def _summary(document: dict[str, Any]) -> dict[str, Any]:
    derived = document["derived"]
    counts: dict[str, int] = defaultdict(int)
    for key in ("dataset_snapshots", "models", "erasure_reports", "audit_entries"):
        counts[key] = len(derived[key])
    return {"events": len(document["events"]), "tickets": len(document["tickets"]), **counts}


def _write(out: Path, document: dict[str, Any]) -> None:
    """Owner-only (0600): the file holds original personal data."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(orjson.dumps(document, default=str,
                                  option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
