"""The privacy page: opt-outs, erasures done and pending, erasure reports, the lineage of a
subject, audit verification, and forms to opt a subject out and to erase one.

Subjects appear as their pseudonyms; an original id typed into a form is turned into its
pseudonym by the privacy room, never echoed back into lists. Each section asks its own
question, so a role that may not read the audit log still sees what it may.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from supportops.errors import ValidationFailed
from supportops.privacy.subjects import EraseKind
from supportops.web.core import PREFIX, Console, Visit, attempt, required, route_class
from supportops.workspace import Tenant

FormStr = Annotated[str | None, Form()]
KINDS: tuple[EraseKind, ...] = ("customer", "agent", "employee")


def _kind(value: str | None) -> EraseKind:
    if value not in KINDS:
        raise ValidationFailed(f"The form field 'kind' must be one of {', '.join(KINDS)}. "
                               f"Got {value!r}.")
    return value


def overview(tenant: Tenant) -> dict[str, Any]:
    """Each section of the page, with the reason when this role may not see it."""
    sections: dict[str, Any] = {}
    for name, call in (
        ("opted_out", lambda: sorted(tenant.privacy.opted_out())),
        ("erasures", lambda: [e.as_dict() for e in tenant.audit.list(action="privacy.erase")]),
        ("pending", tenant.lineage.pending),
    ):
        value, error = attempt(call)
        sections[name] = {"data": value, "error": error}
    return sections


def _page(console: Console, visit: Visit, **context: Any) -> Response:
    return console.render(visit.request, "privacy.html", visit, kinds=KINDS,
                          sections=overview(visit.tenant), **context)


def router(console: Console) -> APIRouter:
    pages = APIRouter(prefix=PREFIX, route_class=route_class(console))

    @pages.get("/privacy", include_in_schema=False)
    def privacy_page(request: Request, report: str | None = None, kind: str = "customer",
                     lineage: str | None = None) -> Response:
        visit = console.visit(request)
        tenant = visit.tenant
        reports = attempt(lambda: tenant.privacy.reports(report, _kind(kind))) if report else None
        found = attempt(lambda: tenant.lineage.of(subject=lineage)) if lineage else None
        return _page(console, visit, reports=reports, lineage=found)

    @pages.post("/privacy/verify", include_in_schema=False)
    def verify(request: Request, csrf: FormStr = None) -> Response:
        visit = console.checked(request, csrf)
        return _page(console, visit, verified=visit.tenant.audit.verify().as_dict())

    @pages.post("/privacy/erase", include_in_schema=False)
    def erase(request: Request, csrf: FormStr = None, subject: FormStr = None,
              kind: FormStr = "customer", confirm: FormStr = None) -> Response:
        """Erase a subject everywhere (and tell the erasure webhooks); shows the report."""
        visit = console.checked(request, csrf)
        who = required(subject, "subject")
        if confirm != "yes":
            raise ValidationFailed("Erasure cannot be undone: tick the 'confirm' box, then "
                                   "submit the erase form again.")
        return _page(console, visit, erased=visit.tenant.privacy.erase(who, _kind(kind)))

    @pages.post("/privacy/opt-out", include_in_schema=False)
    def opt_out(request: Request, csrf: FormStr = None, subject: FormStr = None,
                reason: FormStr = None, choice: FormStr = "out") -> Response:
        visit = console.checked(request, csrf)
        who = required(subject, "subject")
        privacy = visit.tenant.privacy
        done = privacy.opt_in(who, reason) if choice == "in" else privacy.opt_out(who, reason)
        return _page(console, visit, opted=done)

    return pages
