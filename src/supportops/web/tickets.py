"""Tickets: a filtered, paged list and one ticket's thread, pseudonymised as stored; roles
that may reveal see the originals on request (audited by the privacy room); similar tickets
and a drafted reply when the assistant is installed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from supportops.privacy.reveal import REVEAL_ROLES
from supportops.web.core import PREFIX, Console, Visit, attempt, required, route_class
from supportops.web.triage import ticket_text
from supportops.workspace import Tenant

FormStr = Annotated[str | None, Form()]
PAGE_SIZE = 50
#: The reveal button is offered to REVEAL_ROLES; the privacy room checks the role again.
STATUSES = ("new", "open", "pending", "resolved", "closed")


def assistance(tenant: Tenant, ticket_id: str, text: str) -> dict[str, Any] | None:
    """Similar tickets and a drafted reply with its sources, when the assistant is there."""
    assist = getattr(tenant, "assist", None)
    if assist is None:
        return None
    similar, similar_error = attempt(lambda: assist.similar(ticket_id=ticket_id, limit=5))
    draft, draft_error = attempt(lambda: assist.answer(text, ticket_id=ticket_id, announce=False))
    return {"similar": similar or [], "draft": draft, "error": similar_error or draft_error}


def _ticket_page(console: Console, visit: Visit, ticket_id: str, revealed: bool,
                 **extra: Any) -> Response:
    tenant = visit.tenant
    ticket = tenant.tickets.get(ticket_id)
    events = ticket["events"]
    if revealed:  # raises PermissionDenied (403 page) for roles that may not reveal
        events = tenant.privacy.reveal(ticket_id)["events"]
    return console.render(visit.request, "ticket.html", visit, ticket=ticket, events=events,
                          revealed=revealed, may_reveal=visit.role in REVEAL_ROLES,
                          assist=assistance(tenant, ticket_id, ticket_text(ticket)), **extra)


def router(console: Console) -> APIRouter:
    pages = APIRouter(prefix=PREFIX, route_class=route_class(console))

    @pages.get("/tickets", include_in_schema=False)
    def tickets_page(request: Request, status: str | None = None, page: int = 0) -> Response:
        visit = console.visit(request)
        status = status if status in STATUSES else None
        page = max(page, 0)
        rows = visit.tenant.tickets.list(limit=PAGE_SIZE + 1, offset=page * PAGE_SIZE,
                                         status=status)
        return console.render(request, "tickets.html", visit, rows=rows[:PAGE_SIZE],
                              status=status, statuses=STATUSES, page=page,
                              more=len(rows) > PAGE_SIZE)

    @pages.get("/tickets/{ticket_id}", include_in_schema=False)
    def ticket_page(request: Request, ticket_id: str) -> Response:
        return _ticket_page(console, console.visit(request), ticket_id, revealed=False)

    @pages.post("/tickets/{ticket_id}/reveal", include_in_schema=False)
    def reveal(request: Request, ticket_id: str, csrf: FormStr = None) -> Response:
        """A POST: revealing is a privileged, audited action, never a link to follow."""
        return _ticket_page(console, console.checked(request, csrf), ticket_id, revealed=True)

    @pages.post("/tickets/{ticket_id}/draft-feedback", include_in_schema=False)
    def draft_feedback(request: Request, ticket_id: str, csrf: FormStr = None,
                       answer_id: FormStr = None, verdict: FormStr = "used") -> Response:
        """Whether the agent used, edited or rejected the drafted reply."""
        visit = console.checked(request, csrf)
        done = visit.tenant.assist.feedback(required(answer_id, "answer_id"),
                                            verdict=verdict or "used")
        return _ticket_page(console, visit, ticket_id, revealed=False, draft_feedback=done)

    return pages
