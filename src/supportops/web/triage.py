"""The triage queue: unresolved tickets with each champion model's prediction; an agent
accepts or corrects it, which records feedback (``tenant.triage.feedback``)."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from supportops.web.core import PREFIX, Console, attempt, required, route_class
from supportops.workspace import Tenant

FormStr = Annotated[str | None, Form()]
#: The queue shows at most this many tickets, newest first: new ones, then open ones.
QUEUE_SIZE = 20
QUEUE_STATUSES = ("new", "open")


def served_models(tenant: Tenant) -> list[tuple[str, str]]:
    """(model name, target) of every model with a champion; "triage" (category) first."""
    served = [(v["name"], str(v["params"].get("target", v["name"])))
              for v in tenant.triage.versions() if "champion" in v["aliases"]]
    return sorted(served, key=lambda m: (m[0] != "triage", m[0]))


def ticket_text(ticket: dict[str, Any]) -> str:
    """The ticket's opening text as stored (pseudonymised)."""
    for event in ticket.get("events", []):
        if event["type"] == "ticket.created":
            return str(event["payload"].get("text") or "")
    return ""


def queue(tenant: Tenant) -> list[dict[str, Any]]:
    """Unresolved tickets with their text and one prediction per served model (each model
    triages the whole queue in one batch)."""
    models, _ = attempt(lambda: served_models(tenant))
    rows: list[dict[str, Any]] = []
    for status in QUEUE_STATUSES:
        rows += tenant.tickets.list(limit=QUEUE_SIZE - len(rows), status=status)
    for row in rows:
        row["text"] = ticket_text(tenant.tickets.get(row["ticket_id"]))
        row["predictions"] = []
    lines = [{"text": row["text"]} for row in rows]
    for name, target in models or []:
        records, error = attempt(partial(tenant.triage.predict, lines, name))
        for row, record in zip(rows, records or [{} for _ in rows], strict=True):
            row["predictions"].append({"model": name, "target": target, "error": error,
                                       "current": row.get(target), **record})
    return rows


def router(console: Console) -> APIRouter:
    pages = APIRouter(prefix=PREFIX, route_class=route_class(console))

    @pages.get("/triage", include_in_schema=False)
    def triage_page(request: Request, done: str | None = None) -> Response:
        visit = console.visit(request)
        rows = queue(visit.tenant)
        return console.render(request, "triage.html", visit, rows=rows, done=done,
                              has_models=any(r["predictions"] for r in rows))

    @pages.post("/triage/{ticket_id}/feedback", include_in_schema=False)
    def feedback(request: Request, ticket_id: str, csrf: FormStr = None, model: FormStr = None,
                 predicted: FormStr = None, version: FormStr = None, final: FormStr = None,
                 action: FormStr = "accept") -> Response:
        """Accept the prediction (final = predicted) or correct it (final = the agent's)."""
        visit = console.checked(request, csrf)
        chosen = required(predicted if action == "accept" else final, "final")
        visit.tenant.triage.feedback(ticket_id, name=required(model, "model"), final=chosen,
                                     predicted=predicted or None, version=version or None,
                                     action="accept" if action == "accept" else "correct")
        return RedirectResponse(f"{PREFIX}/triage?{urlencode({'done': ticket_id})}",
                                status_code=303)

    return pages
