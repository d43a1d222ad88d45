"""Tickets: a cursor-paged list with filters, and one ticket with its event thread."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from supportops.api.deps import allow
from supportops.api.errors import ERRORS
from supportops.api.schemas import TicketPage
from supportops.workspace import Tenant

router = APIRouter(prefix="/v1/tickets", tags=["tickets"], responses=ERRORS)
Reader = Annotated[Tenant, Depends(allow("tickets", "admin", "agent", "analyst",
                                         "privacy_officer"))]
Filter = Annotated[str | None, Query(max_length=200)]


@router.get("", operation_id="list_tickets", response_model=TicketPage)
def list_tickets(
    tenant: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    status: Filter = None, priority: Filter = None, category: Filter = None,
    group: Filter = None, assignee: Filter = None, channel: Filter = None,
) -> dict[str, Any]:
    """Tickets newest first (pseudonymised), filtered; follow 'next_cursor' for more."""
    return tenant.tickets.page(limit, cursor, status=status, priority=priority,
                               category=category, group=group, assignee=assignee,
                               channel=channel)


@router.get("/{ticket_id}", operation_id="get_ticket")
def get_ticket(tenant: Reader, ticket_id: str) -> dict[str, Any]:
    """One ticket's state and its events, oldest first (pseudonymised)."""
    return tenant.tickets.get(ticket_id)
