"""The models page: every version with aliases, metrics and dataset, and its model card;
promote and roll back
(both audited by the triage room, which also refuses versions holding erased data); live
monitoring of each champion (served predictions, accuracy from feedback, alarms)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from supportops.web.core import PREFIX, Console, Visit, attempt, required, route_class

FormStr = Annotated[str | None, Form()]
#: The metrics shown in the table (all of them are in each version's details).
SHOWN_METRICS = ("accuracy", "macro_f1", "coverage", "rows")
ALIASES = ("champion", "challenger")


def _page(console: Console, visit: Visit, message: str | None = None,
          checked: dict[str, Any] | None = None,
          card: tuple[dict[str, Any] | None, str | None] | None = None) -> Response:
    tenant = visit.tenant
    return console.render(visit.request, "models.html", visit,
                          versions=tenant.triage.versions(), shown=SHOWN_METRICS,
                          aliases=ALIASES, message=message, checked=checked, card=card,
                          monitoring=attempt(tenant.monitor.status))


def router(console: Console) -> APIRouter:
    pages = APIRouter(prefix=PREFIX, route_class=route_class(console))

    @pages.get("/models", include_in_schema=False)
    def models_page(request: Request) -> Response:
        return _page(console, console.visit(request))

    @pages.get("/models/card", include_in_schema=False)
    def card_page(request: Request, name: str, version: str) -> Response:
        """One version's model card above the models table (``models card`` on the CLI)."""
        visit = console.visit(request)
        return _page(console, visit,
                     card=attempt(lambda: visit.tenant.triage.card(name, version)))

    @pages.post("/models/promote", include_in_schema=False)
    def promote(request: Request, csrf: FormStr = None, name: FormStr = None,
                version: FormStr = None, alias: FormStr = "champion") -> Response:
        visit = console.checked(request, csrf)
        done = visit.tenant.triage.promote(required(name, "name"), required(version, "version"),
                                            alias=alias if alias in ALIASES else "champion")
        return _page(console, visit, f"{done['model']}@{done['alias']} now serves version "
                                     f"{done['version']} (was {done['previous']}).")

    @pages.post("/models/rollback", include_in_schema=False)
    def rollback(request: Request, csrf: FormStr = None, name: FormStr = None) -> Response:
        visit = console.checked(request, csrf)
        done = visit.tenant.triage.rollback(required(name, "name"))
        return _page(console, visit, f"{done['model']}@champion rolled back to version "
                                     f"{done['version']} (was {done['previous']}).")

    @pages.post("/models/check", include_in_schema=False)
    def check(request: Request, csrf: FormStr = None, name: FormStr = None) -> Response:
        """Check the champion's live figures now; new alarms go to the alarm webhooks."""
        visit = console.checked(request, csrf)
        return _page(console, visit, checked=visit.tenant.monitor.check(required(name, "name")))

    return pages
