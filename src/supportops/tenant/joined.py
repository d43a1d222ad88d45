"""The tenant's areas that join rooms and carry ML imports: drafted answers with their
webhook, cron's monitoring run with webhook delivery (imported when first used).

They live here, above the rooms (a room never imports another above it, nor this package):
each area is its room's object with the one verb that reaches further made whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from supportops.assist.service import AssistService
from supportops.monitor.service import Monitor as MonitorRoom

if TYPE_CHECKING:
    from supportops.tenant import Tenant
    from supportops.webhooks import Webhooks


@dataclass
class Assist(AssistService):
    """The answer assistant (``supportops assist``); a drafted answer for a ticket of this
    tenant is announced to the ``draft.ready`` webhooks."""

    tenant: Tenant | None = None

    def answer(self, text: str, ticket_id: str | None = None, *, announce: bool = True,
               **options: Any) -> dict[str, Any]:
        """A drafted reply with its sources, confidence and abstention; for a ticket of this
        tenant (another tenant's id is not found), also tell the ``draft.ready`` webhooks
        (ids and confidence only) unless ``announce`` is off (the console drafts on every
        view of a ticket page: a page view is not a new draft for the receivers)."""
        if ticket_id is not None and self.tenant is not None:
            self.tenant.tickets.get(ticket_id, with_events=False)
        result = super().answer(text, ticket_id, **options)
        if announce and ticket_id is not None and self.tenant is not None:
            self.tenant.webhooks.emit("draft.ready", {
                "ticket_id": ticket_id, "answer_id": result.get("answer_id"),
                "confidence": result.get("confidence"), "abstained": result.get("abstained")})
        return result


class Monitor(MonitorRoom):
    """Monitoring (``supportops monitor``); cron's ``run`` also delivers due webhooks."""

    def __init__(self, *args: Any, webhooks: Webhooks, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.webhooks = webhooks

    def run(self) -> dict[str, Any]:
        """``monitor run`` (cron-safe): check every champion, retrain where asked; then, as
        cron runs it without a server, make one delivery pass over the tenant's due webhooks
        (new alarms first tried at once; failures wait for their back-off and the next pass,
        here or in a server)."""
        result = super().run()
        result["webhooks"] = self.webhooks.deliver_due()
        return result
