"""Agents' feedback on triage predictions: ``triage.feedback`` events, and the label they decide.

An agent accepts a prediction or corrects it. Either way the final label is a person's
decision, so besides the feedback event (ticket, model, version, predicted, final, action) a
label event of the model's target is appended *without* a model mark: the next dataset
snapshot takes it as a label, while model write-backs never become labels.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from supportops.errors import NotFound, ValidationFailed
from supportops.events import log, projection
from supportops.events.ingest import validate_draft
from supportops.events.schemas import EventDraft
from supportops.events.wiring import wiring
from supportops.governance.context import Context, Role
from supportops.monitor.event_types import ACTIONS, FEEDBACK, TriageFeedback
from supportops.privacy.protector import Pseudonymiser
from supportops.storage import Database
from supportops.storage.schema import tickets

__all__ = ["ACTIONS", "FEEDBACK", "FEEDBACK_ROLES", "TriageFeedback", "check_feedback",
           "record_feedback"]

FEEDBACK_ROLES: tuple[Role, ...] = ("admin", "agent", "ml_engineer")
#: Idempotency keys of the label events feedback appends (people's labels, not write-backs).
FEEDBACK_KEY_PREFIX = "feedback:"


def _label_payload(target: str, value: str) -> tuple[str, dict[str, Any]]:
    """The event that states ``target`` = ``value`` as a person's decision."""
    kinds: dict[str, tuple[str, dict[str, Any]]] = {
        "category": ("ticket.categorized", {"category": value}),
        "group": ("ticket.assigned", {"group": value}),
        "assignee": ("ticket.assigned", {"assignee": value}),
        "priority": ("ticket.priority_changed", {"priority": value}),
        "status": ("ticket.status_changed", {"status": value}),
        "channel": ("ticket.updated", {"state": {"channel": value}}),
        "sentiment": ("ticket.updated", {"state": {"attributes": {"sentiment": value}}}),
    }
    return kinds[target]


def check_feedback(ticket_id: str, final: str, predicted: str | None, action: str) -> None:
    """Refuse feedback that contradicts itself, naming the field and the value."""
    if not str(ticket_id or "").strip():
        raise ValidationFailed("Triage feedback needs a 'ticket_id'. Got an empty one.")
    if action not in ACTIONS:
        raise ValidationFailed(f"The 'action' of triage feedback on ticket {ticket_id!r} must be "
                               f"accept or correct. Got {action!r} instead.")
    if not str(final or "").strip():
        raise ValidationFailed(f"Triage feedback on ticket {ticket_id!r} needs a 'final' label. "
                               "Got an empty one.")
    if predicted is not None and action == "accept" and predicted != final:
        raise ValidationFailed(
            f"Triage feedback on ticket {ticket_id!r} accepts prediction {predicted!r} but "
            f"names final label {final!r}; use action 'correct' for a different label.")
    if predicted is not None and action == "correct" and predicted == final:
        raise ValidationFailed(
            f"Triage feedback on ticket {ticket_id!r} corrects prediction {predicted!r} to the "
            "same label; use action 'accept'.")


def record_feedback(db: Database, ctx: Context, protector: Pseudonymiser | None, *,
                    ticket_id: str, name: str, version: str, target: str, final: str,
                    predicted: str | None, action: str) -> dict[str, Any]:
    """Append the feedback event and the label event it decides, in one transaction."""
    ctx.require(*FEEDBACK_ROLES, action="give triage feedback")
    check_feedback(ticket_id, final, predicted, action)
    now = datetime.now(UTC)
    key = f"{FEEDBACK_KEY_PREFIX}{name}:{version}:{ticket_id}:{uuid.uuid4().hex}"
    body = {"model_name": name, "version": version, "target": target, "final": final,
            "action": action, **({"predicted": predicted} if predicted is not None else {})}
    kind, label = _label_payload(target, final)
    drafts = [EventDraft(FEEDBACK, now, body, key, ticket_id=str(ticket_id)),
              EventDraft(kind, now, label, f"{key}:label", ticket_id=str(ticket_id))]
    catalogue = wiring(db).catalogue  # the workspace's: it knows ``triage.feedback``
    for number, draft in enumerate(drafts, start=1):
        problem = validate_draft(number, draft, catalogue)
        if problem is not None:
            raise ValidationFailed(f"Triage feedback on ticket {ticket_id!r}: {problem.message}")
    with db.begin(ctx.tenant_id) as conn:
        _require_ticket(conn, ctx, str(ticket_id))
        stored, _ = log.append(conn, ctx, drafts, protector)
        projection.project(conn, ctx, stored)
    return {"ticket_id": str(ticket_id), "model": name, "version": version, "target": target,
            "predicted": predicted, "final": stored[0].payload.get("final", final),
            "action": action, "event_id": stored[0].id, "seq": stored[0].seq,
            "label_event_id": stored[1].id}


def _require_ticket(conn: Any, ctx: Context, ticket_id: str) -> None:
    found = conn.execute(select(tickets.c.ticket_id).where(
        tickets.c.tenant_id == ctx.tenant_id, tickets.c.ticket_id == ticket_id)).first()
    if found is None:
        raise NotFound(f"Ticket {ticket_id!r} does not exist in tenant {ctx.tenant_id!r}; "
                       "feedback is given on stored tickets.")
